// Embeddings and causal attention (repops/attention.rs): the kernels of
// Embed, EmbedGrad, AttnScores, AttnSoftmaxStats, AttnSoftmax, AttnContext,
// AttnProbsGrad, AttnValueGrad, AttnSoftmaxDot, AttnSoftmaxGrad,
// AttnQueryGrad, AttnKeyGrad.
//
// One thread per output element (per score row for the softmax statistics),
// each running its element's reference program in the reference's order:
// sums over c, or over the causal range of j (or i) ascending, from +0, in
// one thread. Masked score elements (j > i) are the constant +0, as in the
// reference. The long sums use the `_link` forms and canonicalise their
// end, which gives the same bits as canonicalising every step.
//
// Layouts (B sequences, T positions, H heads of d values, D = H·d):
// activations [B, T, D], head h the columns h·d .. (h+1)·d; scores and
// probabilities [B, H, T, T]; softmax statistics [B, H, T, 2] (max, sum);
// the softmax-gradient dot [B, H, T].

// The index of (b, i, h, c) in a [B, T, D] activation.
__device__ __forceinline__ vt_u64 vt_attn_act(vt_u64 b, vt_u64 i, vt_u64 h, vt_u64 c, vt_u32 seq,
                                              vt_u32 heads, vt_u32 head_dim) {
  return (b * seq + i) * ((vt_u64)heads * head_dim) + h * head_dim + c;
}

// The index of (b, h, i, j) in a [B, H, T, T] score tensor.
__device__ __forceinline__ vt_u64 vt_attn_score(vt_u64 b, vt_u64 h, vt_u64 i, vt_u64 j,
                                                vt_u32 seq, vt_u32 heads) {
  return ((b * heads + h) * seq + i) * seq + j;
}

// ---------------------------------------------------------------------------
// Embeddings.

// The vocabulary entries v whose id (float)v can equal `token`, as
// [*first, *end): the reference selects with sel_eq(token, (float)v, …) over
// every entry, and every entry it does not select adds +0 to an accumulator
// that starts at +0 (so is never −0) and leaves it unchanged. Below 2^24 the
// ids are exact, so only v = token can be selected; above, (float)v rounds
// and the neighbours within half an ulp (≤ 128 below 2^32) share an id, so
// a window of ±256 entries around token holds all of them. No id is
// negative, NaN or above 2^32 (vocab < 2^32).
__device__ __forceinline__ void vt_attn_entries(float token, vt_u32 vocab, vt_u64* first,
                                                vt_u64* end) {
  *first = 0;
  *end = 0;
  if (!(token >= 0.0f) || token > 4294967296.0f) return;
  vt_u64 v = (vt_u64)token;  // truncates; at most 2^32, so no overflow
  vt_u64 reach = token < 16777216.0f ? 0 : 256;
  vt_u64 last = v + reach + 1;
  *first = v > reach ? v - reach : 0;
  *end = last < vocab ? last : vocab;
}

// Y[b,t,j] = add(Σ_v sel_eq(tok[b,t], v, E[v,j], +0), P[t,j]), the sum from
// +0 over v ascending; only the entries the token can select are visited
// (vt_attn_entries), each through the reference's sel_eq and add.
extern "C" __global__ void vtk_embed(const float* __restrict__ tokens,
                                     const float* __restrict__ table,
                                     const float* __restrict__ positions, vt_u32 seq, vt_u32 vocab,
                                     vt_u32 dim, vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    vt_u64 bt = e / dim, j = e % dim;
    float token = tokens[bt];
    vt_u64 first, end;
    vt_attn_entries(token, vocab, &first, &end);
    float acc = 0.0f;
    for (vt_u64 v = first; v < end; ++v)
      acc = vt_add(acc, vt_sel_eq(token, (float)v, table[v * dim + j], 0.0f));
    out[e] = vt_add(acc, positions[(bt % seq) * dim + j]);
  }
}

// dE[v,j] = Σ_{(b,t)} sel_eq(tok[b,t], v, dY[b,t,j], +0) from +0, (b, t)
// ascending: the reference's scatter-add as a gather, one thread per output
// element scanning every token in order. A (b, t) whose token is not v adds
// +0 to an accumulator that is never −0 (it starts at +0), which leaves it
// unchanged, so only the selected terms are added (and read).
extern "C" __global__ void vtk_embed_grad(const float* __restrict__ tokens,
                                          const float* __restrict__ dy, vt_u32 tokens_count,
                                          vt_u32 dim, vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    vt_u64 v = e / dim, j = e % dim;
    float id = (float)v;
    float acc = 0.0f;
    for (vt_u64 bt = 0; bt < tokens_count; ++bt)
      if (tokens[bt] == id) acc = vt_add(acc, dy[bt * dim + j]);
    out[e] = acc;
  }
}

// ---------------------------------------------------------------------------
// Products over c: the scores and the probabilities' gradient.

// Σ_c fma(L[b,i,h,c], R[b,j,h,c]) from +0, c ascending, uncanonicalised
// (the caller's next primitive canonicalises); `masked` for j > i.
__device__ __forceinline__ float vt_attn_head_dot(const float* __restrict__ left,
                                                  const float* __restrict__ right, vt_u64 e,
                                                  vt_u32 seq, vt_u32 heads, vt_u32 head_dim,
                                                  bool* masked) {
  vt_u64 t = seq;
  vt_u64 bh = e / (t * t), i = e / t % t, j = e % t;
  vt_u64 b = bh / heads, h = bh % heads;
  *masked = j > i;
  float acc = 0.0f;
  if (*masked) return acc;
  const float* l = left + vt_attn_act(b, i, h, 0, seq, heads, head_dim);
  const float* r = right + vt_attn_act(b, j, h, 0, seq, heads, head_dim);
  for (vt_u32 c = 0; c < head_dim; ++c) acc = vt_fma_link(l[c], r[c], acc);
  return acc;
}

// S[b,h,i,j] = mul(Σ_c fma(Q[b,i,h,c], K[b,j,h,c]), scale); +0 where j > i.
extern "C" __global__ void vtk_attn_scores(const float* __restrict__ q,
                                           const float* __restrict__ k, vt_u32 seq, vt_u32 heads,
                                           vt_u32 head_dim, float scale, vt_u32 n,
                                           float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    bool masked;
    float acc = vt_attn_head_dot(q, k, e, seq, heads, head_dim, &masked);
    out[e] = masked ? 0.0f : vt_mul(acc, scale);
  }
}

// dP[b,h,i,j] = Σ_c fma(dO[b,i,h,c], V[b,j,h,c]); +0 where j > i.
extern "C" __global__ void vtk_attn_probs_grad(const float* __restrict__ d_out,
                                               const float* __restrict__ v, vt_u32 seq,
                                               vt_u32 heads, vt_u32 head_dim, vt_u32 n,
                                               float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    bool masked;
    float acc = vt_attn_head_dot(d_out, v, e, seq, heads, head_dim, &masked);
    out[e] = masked ? 0.0f : vt_canon(acc);
  }
}

// ---------------------------------------------------------------------------
// The softmax over each score row's causal range j ≤ i.

// One thread per row r = (b, h, i): element 2r its maximum (m = S[i,0], then
// max(m, S[i,j]) for j = 1..=i), element 2r + 1 its sum exp(sub(S[i,0], m)),
// then add(sum, exp(sub(S[i,j], m))) for j = 1..=i.
extern "C" __global__ void vtk_attn_softmax_stats(const float* __restrict__ s, vt_u32 seq,
                                                  vt_u32 rows, float* __restrict__ out) {
  VT_FOR_EACH(r, rows) {
    vt_u64 i = r % seq;
    const float* row = s + r * seq;
    float max = row[0];
    for (vt_u64 j = 1; j <= i; ++j) max = vt_max(max, row[j]);
    float sum = vt_exp(vt_sub(row[0], max));
    for (vt_u64 j = 1; j <= i; ++j) sum = vt_add_link(sum, vt_exp(vt_sub(row[j], max)));
    out[2 * r] = max;
    out[2 * r + 1] = vt_canon(sum);
  }
}

// P[b,h,i,j] = div(exp(sub(S, m)), sum) with row (b, h, i)'s statistics;
// +0 where j > i.
extern "C" __global__ void vtk_attn_softmax(const float* __restrict__ s,
                                            const float* __restrict__ stats, vt_u32 seq, vt_u32 n,
                                            float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    vt_u64 row = e / seq, j = e % seq;
    if (j > row % seq) {
      out[e] = 0.0f;
      continue;
    }
    float term = vt_exp(vt_sub(s[e], stats[2 * row]));
    out[e] = vt_div(term, stats[2 * row + 1]);
  }
}

// c[b,h,i] = Σ_{j ≤ i} fma(P[b,h,i,j], dP[b,h,i,j]) from +0, j ascending.
extern "C" __global__ void vtk_attn_softmax_dot(const float* __restrict__ p,
                                                const float* __restrict__ dp, vt_u32 seq,
                                                vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(r, n) {
    vt_u64 i = r % seq, base = r * seq;
    float acc = 0.0f;
    for (vt_u64 j = 0; j <= i; ++j) acc = vt_fma_link(p[base + j], dp[base + j], acc);
    out[r] = vt_canon(acc);
  }
}

// dS[b,h,i,j] = mul(mul(P, sub(dP, c[b,h,i])), scale); +0 where j > i.
extern "C" __global__ void vtk_attn_softmax_grad(const float* __restrict__ p,
                                                 const float* __restrict__ dp,
                                                 const float* __restrict__ dot, vt_u32 seq,
                                                 float scale, vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) {
    vt_u64 row = e / seq, j = e % seq;
    if (j > row % seq) {
      out[e] = 0.0f;
      continue;
    }
    out[e] = vt_mul(vt_mul(p[e], vt_sub(dp[e], dot[row])), scale);
  }
}

// ---------------------------------------------------------------------------
// Products over the causal range: the attention output and the gradients of
// the values, queries and keys.

// X[b,i,h,c] = Σ_{j ≤ i} fma(W[b,h,i,j], R[b,j,h,c]) from +0, j ascending
// (the output with P and V, the queries' gradient with dS and K).
__device__ __forceinline__ float vt_attn_sum_over_keys(const float* __restrict__ w,
                                                       const float* __restrict__ right, vt_u64 e,
                                                       vt_u32 seq, vt_u32 heads,
                                                       vt_u32 head_dim) {
  vt_u64 width = (vt_u64)heads * head_dim;
  vt_u64 bi = e / width, col = e % width;
  vt_u64 b = bi / seq, i = bi % seq, h = col / head_dim, c = col % head_dim;
  const float* weights = w + vt_attn_score(b, h, i, 0, seq, heads);
  float acc = 0.0f;
  for (vt_u64 j = 0; j <= i; ++j)
    acc = vt_fma_link(weights[j], right[vt_attn_act(b, j, h, c, seq, heads, head_dim)], acc);
  return vt_canon(acc);
}

// X[b,j,h,c] = Σ_{i ≥ j} fma(W[b,h,i,j], R[b,i,h,c]) from +0, i ascending
// (the values' gradient with P and dO, the keys' gradient with dS and Q).
__device__ __forceinline__ float vt_attn_sum_over_queries(const float* __restrict__ w,
                                                          const float* __restrict__ right,
                                                          vt_u64 e, vt_u32 seq, vt_u32 heads,
                                                          vt_u32 head_dim) {
  vt_u64 width = (vt_u64)heads * head_dim;
  vt_u64 bj = e / width, col = e % width;
  vt_u64 b = bj / seq, j = bj % seq, h = col / head_dim, c = col % head_dim;
  float acc = 0.0f;
  for (vt_u64 i = j; i < seq; ++i)
    acc = vt_fma_link(w[vt_attn_score(b, h, i, j, seq, heads)],
                      right[vt_attn_act(b, i, h, c, seq, heads, head_dim)], acc);
  return vt_canon(acc);
}

// O[b,i,h,c] = Σ_{j ≤ i} fma(P[b,h,i,j], V[b,j,h,c]).
extern "C" __global__ void vtk_attn_context(const float* __restrict__ p,
                                            const float* __restrict__ v, vt_u32 seq, vt_u32 heads,
                                            vt_u32 head_dim, vt_u32 n, float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_attn_sum_over_keys(p, v, e, seq, heads, head_dim); }
}

// dV[b,j,h,c] = Σ_{i ≥ j} fma(P[b,h,i,j], dO[b,i,h,c]).
extern "C" __global__ void vtk_attn_value_grad(const float* __restrict__ p,
                                               const float* __restrict__ d_out, vt_u32 seq,
                                               vt_u32 heads, vt_u32 head_dim, vt_u32 n,
                                               float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_attn_sum_over_queries(p, d_out, e, seq, heads, head_dim); }
}

// dQ[b,i,h,c] = Σ_{j ≤ i} fma(dS[b,h,i,j], K[b,j,h,c]).
extern "C" __global__ void vtk_attn_query_grad(const float* __restrict__ ds,
                                               const float* __restrict__ k, vt_u32 seq,
                                               vt_u32 heads, vt_u32 head_dim, vt_u32 n,
                                               float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_attn_sum_over_keys(ds, k, e, seq, heads, head_dim); }
}

// dK[b,j,h,c] = Σ_{i ≥ j} fma(dS[b,h,i,j], Q[b,i,h,c]).
extern "C" __global__ void vtk_attn_key_grad(const float* __restrict__ ds,
                                             const float* __restrict__ q, vt_u32 seq,
                                             vt_u32 heads, vt_u32 head_dim, vt_u32 n,
                                             float* __restrict__ out) {
  VT_FOR_EACH(e, n) { out[e] = vt_attn_sum_over_queries(ds, q, e, seq, heads, head_dim); }
}
