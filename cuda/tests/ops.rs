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
