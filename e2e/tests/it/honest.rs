//! The honest path: post, claim, train, verify, finalize, fetch.

use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, SUBMITTER, VERIFIER};

use crate::common::{eth, settle};

/// The reference digits job, end to end: the solver is paid, the watchtower
/// agrees without disputing, and the fetched model matches `modelRoot` and
/// reaches at least 95% test accuracy.
#[tokio::test(flavor = "multi_thread")]
async fn an_honest_job_is_finalized_and_its_model_is_good() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&[]);
    let spec = net.write_spec("digits.toml", None);
    let submitter_before = net.balance(net.address(SUBMITTER)).await;
    let job = net.post(&spec, "1h");

    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    assert_eq!(outcome, status::FINALIZED, "solver log:\n{}", solver.log());
    let verdict = crate::common::verdict(&net, job, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    assert_eq!(
        verdict["replayed"].as_array().map(Vec::len),
        Some(8),
        "full replay"
    );

    // Paid: the reward and the bond back, withdrawn by the solver itself.
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;
    assert_eq!(net.withdrawn(net.address(VERIFIER)).await, eth(0));
    let spent = submitter_before - net.balance(net.address(SUBMITTER)).await;
    assert!(
        spent > eth(10) && spent < eth(11),
        "the reward plus gas: {spent}"
    );

    let png = net.path("loss.png");
    let png_arg = png.display().to_string();
    let fetched =
        crate::common::fetch_model(&net, job, "model.safetensors", &["--loss-png", &png_arg]).await;
    let accuracy = fetched["test_accuracy"].as_f64().expect("accuracy");
    eprintln!(
        "test accuracy of the fetched model: {:.2}%",
        accuracy * 100.0
    );
    assert!(accuracy >= 0.95, "{fetched}");
    assert!(png.exists());
    drop(verifier);
}
