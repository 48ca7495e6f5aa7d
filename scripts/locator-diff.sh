#!/usr/bin/env bash
# Differential test of the on-chain step semantics (contracts/src/semantics/GraphSemantics.sol)
# against the Rust reference engine (proof-of-learning/src/train/graph.rs, repops/):
#   1. proof-of-learning/examples/locator_vectors.rs writes, for a few jobs and transitions
#      (init and steps, epoch 0 and 1), every produced tensor's list, shape and inputs and,
#      for some of its elements, the full micro-trace (operand locators, values and results)
#      to target/locator-vectors/;
#   2. contracts/test/semantics/GraphSemantics.t.sol checks counts, shapeOf, inputOf,
#      programLength and instruction against them and replays every micro-step through the
#      real fp32 ALU (contracts/src/fp32/Fp32Alu.sol).
# Both steps are deterministic.
#
# Usage: scripts/locator-diff.sh [random-elements-per-tensor]   (default 3)
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
random="${1:-3}"
case "$random" in
  '' | *[!0-9]*) echo "usage: $0 [random-elements-per-tensor]" >&2; exit 2 ;;
esac
[ -x "$root/.tools/bin/forge" ] || { echo "locator-diff: .tools/bin/forge is missing: run scripts/setup.sh" >&2; exit 1; }
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# forge-test reads ../target/locator-vectors (foundry.toml's fs_permissions).
out="$root/target/locator-vectors"
echo "==> locator-diff: writing vectors to target/locator-vectors" >&2
gen_log=$(mktemp)
log=$(mktemp)
trap 'rm -f "$gen_log" "$log"' EXIT
cargo run --release -q -p vtrain-proof-of-learning --example locator_vectors -- \
  --out "$out" --random "$random" 2>&1 | tee "$gen_log" >&2
summary=$(grep -E '^locator vectors: [0-9]+ cases' "$gen_log" || true)
[ -n "$summary" ] || { echo "locator-diff: FAILED: the generator printed no summary" >&2; exit 1; }
steps=$(sed -E 's/.* ([0-9]+) micro-steps.*/\1/' <<<"$summary")

echo "==> locator-diff: forge test --match-path 'test/semantics/*'" >&2
started=$(date +%s)
status=0
# forge resolves foundry.toml's relative paths from the working directory.
(cd "$root/contracts" && "$root/.tools/bin/forge" test --match-path 'test/semantics/*' -vv) >"$log" 2>&1 || status=$?
grep -E 'locator diff:|gas [a-zA-Z]+|\[(PASS|FAIL|SKIP)|Suite result|tests passed' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 40 "$log" >&2
  echo "locator-diff: FAILED (forge test exit status $status)" >&2
  exit "$status"
fi
# Every micro-step must have been checked (a skip would mean the vectors were not read).
if ! grep -qE "locator diff: $steps micro-steps replayed, 0 mismatches" "$log"; then
  echo "locator-diff: FAILED: forge did not check the $steps micro-steps the generator wrote" >&2
  exit 1
fi
echo "locator-diff: $steps micro-steps, 0 mismatches ($(( $(date +%s) - started ))s in forge)" >&2
