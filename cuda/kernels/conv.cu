// Convolutions, pooling and dropout (repops/conv.rs, the DropoutMask of
// repops/ops.rs; docs/repops.md § conv2d, § Pooling, § 7 Randomness): the
// kernels of Conv2d, Conv2dWeightGrad, Conv2dInputGrad, Conv2dBiasGrad,
// MaxPool2d, MaxPool2dGrad, AvgPool2d, AvgPool2dGrad, Dropout and
// DropoutGrad.
//
// One thread per output element (grid-stride), each running its element's
// micro-program literally: the same primitives in the same order from the
// same start, so the bits are the reference's whatever the grid. Tensors
// are NCHW, row-major. Long chains (the convolutions' fmas, the bias
// gradient's adds) use the `_link` forms and canonicalise their end, which
// gives the bits of canonicalising every link (a NaN stays a NaN).
//
// Padding: the forward convolution and the weight gradient read a padded
// tap as the constant +0 and still fma it (so a −0 sum becomes +0 and an
// infinite weight gives a NaN, as in the reference); the input gradient
// and the poolings skip what the reference skips.
//
// Geometry parameters, always in this order:
//   convolutions: batch, c_in, h, w, c_out, kernel, stride, padding;
//   poolings:     batch, channels, h, w, kernel, stride;
// then n, the output's element count. Index arithmetic is 64-bit.

// The input row (or column) that output position `o` and tap `k` read, or
// -1 in the padding: `o·s + k − p` when it lies in 0..size.
__device__ __forceinline__ long long vt_conv_tap(vt_u64 o, vt_u32 stride, vt_u32 k, vt_u32 padding,
                                                 vt_u32 size) {
  vt_u64 position = o * stride + k;
  if (position < padding) return -1;
  position -= padding;
  return position < size ? (long long)position : -1;
}

// The output position that tap `k` reaches from input position `i` (the
// `o` with `o·s + k − p = i`, below `outputs`), or -1 if none.
__device__ __forceinline__ long long vt_conv_reached(vt_u64 i, vt_u32 k, vt_u32 stride,
                                                     vt_u32 padding, vt_u64 outputs) {
  vt_u64 shifted = i + padding;
  if (shifted < k) return -1;
  vt_u64 t = shifted - k;
  if (t % stride != 0) return -1;
  vt_u64 o = t / stride;
  return o < outputs ? (long long)o : -1;
}

// The output size of a convolution along one axis: (size + 2p − k)/s + 1.
__device__ __forceinline__ vt_u64 vt_conv_out(vt_u32 size, vt_u32 kernel, vt_u32 stride,
                                              vt_u32 padding) {
  return ((vt_u64)size + 2ull * padding - kernel) / stride + 1;
}

// The output size of a pooling along one axis: (size − k)/s + 1.
__device__ __forceinline__ vt_u64 vt_pool_out(vt_u32 size, vt_u32 kernel, vt_u32 stride) {
  return ((vt_u64)size - kernel) / stride + 1;
}

// Z[n,co,oy,ox] = b[co] + Σ_{ci,ky,kx} x·W[co,ci,ky,kx]: from b[co], one fma
// per tap in increasing (ci, ky, kx), x the input or +0 in the padding.
extern "C" __global__ void vtk_conv2d(const float* __restrict__ x, const float* __restrict__ w,
                                      const float* __restrict__ b, vt_u32 batch, vt_u32 c_in,
                                      vt_u32 h, vt_u32 wd, vt_u32 c_out, vt_u32 kernel,
                                      vt_u32 stride, vt_u32 padding, vt_u32 n,
                                      float* __restrict__ out) {
  (void)batch;
  const vt_u64 oh = vt_conv_out(h, kernel, stride, padding);
  const vt_u64 ow = vt_conv_out(wd, kernel, stride, padding);
  const vt_u64 taps = (vt_u64)kernel * kernel;
  VT_FOR_EACH(e, n) {
    const vt_u64 ox = e % ow, oy = e / ow % oh;
    const vt_u64 co = e / (ow * oh) % c_out, s = e / (ow * oh * c_out);
    float acc = b[co];
    for (vt_u32 ci = 0; ci < c_in; ++ci) {
      const float* plane = x + (s * c_in + ci) * h * wd;
      const float* filter = w + ((vt_u64)co * c_in + ci) * taps;
      for (vt_u32 ky = 0; ky < kernel; ++ky) {
        const long long iy = vt_conv_tap(oy, stride, ky, padding, h);
        for (vt_u32 kx = 0; kx < kernel; ++kx) {
          const long long ix = vt_conv_tap(ox, stride, kx, padding, wd);
          const float xv = (iy >= 0 && ix >= 0) ? plane[(vt_u64)iy * wd + (vt_u64)ix] : 0.0f;
          acc = vt_fma_link(xv, filter[(vt_u64)ky * kernel + kx], acc);
        }
      }
    }
    // An empty chain (no taps) returns b[co] as loaded, like the reference.
    out[e] = ((vt_u64)c_in * taps == 0) ? acc : vt_canon(acc);
  }
}

// dW[co,ci,ky,kx] = Σ_{n,oy,ox} dZ[n,co,oy,ox]·x: from +0, one fma per
// output position in increasing (n, oy, ox), x as in the forward pass
// (+0 in the padding, fma'd all the same).
extern "C" __global__ void vtk_conv2d_weight_grad(const float* __restrict__ dz,
                                                  const float* __restrict__ x, vt_u32 batch,
                                                  vt_u32 c_in, vt_u32 h, vt_u32 wd, vt_u32 c_out,
                                                  vt_u32 kernel, vt_u32 stride, vt_u32 padding,
                                                  vt_u32 n, float* __restrict__ out) {
  const vt_u64 oh = vt_conv_out(h, kernel, stride, padding);
  const vt_u64 ow = vt_conv_out(wd, kernel, stride, padding);
  VT_FOR_EACH(e, n) {
    const vt_u32 kx = (vt_u32)(e % kernel), ky = (vt_u32)(e / kernel % kernel);
    const vt_u64 ci = e / ((vt_u64)kernel * kernel) % c_in;
    const vt_u64 co = e / ((vt_u64)kernel * kernel * c_in);
    float acc = 0.0f;
    for (vt_u32 s = 0; s < batch; ++s) {
      const float* grad = dz + ((vt_u64)s * c_out + co) * oh * ow;
      const float* plane = x + ((vt_u64)s * c_in + ci) * h * wd;
      for (vt_u64 oy = 0; oy < oh; ++oy) {
        const long long iy = vt_conv_tap(oy, stride, ky, padding, h);
        for (vt_u64 ox = 0; ox < ow; ++ox) {
          const long long ix = vt_conv_tap(ox, stride, kx, padding, wd);
          const float xv = (iy >= 0 && ix >= 0) ? plane[(vt_u64)iy * wd + (vt_u64)ix] : 0.0f;
          acc = vt_fma_link(grad[oy * ow + ox], xv, acc);
        }
      }
    }
    out[e] = vt_canon(acc);
  }
}

// dX[n,ci,iy,ix] = +0 + Σ_{taps (ky,kx) reaching (oy,ox)} t, in increasing
// (ky, kx), with t = Σ_co dZ[n,co,oy,ox]·W[co,ci,ky,kx] one fma per co from
// +0. Taps that reach no output position are skipped.
extern "C" __global__ void vtk_conv2d_input_grad(const float* __restrict__ dz,
                                                 const float* __restrict__ w, vt_u32 batch,
                                                 vt_u32 c_in, vt_u32 h, vt_u32 wd, vt_u32 c_out,
                                                 vt_u32 kernel, vt_u32 stride, vt_u32 padding,
                                                 vt_u32 n, float* __restrict__ out) {
  (void)batch;
  const vt_u64 oh = vt_conv_out(h, kernel, stride, padding);
  const vt_u64 ow = vt_conv_out(wd, kernel, stride, padding);
  const vt_u64 taps = (vt_u64)kernel * kernel;
  VT_FOR_EACH(e, n) {
    const vt_u64 ix = e % wd, iy = e / wd % h;
    const vt_u64 ci = e / ((vt_u64)wd * h) % c_in, s = e / ((vt_u64)wd * h * c_in);
    float acc = 0.0f;
    for (vt_u32 ky = 0; ky < kernel; ++ky) {
      const long long oy = vt_conv_reached(iy, ky, stride, padding, oh);
      if (oy < 0) continue;
      for (vt_u32 kx = 0; kx < kernel; ++kx) {
        const long long ox = vt_conv_reached(ix, kx, stride, padding, ow);
        if (ox < 0) continue;
        const vt_u64 position = (vt_u64)oy * ow + (vt_u64)ox;
        const vt_u64 tap = (vt_u64)ky * kernel + kx;
        float inner = 0.0f;
        for (vt_u32 co = 0; co < c_out; ++co) {
          const float g = dz[(s * c_out + co) * oh * ow + position];
          const float wv = w[((vt_u64)co * c_in + ci) * taps + tap];
          inner = vt_fma_link(g, wv, inner);
        }
        acc = vt_add(acc, inner);
      }
    }
    out[e] = acc;
  }
}

// db[co] = +0 + Σ_{n,oy,ox} dZ[n,co,oy,ox], added in increasing (n, oy, ox).
extern "C" __global__ void vtk_conv2d_bias_grad(const float* __restrict__ dz, vt_u32 batch,
                                                vt_u32 c_in, vt_u32 h, vt_u32 wd, vt_u32 c_out,
                                                vt_u32 kernel, vt_u32 stride, vt_u32 padding,
                                                vt_u32 n, float* __restrict__ out) {
  (void)c_in;
  const vt_u64 positions =
      vt_conv_out(h, kernel, stride, padding) * vt_conv_out(wd, kernel, stride, padding);
  VT_FOR_EACH(co, n) {
    float acc = 0.0f;
    for (vt_u32 s = 0; s < batch; ++s) {
      const float* grad = dz + ((vt_u64)s * c_out + co) * positions;
      for (vt_u64 p = 0; p < positions; ++p) acc = vt_add_link(acc, grad[p]);
    }
    out[co] = vt_canon(acc);
  }
}

// The first input element of window (oy, ox) of plane `plane` (= n·C + c);
// tap j = ky·k + kx lies at + ky·w + kx.
__device__ __forceinline__ vt_u64 vt_pool_window(vt_u64 plane, vt_u64 oy, vt_u64 ox, vt_u32 h,
                                                 vt_u32 wd, vt_u32 stride) {
  return (plane * h + oy * stride) * wd + ox * stride;
}

// The windows (output rows or columns) containing input row or column i:
// [first, last) with first = ⌈max(i + 1 − k, 0)/s⌉, last = min(⌊i/s⌋ + 1,
// outputs), empty when last < first.
__device__ __forceinline__ void vt_pool_covering(vt_u64 i, vt_u32 kernel, vt_u32 stride,
                                                 vt_u64 outputs, vt_u64* first, vt_u64* last) {
  const vt_u64 lowest = i + 1 > kernel ? i + 1 - kernel : 0;
  *first = (lowest + stride - 1) / stride;
  const vt_u64 end = i / stride + 1;
  *last = end < outputs ? end : outputs;
  if (*last < *first) *last = *first;
}

// Y[n,c,oy,ox]: from the window's first tap, max with each further tap in
// row-major order (ties keep the earlier tap; a 1×1 window copies its tap).
extern "C" __global__ void vtk_maxpool2d(const float* __restrict__ x, vt_u32 batch,
                                         vt_u32 channels, vt_u32 h, vt_u32 wd, vt_u32 kernel,
                                         vt_u32 stride, vt_u32 n, float* __restrict__ out) {
  (void)batch;
  (void)channels;
  const vt_u64 oh = vt_pool_out(h, kernel, stride), ow = vt_pool_out(wd, kernel, stride);
  VT_FOR_EACH(e, n) {
    const vt_u64 ox = e % ow, oy = e / ow % oh, plane = e / (ow * oh);
    const float* window = x + vt_pool_window(plane, oy, ox, h, wd, stride);
    float best = window[0];
    for (vt_u32 ky = 0; ky < kernel; ++ky)
      for (vt_u32 kx = (ky == 0 ? 1u : 0u); kx < kernel; ++kx)
        best = vt_max(best, window[(vt_u64)ky * wd + kx]);
    out[e] = best;
  }
}

// dX[n,c,iy,ix] = +0 + Σ_{windows containing it} (argmax = its tap ? dY : +0),
// windows in increasing (oy, ox). Each window's argmax is recomputed as the
// reference does: from (best, idx) = (x₀, 0), tap j does
// idx = sel_gt(x_j, best, j, idx), then best = max(best, x_j).
extern "C" __global__ void vtk_maxpool2d_grad(const float* __restrict__ x,
                                              const float* __restrict__ dy, vt_u32 batch,
                                              vt_u32 channels, vt_u32 h, vt_u32 wd, vt_u32 kernel,
                                              vt_u32 stride, vt_u32 n, float* __restrict__ out) {
  (void)batch;
  (void)channels;
  const vt_u64 oh = vt_pool_out(h, kernel, stride), ow = vt_pool_out(wd, kernel, stride);
  VT_FOR_EACH(e, n) {
    const vt_u64 ix = e % wd, iy = e / wd % h, plane = e / ((vt_u64)wd * h);
    vt_u64 y0, y1, x0, x1;
    vt_pool_covering(iy, kernel, stride, oh, &y0, &y1);
    vt_pool_covering(ix, kernel, stride, ow, &x0, &x1);
    float acc = 0.0f;
    for (vt_u64 oy = y0; oy < y1; ++oy) {
      for (vt_u64 ox = x0; ox < x1; ++ox) {
        const float* window = x + vt_pool_window(plane, oy, ox, h, wd, stride);
        float best = window[0];
        float idx = 0.0f;
        vt_u64 j = 0;
        for (vt_u32 ky = 0; ky < kernel; ++ky) {
          for (vt_u32 kx = 0; kx < kernel; ++kx, ++j) {
            if (j == 0) continue;
            const float xv = window[(vt_u64)ky * wd + kx];
            idx = vt_sel_gt(xv, best, (float)j, idx);
            best = vt_max(best, xv);
          }
        }
        const float mine = (float)((iy - oy * stride) * kernel + (ix - ox * stride));
        const float g = dy[(plane * oh + oy) * ow + ox];
        acc = vt_add(acc, vt_sel_eq(idx, mine, g, 0.0f));
      }
    }
    out[e] = acc;
  }
}

// Y[n,c,oy,ox] = (x₀ + x₁ + … in row-major order) / k², one division.
extern "C" __global__ void vtk_avgpool2d(const float* __restrict__ x, vt_u32 batch,
                                         vt_u32 channels, vt_u32 h, vt_u32 wd, vt_u32 kernel,
                                         vt_u32 stride, vt_u32 n, float* __restrict__ out) {
  (void)batch;
  (void)channels;
  const vt_u64 oh = vt_pool_out(h, kernel, stride), ow = vt_pool_out(wd, kernel, stride);
  const float area = (float)((vt_u64)kernel * kernel);
  VT_FOR_EACH(e, n) {
    const vt_u64 ox = e % ow, oy = e / ow % oh, plane = e / (ow * oh);
    const float* window = x + vt_pool_window(plane, oy, ox, h, wd, stride);
    float acc = window[0];
    for (vt_u32 ky = 0; ky < kernel; ++ky)
      for (vt_u32 kx = (ky == 0 ? 1u : 0u); kx < kernel; ++kx)
        acc = vt_add(acc, window[(vt_u64)ky * wd + kx]);
    out[e] = vt_div(acc, area);
  }
}

// dX[n,c,iy,ix] = (+0 + Σ_{windows containing it} dY[n,c,oy,ox]) / k²,
// windows in increasing (oy, ox).
extern "C" __global__ void vtk_avgpool2d_grad(const float* __restrict__ dy, vt_u32 batch,
                                              vt_u32 channels, vt_u32 h, vt_u32 wd, vt_u32 kernel,
                                              vt_u32 stride, vt_u32 n, float* __restrict__ out) {
  (void)batch;
  (void)channels;
  const vt_u64 oh = vt_pool_out(h, kernel, stride), ow = vt_pool_out(wd, kernel, stride);
  const float area = (float)((vt_u64)kernel * kernel);
  VT_FOR_EACH(e, n) {
    const vt_u64 ix = e % wd, iy = e / wd % h, plane = e / ((vt_u64)wd * h);
    vt_u64 y0, y1, x0, x1;
    vt_pool_covering(iy, kernel, stride, oh, &y0, &y1);
    vt_pool_covering(ix, kernel, stride, ow, &x0, &x1);
    float acc = 0.0f;
    for (vt_u64 oy = y0; oy < y1; ++oy)
      for (vt_u64 ox = x0; ox < x1; ++ox) acc = vt_add(acc, dy[(plane * oh + oy) * ow + ox]);
    out[e] = vt_div(acc, area);
  }
}

// The PRNG of proof-of-learning/src/prng.rs: SplitMix64's finaliser
// (Stafford's variant 13) of key + (counter + 1)·γ, wrapping 64-bit.
__device__ __forceinline__ vt_u64 vt_conv_draw(vt_u64 key, vt_u64 counter) {
  vt_u64 z = key + (counter + 1ull) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// uniform01(key, counter): the draw's top 24 bits times 2⁻²⁴ (exact).
__device__ __forceinline__ float vt_conv_uniform01(vt_u64 key, vt_u64 counter) {
  const vt_u32 top = (vt_u32)(vt_conv_draw(key, counter) >> 40);
  return vt_mul((float)top, __uint_as_float(0x33800000u));
}

// Inverted dropout (and its gradient, the same program on dY): element e is
// kept when uniform01(key, e) ≥ p and becomes mul(v, div(1, sub(1, p)));
// a dropped element is the constant +0 whatever v is. The 64-bit key comes
// as two 32-bit halves.
extern "C" __global__ void vtk_dropout(const float* __restrict__ v, vt_u32 key_lo, vt_u32 key_hi,
                                       float p, vt_u32 n, float* __restrict__ out) {
  const vt_u64 key = ((vt_u64)key_hi << 32) | key_lo;
  const float scale = vt_div(1.0f, vt_sub(1.0f, p));
  VT_FOR_EACH(e, n) {
    const bool keep = vt_conv_uniform01(key, e) >= p;
    out[e] = keep ? vt_mul(v[e], scale) : 0.0f;
  }
}
