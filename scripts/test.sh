#!/usr/bin/env bash
# The README's test command: set-up plus every test and check that CI runs.
# Each step prints its name and time; the first failure stops the run and is
# named at the end.
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# More fuzz and invariant runs than the default profile (contracts/foundry.toml).
export FOUNDRY_PROFILE="${FOUNDRY_PROFILE:-ci}"
# forge resolves foundry.toml's relative paths (solc, libs) from the working
# directory, so it always runs inside contracts/.
forge() { (cd "$root/contracts" && "$root/.tools/bin/forge" "$@"); }

current_step="set-up"
trap 'echo "test: FAILED at step: $current_step" >&2' ERR
started=$(date +%s)
summary=()

step() {
  current_step="$1"
  shift
  local begin=$(date +%s)
  echo "==> $current_step" >&2
  "$@"
  summary+=("$(printf '%5ss  %s' "$(( $(date +%s) - begin ))" "$current_step")")
}

step "set-up (scripts/setup.sh)" scripts/setup.sh
step "cargo fmt --check" cargo fmt --all --check
step "forge fmt --check" forge fmt --check
step "forge build" forge build
# FORGE_SNAPSHOT_CHECK: the gas snapshots (contracts/snapshots) must match.
step "forge test (+ gas snapshot check)" env FORGE_SNAPSHOT_CHECK=true bash -c 'cd contracts && ../.tools/bin/forge test'
step "fp32 ALU differential (fast subset)" scripts/fp32-diff.sh
step "step-semantics locators vs the Rust reference (MLPs, CNNs)" scripts/locator-diff.sh
step "slither (no untriaged high/medium)" scripts/slither.sh
step "bindings drift check" cargo xtask bindings --check --skip-build
# The dishonest test modes (`--fault`, `--dispute-honest-at`) are compiled
# only with the `faults` feature: the tests and the demo build with it, an
# operator's `cargo build --release` without (docs/agents.md). The tests'
# agents also keep their stores in S3 (e2e/tests/it/s3.rs), so they are
# built with the store's `s3` feature.
faults=(--features vtrain-solver/faults,vtrain-verifier/faults,vtrain-store/s3)
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked "${faults[@]}" -- -D warnings
# With `s3` (which turns on reqwest's http2 for every crate that uses it), so
# that the dependencies checked above are not checked again.
step "cargo clippy -D warnings (without the faults feature)" cargo clippy --locked \
  -p vtrain-proof-of-learning -p vtrain-dispute -p vtrain-solver -p vtrain-verifier --lib --bins \
  --features vtrain-store/s3 -- -D warnings
step "cargo test --doc" cargo test --workspace --locked --doc --quiet "${faults[@]}"
# nextest ships with this machine kind; its closing summary counts every test.
step "determinism across CPUs (qemu64, Haswell)" scripts/cross-cpu.sh
step "determinism with -C target-cpu=native" env CARGO_TARGET_DIR="$root/target/native" \
  RUSTFLAGS="-C target-cpu=native" cargo test --locked --quiet -p vtrain-proof-of-learning --test it -- determinism:: kernels_vs_reference
# The end-to-end tests (vtrain-e2e) run the shipped binaries, which live in
# other packages: build them first, with the same profile as the tests.
step "a build without the faults feature refuses --fault (scripts/no-faults.sh)" scripts/no-faults.sh
step "cargo build --bins (for the end-to-end tests)" cargo build --workspace --locked --bins "${faults[@]}"
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest" cargo nextest run --workspace --locked --no-fail-fast "${faults[@]}"
else
  step "cargo test" cargo test --workspace --locked --no-fail-fast "${faults[@]}"
fi

trap - ERR
echo "test: all steps passed in $(( $(date +%s) - started ))s" >&2
printf '%s\n' "${summary[@]}" >&2
