//! Layer-graph jobs through the whole protocol with the shipped agents: the
//! convolutional net, the layer-norm/GELU net (with its cosine schedule and
//! gradient clipping) and the Shakespeare GPT (embeddings, causal
//! self-attention, residual blocks, the next-token loss, on the bundled
//! corpus). An honest solver is paid and its model checks out (the GPT's also
//! samples text); a solver that flips one ulp of a weight is caught by the
//! watchtower and slashed.

use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Agent, Net, SOLVER, VERIFIER};

use crate::common::{eth, settle};

/// An example job, the edits that shrink it, and its data (`--data`).
struct Job {
    name: &'static str,
    toml: &'static str,
    edits: &'static [(&'static str, &'static str)],
    data: &'static str,
}

/// `examples/digits-cnn.toml` shrunk to 40 steps with checkpoints every 10.
const CNN: Job = Job {
    name: "cnn",
    toml: include_str!("../../../examples/digits-cnn.toml"),
    edits: &[
        ("steps = 800", "steps = 40"),
        ("checkpoint_interval = 100", "checkpoint_interval = 10"),
    ],
    data: "bundled:digits",
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
    data: "bundled:digits",
};

/// `examples/shakespeare-gpt.toml` shrunk to 40 steps with checkpoints every
/// 10 and 5 steps of warm-up, on the bundled corpus.
const GPT: Job = Job {
    name: "gpt",
    toml: include_str!("../../../examples/shakespeare-gpt.toml"),
    edits: &[
        ("steps = 3000", "steps = 40"),
        ("checkpoint_interval = 500", "checkpoint_interval = 10"),
        ("warmup_steps = 100", "warmup_steps = 5"),
    ],
    data: concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/shakespeare.txt.gz"
    ),
};

/// Writes the shrunk spec of `job` into the net's folder and posts it with a
/// one-hour window.
fn post(net: &Net, job: &Job) -> u64 {
    let mut text = job.toml.to_owned();
    for (from, to) in job.edits {
        assert!(text.contains(from), "{}: {from}", job.name);
        text = text.replace(from, to);
    }
    let path = net.path(&format!("{}.toml", job.name));
    std::fs::write(&path, text).expect("spec");
    net.post_on(&path, job.data, "1h")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_cnn_job_is_finalized_and_its_model_checks_out() {
    honest_classifier_is_finalized(&CNN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_layer_norm_job_is_finalized_and_its_model_checks_out() {
    honest_classifier_is_finalized(&LN_GELU).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_gpt_job_is_finalized_and_its_model_samples_text() {
    let (net, id, _solver) = honest_job_is_finalized(&GPT).await;
    let extra = ["--generate", "60", "--prompt", "ROMEO:", "--seed", "7"];
    let fetched = crate::common::fetch_model(&net, id, "gpt.safetensors", &extra).await;
    let loss = fetched["test_loss"].as_f64().expect("a held-out loss");
    let text = fetched["generated"].as_str().expect("sampled text");
    eprintln!("gpt after 40 steps: held-out loss {loss:.3} nats/byte, sample {text:?}");
    // 40 steps already beat the uniform guess over 128 bytes (ln 128 = 4.85).
    assert!(loss < 4.0, "{fetched}");
    assert_eq!(text.len(), 60, "{text:?}");
    // Seeded: the same model, prompt and seed give the same text.
    let again = crate::common::fetch_model(&net, id, "gpt-again.safetensors", &extra).await;
    assert_eq!(again["generated"], fetched["generated"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_cnn_solver_is_caught_and_slashed() {
    cheater_is_slashed(&CNN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_layer_norm_solver_is_caught_and_slashed() {
    cheater_is_slashed(&LN_GELU).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheating_gpt_solver_is_caught_and_slashed() {
    cheater_is_slashed(&GPT).await;
}

/// An honest solver and watchtower: the job is finalized without a dispute
/// and the solver is paid. Returns the net, the job and the solver, which
/// serves the model while it runs.
async fn honest_job_is_finalized(job: &Job) -> (Net, u64, Agent) {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&[]);
    let id = post(&net, job);
    let outcome = settle(&net, id, Duration::from_secs(300)).await;
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
    (net, id, solver)
}

/// [`honest_job_is_finalized`], then the fetched model's held-out accuracy.
async fn honest_classifier_is_finalized(job: &Job) {
    let (net, id, _solver) = honest_job_is_finalized(job).await;
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
    let id = post(&net, job);
    let outcome = settle(&net, id, Duration::from_secs(300)).await;
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
