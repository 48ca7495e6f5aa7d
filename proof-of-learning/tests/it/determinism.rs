//! Golden trace roots, thread counts and SIMD levels.
//!
//! A change that moves a golden hash changes the bits of training: it must
//! bump `REPOPS_VERSION` or say why in its commit message.

use crate::common::{
    digits_cnn_spec, digits_ln_gelu_spec, digits_spec, small_cnn_spec, small_norm_spec, small_spec,
    trainer,
};
use vtrain_proof_of_learning::commit::{merkle_root, tensor_root};
use vtrain_proof_of_learning::{JobSpec, Level, State, Trainer};

/// Trace root of `examples/digits-mlp.toml` (800 steps, k = 100).
const DIGITS_GOLDEN: &str = "0x7ca1dff82dc9780c2d08b9878ad207a650fc4d545802e8f9ac01001c99b7e810";
/// Trace root of `small_spec()` (40 steps, k = 10, AdamW, two hidden layers).
const SMALL_GOLDEN: &str = "0x8a4e953978d812ebc83ec6fbbeea7a44765da26bccf04ce6fff577f093c4289a";

/// Trace root of `examples/digits-cnn.toml` (800 steps, k = 100).
const DIGITS_CNN_GOLDEN: &str =
    "0xc38a1c4f987a5815b7cf55fcffca9a4cce6ffd01bdb9701ab356d61f50654225";
/// Trace root of `small_cnn_spec()` (20 steps, k = 5, AdamW, every image op).
const SMALL_CNN_GOLDEN: &str = "0x7d91d29ff391fe603b6635ff37b04e70179dae3841e2570bdb8128757ea136fe";

/// Trace root of `examples/digits-ln-gelu.toml` (600 steps, k = 100, cosine
/// schedule, gradients clipped).
const DIGITS_LN_GELU_GOLDEN: &str =
    "0x28e5e4f58d0530c97b075bbb54415dfaa8560b092fcd43ce3441c988871855e6";
/// Trace root of `small_norm_spec()` (20 steps, k = 5, layer norms and GELUs).
const SMALL_NORM_GOLDEN: &str =
    "0x36e8f2e3440dcc9f064d01d6bb2652242fd4b42b8ac8fb9fb4d2587319b4f53f";

fn trace_root(trainer: &Trainer) -> String {
    trainer.train(|_, _, _| Ok(())).unwrap().trace_root.to_hex()
}

/// Trains `spec` whole, checks its trace root against `golden` and its
/// held-out accuracy against `min_accuracy`.
fn reference_job_learns(name: &str, spec: JobSpec, golden: &str, min_accuracy: f64) {
    let trainer = trainer(spec, Level::detect(), 0);
    let outcome = trainer.train(|_, _, _| Ok(())).unwrap();
    let test = trainer.evaluate(&outcome.final_state, &trainer.order().test_rows());
    eprintln!(
        "{name}: first loss {:.4}, last loss {:.4}, held-out loss {:.4}, accuracy {:.4}",
        outcome.losses[0],
        outcome.losses[outcome.losses.len() - 1],
        test.loss,
        test.accuracy
    );
    assert_eq!(outcome.trace_root.to_hex(), golden, "{name}");
    assert!(
        test.accuracy >= min_accuracy,
        "{name}: held-out accuracy {} < {min_accuracy}",
        test.accuracy
    );
}

#[test]
fn reference_job_matches_its_golden_trace_root_and_learns() {
    reference_job_learns("digits", digits_spec(), DIGITS_GOLDEN, 0.95);
}

#[test]
fn cnn_reference_job_matches_its_golden_trace_root_and_learns() {
    reference_job_learns("digits-cnn", digits_cnn_spec(), DIGITS_CNN_GOLDEN, 0.98);
}

#[test]
fn ln_gelu_reference_job_matches_its_golden_trace_root_and_learns() {
    reference_job_learns(
        "digits-ln-gelu",
        digits_ln_gelu_spec(),
        DIGITS_LN_GELU_GOLDEN,
        0.97,
    );
}

/// Run with the small jobs under emulation and in the native build.
#[test]
fn small_norm_job_matches_its_golden_trace_root() {
    assert_eq!(
        trace_root(&trainer(small_norm_spec(), Level::detect(), 0)),
        SMALL_NORM_GOLDEN
    );
}

/// Run by `scripts/test.sh` under `qemu-x86_64 -cpu qemu64` (no FMA, no AVX)
/// and `-cpu Haswell` (AVX2+FMA), and in a `-C target-cpu=native` build.
#[test]
fn small_job_matches_its_golden_trace_root() {
    let trainer = trainer(small_spec(), Level::detect(), 0);
    eprintln!("small job on {} kernels", Level::detect());
    assert_eq!(trace_root(&trainer), SMALL_GOLDEN);
}

/// Run with the test above under emulation and in the native build.
#[test]
fn small_cnn_job_matches_its_golden_trace_root() {
    assert_eq!(
        trace_root(&trainer(small_cnn_spec(), Level::detect(), 0)),
        SMALL_CNN_GOLDEN
    );
}

#[test]
fn every_level_and_thread_count_gives_the_same_bits() {
    for level in Level::available() {
        for threads in [1, 2, 8] {
            let trainer = trainer(small_spec(), level, threads);
            assert_eq!(
                trace_root(&trainer),
                SMALL_GOLDEN,
                "{level} with {threads} threads"
            );
            let trainer = crate::common::trainer(small_cnn_spec(), level, threads);
            assert_eq!(
                trace_root(&trainer),
                SMALL_CNN_GOLDEN,
                "CNN: {level} with {threads} threads"
            );
            let trainer = crate::common::trainer(small_norm_spec(), level, threads);
            assert_eq!(
                trace_root(&trainer),
                SMALL_NORM_GOLDEN,
                "layer norm: {level} with {threads} threads"
            );
        }
    }
    // The large matmuls of the reference job cross the parallel threshold.
    let mut spec = digits_spec();
    spec.steps = 4;
    spec.checkpoint_interval = 2;
    spec.batch_size = 512;
    spec.model = vtrain_proof_of_learning::spec::ModelSpec::Mlp {
        hidden: vec![300, 200],
        activation: Default::default(),
    };
    let reference = trace_root(&trainer(spec.clone(), Level::Scalar, 1));
    for level in Level::available() {
        for threads in [2, 8] {
            assert_eq!(
                trace_root(&trainer(spec.clone(), level, threads)),
                reference,
                "{level} × {threads}"
            );
        }
    }
}

#[test]
fn instrumented_step_agrees_with_the_plain_step() {
    let trainer = trainer(small_spec(), Level::detect(), 0);
    let s0: State = trainer.initial_state();
    let plain = trainer.step(&s0).unwrap().state;
    let instrumented = trainer.step_instrumented(&s0).unwrap();
    assert_eq!(instrumented.next, plain);
    assert_eq!(
        instrumented.tensor_roots.len(),
        trainer.graph(0).nodes.len()
    );
    assert_eq!(instrumented.names[0], "schedule");
    let again = trainer.step_instrumented(&s0).unwrap();
    assert_eq!(again.produced_merkles, instrumented.produced_merkles);
    // The optimizer and weights lists of the step commitment are exactly S_{t+1}'s.
    let roots = |shapes: Vec<Vec<usize>>, tensors: &[Vec<f32>]| -> Vec<_> {
        shapes
            .iter()
            .zip(tensors)
            .map(|(s, v)| tensor_root(s, v))
            .collect()
    };
    let params = roots(trainer.param_shapes().to_vec(), &plain.params);
    let moments = roots(trainer.moment_shapes(), &plain.moments);
    assert_eq!(instrumented.produced_merkles[2], merkle_root(&params));
    assert_eq!(instrumented.produced_merkles[1], merkle_root(&moments));
    assert_eq!(
        instrumented.intermediate_roots.len() + params.len() + moments.len(),
        instrumented.tensor_roots.len()
    );
}
