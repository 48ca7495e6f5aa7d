//! Fast kernels of causal self-attention, bit-identical to the reference
//! programs of `repops::attention`: each output element is accumulated in
//! the reference's order (over `c`, or over the causal range of `j` or `i`
//! ascending), but the loops run over contiguous rows, the softmax
//! statistics are computed once per row, and the masked half of every score
//! tensor is written as `+0` without a program. The work splits by sequence:
//! `first_b` is the first sequence of `out`, which holds whole sequences.

use super::lanes::{ShiftedExp, Wide, map1};
use super::{add_link, fma_link};
use crate::repops::canon;
use crate::repops::prim::{div, max, mul, sub};
use crate::repops::{AttentionGeometry, Op};

/// Runs `op` for sequences `first_b..` into `out`.
#[inline(always)]
pub(super) fn attention(
    op: &Op,
    g: &AttentionGeometry,
    inputs: &[&[f32]],
    first_b: usize,
    out: &mut [f32],
    wide: Wide,
) {
    let (t, d, width) = (g.seq, g.head_dim, g.width());
    // One sequence's share of each layout.
    let (acts, scores) = (t * width, g.heads * t * t);
    let act = |b: usize, i: usize, h: usize| (b * t + i) * width + h * d;
    let score_row = |b: usize, h: usize, i: usize| ((b * g.heads + h) * t + i) * t;
    let scale = g.scale();
    match *op {
        Op::AttnScores(_) | Op::AttnProbsGrad(_) => {
            // S = mul(Σ_c fma(Q_i, K_j), σ); dP = Σ_c fma(dO_i, V_j): each (h, i) row
            // runs its j lanes in blocks of eight side by side over c (each block's
            // sums in registers), reading the head of K (or V) transposed so that
            // the lanes are contiguous. The transpose's rows are padded with zeros
            // to a whole block; the lanes past `i` are computed and dropped.
            let scaled = matches!(op, Op::AttnScores(_));
            let stride = t.next_multiple_of(BLOCK);
            let mut right_t = vec![0.0f32; d * stride];
            for (n, seq) in out.chunks_exact_mut(scores).enumerate() {
                let b = first_b + n;
                for (h, head) in seq.chunks_exact_mut(t * t).enumerate() {
                    for j in 0..t {
                        for (c, &v) in inputs[1][act(b, j, h)..act(b, j, h) + d].iter().enumerate()
                        {
                            right_t[c * stride + j] = v;
                        }
                    }
                    for (i, values) in head.chunks_exact_mut(t).enumerate() {
                        let left = &inputs[0][act(b, i, h)..act(b, i, h) + d];
                        let (kept, masked) = values.split_at_mut(i + 1);
                        for (block, lanes) in kept.chunks_mut(BLOCK).enumerate() {
                            let mut acc = [0.0f32; BLOCK];
                            for (c, &l) in left.iter().enumerate() {
                                let column = &right_t[c * stride + block * BLOCK..][..BLOCK];
                                for (a, &r) in acc.iter_mut().zip(column) {
                                    *a = fma_link(l, r, *a);
                                }
                            }
                            for (value, &a) in lanes.iter_mut().zip(&acc) {
                                *value = if scaled { mul(a, scale) } else { canon(a) };
                            }
                        }
                        masked.fill(0.0);
                    }
                }
            }
        }
        Op::AttnSoftmaxStats(_) => {
            let mut terms = vec![0.0f32; t];
            for (n, seq) in out.chunks_exact_mut(2 * g.heads * t).enumerate() {
                let b = first_b + n;
                for (row, pair) in seq.chunks_exact_mut(2).enumerate() {
                    let (h, i) = (row / t, row % t);
                    let s = &inputs[0][score_row(b, h, i)..score_row(b, h, i) + i + 1];
                    let m = s[1..].iter().fold(s[0], |m, &v| max(m, v));
                    map1(wide, &ShiftedExp(m), s, &mut terms[..=i]);
                    pair[0] = m;
                    pair[1] = canon(
                        terms[1..=i]
                            .iter()
                            .fold(terms[0], |sum, &x| add_link(sum, x)),
                    );
                }
            }
        }
        Op::AttnSoftmax(_) => {
            let mut terms = vec![0.0f32; t];
            for (n, seq) in out.chunks_exact_mut(scores).enumerate() {
                let b = first_b + n;
                for (row, values) in seq.chunks_exact_mut(t).enumerate() {
                    let (h, i) = (row / t, row % t);
                    let base = score_row(b, h, i);
                    let stats = (b * g.heads + h) * t + i;
                    let (m, sum) = (inputs[1][2 * stats], inputs[1][2 * stats + 1]);
                    map1(
                        wide,
                        &ShiftedExp(m),
                        &inputs[0][base..=base + i],
                        &mut terms[..=i],
                    );
                    let (kept, masked) = values.split_at_mut(i + 1);
                    for (value, &x) in kept.iter_mut().zip(&terms[..=i]) {
                        *value = div(x, sum);
                    }
                    masked.fill(0.0);
                }
            }
        }
        Op::AttnContext(_) | Op::AttnQueryGrad(_) => {
            // O_i = Σ_{j ≤ i} fma(P_ij, V_j); dQ_i = Σ_{j ≤ i} fma(dS_ij, K_j).
            for (n, seq) in out.chunks_exact_mut(acts).enumerate() {
                let b = first_b + n;
                for h in 0..g.heads {
                    for i in 0..t {
                        let start = act(b, i, h) - b * acts;
                        let probs = &inputs[0][score_row(b, h, i)..];
                        let terms = (0..=i).map(|j| (probs[j], &inputs[1][act(b, j, h)..]));
                        weighted_sum(&mut seq[start..start + d], terms);
                    }
                }
            }
        }
        Op::AttnValueGrad(_) | Op::AttnKeyGrad(_) => {
            // dV_j = Σ_{i ≥ j} fma(P_ij, dO_i); dK_j = Σ_{i ≥ j} fma(dS_ij, Q_i).
            // i outer, ascending: every dV_j still sums its terms in ascending
            // i, and each row of P (and of dO) is read once, contiguously, into
            // a head's t sums (an L1-sized block).
            let mut acc = vec![0.0f32; t * d];
            for (n, seq) in out.chunks_exact_mut(acts).enumerate() {
                let b = first_b + n;
                for h in 0..g.heads {
                    acc.fill(0.0);
                    for i in 0..t {
                        let p = &inputs[0][score_row(b, h, i)..][..=i];
                        let x = &inputs[1][act(b, i, h)..][..d];
                        for (&p, sums) in p.iter().zip(acc.chunks_exact_mut(d)) {
                            for (a, &v) in sums.iter_mut().zip(x) {
                                *a = fma_link(p, v, *a);
                            }
                        }
                    }
                    for (j, sums) in acc.chunks_exact(d).enumerate() {
                        let start = act(b, j, h) - b * acts;
                        for (value, &a) in seq[start..start + d].iter_mut().zip(sums) {
                            *value = canon(a);
                        }
                    }
                }
            }
        }
        Op::AttnSoftmaxDot(_) => {
            for (n, seq) in out.chunks_exact_mut(g.heads * t).enumerate() {
                let b = first_b + n;
                for (row, value) in seq.iter_mut().enumerate() {
                    let (h, i) = (row / t, row % t);
                    let base = score_row(b, h, i);
                    let p = &inputs[0][base..=base + i];
                    let dp = &inputs[1][base..=base + i];
                    *value = canon(
                        p.iter()
                            .zip(dp)
                            .fold(0.0, |acc, (&p, &dp)| fma_link(p, dp, acc)),
                    );
                }
            }
        }
        Op::AttnSoftmaxGrad(_) => {
            for (n, seq) in out.chunks_exact_mut(scores).enumerate() {
                let b = first_b + n;
                for (row, values) in seq.chunks_exact_mut(t).enumerate() {
                    let (h, i) = (row / t, row % t);
                    let base = score_row(b, h, i);
                    let dot = inputs[2][(b * g.heads + h) * t + i];
                    let (kept, masked) = values.split_at_mut(i + 1);
                    let (p, dp) = (&inputs[0][base..=base + i], &inputs[1][base..=base + i]);
                    for ((value, &p), &dp) in kept.iter_mut().zip(p).zip(dp) {
                        *value = mul(mul(p, sub(dp, dot)), scale);
                    }
                    masked.fill(0.0);
                }
            }
        }
        _ => unreachable!("attention() runs the attention ops only"),
    }
}

/// Score lanes computed side by side in [`attention`]'s score products.
const BLOCK: usize = 8;

/// `acc[c] = fma(w, row[c], acc[c])` for each `(w, row)` of `terms` in order,
/// from `acc = +0`: an attention product's output row (`d = acc.len()`
/// values, each summed over the terms in their order). At the usual head
/// widths the sums stay in registers across the terms.
#[inline(always)]
fn weighted_sum<'a>(acc: &mut [f32], terms: impl Iterator<Item = (f32, &'a [f32])>) {
    match acc.len() {
        8 => weighted_sum_of::<8>(acc, terms),
        16 => weighted_sum_of::<16>(acc, terms),
        32 => weighted_sum_of::<32>(acc, terms),
        64 => weighted_sum_of::<64>(acc, terms),
        d => {
            acc.fill(0.0);
            for (w, row) in terms {
                for (a, &x) in acc.iter_mut().zip(&row[..d]) {
                    *a = fma_link(w, x, *a);
                }
            }
            for a in acc.iter_mut() {
                *a = canon(*a);
            }
        }
    }
}

/// [`weighted_sum`] for `D` values.
#[inline(always)]
fn weighted_sum_of<'a, const D: usize>(
    acc: &mut [f32],
    terms: impl Iterator<Item = (f32, &'a [f32])>,
) {
    let mut sum = [0.0f32; D];
    for (w, row) in terms {
        let row = &row[..D];
        for (a, &x) in sum.iter_mut().zip(row) {
            *a = fma_link(w, x, *a);
        }
    }
    for (a, &sum) in acc.iter_mut().zip(&sum) {
        *a = canon(sum);
    }
}
