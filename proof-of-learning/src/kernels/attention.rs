//! Fast kernels of causal self-attention, bit-identical to the reference
//! programs of `repops::attention`: each output element is accumulated in
//! the reference's order (over `c`, or over the causal range of `j` or `i`
//! ascending), but the loops run over contiguous rows, the softmax
//! statistics are computed once per row, and the masked half of every score
//! tensor is written as `+0` without a program. The work splits by sequence:
//! `first_b` is the first sequence of `out`, which holds whole sequences.

use crate::repops::prim::{add, div, fma, max, mul, sub};
use crate::repops::{AttentionGeometry, Direct, Op, exp};

/// Runs `op` for sequences `first_b..` into `out`.
#[inline(always)]
pub(super) fn attention(
    op: &Op,
    g: &AttentionGeometry,
    inputs: &[&[f32]],
    first_b: usize,
    out: &mut [f32],
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
            // runs its j lanes side by side over c, reading the head of K (or V)
            // transposed so that the lanes are contiguous.
            let scaled = matches!(op, Op::AttnScores(_));
            let mut right_t = vec![0.0f32; d * t];
            let mut acc = vec![0.0f32; t];
            for (n, seq) in out.chunks_exact_mut(scores).enumerate() {
                let b = first_b + n;
                for (h, head) in seq.chunks_exact_mut(t * t).enumerate() {
                    for j in 0..t {
                        for (c, &v) in inputs[1][act(b, j, h)..act(b, j, h) + d].iter().enumerate()
                        {
                            right_t[c * t + j] = v;
                        }
                    }
                    for (i, values) in head.chunks_exact_mut(t).enumerate() {
                        let lanes = &mut acc[..=i];
                        lanes.fill(0.0);
                        let left = &inputs[0][act(b, i, h)..act(b, i, h) + d];
                        for (c, &l) in left.iter().enumerate() {
                            let column = &right_t[c * t..c * t + i + 1];
                            for (a, &r) in lanes.iter_mut().zip(column) {
                                *a = fma(l, r, *a);
                            }
                        }
                        let (kept, masked) = values.split_at_mut(i + 1);
                        if scaled {
                            for (value, &a) in kept.iter_mut().zip(lanes.iter()) {
                                *value = mul(a, scale);
                            }
                        } else {
                            kept.copy_from_slice(lanes);
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
                    shifted_exps(s, m, &mut terms[..=i]);
                    pair[0] = m;
                    pair[1] = terms[1..=i].iter().fold(terms[0], |sum, &x| add(sum, x));
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
                    shifted_exps(&inputs[0][base..=base + i], m, &mut terms[..=i]);
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
                seq.fill(0.0);
                for h in 0..g.heads {
                    for i in 0..t {
                        let start = act(b, i, h) - b * acts;
                        let acc = &mut seq[start..start + d];
                        let probs = &inputs[0][score_row(b, h, i)..];
                        for (j, &p) in probs[..=i].iter().enumerate() {
                            let v = &inputs[1][act(b, j, h)..act(b, j, h) + d];
                            for (a, &x) in acc.iter_mut().zip(v) {
                                *a = fma(p, x, *a);
                            }
                        }
                    }
                }
            }
        }
        Op::AttnValueGrad(_) | Op::AttnKeyGrad(_) => {
            // dV_j = Σ_{i ≥ j} fma(P_ij, dO_i); dK_j = Σ_{i ≥ j} fma(dS_ij, Q_i).
            for (n, seq) in out.chunks_exact_mut(acts).enumerate() {
                let b = first_b + n;
                seq.fill(0.0);
                for h in 0..g.heads {
                    for j in 0..t {
                        let start = act(b, j, h) - b * acts;
                        let acc = &mut seq[start..start + d];
                        for i in j..t {
                            let p = inputs[0][score_row(b, h, i) + j];
                            let x = &inputs[1][act(b, i, h)..act(b, i, h) + d];
                            for (a, &v) in acc.iter_mut().zip(x) {
                                *a = fma(p, v, *a);
                            }
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
                    *value = p.iter().zip(dp).fold(0.0, |acc, (&p, &dp)| fma(p, dp, acc));
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
                    for (j, value) in values.iter_mut().enumerate() {
                        *value = if j > i {
                            0.0
                        } else {
                            let centred = sub(inputs[1][base + j], dot);
                            mul(mul(inputs[0][base + j], centred), scale)
                        };
                    }
                }
            }
        }
        _ => unreachable!("attention() runs the attention ops only"),
    }
}

/// `out[j] = exp(sub(s[j], m))`, the exp program of every lane side by side.
#[inline(always)]
fn shifted_exps(s: &[f32], m: f32, out: &mut [f32]) {
    for (x, &v) in out.iter_mut().zip(s) {
        *x = exp(&mut Direct, sub(v, m));
    }
}
