// Element-wise repops and the small reductions of an MLP step: one thread
// per output element (or per row, or per column), each running its
// element's micro-program from docs/repops.md § Operators literally.

// Columns start..start+len of dataset row rows[i]: no arithmetic.
extern "C" __global__ void vtk_gather(const float* __restrict__ x, const vt_u32* __restrict__ rows,
                                     vt_u32 width, vt_u32 start, vt_u32 len, vt_u32 n,
                                     float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    vt_u64 i = e / len, d = e % len;
    out[e] = x[(vt_u64)rows[i] * width + start + d];
  }
}

extern "C" __global__ void vtk_relu(const float* __restrict__ z, vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_sel_gt(z[e], 0.0f, z[e], 0.0f); }
}

extern "C" __global__ void vtk_relu_grad(const float* __restrict__ z, const float* __restrict__ da,
                                        vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_sel_gt(z[e], 0.0f, da[e], 0.0f); }
}

extern "C" __global__ void vtk_add(const float* __restrict__ a, const float* __restrict__ b,
                                  vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_add(a[e], b[e]); }
}

// One thread per row: the row's max, its shifted exponentials summed in
// class order and their log, shared by the row's elements (the same
// primitives as each element's program).
extern "C" __global__ void vtk_log_softmax(const float* __restrict__ z, vt_u32 rows, vt_u32 classes,
                                          float* __restrict__ out) {
  VT_FOR_EACH(r, rows) {
    const float* row = z + r * classes;
    float* dst = out + r * classes;
    float max = row[0];
    for (vt_u32 c = 1; c < classes; ++c) max = vt_max(max, row[c]);
    float sum = vt_exp(vt_sub(row[0], max));
    for (vt_u32 c = 1; c < classes; ++c) sum = vt_add_link(sum, vt_exp(vt_sub(row[c], max)));
    float log_sum = vt_log(vt_canon(sum));
    for (vt_u32 c = 0; c < classes; ++c) dst[c] = vt_sub(vt_sub(row[c], max), log_sum);
  }
}

// (exp(LS[i,j]) − [y_i = j]) / rows.
extern "C" __global__ void vtk_xent_grad(const float* __restrict__ ls, const float* __restrict__ y,
                                        vt_u32 rows, vt_u32 classes, float* __restrict__ out) {
  vt_u64 n = (vt_u64)rows * classes;
  VT_FOR_EACH(e, n) {
    float p = vt_exp(ls[e]);
    float target = vt_sel_eq(y[e / classes], (float)(vt_u32)(e % classes), 1.0f, 0.0f);
    out[e] = vt_div(vt_sub(p, target), (float)rows);
  }
}

// db[o] = Σ_i dZ[i,o] in increasing i, one thread per column (adjacent
// threads read adjacent columns of a row).
extern "C" __global__ void vtk_bias_grad(const float* __restrict__ dz, vt_u32 m, vt_u32 o,
                                        float* __restrict__ out) {
  VT_FOR_EACH(j, o) {
    float acc = 0.0f;
    for (vt_u32 i = 0; i < m; ++i) acc = vt_add_link(acc, dz[(vt_u64)i * o + j]);
    out[j] = vt_canon(acc);
  }
}

// v' = μ·v + (g + λ·w).
extern "C" __global__ void vtk_sgd_velocity(const float* __restrict__ w, const float* __restrict__ g,
                                           const float* __restrict__ v, float momentum,
                                           float weight_decay, vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_fma(momentum, v[e], vt_fma(weight_decay, w[e], g[e])); }
}

// w' = w − lr_t·v', with −lr_t the schedule's element 1.
extern "C" __global__ void vtk_sgd_weight(const float* __restrict__ schedule,
                                         const float* __restrict__ w, const float* __restrict__ v,
                                         vt_u32 n, float* __restrict__ out) {
  float neg_lr = schedule[1];
  VT_FOR_EACH(e, n) { out[e] = vt_fma(neg_lr, v[e], w[e]); }
}

// m' = β₁·m + (1 − β₁)·g.
extern "C" __global__ void vtk_adam_first_moment(const float* __restrict__ g,
                                                const float* __restrict__ m, float beta1, vt_u32 n,
                                                float* __restrict__ out) {
  float c1 = vt_sub(1.0f, beta1);
  VT_FOR_EACH(e, n) { out[e] = vt_fma(beta1, m[e], vt_mul(c1, g[e])); }
}

// v' = β₂·v + (1 − β₂)·g².
extern "C" __global__ void vtk_adam_second_moment(const float* __restrict__ g,
                                                 const float* __restrict__ v, float beta2, vt_u32 n,
                                                 float* __restrict__ out) {
  float c2 = vt_sub(1.0f, beta2);
  VT_FOR_EACH(e, n) { out[e] = vt_fma(beta2, v[e], vt_mul(c2, vt_mul(g[e], g[e]))); }
}

// w' = w − lr_t·(m̂ / (√v̂ + ε) + λ·w), the bias corrections the schedule's
// elements 2 and 3.
extern "C" __global__ void vtk_adam_weight(const float* __restrict__ schedule,
                                          const float* __restrict__ w, const float* __restrict__ m,
                                          const float* __restrict__ v, float eps,
                                          float weight_decay, vt_u32 n, float* __restrict__ out) {
  float neg_lr = schedule[1], bc1 = schedule[2], bc2 = schedule[3];
  VT_FOR_EACH(e, n) {
    float update = vt_div(vt_div(m[e], bc1), vt_add(vt_sqrt(vt_div(v[e], bc2)), eps));
    out[e] = vt_fma(neg_lr, vt_fma(weight_decay, w[e], update), w[e]);
  }
}
