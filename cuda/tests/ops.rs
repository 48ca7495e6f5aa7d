//! Every CUDA kernel, run through the CPU emulation of its source by the
//! same dispatch the GPU gets, gives the reference evaluator's bits on
//! random and edge inputs (NaNs with payloads, signed zeros, subnormals,
//! infinities), for shapes that cut the GEMM's tiles and k slices anywhere.

mod common;

use common::{Values, check};
use vtrain_proof_of_learning::repops::{AdamParams, Op};

const SCHEDULE: [f32; 4] = [0.05, -0.05, 0.19, 0.0019];

#[test]
fn element_wise_kernels_match_the_reference() {
    let mut values = Values(0x9E37_79B9_7F4A_7C15);
    for len in [1, 255, 256, 257, 5000] {
        let (a, b) = (values.tensor(len, true), values.tensor(len, true));
        check(&Op::Relu, std::slice::from_ref(&a), len);
        check(&Op::ReluGrad, &[a.clone(), b.clone()], len);
        check(&Op::Add, &[a.clone(), b.clone()], len);
        let (w, g, v) = (
            values.tensor(len, true),
            values.tensor(len, true),
            values.tensor(len, true),
        );
        let schedule = SCHEDULE.to_vec();
        check(
            &Op::SgdVelocity {
                momentum: 0.9,
                weight_decay: 5e-4,
            },
            &[schedule.clone(), w.clone(), g.clone(), v.clone()],
            len,
        );
        check(
            &Op::SgdWeight,
            &[schedule.clone(), w.clone(), v.clone()],
            len,
        );
        let params = AdamParams {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        };
        let m = values.tensor(len, true);
        let adam = [schedule.clone(), w.clone(), g.clone(), m.clone(), v.clone()];
        check(&Op::AdamFirstMoment(params), &adam, len);
        check(&Op::AdamSecondMoment(params), &adam, len);
        let squares: Vec<f32> = v.iter().map(|x| x * x).collect();
        check(&Op::AdamWeight(params), &[schedule, w, m, squares], len);
    }
}

#[test]
fn gather_copies_the_batch_rows() {
    let mut values = Values(7);
    let (rows_in_data, width) = (50, 37);
    let x = values.tensor(rows_in_data * width, true);
    let rows: Vec<u32> = (0..23).map(|_| (values.next_u64() % 50) as u32).collect();
    for (start, len) in [(0, width), (3, 20), (36, 1)] {
        let op = Op::Gather {
            rows: rows.clone(),
            width,
            start,
            len,
        };
        check(&op, std::slice::from_ref(&x), rows.len() * len);
    }
}

#[test]
fn softmax_and_cross_entropy_kernels_match_the_reference() {
    let mut values = Values(11);
    for (rows, classes) in [(1, 1), (3, 10), (300, 10), (7, 65)] {
        let z: Vec<f32> = values.tensor(rows * classes, true);
        check(
            &Op::LogSoftmax { rows, classes },
            std::slice::from_ref(&z),
            rows * classes,
        );
        let ls: Vec<f32> = values
            .tensor(rows * classes, true)
            .iter()
            .map(|v| -v.abs() * 3.0)
            .collect();
        let labels: Vec<f32> = (0..rows)
            .map(|_| (values.next_u64() % classes as u64) as f32)
            .collect();
        check(
            &Op::XentGrad { rows, classes },
            &[ls, labels],
            rows * classes,
        );
    }
}

#[test]
fn bias_grad_matches_the_reference() {
    let mut values = Values(13);
    for (m, o) in [(1, 1), (128, 10), (33, 300)] {
        let dz = values.tensor(m * o, true);
        check(&Op::BiasGrad { m, o }, &[dz], o);
    }
}

#[test]
fn matrix_products_match_the_reference_across_tile_edges() {
    let mut values = Values(17);
    // (m, n or o, k): single elements, exact tiles, one past and one short
    // of a tile and of a k slice, and products of several tiles and slices.
    for (m, n, k) in [
        (1, 1, 1),
        (64, 64, 16),
        (65, 63, 17),
        (70, 130, 50),
        (3, 200, 33),
        (129, 5, 300),
    ] {
        let edges = m * n < 10_000;
        let a = values.tensor(m * k, edges);
        let w = values.tensor(n * k, edges);
        let bias = values.tensor(n, edges);
        check(
            &Op::Linear { m, k, n },
            &[a.clone(), w.clone(), bias],
            m * n,
        );
        let dz = values.tensor(m * n, edges);
        check(&Op::WeightGrad { m, o: n, k }, &[dz.clone(), a], n * k);
        check(&Op::InputGrad { m, o: n, k }, &[dz, w], m * k);
    }
}

#[test]
fn buffers_that_do_not_fit_the_op_are_refused_before_any_launch() {
    use vtrain_cuda::{Device, EmuDevice, run_op};
    let device = EmuDevice;
    let a = device.upload(&[1.0; 6]).expect("upload");
    let w = device.upload(&[1.0; 6]).expect("upload");
    let short_bias = device.upload(&[1.0; 1]).expect("upload");
    let linear = Op::Linear { m: 2, k: 3, n: 2 };
    let refused = |result: vtrain_cuda::Result<_>| match result {
        Ok(_) => panic!("must be refused"),
        Err(error) => error.to_string(),
    };
    let error = refused(run_op(&device, &linear, &[&a, &w, &short_bias], 4));
    assert!(
        error.contains("input 2 holds 1 elements, the op's shape reads 2"),
        "{error}"
    );
    let error = refused(run_op(&device, &linear, &[&a, &w], 4));
    assert!(error.contains("2 inputs, the op reads 3"), "{error}");
    let bias = device.upload(&[0.0; 2]).expect("upload");
    let error = refused(run_op(&device, &linear, &[&a, &w, &bias], 5));
    assert!(error.contains("an output of 5 elements"), "{error}");
    let gather = Op::Gather {
        rows: vec![0, 2],
        width: 3,
        start: 0,
        len: 3,
    };
    let error = refused(run_op(&device, &gather, &[&a], 6));
    assert!(
        error.contains("do not fit a dataset of 6 values"),
        "{error}"
    );
}

#[test]
fn a_launch_whose_parameters_differ_from_the_kernels_signature_is_refused() {
    use vtrain_cuda::{Device, EmuDevice, Launch, Param};
    let device = EmuDevice;
    let z = device.upload(&[1.0; 4]).expect("upload");
    let out = device.alloc(4).expect("alloc");
    let shape = Launch::linear(4, 256, 1);
    let (z, out) = (
        Param::Ptr(device.address(&z)),
        Param::Ptr(device.address(&out)),
    );
    // vtk_relu(const float*, vt_u32 n, float*): the count as a float.
    let error = device
        .launch("vtk_relu", shape, &[z, Param::F32(4.0), out])
        .expect_err("refused");
    assert!(error.to_string().contains("C signature"), "{error}");
    let error = device
        .launch("vtk_relu", shape, &[z, Param::U32(4)])
        .expect_err("refused");
    assert!(
        error.to_string().contains("wrong number of parameters"),
        "{error}"
    );
    device
        .launch("vtk_relu", shape, &[z, Param::U32(4), out])
        .expect("the right parameters launch");
}
