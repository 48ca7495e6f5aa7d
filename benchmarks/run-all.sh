#!/usr/bin/env bash
# Runs vtrain's throughput bench and its peers back to back on this machine,
# for docs/benchmarks.md. Dev only, never CI: burn takes minutes to build and
# PyTorch's Linux wheel pulls several GB.
#   PYTHON=/path/to/python-with-torch benchmarks/run-all.sh > results.md
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}

echo "# vtrain"
cargo bench -q -p vtrain-proof-of-learning --bench throughput
echo
echo "# PyTorch"
if "$python" -c 'import torch' 2>/dev/null; then
  for threads in 1 2; do "$python" scripts/torch_compare.py bench --threads "$threads"; done
else
  echo "(torch is not importable by $python: skipped)"
fi
echo
echo "# burn"
(cd benchmarks/burn-peer && for threads in 1 2; do cargo run -q --release -- --threads "$threads" --reps 9; done)
