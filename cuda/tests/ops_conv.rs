//! The conv family's kernels (convolutions, pooling, dropout), run through
//! the CPU emulation of their source by the same dispatch the GPU gets,
//! give the reference evaluator's bits: on random and edge inputs, on
//! signed zeros meeting the padding, on max-pooling windows full of ties,
//! over geometries with batch and channels 1 and several, kernels 1 to 5,
//! strides 1 to 3, padding 0 to 2, non-square inputs and overlapping
//! windows, and over grids smaller than the output (the grid-stride loop).

mod common;

use common::{Values, check};
use vtrain_cuda::{Device, EmuDevice, Launch, Param, run_op, supports};
use vtrain_proof_of_learning::prng::uniform01;
use vtrain_proof_of_learning::repops::{DropoutMask, Op};
use vtrain_proof_of_learning::spec::{ConvGeometry, PoolGeometry};

/// batch, c_in, h, w, c_out, kernel, stride, padding: the geometries of
/// proof-of-learning's kernel tests (square), then non-square ones.
const CONVS: [[usize; 8]; 11] = [
    [2, 1, 8, 8, 3, 3, 1, 1],
    [3, 2, 7, 7, 5, 3, 2, 1],
    [1, 3, 5, 5, 2, 1, 1, 0],
    [2, 2, 6, 6, 17, 2, 2, 0],
    [1, 1, 3, 3, 1, 5, 1, 1],
    [4, 5, 9, 9, 7, 4, 3, 2],
    // Non-square, every kernel size 1..3 with stride 1 and 2, padding 0 and 1.
    [2, 3, 5, 8, 4, 3, 1, 1],
    [1, 1, 9, 4, 2, 3, 2, 1],
    [3, 2, 6, 7, 3, 2, 2, 0],
    [1, 4, 4, 6, 1, 1, 2, 0],
    [2, 1, 7, 3, 2, 2, 1, 1],
];

fn conv([batch, c_in, h, w, c_out, kernel, stride, padding]: [usize; 8]) -> ConvGeometry {
    ConvGeometry {
        batch,
        c_in,
        h,
        w,
        c_out,
        kernel,
        stride,
        padding,
    }
}

/// Checks the four convolution ops of `g` on X, W, b and dZ.
fn check_conv(g: ConvGeometry, x: &[f32], w: &[f32], bias: &[f32], dz: &[f32]) {
    let out_len = g.batch * g.c_out * g.oh() * g.ow();
    let (x, w, bias, dz) = (x.to_vec(), w.to_vec(), bias.to_vec(), dz.to_vec());
    check(&Op::Conv2d(g), &[x.clone(), w.clone(), bias], out_len);
    check(&Op::Conv2dWeightGrad(g), &[dz.clone(), x.clone()], w.len());
    check(&Op::Conv2dInputGrad(g), &[dz.clone(), w], x.len());
    check(&Op::Conv2dBiasGrad(g), &[dz], g.c_out);
}

#[test]
fn conv_kernels_match_the_reference() {
    let mut values = Values(0x00C0_4F2D);
    for geometry in &CONVS {
        let g = conv(*geometry);
        let out_len = g.batch * g.c_out * g.oh() * g.ow();
        for edges in [false, true] {
            let x = values.tensor(g.batch * g.c_in * g.h * g.w, edges);
            let w = values.tensor(g.c_out * g.patch(), edges);
            let bias = values.tensor(g.c_out, edges);
            let dz = values.tensor(out_len, edges);
            check_conv(g, &x, &w, &bias, &dz);
        }
    }
}

#[test]
fn conv_padding_is_an_fma_with_plus_zero_and_signed_zeros_survive_elsewhere() {
    // All −0 (and −0 biases): a chain of fma(−0, w, −0) stays −0 until a
    // padded tap's fma(+0, w, −0) makes it +0; an infinite weight on a
    // padded tap gives a NaN. Skipping the padding would keep −0 and
    // finite values, so these bits tell the two apart.
    for geometry in &CONVS {
        let g = conv(*geometry);
        let out_len = g.batch * g.c_out * g.oh() * g.ow();
        let x = vec![-0.0; g.batch * g.c_in * g.h * g.w];
        let mut w: Vec<f32> = (0..g.c_out * g.patch())
            .map(|i| 0.5 + (i % 7) as f32)
            .collect();
        let bias = vec![-0.0; g.c_out];
        let dz = vec![-0.0; out_len];
        check_conv(g, &x, &w, &bias, &dz);
        // Corner taps infinite: they hit the padding of the border outputs.
        for (i, value) in w.iter_mut().enumerate() {
            if i % (g.kernel * g.kernel) == 0 {
                *value = f32::INFINITY;
            }
        }
        check_conv(g, &x, &w, &bias, &dz);
        let ones = vec![1.0; x.len()];
        let infinite_dz = vec![f32::NEG_INFINITY; out_len];
        check_conv(g, &ones, &w, &bias, &infinite_dz);
    }
}

/// batch, channels, h, w, kernel, stride: proof-of-learning's (square),
/// then overlapping windows (kernel > stride), 1×1 windows, gaps between
/// windows (stride > kernel) and non-square inputs.
const POOLS: [[usize; 6]; 11] = [
    [2, 3, 8, 8, 2, 2],
    [1, 2, 7, 7, 3, 2],
    [3, 1, 5, 5, 2, 3],
    [1, 4, 6, 6, 3, 1],
    [2, 2, 9, 6, 3, 2],
    [1, 3, 5, 8, 2, 1],
    [2, 1, 4, 4, 1, 1],
    [1, 2, 5, 7, 1, 2],
    [3, 2, 10, 7, 3, 3],
    [1, 1, 3, 3, 3, 1],
    [2, 3, 6, 11, 4, 2],
];

fn pool([batch, channels, h, w, kernel, stride]: [usize; 6]) -> PoolGeometry {
    PoolGeometry {
        batch,
        channels,
        h,
        w,
        kernel,
        stride,
    }
}

/// Checks the four pooling ops of `g` on X and dY.
fn check_pool(g: PoolGeometry, x: &[f32], dy: &[f32]) {
    let out_len = g.batch * g.channels * g.oh() * g.ow();
    let (x, dy) = (x.to_vec(), dy.to_vec());
    check(&Op::MaxPool2d(g), std::slice::from_ref(&x), out_len);
    check(&Op::MaxPool2dGrad(g), &[x.clone(), dy.clone()], x.len());
    check(&Op::AvgPool2d(g), std::slice::from_ref(&x), out_len);
    check(&Op::AvgPool2dGrad(g), &[dy], x.len());
}

#[test]
fn pool_kernels_match_the_reference() {
    let mut values = Values(0x9001);
    for geometry in &POOLS {
        let g = pool(*geometry);
        let out_len = g.batch * g.channels * g.oh() * g.ow();
        for edges in [false, true] {
            let x = values.tensor(g.batch * g.channels * g.h * g.w, edges);
            let dy = values.tensor(out_len, edges);
            check_pool(g, &x, &dy);
        }
    }
}

#[test]
fn max_pooling_ties_go_to_the_first_maximal_tap() {
    // Few distinct values, so windows hold equal maxima: ±0 (equal, but
    // max keeps the first), repeated ones, NaNs (never greater, but max
    // keeps a NaN first tap), infinities.
    const TIES: [u32; 9] = [
        0x0000_0000,
        0x8000_0000,
        0x3F80_0000,
        0x3F80_0000,
        0xBF80_0000,
        0x7FA0_0001,
        0x7F80_0000,
        0xFF80_0000,
        0x3F80_0000,
    ];
    let mut values = Values(0x71E5);
    for geometry in &POOLS {
        let g = pool(*geometry);
        let out_len = g.batch * g.channels * g.oh() * g.ow();
        let x_len = g.batch * g.channels * g.h * g.w;
        for palette in [&TIES[..], &TIES[..2], &TIES[2..5]] {
            let x: Vec<f32> = (0..x_len)
                .map(|_| f32::from_bits(palette[values.next_u64() as usize % palette.len()]))
                .collect();
            let dy = values.tensor(out_len, true);
            check_pool(g, &x, &dy);
        }
        // Every tap equal: each window routes to its first tap.
        check_pool(g, &vec![2.5; x_len], &values.tensor(out_len, false));
        check_pool(g, &vec![-0.0; x_len], &vec![-0.0; out_len]);
    }
}

#[test]
fn dropout_kernels_match_the_reference() {
    let mut values = Values(0x0D00);
    let keys = [
        0,
        1,
        u64::MAX,
        0x8000_0000_0000_0000,
        0x0000_0001_FFFF_FFFF,
        DropoutMask::new(20_261_130, 3, 17, 0.5).key,
        DropoutMask::new(7, 0, 0, 0.5).key,
    ];
    for (k, &key) in keys.iter().enumerate() {
        for p in [0.0, 0.1, 0.5, 0.9, 0.999, 1.0] {
            let mask = DropoutMask { key, p };
            for len in [1, 257, 3000 + k] {
                check(&Op::Dropout(mask), &[values.tensor(len, true)], len);
                check(&Op::DropoutGrad(mask), &[values.tensor(len, true)], len);
            }
        }
    }
    // p equal to some elements' draws: those are kept (u ≥ p), a `>`
    // would drop them.
    for key in keys {
        for e in [0, 5, 100] {
            let p = uniform01(key, e);
            let mask = DropoutMask { key, p };
            assert!(mask.keeps(e as usize));
            check(&Op::Dropout(mask), &[values.tensor(200, true)], 200);
        }
    }
    // The masks of a job's layers and steps, on enough elements that the
    // counter's high bits matter less than its low ones: kept fractions
    // near 1 − p.
    let len = 70_000;
    for (layer, p) in [(0, 0.0), (3, 0.5), (7, 0.9)] {
        let mask = DropoutMask::new(20_261_130, layer, 17, p);
        let x = values.tensor(len, false);
        check(&Op::Dropout(mask), std::slice::from_ref(&x), len);
        let device = EmuDevice;
        let buffer = device.upload(&x).expect("upload");
        let output = run_op(&device, &Op::Dropout(mask), &[&buffer], len).expect("runs");
        let out = device.download(&output.out).expect("download");
        let kept = out
            .iter()
            .zip(&x)
            .filter(|(o, x)| o.to_bits() != 0 || x.to_bits() == 0)
            .count() as f64
            / len as f64;
        assert!(
            (kept - (1.0 - f64::from(p))).abs() < 0.01,
            "p = {p}: kept {kept}"
        );
    }
}

/// Runs `kernel` (the kernel of `op`) with grids smaller than its output,
/// its parameters the inputs, `extra` (the geometry or the mask), the
/// output's length and the output, and compares its bits with the
/// dispatch's own launch.
fn check_strided(kernel: &'static str, op: &Op, inputs: &[Vec<f32>], extra: &[Param], len: usize) {
    let device = EmuDevice;
    let buffers: Vec<_> = inputs
        .iter()
        .map(|t| device.upload(t).expect("upload"))
        .collect();
    let refs: Vec<_> = buffers.iter().collect();
    let expected = device
        .download(&run_op(&device, op, &refs, len).expect("runs").out)
        .expect("download");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (grid, block) in [(1, 7), (3, 32)] {
        let out = device.upload(&vec![f32::NAN; len]).expect("upload");
        let mut params: Vec<Param> = buffers
            .iter()
            .map(|b| Param::Ptr(device.address(b)))
            .collect();
        params.extend_from_slice(extra);
        params.push(Param::U32(u32::try_from(len).expect("small")));
        params.push(Param::Ptr(device.address(&out)));
        let shape = Launch {
            grid: [grid, 1, 1],
            block: [block, 1, 1],
        };
        device.launch(kernel, shape, &params).expect("launch");
        let got = device.download(&out).expect("download");
        assert_eq!(bits(&got), bits(&expected), "{kernel}, grid {grid}×{block}");
    }
}

#[test]
fn the_kernels_stride_over_grids_smaller_than_their_output() {
    // The dispatch's own grid covers every element with one thread; here
    // one block of 7 threads and three blocks of 32 loop over the output.
    let mut values = Values(0x0005_721D);
    let u32_of = |n: usize| Param::U32(u32::try_from(n).expect("small"));
    let g = conv(CONVS[6]);
    let geometry = [
        g.batch, g.c_in, g.h, g.w, g.c_out, g.kernel, g.stride, g.padding,
    ]
    .map(u32_of);
    let x = values.tensor(g.batch * g.c_in * g.h * g.w, true);
    let w = values.tensor(g.c_out * g.patch(), true);
    let bias = values.tensor(g.c_out, true);
    let dz = values.tensor(g.batch * g.c_out * g.oh() * g.ow(), true);
    let conv_ops = [
        (
            "vtk_conv2d",
            Op::Conv2d(g),
            vec![x.clone(), w.clone(), bias],
            dz.len(),
        ),
        (
            "vtk_conv2d_weight_grad",
            Op::Conv2dWeightGrad(g),
            vec![dz.clone(), x.clone()],
            w.len(),
        ),
        (
            "vtk_conv2d_input_grad",
            Op::Conv2dInputGrad(g),
            vec![dz.clone(), w],
            x.len(),
        ),
        (
            "vtk_conv2d_bias_grad",
            Op::Conv2dBiasGrad(g),
            vec![dz],
            g.c_out,
        ),
    ];
    for (kernel, op, inputs, len) in conv_ops {
        check_strided(kernel, &op, &inputs, &geometry, len);
    }
    let p = pool(POOLS[4]);
    let geometry = [p.batch, p.channels, p.h, p.w, p.kernel, p.stride].map(u32_of);
    let x = values.tensor(p.batch * p.channels * p.h * p.w, true);
    let dy = values.tensor(p.batch * p.channels * p.oh() * p.ow(), true);
    let pool_ops = [
        ("vtk_maxpool2d", Op::MaxPool2d(p), vec![x.clone()], dy.len()),
        (
            "vtk_maxpool2d_grad",
            Op::MaxPool2dGrad(p),
            vec![x.clone(), dy.clone()],
            x.len(),
        ),
        ("vtk_avgpool2d", Op::AvgPool2d(p), vec![x.clone()], dy.len()),
        (
            "vtk_avgpool2d_grad",
            Op::AvgPool2dGrad(p),
            vec![dy],
            x.len(),
        ),
    ];
    for (kernel, op, inputs, len) in pool_ops {
        check_strided(kernel, &op, &inputs, &geometry, len);
    }
    let mask = DropoutMask {
        key: 0x0123_4567_89AB_CDEF,
        p: 0.3,
    };
    let halves = [
        Param::U32(0x89AB_CDEF),
        Param::U32(0x0123_4567),
        Param::F32(0.3),
    ];
    check_strided(
        "vtk_dropout",
        &Op::Dropout(mask),
        &[values.tensor(500, true)],
        &halves,
        500,
    );
}

#[test]
fn the_family_is_supported_and_mismatched_sizes_are_refused() {
    let g = conv(CONVS[0]);
    let p = pool(POOLS[0]);
    let mask = DropoutMask { key: 1, p: 0.5 };
    for op in [
        Op::Conv2d(g),
        Op::Conv2dWeightGrad(g),
        Op::Conv2dInputGrad(g),
        Op::Conv2dBiasGrad(g),
        Op::MaxPool2d(p),
        Op::MaxPool2dGrad(p),
        Op::AvgPool2d(p),
        Op::AvgPool2dGrad(p),
        Op::Dropout(mask),
        Op::DropoutGrad(mask),
    ] {
        assert!(supports(&op), "{op:?}");
    }
    let device = EmuDevice;
    let x = device
        .upload(&vec![1.0; p.batch * p.channels * p.h * p.w])
        .expect("upload");
    let out_len = p.batch * p.channels * p.oh() * p.ow();
    let error = run_op(&device, &Op::MaxPool2d(p), &[&x], out_len + 1)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("geometry gives"), "{error}");
    let short = device.upload(&[1.0; 3]).expect("upload");
    let error = run_op(&device, &Op::MaxPool2d(p), &[&short], out_len)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("input 0"), "{error}");
    let zero_stride = PoolGeometry { stride: 0, ..p };
    let error = run_op(&device, &Op::AvgPool2d(zero_stride), &[&x], 1)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("cannot run"), "{error}");
}
