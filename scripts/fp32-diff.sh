#!/usr/bin/env bash
# Differential test of the on-chain fp32 ALU (contracts/src/fp32) against the
# Rust reference primitives (proof-of-learning/src/repops/prim.rs):
#   1. proof-of-learning/examples/fp32_vectors.rs writes N cases per opcode
#      (fixed seed; special-value combinations, then random and hard cases) to
#      target/fp32-vectors/;
#   2. contracts/test/fp32/Fp32Diff.t.sol replays every case through
#      Fp32Alu.execute and fails on the first result whose bits differ.
# Both steps are deterministic. docs/fp32-alu.md describes the cases.
#
# Usage: scripts/fp32-diff.sh [cases-per-opcode]
#   default 20000 (a few seconds after the builds); 1000000 is the full run.
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cases="${1:-20000}"
case "$cases" in
  '' | *[!0-9]*) echo "usage: $0 [cases-per-opcode]" >&2; exit 2 ;;
esac
[ -x "$root/.tools/bin/forge" ] || { echo "fp32-diff: .tools/bin/forge is missing: run scripts/setup.sh" >&2; exit 1; }
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export FOUNDRY_PROFILE="${FOUNDRY_PROFILE:-ci}"

# forge-test reads ../target/fp32-vectors (foundry.toml's fs_permissions).
out="$root/target/fp32-vectors"
echo "==> fp32-diff: writing $cases cases per opcode to target/fp32-vectors" >&2
cargo run --release -q -p vtrain-proof-of-learning --example fp32_vectors -- \
  --out "$out" --cases "$cases"

echo "==> fp32-diff: forge test --match-path 'test/fp32/*'" >&2
started=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# forge resolves foundry.toml's relative paths from the working directory.
(cd "$root/contracts" && "$root/.tools/bin/forge" test --match-path 'test/fp32/*' -vv --gas-limit 9223372036854775807) >"$log" 2>&1 || status=$?
grep -E 'fp32 diff:|gas [a-zA-Z]+: execute|\[(PASS|FAIL|SKIP)|Suite result|tests passed' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 40 "$log" >&2
  echo "fp32-diff: FAILED (forge test exit status $status)" >&2
  exit "$status"
fi
# Every opcode must have been checked in full (a skip would mean the vectors were not read).
checked=$(grep -cE "fp32 diff: opcode [0-9]+: $cases cases, 0 mismatches" "$log" || true)
if [ "$checked" -ne 12 ]; then
  echo "fp32-diff: FAILED: $checked of 12 opcodes checked $cases cases" >&2
  exit 1
fi
echo "fp32-diff: $cases cases x 12 opcodes, 0 mismatches ($(( $(date +%s) - started ))s in forge)" >&2
