#!/usr/bin/env bash
# The GPU check of the CUDA backend (docs/gpu.md § The GPU check): every
# kernel against the CPU reference bit for bit, every reference job's trace
# root on the GPU against the CPU's, and throughput against PyTorch CUDA in
# fp32. Results go to $OUT (or target/gpu-check): report.txt, report.json,
# torch-cuda.json, torch.md, nvidia-smi.txt.
#
# Two steps, because a GPU machine may have no Rust toolchain, no NVRTC 12.9
# and no network:
#   scripts/gpu-check.sh --prepare   on a machine with the toolchain (after
#                                    scripts/setup.sh): builds vtrain-gpu-check
#                                    (release) and the kernels' PTX into
#                                    target/gpu-check-kit/
#   scripts/gpu-check.sh             on the GPU machine, in the repository
#                                    root, with target/gpu-check-kit/ copied
#                                    there: about 3 to 6 minutes on one H200
# MAX_STEPS=N cuts every reference job to N steps (default: whole jobs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit="$root/target/gpu-check-kit"
die() {
  echo "gpu-check: error: $*" >&2
  exit 1
}

if [ "${1:-}" = "--prepare" ]; then
  "$root/scripts/nvrtc.sh"
  (cd "$root" && cargo build --release --locked -p vtrain-cuda --bin vtrain-gpu-check)
  rm -rf "$kit"
  mkdir -p "$kit"
  cp "$root/target/release/vtrain-gpu-check" "$kit/"
  "$kit/vtrain-gpu-check" --write-ptx "$kit/ptx"
  echo "gpu-check: kit ready in $kit ($(du -sh "$kit" | cut -f1)); run scripts/gpu-check.sh on the GPU machine with it"
  exit 0
fi
[ $# -eq 0 ] || die "unknown argument '$1' (use --prepare, or no argument on the GPU machine)"
[ -x "$kit/vtrain-gpu-check" ] ||
  die "no $kit/vtrain-gpu-check: run scripts/gpu-check.sh --prepare on a machine with Rust and carry target/gpu-check-kit"

out="${OUT:-$root/target/gpu-check}"
mkdir -p "$out"
cd "$root"
nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true

status=0
timeout "${CHECK_SECONDS:-420}" "$kit/vtrain-gpu-check" --ptx "$kit/ptx" --out "$out" \
  --max-steps "${MAX_STEPS:-4294967295}" 2>&1 | tee "$out/check.log" || status=$?

python=${PYTHON:-python3}
if "$python" -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  OUT="$out" timeout "${TORCH_SECONDS:-150}" "$python" scripts/torch_cuda_bench.py 2>&1 | tee "$out/torch.md" || true
else
  echo "gpu-check: no PyTorch with CUDA here: the PyTorch comparison is left out" | tee "$out/torch.md"
fi
[ "$status" -eq 0 ] && echo "gpu-check: PASSED (results in $out)" || echo "gpu-check: FAILED with status $status (results in $out)"
exit "$status"
