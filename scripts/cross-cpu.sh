#!/usr/bin/env bash
# Determinism across CPU feature levels, without the hardware: the same
# proof-of-learning test binary (built for baseline x86-64) runs under
# qemu-user as a CPU without FMA or AVX (qemu64: scalar kernels, libm fma)
# and as Haswell (AVX2+FMA kernels), and must hit the same golden hashes.
# Only the small job runs here; emulation is slow.
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v qemu-x86_64 >/dev/null || { echo "cross-cpu: qemu-x86_64 is missing: run scripts/setup.sh" >&2; exit 1; }

bin=$(cargo test --locked -p vtrain-proof-of-learning --test it --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[ -x "$bin" ] || { echo "cross-cpu: could not build the proof-of-learning test binary" >&2; exit 1; }

filters=(determinism::small_job_matches_its_golden_trace_root determinism::small_cnn_job_matches_its_golden_trace_root determinism::small_norm_job_matches_its_golden_trace_root determinism::instrumented_step kernels_vs_reference checkpoints transformer::small_gpt transformer::transformer_kernels)
for pair in "qemu64:scalar" "Haswell:avx2+fma"; do
  cpu=${pair%%:*}
  expected=${pair#*:}
  echo "cross-cpu: -cpu $cpu (expects $expected kernels)" >&2
  out=$(qemu-x86_64 -cpu "$cpu" "$bin" "${filters[@]}" --nocapture 2>&1) || { echo "$out" >&2; exit 1; }
  grep -q "small job on $expected kernels" <<<"$out" ||
    { echo "$out" >&2; echo "cross-cpu: -cpu $cpu did not run the $expected kernels" >&2; exit 1; }
  grep -E "^test result" <<<"$out" >&2
done
