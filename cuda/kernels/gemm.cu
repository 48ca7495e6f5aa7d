// The matrix product behind every matmul-shaped repop:
//   C[i,j] = init(i,j) + Σ_k A(i,k)·B(k,j)
// with A(i,k) = a[i·a_rs + k·a_cs] and B(k,j) = b[k·b_rs + j·b_cs], and
// init the bias b[j] (Linear) or +0 (the gradients). Each output element is
// owned by one thread, which runs its chain of fmas in increasing k from
// init: the reference's program, whatever the tiling. No split-K, no
// atomics, no tensor cores; padding never enters a chain (the k loop stops
// at K, so no fma(0, 0, acc) turns a −0 into +0).
//
// Tiling: a block of 16×16 threads computes a 64×64 tile of C, each thread
// a 4×4 grid of elements strided by 16 (conflict-free shared-memory reads),
// staging k in slices of 16 through shared memory.

#define VT_GEMM_TILE 64
#define VT_GEMM_SLICE 16

extern "C" __global__ void vtk_gemm(vt_u32 m, vt_u32 n, vt_u32 k, const float* __restrict__ a,
                                    vt_u32 a_rs, vt_u32 a_cs, const float* __restrict__ b,
                                    vt_u32 b_rs, vt_u32 b_cs, const float* __restrict__ bias,
                                    vt_u32 has_bias, float* __restrict__ c) {
  __shared__ float as[VT_GEMM_SLICE][VT_GEMM_TILE];
  __shared__ float bs[VT_GEMM_SLICE][VT_GEMM_TILE];
  const vt_u32 tx = threadIdx.x, ty = threadIdx.y;
  const vt_u32 tid = ty * 16 + tx;
  const vt_u64 row0 = (vt_u64)blockIdx.y * VT_GEMM_TILE;
  const vt_u64 col0 = (vt_u64)blockIdx.x * VT_GEMM_TILE;

  float acc[4][4];
  for (int r = 0; r < 4; ++r)
    for (int s = 0; s < 4; ++s) {
      vt_u64 j = col0 + tx + 16 * s;
      acc[r][s] = (has_bias != 0u && j < n) ? bias[j] : 0.0f;
    }

  for (vt_u64 k0 = 0; k0 < k; k0 += VT_GEMM_SLICE) {
    const vt_u32 depth = (vt_u32)((k - k0) < VT_GEMM_SLICE ? (k - k0) : VT_GEMM_SLICE);
    // 256 threads stage 64×16 values of each side, 4 each.
    for (int l = 0; l < 4; ++l) {
      vt_u32 slot = tid + 256u * l;
      vt_u32 kk = slot / VT_GEMM_TILE, lane = slot % VT_GEMM_TILE;
      vt_u64 i = row0 + lane, j = col0 + lane, kg = k0 + kk;
      as[kk][lane] = (kk < depth && i < m) ? a[i * a_rs + kg * a_cs] : 0.0f;
      bs[kk][lane] = (kk < depth && j < n) ? b[kg * b_rs + j * b_cs] : 0.0f;
    }
    __syncthreads();
    for (vt_u32 kk = 0; kk < depth; ++kk) {
      float av[4], bv[4];
      for (int r = 0; r < 4; ++r) av[r] = as[kk][ty + 16 * r];
      for (int s = 0; s < 4; ++s) bv[s] = bs[kk][tx + 16 * s];
      for (int r = 0; r < 4; ++r)
        for (int s = 0; s < 4; ++s) acc[r][s] = vt_fma_link(av[r], bv[s], acc[r][s]);
    }
    __syncthreads();
  }

  for (int r = 0; r < 4; ++r)
    for (int s = 0; s < 4; ++s) {
      vt_u64 i = row0 + ty + 16 * r, j = col0 + tx + 16 * s;
      if (i < m && j < n) c[i * n + j] = vt_canon(acc[r][s]);
    }
}
