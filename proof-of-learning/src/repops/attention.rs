//! The element programs of a decoder-only transformer: token and position
//! embeddings, causal multi-head self-attention and the residual add.
//! Normative text: `docs/repops.md` § Embeddings, attention and residuals.
//!
//! Tensors of one attention layer over a batch of `B` sequences of `T`
//! positions, `H` heads of `d` values (`D = H·d`):
//! - Q, K, V, O and their gradients are `[B, T, D]`; head `h` is the columns
//!   `h·d .. (h+1)·d` of each row;
//! - the scores S, the probabilities P and their gradients are `[B, H, T, T]`
//!   (query position `i`, key position `j`); every element with `j > i` is
//!   masked: its program is the constant `+0`;
//! - the softmax statistics are `[B, H, T, 2]` (the row's maximum, then its
//!   sum of shifted exponentials), and the softmax-gradient dot `[B, H, T]`.

use super::math;
use super::program::Fp;

/// The shape of one causal self-attention over a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttentionGeometry {
    /// Sequences B.
    pub batch: usize,
    /// Positions T.
    pub seq: usize,
    /// Heads H.
    pub heads: usize,
    /// Values per head d.
    pub head_dim: usize,
}

impl AttentionGeometry {
    /// The model width `D = H·d`.
    pub fn width(&self) -> usize {
        self.heads * self.head_dim
    }

    /// The score scale `div(1, sqrt(d))`, rounded as the primitives round.
    pub fn scale(&self) -> f32 {
        super::prim::div(1.0, super::prim::sqrt(self.head_dim as f32))
    }

    /// Elements of a `[B, H, T, T]` score tensor.
    pub fn scores(&self) -> usize {
        self.batch * self.heads * self.seq * self.seq
    }

    /// Elements of a `[B, T, D]` activation.
    pub fn activations(&self) -> usize {
        self.batch * self.seq * self.width()
    }

    /// `(b, h, i, j)` of score element `e`.
    #[inline(always)]
    fn score_index(&self, e: usize) -> (usize, usize, usize, usize) {
        let t = self.seq;
        let (bh, i, j) = (e / (t * t), e / t % t, e % t);
        (bh / self.heads, bh % self.heads, i, j)
    }

    /// `(b, i, h, c)` of activation element `e`: position `i`, head `h`, value `c`.
    #[inline(always)]
    fn activation_index(&self, e: usize) -> (usize, usize, usize, usize) {
        let width = self.width();
        let (bi, col) = (e / width, e % width);
        (
            bi / self.seq,
            bi % self.seq,
            col / self.head_dim,
            col % self.head_dim,
        )
    }

    /// The index of `(b, i, h, c)` in a `[B, T, D]` activation.
    #[inline(always)]
    fn activation(&self, b: usize, i: usize, h: usize, c: usize) -> usize {
        (b * self.seq + i) * self.width() + h * self.head_dim + c
    }

    /// The index of `(b, h, i, j)` in a `[B, H, T, T]` score tensor.
    #[inline(always)]
    fn score(&self, b: usize, h: usize, i: usize, j: usize) -> usize {
        ((b * self.heads + h) * self.seq + i) * self.seq + j
    }
}

/// The shape of a token and position embedding over a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EmbeddingGeometry {
    /// Sequences B.
    pub batch: usize,
    /// Positions T.
    pub seq: usize,
    /// Tokens in the vocabulary V.
    pub vocab: usize,
    /// Values per token.
    pub dim: usize,
}

#[inline(always)]
fn load<F: Fp>(fp: &mut F, inputs: &[&[f32]], slot: u8, index: usize) -> F::V {
    fp.input(slot, index, inputs[slot as usize][index])
}

/// `embed`: `acc = +0; acc = add(acc, sel_eq(tok, v, E[v,j], +0))` for every
/// vocabulary entry `v` ascending, then `add(acc, P[t,j])`. Inputs: the
/// tokens `[B, T]`, the token table E `[V, dim]`, the position table P `[T, dim]`.
#[inline(always)]
pub fn embed<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &EmbeddingGeometry, e: usize) -> F::V {
    let (bt, j) = (e / g.dim, e % g.dim);
    let token = load(fp, inputs, 0, bt);
    let zero = fp.constant(0.0);
    let mut acc = zero;
    for v in 0..g.vocab {
        let id = fp.constant(v as f32);
        let row = load(fp, inputs, 1, v * g.dim + j);
        let picked = fp.sel_eq(token, id, row, zero);
        acc = fp.add(acc, picked);
    }
    let position = load(fp, inputs, 2, bt % g.seq * g.dim + j);
    fp.add(acc, position)
}

/// `embed_grad`, the token table's gradient, a scatter-add in a fixed order:
/// `acc = +0; acc = add(acc, sel_eq(tok[b,t], v, dY[b,t,j], +0))` for every
/// `(b, t)` ascending (batch, then position). Inputs: the tokens, dY `[B, T, dim]`.
#[inline(always)]
pub fn embed_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &EmbeddingGeometry, e: usize) -> F::V {
    let (v, j) = (e / g.dim, e % g.dim);
    let zero = fp.constant(0.0);
    let id = fp.constant(v as f32);
    let mut acc = zero;
    for bt in 0..g.batch * g.seq {
        let token = load(fp, inputs, 0, bt);
        let dy = load(fp, inputs, 1, bt * g.dim + j);
        let picked = fp.sel_eq(token, id, dy, zero);
        acc = fp.add(acc, picked);
    }
    acc
}

/// `add`: `add(A[e], B[e])`, the residual connection and the sum of gradients
/// that meet. Inputs: A, B.
#[inline(always)]
pub fn add<F: Fp>(fp: &mut F, inputs: &[&[f32]], e: usize) -> F::V {
    let a = load(fp, inputs, 0, e);
    let b = load(fp, inputs, 1, e);
    fp.add(a, b)
}

/// `attn_scores`: `mul(Σ_c fma(Q[b,i,h,c], K[b,j,h,c]), scale)` from `+0`,
/// `c` ascending; `+0` where `j > i`. Inputs: Q, K.
#[inline(always)]
pub fn scores<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (b, h, i, j) = g.score_index(e);
    let mut acc = fp.constant(0.0);
    if j > i {
        return acc;
    }
    for c in 0..g.head_dim {
        let q = load(fp, inputs, 0, g.activation(b, i, h, c));
        let k = load(fp, inputs, 1, g.activation(b, j, h, c));
        acc = fp.fma(q, k, acc);
    }
    let scale = fp.constant(g.scale());
    fp.mul(acc, scale)
}

/// The maximum of row `(b, h, i)` of S over `j ≤ i`: `m = S[i,0]`, then
/// `m = max(m, S[i,j])` for `j = 1..=i`.
#[inline(always)]
fn row_max<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, row: usize) -> F::V {
    let i = row % g.seq;
    let base = row * g.seq;
    let mut max = load(fp, inputs, 0, base);
    for j in 1..=i {
        let s = load(fp, inputs, 0, base + j);
        max = fp.max(max, s);
    }
    max
}

/// `attn_softmax_stats`: element `2r` is row `r`'s maximum m, element
/// `2r + 1` its sum `exp(sub(S[i,0], m))`, then `add(sum, exp(sub(S[i,j], m)))`
/// for `j = 1..=i`. Input: S.
#[inline(always)]
pub fn softmax_stats<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    g: &AttentionGeometry,
    e: usize,
) -> F::V {
    let row = e / 2;
    let max = row_max(fp, inputs, g, row);
    if e.is_multiple_of(2) {
        return max;
    }
    let (i, base) = (row % g.seq, row * g.seq);
    let mut sum = None;
    for j in 0..=i {
        let s = load(fp, inputs, 0, base + j);
        let shifted = fp.sub(s, max);
        let term = math::exp(fp, shifted);
        sum = Some(match sum {
            None => term,
            Some(acc) => fp.add(acc, term),
        });
    }
    sum.unwrap_or(max)
}

/// `attn_softmax`: `div(exp(sub(S, m)), sum)` with the row's statistics; `+0`
/// where `j > i`. Inputs: S, the statistics.
#[inline(always)]
pub fn softmax<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (row, j) = (e / g.seq, e % g.seq);
    if j > row % g.seq {
        return fp.constant(0.0);
    }
    let s = load(fp, inputs, 0, e);
    let max = load(fp, inputs, 1, 2 * row);
    let shifted = fp.sub(s, max);
    let term = math::exp(fp, shifted);
    let sum = load(fp, inputs, 1, 2 * row + 1);
    fp.div(term, sum)
}

/// `attn_context`: `O[b,i,h,c] = Σ_{j ≤ i} fma(P[b,h,i,j], V[b,j,h,c])` from
/// `+0`, `j` ascending. Inputs: P, V.
#[inline(always)]
pub fn context<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (b, i, h, c) = g.activation_index(e);
    let mut acc = fp.constant(0.0);
    for j in 0..=i {
        let p = load(fp, inputs, 0, g.score(b, h, i, j));
        let v = load(fp, inputs, 1, g.activation(b, j, h, c));
        acc = fp.fma(p, v, acc);
    }
    acc
}

/// `attn_probs_grad`: `dP[b,h,i,j] = Σ_c fma(dO[b,i,h,c], V[b,j,h,c])` from
/// `+0`; `+0` where `j > i`. Inputs: dO, V.
#[inline(always)]
pub fn probs_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (b, h, i, j) = g.score_index(e);
    let mut acc = fp.constant(0.0);
    if j > i {
        return acc;
    }
    for c in 0..g.head_dim {
        let d_out = load(fp, inputs, 0, g.activation(b, i, h, c));
        let v = load(fp, inputs, 1, g.activation(b, j, h, c));
        acc = fp.fma(d_out, v, acc);
    }
    acc
}

/// `attn_value_grad`: `dV[b,j,h,c] = Σ_{i ≥ j} fma(P[b,h,i,j], dO[b,i,h,c])`
/// from `+0`, `i` ascending. Inputs: P, dO.
#[inline(always)]
pub fn value_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (b, j, h, c) = g.activation_index(e);
    let mut acc = fp.constant(0.0);
    for i in j..g.seq {
        let p = load(fp, inputs, 0, g.score(b, h, i, j));
        let d_out = load(fp, inputs, 1, g.activation(b, i, h, c));
        acc = fp.fma(p, d_out, acc);
    }
    acc
}

/// `attn_softmax_dot`: `c[b,h,i] = Σ_{j ≤ i} fma(P[b,h,i,j], dP[b,h,i,j])`
/// from `+0`, `j` ascending. Inputs: P, dP.
#[inline(always)]
pub fn softmax_dot<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (i, base) = (e % g.seq, e * g.seq);
    let mut acc = fp.constant(0.0);
    for j in 0..=i {
        let p = load(fp, inputs, 0, base + j);
        let dp = load(fp, inputs, 1, base + j);
        acc = fp.fma(p, dp, acc);
    }
    acc
}

/// `attn_softmax_grad`: the gradient of the scaled scores' dot products,
/// `mul(mul(P, sub(dP, c)), scale)`; `+0` where `j > i`. Inputs: P, dP, c.
#[inline(always)]
pub fn softmax_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (row, j) = (e / g.seq, e % g.seq);
    if j > row % g.seq {
        return fp.constant(0.0);
    }
    let p = load(fp, inputs, 0, e);
    let dp = load(fp, inputs, 1, e);
    let dot = load(fp, inputs, 2, row);
    let centred = fp.sub(dp, dot);
    let ds = fp.mul(p, centred);
    let scale = fp.constant(g.scale());
    fp.mul(ds, scale)
}

/// `attn_query_grad`: `dQ[b,i,h,c] = Σ_{j ≤ i} fma(dS[b,h,i,j], K[b,j,h,c])`
/// from `+0`, `j` ascending. Inputs: dS, K.
#[inline(always)]
pub fn query_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (b, i, h, c) = g.activation_index(e);
    let mut acc = fp.constant(0.0);
    for j in 0..=i {
        let ds = load(fp, inputs, 0, g.score(b, h, i, j));
        let k = load(fp, inputs, 1, g.activation(b, j, h, c));
        acc = fp.fma(ds, k, acc);
    }
    acc
}

/// `attn_key_grad`: `dK[b,j,h,c] = Σ_{i ≥ j} fma(dS[b,h,i,j], Q[b,i,h,c])`
/// from `+0`, `i` ascending. Inputs: dS, Q.
#[inline(always)]
pub fn key_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &AttentionGeometry, e: usize) -> F::V {
    let (b, j, h, c) = g.activation_index(e);
    let mut acc = fp.constant(0.0);
    for i in j..g.seq {
        let ds = load(fp, inputs, 0, g.score(b, h, i, j));
        let q = load(fp, inputs, 1, g.activation(b, i, h, c));
        acc = fp.fma(ds, q, acc);
    }
    acc
}
