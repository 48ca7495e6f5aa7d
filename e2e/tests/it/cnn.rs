//! Layer-graph jobs through the whole protocol with the shipped agents: the
//! convolutional net and the layer-norm/GELU net (with its cosine schedule
//! and gradient clipping). An honest solver is paid and its model checks out;
//! a solver that flips one ulp of a weight is caught by the watchtower and
//! slashed.

use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, VERIFIER};

use crate::common::{eth, settle};

/// An example job and the edits that shrink it.
struct Job {
    name: &'static str,
    toml: &'static str,
    edits: &'static [(&'static str, &'static str)],
}

/// `examples/digits-cnn.toml` shrunk to 40 steps with checkpoints every 10.
const CNN: Job = Job {
    name: "cnn",
    toml: include_str!("../../../examples/digits-cnn.toml"),
    edits: &[
        ("steps = 800", "steps = 40"),
        ("checkpoint_interval = 100", "checkpoint_interval = 10"),
    ],
};

/// `examples/digits-ln-gelu.toml` shrunk to 40 steps with checkpoints every
/// 10 and 5 steps of warm-up.
const LN_GELU: Job = Job {
    name: "ln-gelu",
    toml: include_str!("../../../examples/digits-ln-gelu.toml"),
    edits: &[
        ("steps = 600", "steps = 40"),
        ("checkpoint_interval = 100", "checkpoint_interval = 10"),
        ("warmup_steps = 50", "warmup_steps = 5"),
    ],
};

/// Writes the shrunk spec of `job` into the net's folder.
fn spec(net: &Net, job: &Job) -> std::path::PathBuf {
    let mut text = job.toml.to_owned();
    for (from, to) in job.edits {
        assert!(text.contains(from), "{}: {from}", job.name);
        text = text.replace(from, to);
    }
    let path = net.path(&format!("{}.toml", job.name));
    std::fs::write(&path, text).expect("spec");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_cnn_job_is_finalized_and_its_model_checks_out() {
    honest_job_is_finalized(&CNN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_layer_norm_job_is_finalized_and_its_model_checks_out() {
    honest_job_is_finalized(&LN_GELU).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_cnn_solver_is_caught_and_slashed() {
    cheater_is_slashed(&CNN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_layer_norm_solver_is_caught_and_slashed() {
    cheater_is_slashed(&LN_GELU).await;
}

async fn honest_job_is_finalized(job: &Job) {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&[]);
    let id = net.post(&spec(&net, job), "1h");
    let outcome = settle(&net, id, Duration::from_secs(240)).await;
    assert_eq!(
        outcome,
        status::FINALIZED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    let verdict = crate::common::verdict(&net, id, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;

    let file = format!("{}.safetensors", job.name);
    let fetched = crate::common::fetch_model(&net, id, &file, &[]).await;
    let accuracy = fetched["test_accuracy"].as_f64().expect("accuracy");
    eprintln!(
        "{} after 40 steps: held-out accuracy {accuracy:.4}",
        job.name
    );
    assert!(accuracy > 0.5, "{fetched}");
}

async fn cheater_is_slashed(job: &Job) {
    let net = Net::start().await;
    let solver = net.solver(&["--fault", "flip-ulp@13"]);
    let verifier = net.verifier(&[]);
    let id = net.post(&spec(&net, job), "1h");
    let outcome = settle(&net, id, Duration::from_secs(240)).await;
    assert_eq!(
        outcome,
        status::SLASHED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    // The watchtower: its bond back and half the solver's (the rest is burned).
    net.wait_withdrawn(
        net.address(VERIFIER),
        eth(1) + eth(5) / alloy::primitives::U256::from(2),
    )
    .await;
    let verdict = crate::common::verdict(&net, id, Duration::from_secs(1)).await;
    eprintln!("{} dispute: {verdict}", job.name);
}
