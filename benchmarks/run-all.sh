#!/usr/bin/env bash
# Runs vtrain's throughput bench and its peers back to back on this machine,
# for docs/benchmarks.md. Dev only, never CI: burn takes minutes to build and
# PyTorch's Linux wheel pulls several GB.
#   PYTHON=/path/to/python-with-torch benchmarks/run-all.sh > results.md
#   PYTHON=/path/to/python-with-torch benchmarks/run-all.sh gpt > results.md
#   PYTHON=/path/to/python-with-torch benchmarks/run-all.sh mlp > results.md
# Every engine trains the MLPs, the digits CNN and the transformer of
# examples/shakespeare-gpt.toml; with `gpt`, only the transformer, at 1 and
# 2 threads in each engine. With `mlp`, the 784-1024-1024-10 MLP only, in
# ROUNDS (default 3) alternating rounds of vtrain and PyTorch, PyTorch both
# at its own SIMD level and held to AVX2 (ATEN_CPU_CAPABILITY,
# MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA): this VM drifts by ±20% over
# minutes, so only ratios within a round mean anything.
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
case "${1:-all}" in
  all) vtrain_args=() torch_args=() burn_args=() ;;
  gpt) vtrain_args=(gpt) torch_args=(--only gpt) burn_args=(--only gpt) ;;
  mlp)
    "$python" -c 'import torch' || { echo "mlp needs torch importable by $python" >&2; exit 2; }
    cargo bench -q -p vtrain-proof-of-learning --bench throughput --no-run
    for round in $(seq 1 "${ROUNDS:-3}"); do
      echo "# round $round: vtrain"
      cargo bench -q -p vtrain-proof-of-learning --bench throughput -- mlp
      echo
      echo "# round $round: PyTorch"
      for threads in 1 2; do
        "$python" scripts/torch_compare.py bench --threads "$threads" --only 784
        ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 \
          "$python" scripts/torch_compare.py bench --threads "$threads" --only 784 | tail -n 1
      done
      echo
    done
    exit 0
    ;;
  *) echo "usage: $0 [all|gpt|mlp]" >&2; exit 2 ;;
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
