#!/usr/bin/env bash
# Runs vtrain's throughput bench and its peers back to back on this machine,
# for docs/benchmarks.md. Dev only, never CI: burn takes minutes to build and
# PyTorch's Linux wheel pulls several GB.
#   PYTHON=/path/to/python-with-torch benchmarks/run-all.sh > results.md
#   PYTHON=/path/to/python-with-torch benchmarks/run-all.sh gpt > results.md
# Every engine trains the MLPs, the digits CNN and the transformer of
# examples/shakespeare-gpt.toml; with `gpt`, only the transformer, at 1 and
# 2 threads in each engine.
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
case "${1:-all}" in
  all) vtrain_args=() torch_args=() burn_args=() ;;
  gpt) vtrain_args=(gpt) torch_args=(--only gpt) burn_args=(--only gpt) ;;
  *) echo "usage: $0 [all|gpt]" >&2; exit 2 ;;
esac

echo "# vtrain"
cargo bench -q -p vtrain-proof-of-learning --bench throughput -- "${vtrain_args[@]}"
echo
echo "# PyTorch"
if "$python" -c 'import torch' 2>/dev/null; then
  for threads in 1 2; do "$python" scripts/torch_compare.py bench --threads "$threads" "${torch_args[@]}"; done
else
  echo "(torch is not importable by $python: skipped)"
fi
echo
echo "# burn"
(cd benchmarks/burn-peer && for threads in 1 2; do cargo run -q --release -- --threads "$threads" --reps 9 "${burn_args[@]}"; done)
