//! A convolutional job through the whole protocol with the shipped agents:
//! an honest solver is paid and its model checks out; a solver that flips one
//! ulp of a convolution weight is caught by the watchtower and slashed.

use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, VERIFIER};

use crate::common::{eth, settle};

/// `examples/digits-cnn.toml` shrunk to 40 steps with checkpoints every 10.
fn cnn_spec(net: &Net) -> std::path::PathBuf {
    let text = include_str!("../../../examples/digits-cnn.toml")
        .replace("steps = 800", "steps = 40")
        .replace("checkpoint_interval = 100", "checkpoint_interval = 10");
    let path = net.path("cnn.toml");
    std::fs::write(&path, text).expect("spec");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_cnn_job_is_finalized_and_its_model_checks_out() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&[]);
    let job = net.post(&cnn_spec(&net), "1h");
    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    assert_eq!(
        outcome,
        status::FINALIZED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    let verdict = crate::common::verdict(&net, job, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;

    let fetched = crate::common::fetch_model(&net, job, "cnn.safetensors", &[]).await;
    let accuracy = fetched["test_accuracy"].as_f64().expect("accuracy");
    eprintln!("CNN after 40 steps: held-out accuracy {accuracy:.4}");
    assert!(accuracy > 0.5, "{fetched}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_cnn_solver_is_caught_and_slashed() {
    let net = Net::start().await;
    let solver = net.solver(&["--fault", "flip-ulp@13"]);
    let verifier = net.verifier(&[]);
    let job = net.post(&cnn_spec(&net), "1h");
    let outcome = settle(&net, job, Duration::from_secs(240)).await;
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
    let verdict = crate::common::verdict(&net, job, Duration::from_secs(1)).await;
    eprintln!("CNN dispute: {verdict}");
}
