#!/usr/bin/env bash
# A build without the `faults` feature holds no dishonest mode: builds the
# solver and the watchtower without it and checks that each refuses its
# test-mode flag and variable with a clear error, before it touches a chain
# or a file, and that no fault mode's text is in the binaries.
#
#   scripts/no-faults.sh            the test profile, in target/ (what CI runs:
#                                   with the store's `s3` feature, as the tests,
#                                   it reuses the dependencies they built; the
#                                   next `cargo build --features …` puts the
#                                   test binaries back)
#   scripts/no-faults.sh --release  an operator's `cargo build --release`, in
#                                   its own target/production (7 min from cold)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
case "${1:-}" in
  --release)
    export CARGO_TARGET_DIR="$root/target/production"
    cargo build --release --locked --quiet -p vtrain-solver -p vtrain-verifier
    bin="$CARGO_TARGET_DIR/release"
    ;;
  "")
    cargo build --locked --quiet -p vtrain-solver -p vtrain-verifier --features vtrain-store/s3
    bin="$root/target/debug"
    ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

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
refuses "$bin/vtrain-solver" run --fault flip-ulp@3
refuses env VTRAIN_SOLVER_FAULT=wrong-lr "$bin/vtrain-solver" run
refuses "$bin/vtrain-verifier" run --dispute-honest-at 3
refuses env VTRAIN_VERIFIER_DISPUTE_HONEST=3 "$bin/vtrain-verifier" run
# The dishonest code itself is not in the binary.
for name in vtrain-solver vtrain-verifier; do
  # (Each mode logs a "TEST MODE" warning at start; a build with the feature has it.)
  if grep -qa "TEST MODE" "$bin/$name"; then
    echo "no-faults: $name contains a fault mode's text" >&2
    exit 1
  fi
done
echo "no-faults: a build without the faults feature has no fault modes ($bin)" >&2
