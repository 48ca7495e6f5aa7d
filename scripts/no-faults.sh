#!/usr/bin/env bash
# A production build holds no dishonest mode: builds the solver and the
# watchtower as an operator does (`cargo build --release`, no `faults`
# feature; in its own target folder, so that the demo's and the tests' builds,
# which have the feature, are left alone) and checks that each refuses its
# test-mode flag with a clear error, before it touches a chain or a file.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target="$root/target/production"
CARGO_TARGET_DIR="$target" cargo build --release --locked --quiet -p vtrain-solver -p vtrain-verifier

refuses() {
  local out status=0
  out=$("$@" 2>&1) || status=$?
  if [ "$status" -eq 0 ] || ! grep -q "built without the \`faults\` feature" <<<"$out"; then
    echo "no-faults: '$*' was not refused (exit $status):" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "no-faults: refused: $*" >&2
}

# No key, no node: the refusal must come first.
export VTRAIN_RPC_URL=http://127.0.0.1:9 VTRAIN_PRIVATE_KEY=
refuses "$target/release/vtrain-solver" run --fault flip-ulp@3
refuses env VTRAIN_SOLVER_FAULT=wrong-lr "$target/release/vtrain-solver" run
refuses "$target/release/vtrain-verifier" run --dispute-honest-at 3
refuses env VTRAIN_VERIFIER_DISPUTE_HONEST=3 "$target/release/vtrain-verifier" run
# The dishonest code itself is not in the binary.
for bin in vtrain-solver vtrain-verifier; do
  if grep -qa "flip-intermediate\|TEST MODE" "$target/release/$bin"; then
    echo "no-faults: $bin contains a fault mode's text" >&2
    exit 1
  fi
done
echo "no-faults: the production build has no fault modes" >&2
