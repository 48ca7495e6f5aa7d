//! The element programs of gradient clipping by global norm. Normative text:
//! `docs/repops.md` § Gradient clipping.
//!
//! The norm is one sequential sum of squares over every gradient element, in
//! state order: one `grad_square_sum` node per parameter continues the sum
//! of the one before it, so that no program reads more than two tensors.

use super::program::Fp;

/// The `1e-6` PyTorch's `clip_grad_norm_` adds to the norm.
pub const CLIP_EPS: f32 = f32::from_bits(0x3586_37BD);

#[inline(always)]
fn load<F: Fp>(fp: &mut F, inputs: &[&[f32]], slot: u8, index: usize) -> F::V {
    fp.input(slot, index, inputs[slot as usize][index])
}

/// `grad_square_sum`: `acc = prev[0]` (`+0` for the first parameter), then
/// `acc = fma(g_i, g_i, acc)` for every element `i` ascending. Inputs: the
/// previous sum (when `chained`), then the gradient of `len` elements.
#[inline(always)]
pub fn square_sum<F: Fp>(fp: &mut F, inputs: &[&[f32]], len: usize, chained: bool) -> F::V {
    let (mut acc, slot) = if chained {
        (load(fp, inputs, 0, 0), 1)
    } else {
        (fp.constant(0.0), 0)
    };
    for i in 0..len {
        let g = load(fp, inputs, slot, i);
        acc = fp.fma(g, g, acc);
    }
    acc
}

/// `clip_scale`: `min(div(max_norm, add(sqrt(s), 1e-6)), 1)`. Input: the sum
/// of squares `s [1]`.
#[inline(always)]
pub fn scale<F: Fp>(fp: &mut F, inputs: &[&[f32]], max_norm: f32) -> F::V {
    let sum = load(fp, inputs, 0, 0);
    let norm = fp.sqrt(sum);
    let eps = fp.constant(CLIP_EPS);
    let shifted = fp.add(norm, eps);
    let max_norm = fp.constant(max_norm);
    let ratio = fp.div(max_norm, shifted);
    let one = fp.constant(1.0);
    fp.min(ratio, one)
}

/// `clip_grad`: `mul(g[e], c[0])`. Inputs: the gradient, the scale `c [1]`.
#[inline(always)]
pub fn clip<F: Fp>(fp: &mut F, inputs: &[&[f32]], e: usize) -> F::V {
    let g = load(fp, inputs, 0, e);
    let c = load(fp, inputs, 1, 0);
    fp.mul(g, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repops::Direct;

    /// PyTorch's rule: scale `max_norm / (‖g‖ + 1e-6)` clamped at 1.
    #[test]
    fn the_scale_is_pytorchs_clip_coefficient() {
        let g = [3.0f32, -4.0];
        let s = square_sum(&mut Direct, &[&g], 2, false);
        assert_eq!(s, 25.0);
        let chained = square_sum(&mut Direct, &[&[s], &[12.0]], 1, true);
        assert_eq!(chained, 169.0);
        let c = scale(&mut Direct, &[&[chained]], 1.0);
        let want = 1.0 / (13.0 + 1e-6f64);
        assert!((f64::from(c) - want).abs() < 1e-7, "{c}");
        assert_eq!(
            scale(&mut Direct, &[&[0.25]], 1.0),
            1.0,
            "no clipping below the norm"
        );
        assert_eq!(clip(&mut Direct, &[&[2.0, -6.0], &[0.5]], 1), -3.0);
        assert!(scale(&mut Direct, &[&[f32::INFINITY]], 1.0) == 0.0);
        assert!(scale(&mut Direct, &[&[f32::NAN]], 1.0).is_nan());
    }
}
