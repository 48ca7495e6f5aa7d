//! The element programs of layer normalisation and GELU. Normative text:
//! `docs/repops.md` § Layer normalisation and GELU.
//!
//! A layer norm sees its input as `rows` rows of `width` values (the last
//! dimension). Its statistics are a tensor of their own, `S [rows, 2]`
//! (`S[r,0]` the mean, `S[r,1]` the reciprocal standard deviation), so that
//! the programs reading them stay short.

use super::math;
use super::program::Fp;

/// The shape of a layer norm: `rows` rows of `width` values, and its `ε`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormGeometry {
    /// The rows: the batch times every dimension but the last.
    pub rows: usize,
    /// The normalised (last) dimension.
    pub width: usize,
    /// Added to the variance before the square root.
    pub eps: f32,
}

/// GELU's cubic coefficient `C = 0.044715`.
pub const GELU_C: f32 = f32::from_bits(0x3D37_2713);
/// `3·C = 0.134145`, the decimal rounded once.
pub const GELU_C3: f32 = f32::from_bits(0x3E09_5D4F);
/// `K = 2·√(2/π)`.
pub const GELU_K: f32 = f32::from_bits(0x3FCC_422A);

#[inline(always)]
fn load<F: Fp>(fp: &mut F, inputs: &[&[f32]], slot: u8, index: usize) -> F::V {
    fp.input(slot, index, inputs[slot as usize][index])
}

/// The mean of row `r` of input 0: `acc = +0; acc = add(acc, x_j)`; `div(acc, D)`.
#[inline(always)]
fn row_mean<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &NormGeometry, r: usize) -> F::V {
    let mut acc = fp.constant(0.0);
    for j in 0..g.width {
        let x = load(fp, inputs, 0, r * g.width + j);
        acc = fp.add(acc, x);
    }
    let width = fp.constant(g.width as f32);
    fp.div(acc, width)
}

/// `layer_norm_stats`: element `e` of `S [rows, 2]` from X (input 0).
#[inline(always)]
pub fn stats<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &NormGeometry, e: usize) -> F::V {
    let r = e / 2;
    let mean = row_mean(fp, inputs, g, r);
    if e.is_multiple_of(2) {
        return mean;
    }
    let mut acc = fp.constant(0.0);
    for j in 0..g.width {
        let x = load(fp, inputs, 0, r * g.width + j);
        let d = fp.sub(x, mean);
        acc = fp.fma(d, d, acc);
    }
    let width = fp.constant(g.width as f32);
    let variance = fp.div(acc, width);
    let eps = fp.constant(g.eps);
    let shifted = fp.add(variance, eps);
    let deviation = fp.sqrt(shifted);
    let one = fp.constant(1.0);
    fp.div(one, deviation)
}

/// `x̂ = mul(sub(X[index], S[r,0]), S[r,1])`: every layer-norm op reads X at
/// slot 0 and S at slot 1.
#[inline(always)]
fn normalised<F: Fp>(fp: &mut F, inputs: &[&[f32]], index: usize, r: usize) -> F::V {
    let value = load(fp, inputs, 0, index);
    let mean = load(fp, inputs, 1, 2 * r);
    let centred = fp.sub(value, mean);
    let rstd = load(fp, inputs, 1, 2 * r + 1);
    fp.mul(centred, rstd)
}

/// `layer_norm`: `fma(x̂, γ[j], β[j])`. Inputs: X, S, γ, β.
#[inline(always)]
pub fn forward<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &NormGeometry, e: usize) -> F::V {
    let (r, j) = (e / g.width, e % g.width);
    let xh = normalised(fp, inputs, e, r);
    let gain = load(fp, inputs, 2, j);
    let shift = load(fp, inputs, 3, j);
    fp.fma(xh, gain, shift)
}

/// The two row means of `layer_norm_input_grad`: `mean(dy·γ)` and
/// `mean(dy·γ·x̂)` of row `r`. Inputs: X, S, γ, dY. The fast kernel calls this
/// once per row and shares the result between the row's elements.
#[inline(always)]
pub(crate) fn input_grad_row<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    g: &NormGeometry,
    r: usize,
) -> (F::V, F::V) {
    let base = r * g.width;
    let mut a = fp.constant(0.0);
    for j in 0..g.width {
        let dy = load(fp, inputs, 3, base + j);
        let gain = load(fp, inputs, 2, j);
        a = fp.fma(dy, gain, a);
    }
    let mut b = fp.constant(0.0);
    for j in 0..g.width {
        let xh = normalised(fp, inputs, base + j, r);
        let dy = load(fp, inputs, 3, base + j);
        let gain = load(fp, inputs, 2, j);
        let scaled = fp.mul(dy, gain);
        b = fp.fma(scaled, xh, b);
    }
    let width = fp.constant(g.width as f32);
    let mean_a = fp.div(a, width);
    let mean_b = fp.div(b, width);
    (mean_a, mean_b)
}

/// `layer_norm_input_grad`, element `e` given its row's means:
/// `mul(sub(sub(dy·γ, ma), x̂·mb), ρ)`.
#[inline(always)]
pub(crate) fn input_grad_element<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    g: &NormGeometry,
    e: usize,
    (mean_a, mean_b): (F::V, F::V),
) -> F::V {
    let (r, i) = (e / g.width, e % g.width);
    let xh = normalised(fp, inputs, e, r);
    let dy = load(fp, inputs, 3, e);
    let gain = load(fp, inputs, 2, i);
    let scaled = fp.mul(dy, gain);
    let t = fp.sub(scaled, mean_a);
    let u = fp.mul(xh, mean_b);
    let t = fp.sub(t, u);
    let rstd = load(fp, inputs, 1, 2 * r + 1);
    fp.mul(t, rstd)
}

/// `layer_norm_input_grad`: `dX[r,i]`. Inputs: X, S, γ, dY.
#[inline(always)]
pub fn input_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &NormGeometry, e: usize) -> F::V {
    let means = input_grad_row(fp, inputs, g, e / g.width);
    input_grad_element(fp, inputs, g, e, means)
}

/// `layer_norm_weight_grad`: `dγ[j] = Σ_r dY[r,j]·x̂[r,j]`. Inputs: X, S, dY.
#[inline(always)]
pub fn weight_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &NormGeometry, j: usize) -> F::V {
    let mut acc = fp.constant(0.0);
    for r in 0..g.rows {
        let index = r * g.width + j;
        let xh = normalised(fp, inputs, index, r);
        let dy = load(fp, inputs, 2, index);
        acc = fp.fma(dy, xh, acc);
    }
    acc
}

/// `x2 = x·x`, `x3 = x2·x`, `in = fma(C, x3, x)`, `t = in·(−K)`,
/// `d = exp(t) + 1`: the denominator of `x·σ(2u) = x / d`, and `x2`.
#[inline(always)]
fn gelu_denominator<F: Fp>(fp: &mut F, x: F::V) -> (F::V, F::V) {
    let x2 = fp.mul(x, x);
    let x3 = fp.mul(x2, x);
    let c = fp.constant(GELU_C);
    let inner = fp.fma(c, x3, x);
    let minus_k = fp.constant(-GELU_K);
    let t = fp.mul(inner, minus_k);
    let e = math::exp(fp, t);
    let one = fp.constant(1.0);
    (fp.add(e, one), x2)
}

/// `gelu`: `div(x, d)`. Input: X.
#[inline(always)]
pub fn gelu<F: Fp>(fp: &mut F, inputs: &[&[f32]], e: usize) -> F::V {
    let x = load(fp, inputs, 0, e);
    gelu_of(fp, x)
}

/// The program of [`gelu`] on a value already loaded (the fast kernels run it
/// on several elements' values at once).
#[inline(always)]
pub fn gelu_of<F: Fp>(fp: &mut F, x: F::V) -> F::V {
    let (d, _) = gelu_denominator(fp, x);
    fp.div(x, d)
}

/// `gelu_grad`: `dY·(σ + x·σ(1 − σ)·K·(1 + 3C·x²))`. Inputs: X, dY.
#[inline(always)]
pub fn gelu_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], e: usize) -> F::V {
    let x = load(fp, inputs, 0, e);
    let dy = load(fp, inputs, 1, e);
    gelu_grad_of(fp, x, dy)
}

/// The program of [`gelu_grad`] on values already loaded (loading records no
/// micro-step, so the trace is the same).
#[inline(always)]
pub fn gelu_grad_of<F: Fp>(fp: &mut F, x: F::V, dy: F::V) -> F::V {
    let (d, x2) = gelu_denominator(fp, x);
    let one = fp.constant(1.0);
    let s = fp.div(one, d);
    let q = fp.sub(one, s);
    let slope = fp.mul(s, q);
    let c3 = fp.constant(GELU_C3);
    let p = fp.fma(c3, x2, one);
    let k = fp.constant(GELU_K);
    let k = fp.mul(p, k);
    let h = fp.mul(x, k);
    let h = fp.mul(h, slope);
    let derivative = fp.add(s, h);
    fp.mul(dy, derivative)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repops::{Direct, Op};

    fn gelu64(x: f64) -> f64 {
        let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
        0.5 * x * (1.0 + u.tanh())
    }

    #[test]
    fn gelu_follows_the_tanh_form_and_its_derivative() {
        let mut worst = (0.0f64, 0.0f64);
        for i in -4000..=4000 {
            let x = i as f32 / 400.0;
            let y = gelu(&mut Direct, &[&[x]], 0);
            let dy = gelu_grad(&mut Direct, &[&[x], &[1.0]], 0);
            let x64 = f64::from(x);
            let h = 1e-6;
            let slope = (gelu64(x64 + h) - gelu64(x64 - h)) / (2.0 * h);
            worst.0 = worst.0.max((f64::from(y) - gelu64(x64)).abs());
            worst.1 = worst.1.max((f64::from(dy) - slope).abs());
        }
        assert!(worst.0 < 1e-6, "gelu is off by {}", worst.0);
        assert!(worst.1 < 1e-5, "gelu_grad is off by {}", worst.1);
        // The tails: the limits, and no NaN while x³ is finite.
        for (x, y, dy) in [
            (-20.0f32, 0.0f32, 0.0f32),
            (20.0, 20.0, 1.0),
            (-1e12, 0.0, 0.0),
        ] {
            assert_eq!(gelu(&mut Direct, &[&[x]], 0), y, "gelu({x})");
            assert_eq!(gelu_grad(&mut Direct, &[&[x], &[1.0]], 0), dy, "gelu'({x})");
        }
        // Where x³ overflows the forward value is still right (x / ∞ = −0 on
        // the left), and the gradient is NaN, as in PyTorch's tanh-GELU
        // backward (0 · ∞ there too).
        assert_eq!(
            gelu(&mut Direct, &[&[-1e30]], 0).to_bits(),
            (-0.0f32).to_bits()
        );
        assert_eq!(gelu(&mut Direct, &[&[1e30]], 0), 1e30);
        for x in [-1e30f32, 1e30, f32::NAN] {
            let dy = gelu_grad(&mut Direct, &[&[x], &[1.0]], 0);
            assert_eq!(dy.to_bits(), crate::repops::CANONICAL_NAN, "gelu'({x})");
        }
        assert!(gelu(&mut Direct, &[&[f32::NAN]], 0).is_nan());
    }

    #[test]
    fn program_lengths_are_the_documented_ones() {
        let g = NormGeometry {
            rows: 3,
            width: 5,
            eps: 1e-5,
        };
        let x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.7).sin()).collect();
        let s: Vec<f32> = (0..6).map(|e| stats(&mut Direct, &[&x], &g, e)).collect();
        let gain = [1.0, 0.5, -2.0, 1.5, 0.25];
        let shift = [0.0, 0.1, 0.2, 0.3, 0.4];
        let dy: Vec<f32> = (0..15).map(|i| (i as f32 * 1.3).cos()).collect();
        let len = |op: Op, inputs: &[&[f32]], e: usize| op.reference_element(inputs, e).steps.len();
        let d = g.width;
        assert_eq!(len(Op::LayerNormStats(g), &[&x], 2), d + 1);
        assert_eq!(len(Op::LayerNormStats(g), &[&x], 3), 3 * d + 5);
        assert_eq!(len(Op::LayerNorm(g), &[&x, &s, &gain, &shift], 7), 3);
        assert_eq!(
            len(Op::LayerNormInputGrad(g), &[&x, &s, &gain, &dy], 7),
            5 * d + 9
        );
        assert_eq!(
            len(Op::LayerNormWeightGrad(g), &[&x, &s, &dy], 4),
            3 * g.rows
        );
        assert_eq!(len(Op::Gelu, &[&x], 1), 21);
        assert_eq!(len(Op::GeluGrad, &[&x, &dy], 1), 29);
        for (op, inputs) in [
            (Op::LayerNormStats(g), vec![&x[..]]),
            (Op::LayerNormInputGrad(g), vec![&x[..], &s, &gain, &dy]),
            (Op::Gelu, vec![&x[..]]),
        ] {
            for e in 0..3 {
                assert!(
                    op.reference_element(&inputs, e).steps.len() as u64 <= op.max_program_len()
                );
            }
        }
    }

    /// The layer norm against f64: the forward values and the input and gain
    /// gradients of `L = Σ dY·Y`.
    #[test]
    fn layer_norm_and_its_gradients_match_f64() {
        let g = NormGeometry {
            rows: 4,
            width: 6,
            eps: 1e-5,
        };
        let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect();
        let gain: Vec<f32> = (0..6).map(|j| 0.5 + j as f32 * 0.25).collect();
        let shift: Vec<f32> = (0..6).map(|j| j as f32 * -0.1).collect();
        let dy: Vec<f32> = (0..24).map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.2).collect();
        let s: Vec<f32> = (0..8).map(|e| stats(&mut Direct, &[&x], &g, e)).collect();
        let (d, n) = (g.width, g.width as f64);
        for r in 0..g.rows {
            let row: Vec<f64> = x[r * d..][..d].iter().map(|&v| f64::from(v)).collect();
            let mean = row.iter().sum::<f64>() / n;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            let rstd = 1.0 / (var + 1e-5).sqrt();
            let xh: Vec<f64> = row.iter().map(|v| (v - mean) * rstd).collect();
            let gh: Vec<f64> = (0..d)
                .map(|j| f64::from(dy[r * d + j]) * f64::from(gain[j]))
                .collect();
            let ma = gh.iter().sum::<f64>() / n;
            let mb = gh.iter().zip(&xh).map(|(a, b)| a * b).sum::<f64>() / n;
            for i in 0..d {
                let e = r * d + i;
                let y = forward(&mut Direct, &[&x, &s, &gain, &shift], &g, e);
                let want = xh[i] * f64::from(gain[i]) + f64::from(shift[i]);
                assert!((f64::from(y) - want).abs() < 1e-5, "y[{e}]");
                let dx = input_grad(&mut Direct, &[&x, &s, &gain, &dy], &g, e);
                let want = rstd * (gh[i] - ma - xh[i] * mb);
                assert!(
                    (f64::from(dx) - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "dx[{e}]"
                );
            }
        }
        for j in 0..d {
            let dg = weight_grad(&mut Direct, &[&x, &s, &dy], &g, j);
            let want: f64 = (0..g.rows)
                .map(|r| {
                    let e = r * d + j;
                    let xh = (f64::from(x[e]) - f64::from(s[2 * r])) * f64::from(s[2 * r + 1]);
                    f64::from(dy[e]) * xh
                })
                .sum();
            assert!((f64::from(dg) - want).abs() < 1e-4, "dγ[{j}]");
        }
    }
}
