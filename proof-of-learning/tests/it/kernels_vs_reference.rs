//! Every fast kernel equals the scalar reference evaluator bit for bit, at
//! every SIMD level and thread count, on random and edge-case inputs.

use vtrain_proof_of_learning::Kernels;
use vtrain_proof_of_learning::Level;
use vtrain_proof_of_learning::prng::{draw, uniform01};
use vtrain_proof_of_learning::repops::{
    AdamParams, DropoutMask, LrSchedule, NormGeometry, Op, replay_trace,
};
use vtrain_proof_of_learning::spec::{ConvGeometry, PoolGeometry};

/// Values that stress rounding and NaN handling: ±0, subnormals, huge and
/// tiny magnitudes, ±∞ and the NaN (whose products with 0, and sums of
/// opposite infinities, make NaNs inside every kind of op).
const EDGES: [f32; 13] = [
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    0.0,
    -0.0,
    1e-45,
    -3e-42,
    1.1754942e-38,
    1e30,
    -1e30,
    1e-30,
    65504.0,
    -1.0,
];

pub(crate) fn values(seed: u64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let r = draw(seed, i as u64);
            if r.is_multiple_of(11) {
                EDGES[(r >> 8) as usize % EDGES.len()]
            } else {
                (uniform01(seed ^ 0xABCD, i as u64) - 0.5) * 4.0
            }
        })
        .collect()
}

pub(crate) fn labels(seed: u64, rows: usize, classes: usize) -> Vec<f32> {
    (0..rows)
        .map(|i| (draw(seed, i as u64) % classes as u64) as f32)
        .collect()
}

pub(crate) fn check(op: &Op, inputs: &[Vec<f32>], len: usize) {
    let slices: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let reference: Vec<u32> = (0..len)
        .map(|e| op.reference_element(&slices, e).value)
        .collect();
    for level in Level::available() {
        for threads in [1, 2, 8] {
            let kernels = Kernels::new(level, threads).unwrap();
            let mut out = vec![f32::NAN; len];
            kernels.run(op, &slices, &mut out);
            for (e, (&got, &want)) in out.iter().zip(&reference).enumerate() {
                assert_eq!(
                    got.to_bits(),
                    want,
                    "{op:?}: element {e} differs at {level} × {threads}: {got:e} vs {:e}",
                    f32::from_bits(want)
                );
            }
        }
    }
    // Every recorded trace re-executes from its operand references alone.
    for e in [0, len / 2, len - 1] {
        let trace = op.reference_element(&slices, e);
        replay_trace(&trace, |slot, index| slices[slot as usize][index as usize])
            .unwrap_or_else(|step| panic!("{op:?} element {e}: micro-step {step} does not replay"));
    }
}

/// ∞·0 inside a product: the micro-kernels' fmas give the CPU's NaN
/// (0xFFC00000 on x86), the reference the canonical one; the kernels must
/// hand out the canonical NaN.
#[test]
fn a_nan_made_inside_a_product_is_canonical() {
    let (x, w, b) = (vec![f32::INFINITY, 1.0], vec![0.0, 1.0], vec![0.0]);
    check(
        &Op::Linear { m: 1, k: 2, n: 1 },
        &[x.clone(), w.clone(), b],
        1,
    );
    check(
        &Op::InputGrad { m: 1, o: 1, k: 2 },
        &[vec![f32::INFINITY], w],
        2,
    );
    check(
        &Op::WeightGrad { m: 2, o: 1, k: 1 },
        &[vec![0.0, 1.0], x],
        1,
    );
}

const SIZES: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (7, 13, 19),
    (33, 70, 17),
    (6, 16, 16),
    (64, 300, 45),
    // Above the parallel threshold with C wider than tall: threads take
    // column blocks (the last one short) instead of rows.
    (40, 300, 400),
    // More rows than one packed chunk of A (MC = 192) and a reduction over
    // three k blocks (KC = 256) of which the last is short: every element's
    // chain is carried through C from block to block.
    (200, 520, 70),
    // The same across column blocks on several threads.
    (130, 260, 300),
];

#[test]
fn matmul_kernels_match_the_reference() {
    for (s, &(m, k, n)) in SIZES.iter().enumerate() {
        let seed = 100 + s as u64;
        check(
            &Op::Linear { m, k, n },
            &[
                values(seed, m * k),
                values(seed + 1, n * k),
                values(seed + 2, n),
            ],
            m * n,
        );
        check(
            &Op::WeightGrad { m, o: n, k },
            &[values(seed + 3, m * n), values(seed + 4, m * k)],
            n * k,
        );
        check(
            &Op::InputGrad { m, o: n, k },
            &[values(seed + 5, m * n), values(seed + 6, n * k)],
            m * k,
        );
        check(&Op::BiasGrad { m, o: n }, &[values(seed + 7, m * n)], n);
    }
}

#[test]
fn elementwise_kernels_match_the_reference() {
    let len = 70_000; // in parallel chunks of 8,192, the last one short
    check(&Op::Relu, &[values(1, len)], len);
    check(&Op::ReluGrad, &[values(2, len), values(3, len)], len);
    // The last in parallel chunks of 64 rows.
    for (rows, classes) in [(1, 2), (5, 10), (37, 3), (300, 128)] {
        let z = values(4 + rows as u64, rows * classes);
        check(
            &Op::LogSoftmax { rows, classes },
            std::slice::from_ref(&z),
            rows * classes,
        );
        let log_probs: Vec<f32> = z.iter().map(|v| -v.abs().min(80.0)).collect();
        check(
            &Op::XentGrad { rows, classes },
            &[log_probs, labels(9, rows, classes)],
            rows * classes,
        );
    }
    let gather = Op::Gather {
        rows: vec![3, 0, 3, 7],
        width: 5,
        start: 0,
        len: 5,
    };
    check(&gather, &[values(10, 8 * 5)], 20);
    let window = Op::Gather {
        rows: vec![3, 0, 3, 7],
        width: 5,
        start: 1,
        len: 4,
    };
    check(&window, &[values(10, 8 * 5)], 16);
    // Large enough to run in parallel chunks whose edges cut rows (7 × 3,001
    // values in chunks of 8,192).
    let rows: Vec<u32> = (0..3001).map(|i| (i * 37 % 500) as u32).collect();
    let long = Op::Gather {
        rows,
        width: 9,
        start: 2,
        len: 7,
    };
    check(&long, &[values(11, 500 * 9)], 7 * 3001);
}

#[test]
fn optimizer_and_schedule_kernels_match_the_reference() {
    let len = 70_001;
    let schedule = vec![0.05, -0.05, 0.19, 0.002];
    let state = |seed| {
        vec![
            schedule.clone(),
            values(seed, len),
            values(seed + 1, len),
            values(seed + 2, len),
            values(seed + 3, len).iter().map(|v| v.abs()).collect(),
        ]
    };
    for (momentum, weight_decay) in [(0.9, 1e-4), (0.0, 0.0)] {
        let inputs = state(20)[..4].to_vec();
        check(
            &Op::SgdVelocity {
                momentum,
                weight_decay,
            },
            &inputs,
            len,
        );
        check(
            &Op::SgdWeight,
            &[inputs[0].clone(), inputs[1].clone(), inputs[3].clone()],
            len,
        );
    }
    let adam = AdamParams {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    let inputs = state(30);
    check(&Op::AdamFirstMoment(adam), &inputs, len);
    check(&Op::AdamSecondMoment(adam), &inputs, len);
    check(
        &Op::AdamWeight(adam),
        &[
            inputs[0].clone(),
            inputs[1].clone(),
            inputs[3].clone(),
            inputs[4].clone(),
        ],
        len,
    );

    for schedule in [
        LrSchedule::Constant,
        LrSchedule::LinearWarmupDecay { warmup_steps: 10 },
        LrSchedule::LinearWarmupCosine { warmup_steps: 10 },
        LrSchedule::LinearWarmupCosine { warmup_steps: 0 },
        LrSchedule::Step {
            every: 7,
            gamma: 0.5,
        },
    ] {
        for step in [0, 9, 10, 99] {
            let op = Op::Schedule {
                step,
                total_steps: 100,
                lr: 0.1,
                schedule,
                beta1: 0.9,
                beta2: 0.999,
            };
            check(&op, &[], 4);
        }
    }
}

/// Geometries that do not fill the GEMM tiles, with stride, padding, a 1×1
/// kernel and a kernel as large as the padded input.
const CONVS: [(usize, usize, usize, usize, usize, usize, usize); 6] = [
    // batch, c_in, h(=w), c_out, kernel, stride, padding
    (2, 1, 8, 3, 3, 1, 1),
    (3, 2, 7, 5, 3, 2, 1),
    (1, 3, 5, 2, 1, 1, 0),
    (2, 2, 6, 17, 2, 2, 0),
    (1, 1, 3, 1, 5, 1, 1),
    (4, 5, 9, 7, 4, 3, 2),
];

#[test]
fn conv_kernels_match_the_reference() {
    for (s, &(batch, c_in, h, c_out, kernel, stride, padding)) in CONVS.iter().enumerate() {
        let g = ConvGeometry {
            batch,
            c_in,
            h,
            w: h,
            c_out,
            kernel,
            stride,
            padding,
        };
        let seed = 100 + 10 * s as u64;
        let x = values(seed, batch * c_in * h * h);
        let w = values(seed + 1, c_out * g.patch());
        let bias = values(seed + 2, c_out);
        let out_len = batch * c_out * g.oh() * g.ow();
        let dz = values(seed + 3, out_len);
        check(&Op::Conv2d(g), &[x.clone(), w.clone(), bias], out_len);
        check(&Op::Conv2dWeightGrad(g), &[dz.clone(), x.clone()], w.len());
        check(&Op::Conv2dInputGrad(g), &[dz.clone(), w], x.len());
        check(&Op::Conv2dBiasGrad(g), &[dz], c_out);
    }
}

#[test]
fn pool_kernels_match_the_reference() {
    for (s, &(batch, channels, h, kernel, stride)) in [
        (2, 3, 8, 2, 2),
        (1, 2, 7, 3, 2),
        (3, 1, 5, 2, 3),
        (1, 4, 6, 3, 1),
    ]
    .iter()
    .enumerate()
    {
        let g = PoolGeometry {
            batch,
            channels,
            h,
            w: h,
            kernel,
            stride,
        };
        let seed = 200 + 10 * s as u64;
        let mut x = values(seed, batch * channels * h * h);
        // Ties: repeat values so that windows hold equal maxima.
        for i in (0..x.len()).step_by(3) {
            x[i] = x[i / 2];
        }
        let out_len = batch * channels * g.oh() * g.ow();
        let dy = values(seed + 1, out_len);
        check(&Op::MaxPool2d(g), std::slice::from_ref(&x), out_len);
        check(&Op::MaxPool2dGrad(g), &[x.clone(), dy.clone()], x.len());
        check(&Op::AvgPool2d(g), std::slice::from_ref(&x), out_len);
        check(&Op::AvgPool2dGrad(g), &[dy], x.len());
    }
}

#[test]
fn dropout_kernels_match_the_reference() {
    let len = 70_000;
    for (layer, p) in [(0, 0.0), (3, 0.5), (7, 0.9)] {
        let mask = DropoutMask::new(20261130, layer, 17, p);
        let kept = (0..len).filter(|&e| mask.keeps(e)).count() as f64 / len as f64;
        assert!(
            (kept - (1.0 - f64::from(p))).abs() < 0.01,
            "p = {p}: kept {kept}"
        );
        check(&Op::Dropout(mask), &[values(300 + layer as u64, len)], len);
        check(
            &Op::DropoutGrad(mask),
            &[values(400 + layer as u64, len)],
            len,
        );
    }
}

/// The layer norm's ops and GELU: every element against the reference on
/// random and edge inputs (the statistics and gradient rows crossing the
/// parallel chunk size), and the statistics the kernels read computed by the
/// kernel itself, as in a step.
#[test]
fn layer_norm_and_gelu_kernels_match_the_reference() {
    // Whole blocks of 32 lanes in every parallel chunk, then tails of one
    // register and less than one.
    for len in [70_000, 70_003, 45] {
        check(&Op::Gelu, &[values(60, len)], len);
        check(&Op::GeluGrad, &[values(61, len), values(62, len)], len);
    }
    for (s, (rows, width)) in [(1, 1), (3, 7), (35, 64), (1100, 64)]
        .into_iter()
        .enumerate()
    {
        let seed = 70 + 10 * s as u64;
        let g = NormGeometry {
            rows,
            width,
            eps: 1e-5,
        };
        let x = values(seed, rows * width);
        check(&Op::LayerNormStats(g), std::slice::from_ref(&x), rows * 2);
        let mut stats = vec![0.0; rows * 2];
        Kernels::new(Level::Scalar, 1)
            .unwrap()
            .run(&Op::LayerNormStats(g), &[&x], &mut stats);
        let (gain, shift) = (values(seed + 1, width), values(seed + 2, width));
        let dy = values(seed + 3, rows * width);
        check(
            &Op::LayerNorm(g),
            &[x.clone(), stats.clone(), gain.clone(), shift],
            rows * width,
        );
        check(
            &Op::LayerNormInputGrad(g),
            &[x.clone(), stats.clone(), gain, dy.clone()],
            rows * width,
        );
        check(&Op::LayerNormWeightGrad(g), &[x, stats, dy], width);
    }
}

/// The cosine schedule's program against f64: warm-up, then
/// `lr·0.5·(1 + cos(π·(t − W)/(T − W)))`, to a few f32 ulps of `lr`, with the
/// exact values at the ends (`lr` at the first decay step, the cosine's
/// symmetric midpoint `lr/2`).
#[test]
fn cosine_schedule_follows_the_cosine() {
    let (lr, total, warmup) = (0.003f32, 1000u32, 100u32);
    let mut worst = 0.0f64;
    for step in 0..total {
        let op = Op::Schedule {
            step,
            total_steps: total,
            lr,
            schedule: LrSchedule::LinearWarmupCosine {
                warmup_steps: warmup,
            },
            beta1: 0.9,
            beta2: 0.999,
        };
        let lr_t = f64::from(f32::from_bits(op.reference_element(&[], 0).value));
        let lr64 = f64::from(lr);
        let want = if step < warmup {
            lr64 * f64::from(step + 1) / f64::from(warmup)
        } else {
            let progress = f64::from(step - warmup) / f64::from(total - warmup);
            lr64 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        };
        worst = worst.max((lr_t - want).abs() / lr64);
        assert!(op.reference_element(&[], 1).steps.len() as u64 <= op.max_program_len());
        if step == warmup {
            assert_eq!(lr_t as f32, lr, "the first decay step");
        }
        if step == (warmup + total) / 2 {
            assert_eq!(lr_t as f32, lr / 2.0, "the midpoint");
        }
    }
    assert!(worst < 4e-7, "the cosine schedule is off by {worst} of lr");
}

/// Gradient clipping: the chained sum of squares (crossing no chunk: one
/// element), the scale, and the clipped gradient crossing the parallel chunk.
#[test]
fn clipping_kernels_match_the_reference() {
    let len = 70_000;
    let g = values(90, len);
    check(
        &Op::GradSquareSum {
            len,
            chained: false,
        },
        std::slice::from_ref(&g),
        1,
    );
    check(
        &Op::GradSquareSum { len, chained: true },
        &[vec![12.5], g.clone()],
        1,
    );
    for sum in [0.0, 0.25, 1e6, f32::INFINITY, f32::NAN] {
        check(&Op::ClipScale { max_norm: 1.0 }, &[vec![sum]], 1);
    }
    check(&Op::ClipGrad, &[g, vec![0.125]], len);
}
