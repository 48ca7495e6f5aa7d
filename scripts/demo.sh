#!/usr/bin/env bash
# The README's demo command: set-up, then a local devnet running the main job.
# For now the main job is the deployment itself: start anvil, deploy every
# contract, print the addresses, shut down cleanly. The agents issue extends it
# to post, train, verify, dispute and finalize a job.
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
trap 'echo "demo: FAILED (see the message above)" >&2' ERR

scripts/setup.sh
echo "==> building vtrain (release)" >&2
cargo build --release --locked --quiet -p vtrain-deploy
echo "==> starting a local devnet and deploying" >&2
target/release/vtrain-deploy devnet --port "${VTRAIN_DEVNET_PORT:-0}" --exit-after-deploy
echo "demo: done, devnet shut down" >&2
