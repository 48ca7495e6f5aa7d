// Layer norms, GELU and gradient clipping (repops/norm.rs, repops/clip.rs):
// the kernels of LayerNormStats, LayerNorm, LayerNormInputGrad,
// LayerNormWeightGrad, Gelu, GeluGrad, GradSquareSum, ClipScale, ClipGrad.
//
// Each output element runs its element's micro-program from docs/repops.md
// § Layer normalisation and GELU / § Gradient clipping with the same
// primitives in the same order. Where the reference recomputes a row's
// values inside every element's program (a layer norm's statistics, the
// input gradient's two row means), one thread computes them once, with the
// very same primitive sequence, and the row's elements share the bits (as
// the CPU's kernels/layer_norm.rs does). Every sum runs in one thread in the
// reference's order; its links leave NaN payloads alone (vt_*_link) and
// its end is canonicalised, which gives the same bits as canonicalising
// every link (a NaN anywhere makes a NaN at the end either way).

// GELU's cubic coefficient C = 0.044715 (norm.rs GELU_C).
#define VT_NORM_GELU_C 0x3D372713u
// 3·C = 0.134145, the decimal rounded once (GELU_C3).
#define VT_NORM_GELU_C3 0x3E095D4Fu
// K = 2·√(2/π) (GELU_K), and −K (the constant the forward multiplies by).
#define VT_NORM_GELU_K 0x3FCC422Au
#define VT_NORM_GELU_MINUS_K 0xBFCC422Au
// The 1e-6 PyTorch's clip_grad_norm_ adds to the norm (clip.rs CLIP_EPS).
#define VT_NORM_CLIP_EPS 0x358637BDu

// x̂ = mul(sub(x, mean), rstd): how every layer-norm program normalises.
__device__ __forceinline__ float vt_norm_normalised(float x, float mean, float rstd) {
  return vt_mul(vt_sub(x, mean), rstd);
}

// LayerNormStats: S[r,0] = div(Σ_j x_j, D) (adds from +0 in j order),
// S[r,1] = div(1, sqrt(add(div(Σ_j fma(d_j, d_j, ·), D), ε))) with
// d_j = sub(x_j, S[r,0]). One thread per row writes both of its elements.
extern "C" __global__ void vtk_layer_norm_stats(const float* __restrict__ x, vt_u32 rows,
                                               vt_u32 width, float eps,
                                               float* __restrict__ out) {
  const float d = (float)width;
  VT_FOR_EACH(r, rows) {
    const float* row = x + r * width;
    float sum = 0.0f;
    for (vt_u32 j = 0; j < width; ++j) sum = vt_add_link(sum, row[j]);
    float mean = vt_div(vt_canon(sum), d);
    float acc = 0.0f;
    for (vt_u32 j = 0; j < width; ++j) {
      float centred = vt_sub(row[j], mean);
      acc = vt_fma_link(centred, centred, acc);
    }
    float variance = vt_div(vt_canon(acc), d);
    float deviation = vt_sqrt(vt_add(variance, eps));
    out[2 * r] = mean;
    out[2 * r + 1] = vt_div(1.0f, deviation);
  }
}

// LayerNorm: Y[r,j] = fma(x̂, γ[j], β[j]). One thread per element.
extern "C" __global__ void vtk_layer_norm(const float* __restrict__ x,
                                         const float* __restrict__ stats,
                                         const float* __restrict__ gain,
                                         const float* __restrict__ shift, vt_u32 rows,
                                         vt_u32 width, float* __restrict__ out) {
  vt_u64 n = (vt_u64)rows * width;
  VT_FOR_EACH(e, n) {
    vt_u64 r = e / width, j = e % width;
    float xh = vt_norm_normalised(x[e], stats[2 * r], stats[2 * r + 1]);
    out[e] = vt_fma(xh, gain[j], shift[j]);
  }
}

// LayerNormInputGrad, first pass: each row's two means, into means[2r] and
// means[2r+1]: div(Σ_j fma(dy_j, γ_j, ·), D) and div(Σ_j fma(mul(dy_j, γ_j),
// x̂_j, ·), D), both sums from +0 in j order (norm.rs input_grad_row). One
// thread per row; the second pass shares the means among the row's
// elements.
extern "C" __global__ void vtk_layer_norm_input_grad_rows(
    const float* __restrict__ x, const float* __restrict__ stats,
    const float* __restrict__ gain, const float* __restrict__ dy, vt_u32 rows, vt_u32 width,
    float* __restrict__ means) {
  const float d = (float)width;
  VT_FOR_EACH(r, rows) {
    const vt_u64 base = r * width;
    const float mean = stats[2 * r], rstd = stats[2 * r + 1];
    float a = 0.0f;
    for (vt_u32 j = 0; j < width; ++j) a = vt_fma_link(dy[base + j], gain[j], a);
    float b = 0.0f;
    for (vt_u32 j = 0; j < width; ++j) {
      float xh = vt_norm_normalised(x[base + j], mean, rstd);
      b = vt_fma_link(vt_mul(dy[base + j], gain[j]), xh, b);
    }
    means[2 * r] = vt_div(vt_canon(a), d);
    means[2 * r + 1] = vt_div(vt_canon(b), d);
  }
}

// LayerNormInputGrad, second pass: dX[r,i] = mul(sub(sub(mul(dy, γ_i), ma),
// mul(x̂, mb)), ρ) with ma, mb the row's means from the first pass and ρ =
// S[r,1] (norm.rs input_grad_element). One thread per element.
extern "C" __global__ void vtk_layer_norm_input_grad(const float* __restrict__ x,
                                                    const float* __restrict__ stats,
                                                    const float* __restrict__ gain,
                                                    const float* __restrict__ dy,
                                                    const float* __restrict__ means, vt_u32 rows,
                                                    vt_u32 width, float* __restrict__ out) {
  vt_u64 n = (vt_u64)rows * width;
  VT_FOR_EACH(e, n) {
    vt_u64 r = e / width, i = e % width;
    const float rstd = stats[2 * r + 1];
    float xh = vt_norm_normalised(x[e], stats[2 * r], rstd);
    float t = vt_sub(vt_mul(dy[e], gain[i]), means[2 * r]);
    t = vt_sub(t, vt_mul(xh, means[2 * r + 1]));
    out[e] = vt_mul(t, rstd);
  }
}

// LayerNormWeightGrad: dγ[j] = Σ_r fma(dY[r,j], x̂[r,j], ·) from +0 in
// increasing r. One thread per column (adjacent threads read adjacent
// columns of a row).
extern "C" __global__ void vtk_layer_norm_weight_grad(const float* __restrict__ x,
                                                     const float* __restrict__ stats,
                                                     const float* __restrict__ dy, vt_u32 rows,
                                                     vt_u32 width, float* __restrict__ out) {
  VT_FOR_EACH(j, width) {
    float acc = 0.0f;
    for (vt_u32 r = 0; r < rows; ++r) {
      vt_u64 index = (vt_u64)r * width + j;
      float xh = vt_norm_normalised(x[index], stats[2 * (vt_u64)r], stats[2 * (vt_u64)r + 1]);
      acc = vt_fma_link(dy[index], xh, acc);
    }
    out[j] = vt_canon(acc);
  }
}

// GELU's shared head (norm.rs gelu_denominator): x2 = mul(x, x), x3 =
// mul(x2, x), in = fma(C, x3, x), t = mul(in, −K), d = add(exp(t), 1).
// Returns d; x2 through `x2_out`.
__device__ __forceinline__ float vt_norm_gelu_denominator(float x, float* x2_out) {
  float x2 = vt_mul(x, x);
  float x3 = vt_mul(x2, x);
  float inner = vt_fma(__uint_as_float(VT_NORM_GELU_C), x3, x);
  float t = vt_mul(inner, __uint_as_float(VT_NORM_GELU_MINUS_K));
  *x2_out = x2;
  return vt_add(vt_exp(t), 1.0f);
}

// Gelu (tanh form): div(x, d) = x·σ(2u).
extern "C" __global__ void vtk_gelu(const float* __restrict__ x, vt_u32 n,
                                   float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    float x2;
    float d = vt_norm_gelu_denominator(x[e], &x2);
    out[e] = vt_div(x[e], d);
  }
}

// GeluGrad: s = div(1, d), slope = mul(s, sub(1, s)), p = fma(3C, x2, 1),
// h = mul(mul(x, mul(p, K)), slope), dX = mul(dy, add(s, h)).
extern "C" __global__ void vtk_gelu_grad(const float* __restrict__ x, const float* __restrict__ dy,
                                        vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    const float v = x[e];
    float x2;
    float d = vt_norm_gelu_denominator(v, &x2);
    float s = vt_div(1.0f, d);
    float slope = vt_mul(s, vt_sub(1.0f, s));
    float p = vt_fma(__uint_as_float(VT_NORM_GELU_C3), x2, 1.0f);
    float k = vt_mul(p, __uint_as_float(VT_NORM_GELU_K));
    float h = vt_mul(vt_mul(v, k), slope);
    out[e] = vt_mul(dy[e], vt_add(s, h));
  }
}

// GradSquareSum: acc = prev[0] (when chained, else +0), then fma(g_i, g_i,
// acc) for i ascending: ONE sequential chain, so one thread (launched as
// grid 1, block 1) runs it whole. Exact, and slow for a huge gradient
// (len dependent fmas); a faster kernel would need a different reference
// program, not a different order. With no elements the reference copies
// prev[0] without a primitive, so its bits (a NaN's payload too) are kept.
extern "C" __global__ void vtk_grad_square_sum(const float* __restrict__ prev,
                                              const float* __restrict__ g, vt_u32 len,
                                              vt_u32 chained, float* __restrict__ out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  float acc = chained != 0u ? prev[0] : 0.0f;
  for (vt_u32 i = 0; i < len; ++i) acc = vt_fma_link(g[i], g[i], acc);
  out[0] = len != 0u ? vt_canon(acc) : acc;
}

// ClipScale: min(div(max_norm, add(sqrt(s), 1e-6)), 1), one element (one
// thread).
extern "C" __global__ void vtk_clip_scale(const float* __restrict__ sum, float max_norm,
                                         float* __restrict__ out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  float shifted = vt_add(vt_sqrt(sum[0]), __uint_as_float(VT_NORM_CLIP_EPS));
  out[0] = vt_min(vt_div(max_norm, shifted), 1.0f);
}

// ClipGrad: mul(g[e], c[0]).
extern "C" __global__ void vtk_clip_grad(const float* __restrict__ g,
                                        const float* __restrict__ scale, vt_u32 n,
                                        float* __restrict__ out) {
  const float c = scale[0];
  VT_FOR_EACH(e, n) { out[e] = vt_mul(g[e], c); }
}
