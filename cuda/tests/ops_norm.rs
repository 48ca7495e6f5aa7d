//! The norm family's kernels (kernels/norm.cu), run through the CPU
//! emulation by the same dispatch the GPU gets, give the reference
//! evaluator's bits: layer norms and their gradients for rows of one and
//! many, widths of 1, 2, odd, 64 and more than a block; GELU and its
//! gradient over a sweep from the tails to the subnormals; the clipping
//! chain. Each on edge inputs (NaNs with payloads, ±0, subnormals, ±∞) and
//! on realistic ones (so that the results are not all NaN).

mod common;

use common::{Values, check};
use vtrain_proof_of_learning::repops::{Direct, NormGeometry, Op};

/// (rows, width): one element, two, odd widths, a row of 64, many rows,
/// rows wider than a thread block, and a block's worth of narrow rows.
const GEOMETRIES: [(usize, usize); 9] = [
    (1, 1),
    (1, 2),
    (3, 7),
    (5, 64),
    (35, 64),
    (4, 300),
    (1, 513),
    (300, 3),
    (257, 2),
];

/// The reference's row statistics of `x`, as a training step computes them.
fn stats_of(g: NormGeometry, x: &[f32]) -> Vec<f32> {
    let op = Op::LayerNormStats(g);
    (0..2 * g.rows)
        .map(|e| op.element(&mut Direct, &[x], e))
        .collect()
}

/// A gain or shift near `centre`, as a trained layer norm holds them.
fn near(values: &mut Values, len: usize, centre: f32) -> Vec<f32> {
    (0..len)
        .map(|_| centre + values.value(false).clamp(-1.0, 1.0) * 0.5)
        .collect()
}

/// Asserts that the reference's results of `op` are all finite.
fn assert_finite(op: &Op, inputs: &[&[f32]], len: usize) {
    for e in 0..len {
        let value = op.element(&mut Direct, inputs, e);
        assert!(value.is_finite(), "{}: element {e}: {value}", op.name());
    }
}

/// Checks every layer-norm op of geometry `g` on X, S, γ, β and dY.
fn check_layer_norm(
    g: NormGeometry,
    x: &[f32],
    s: &[f32],
    gain: &[f32],
    shift: &[f32],
    dy: &[f32],
) {
    let (rows, width) = (g.rows, g.width);
    check(&Op::LayerNormStats(g), &[x.to_vec()], 2 * rows);
    check(
        &Op::LayerNorm(g),
        &[x.to_vec(), s.to_vec(), gain.to_vec(), shift.to_vec()],
        rows * width,
    );
    check(
        &Op::LayerNormInputGrad(g),
        &[x.to_vec(), s.to_vec(), gain.to_vec(), dy.to_vec()],
        rows * width,
    );
    check(
        &Op::LayerNormWeightGrad(g),
        &[x.to_vec(), s.to_vec(), dy.to_vec()],
        width,
    );
}

#[test]
fn layer_norms_match_the_reference_on_realistic_inputs() {
    let mut values = Values(0x2545_F491_4F6C_DD1D);
    for (rows, width) in GEOMETRIES {
        for eps in [1e-5, 0.0] {
            let g = NormGeometry { rows, width, eps };
            let n = rows * width;
            let x = values.tensor(n, false);
            let s = stats_of(g, &x);
            let (gain, shift) = (near(&mut values, width, 1.0), near(&mut values, width, 0.0));
            let dy = values.tensor(n, false);
            check_layer_norm(g, &x, &s, &gain, &shift, &dy);
            // The results are numbers, so the test compares arithmetic.
            if eps > 0.0 {
                assert_finite(&Op::LayerNormStats(g), &[&x], 2 * rows);
                assert_finite(&Op::LayerNorm(g), &[&x, &s, &gain, &shift], n);
                assert_finite(&Op::LayerNormInputGrad(g), &[&x, &s, &gain, &dy], n);
                assert_finite(&Op::LayerNormWeightGrad(g), &[&x, &s, &dy], width);
            }
        }
    }
}

#[test]
fn layer_norms_match_the_reference_on_edge_inputs() {
    let mut values = Values(0x9E37_79B9_7F4A_7C15);
    for (rows, width) in GEOMETRIES {
        let g = NormGeometry {
            rows,
            width,
            eps: 1e-5,
        };
        let n = rows * width;
        let x = values.tensor(n, true);
        let (gain, shift, dy) = (
            values.tensor(width, true),
            values.tensor(width, true),
            values.tensor(n, true),
        );
        // The statistics the step would compute, and arbitrary ones (NaN
        // payloads, infinities and zeros in S itself).
        check_layer_norm(g, &x, &stats_of(g, &x), &gain, &shift, &dy);
        let s = values.tensor(2 * rows, true);
        check_layer_norm(g, &x, &s, &gain, &shift, &dy);
        // Edges in X only: one NaN or ∞ spoils its row, not the others.
        let clean = values.tensor(n, false);
        let mut spotted = clean.clone();
        for (i, v) in values.tensor(n, true).into_iter().enumerate() {
            if !v.is_finite() {
                spotted[i] = v;
            }
        }
        let (gain, shift) = (near(&mut values, width, 1.0), near(&mut values, width, 0.0));
        check_layer_norm(g, &spotted, &stats_of(g, &spotted), &gain, &shift, &clean);
    }
}

#[test]
fn constant_rows_and_zero_variance_match_the_reference() {
    // Variance 0: rstd = 1/√ε, or +∞ with ε = 0 (then x̂ = 0·∞ = NaN).
    for eps in [1e-5, 0.0] {
        for (rows, width) in [(2, 1), (3, 5), (2, 300)] {
            let g = NormGeometry { rows, width, eps };
            let n = rows * width;
            let x: Vec<f32> = (0..n).map(|i| [0.5, -0.0, 3.0][i / width % 3]).collect();
            let dy: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let gain = vec![1.5; width];
            let shift = vec![-0.25; width];
            check_layer_norm(g, &x, &stats_of(g, &x), &gain, &shift, &dy);
        }
    }
}

#[test]
fn signed_zero_gradients_keep_their_signs() {
    // dY = ±0 with γ of both signs: the sums stay +0, and each element's
    // sign comes from its own subtractions (−0 − +0 = −0, −0 − −0 = +0).
    let mut values = Values(29);
    for (rows, width) in [(1, 1), (3, 7), (2, 300)] {
        let g = NormGeometry {
            rows,
            width,
            eps: 1e-5,
        };
        let n = rows * width;
        let x = values.tensor(n, false);
        let gain: Vec<f32> = (0..width).map(|j| [1.0, -2.0][j % 2]).collect();
        let shift = vec![-0.0; width];
        for zero in [0.0, -0.0] {
            check_layer_norm(g, &x, &stats_of(g, &x), &gain, &shift, &vec![zero; n]);
        }
    }
}

/// GELU's inputs: a fine sweep of [−20, 20], the tails where x³ overflows,
/// the tiny values where x·σ rounds to x/2, ±0, ±∞ and NaNs.
fn gelu_sweep() -> Vec<f32> {
    let mut xs: Vec<f32> = (-8000..=8000).map(|i| i as f32 / 400.0).collect();
    for magnitude in [
        1e-45, 1e-40, 1.2e-38, 1e-30, 1e-20, 1e-10, 1e-5, 0.1, 1.0, 5.0, 9.0, 9.5, 10.0, 12.0,
        15.0, 30.0, 50.0, 100.0, 1e3, 1e4, 4.8e12, 5e12, 1e15, 1e20, 1e30, 3.4e38,
    ] {
        xs.push(magnitude);
        xs.push(-magnitude);
    }
    for bits in [
        0x0000_0000u32,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0000,
        0x7FA0_0001,
        0xFFC0_1234,
        0x0000_0001,
        0x807F_FFFF,
        0x7F7F_FFFF,
        0xFF7F_FFFF,
    ] {
        xs.push(f32::from_bits(bits));
    }
    xs
}

#[test]
fn gelu_and_its_gradient_match_the_reference_over_a_sweep() {
    let mut values = Values(31);
    let x = gelu_sweep();
    let n = x.len();
    check(&Op::Gelu, std::slice::from_ref(&x), n);
    check(&Op::GeluGrad, &[x.clone(), vec![1.0; n]], n);
    check(&Op::GeluGrad, &[x.clone(), values.tensor(n, false)], n);
    check(&Op::GeluGrad, &[x, values.tensor(n, true)], n);
}

#[test]
fn gelu_matches_the_reference_on_random_inputs() {
    let mut values = Values(37);
    for len in [1, 2, 255, 256, 257, 5000] {
        for edges in [false, true] {
            let x = values.tensor(len, edges);
            check(&Op::Gelu, std::slice::from_ref(&x), len);
            check(&Op::GeluGrad, &[x, values.tensor(len, edges)], len);
        }
    }
}

#[test]
fn the_square_sum_chain_matches_the_reference() {
    let mut values = Values(41);
    for len in [1, 2, 7, 256, 257, 5000] {
        for edges in [false, true] {
            let g = values.tensor(len, edges);
            let unchained = Op::GradSquareSum {
                len,
                chained: false,
            };
            check(&unchained, std::slice::from_ref(&g), 1);
            let chained = Op::GradSquareSum { len, chained: true };
            for prev in [12.5, 0.0, -0.0, f32::INFINITY, f32::from_bits(0x7FA0_0001)] {
                check(&chained, &[vec![prev], g.clone()], 1);
            }
        }
    }
    // No elements: the sum is +0, or the previous sum's bits as they are
    // (the reference copies it, a NaN's payload too).
    check(
        &Op::GradSquareSum {
            len: 0,
            chained: false,
        },
        &[vec![]],
        1,
    );
    for prev in [3.0, -0.0, f32::from_bits(0xFFC0_1234)] {
        check(
            &Op::GradSquareSum {
                len: 0,
                chained: true,
            },
            &[vec![prev], vec![]],
            1,
        );
    }
    // Squares that overflow, and an ∞ meeting nothing worse.
    let g = vec![3e19, -3e19, 1.0];
    check(
        &Op::GradSquareSum {
            len: 3,
            chained: false,
        },
        &[g],
        1,
    );
}

#[test]
fn the_clip_scale_and_the_clipped_gradient_match_the_reference() {
    let mut values = Values(43);
    for max_norm in [1.0, 0.5, 1e-3, 250.0] {
        for sum in [
            0.0,
            -0.0,
            1e-12,
            0.25,
            1.0,
            4.0,
            1e6,
            3.4e38,
            f32::INFINITY,
            -1.0,
            f32::from_bits(1),
            f32::NAN,
            f32::from_bits(0x7FA0_0001),
        ] {
            check(&Op::ClipScale { max_norm }, &[vec![sum]], 1);
        }
    }
    for len in [1, 2, 255, 256, 257, 5000] {
        for scale in [0.125, 1.0, 0.0, f32::from_bits(0x7FA0_0001), 1e-40] {
            check(&Op::ClipGrad, &[values.tensor(len, true), vec![scale]], len);
            check(
                &Op::ClipGrad,
                &[values.tensor(len, false), vec![scale]],
                len,
            );
        }
    }
}

/// The whole clipping chain as a step runs it: two parameters' sums, the
/// scale, each gradient clipped by it.
#[test]
fn a_clipping_chain_matches_the_reference() {
    let mut values = Values(47);
    let (a, b) = (values.tensor(300, false), values.tensor(77, false));
    let sum = |op: &Op, inputs: &[&[f32]]| op.element(&mut Direct, inputs, 0);
    let first = Op::GradSquareSum {
        len: a.len(),
        chained: false,
    };
    let second = Op::GradSquareSum {
        len: b.len(),
        chained: true,
    };
    check(&first, std::slice::from_ref(&a), 1);
    let s1 = sum(&first, &[&a]);
    check(&second, &[vec![s1], b.clone()], 1);
    let s2 = sum(&second, &[&[s1], &b]);
    let scale = Op::ClipScale { max_norm: 0.5 };
    check(&scale, &[vec![s2]], 1);
    let c = sum(&scale, &[&[s2]]);
    assert!(c > 0.0 && c < 1.0, "the norm is clipped: {c}");
    check(&Op::ClipGrad, &[a, vec![c]], 300);
    check(&Op::ClipGrad, &[b, vec![c]], 77);
}
