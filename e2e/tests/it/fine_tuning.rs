//! Fine-tuning through the whole protocol: a job that starts from a finished
//! job's model (found through the registry), and one that starts from weights
//! the submitter publishes (`--init-model`), whose solver ignores them and is
//! slashed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SUBMITTER, VERIFIER};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Trainer};

use crate::common::{eth, settle, settle_with, small_spec};

/// The small digits job continued from the model with root `root`: 20 more
/// steps at a lower learning rate (the same seed, so the same held-out split).
fn fine_tune_spec(net: &Net, base: &Path, root: &str) -> PathBuf {
    let text = std::fs::read_to_string(base)
        .expect("base spec")
        .replace("steps = 40", "steps = 20")
        .replace("learning_rate = 0.1", "learning_rate = 0.02")
        + &format!("\n[init]\nfrom = \"model\"\nroot = \"{root}\"\n");
    let path = net.path("fine-tune.toml");
    std::fs::write(&path, text).expect("spec");
    path
}

fn post_json(net: &Net, spec: &Path, extra: &[&str]) -> std::process::Output {
    net.post_with(spec, "1h", extra)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_jobs_model_is_fine_tuned_by_a_verified_job() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&[]);
    let base = small_spec(&net);
    let first = net.post(&base, "1h");
    assert_eq!(
        settle(&net, first, Duration::from_secs(180)).await,
        status::FINALIZED
    );
    let root = net
        .market()
        .job(first)
        .await
        .expect("job")
        .modelRoot
        .to_string();

    // No --init-model: the CLI finds the model where the first job's solver
    // announced it, checks it, and announces it again from its own store.
    let spec = fine_tune_spec(&net, &base, &root);
    let out = post_json(&net, &spec, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(posted["initial_model"].as_str(), Some(root.as_str()));
    let second = posted["job_id"].as_u64().expect("job id");

    let outcome = settle(&net, second, Duration::from_secs(180)).await;
    assert_eq!(
        outcome,
        status::FINALIZED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    let verdict = crate::common::verdict(&net, second, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    assert_eq!(
        verdict["replayed"].as_array().map(Vec::len),
        Some(2),
        "{verdict}"
    );
    let fetched = crate::common::fetch_model(&net, second, "tuned.safetensors", &[]).await;
    assert!(
        fetched["test_accuracy"].as_f64().expect("accuracy") > 0.5,
        "{fetched}"
    );
}

/// Weights the submitter publishes: a seeded S₀ of another seed, written as a
/// model file.
fn write_weights(net: &Net, spec: &Path, seed: u64, name: &str) -> PathBuf {
    let mut spec = JobSpec::from_toml(&std::fs::read_to_string(spec).expect("spec")).expect("spec");
    spec.seed = seed;
    let trainer = Trainer::new(
        spec,
        Dataset::digits().expect("digits"),
        Kernels::detect().expect("kernels"),
    )
    .expect("trainer");
    let params = trainer.initial_state().params;
    let bytes = vtrain_store::encode_model(trainer.param_shapes(), &params).expect("encode");
    let path = net.path(name);
    std::fs::write(&path, bytes).expect("weights");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_solver_that_ignores_the_initial_model_is_slashed() {
    let net = Net::start().await;
    let solver = net.solver(&["--fault", "from-seed"]);
    let verifier = net.verifier(&[]);
    let base = small_spec(&net);
    let weights = write_weights(&net, &base, 99, "weights.safetensors");
    let (base_arg, weights_arg) = (base.display().to_string(), weights.display().to_string());
    let out = net.cli(&[
        "job",
        "model-root",
        "--spec",
        &base_arg,
        "--model",
        &weights_arg,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let root = root["model_root"].as_str().expect("root").to_owned();
    let spec = fine_tune_spec(&net, &base, &root);

    // Other weights than the spec names, or none where none is announced:
    // refused with exit 3 before any transaction.
    let before = net.balance(net.address(SUBMITTER)).await;
    let other = write_weights(&net, &base, 100, "other.safetensors");
    let out = post_json(&net, &spec, &["--init-model", &other.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the model the spec starts from"));
    let out = post_json(&net, &spec, &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--init-model"));
    assert_eq!(
        net.balance(net.address(SUBMITTER)).await,
        before,
        "nothing was sent"
    );

    let out = post_json(&net, &spec, &["--init-model", &weights_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let job = posted["job_id"].as_u64().expect("job id");

    // The solver trained from the seed: its S₀ is not the model, so the
    // watchtower disputes checkpoint 0, and the solver cannot even reveal the
    // initial step (its weights are not the model's): it loses on time.
    let outcome = settle_with(&net, job, Duration::from_secs(180), true).await;
    assert_eq!(
        outcome,
        status::SLASHED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    let verdict = crate::common::verdict(&net, job, Duration::from_secs(1)).await;
    assert_eq!(verdict["dispute"], 0, "{verdict}");
    net.wait_withdrawn(
        net.address(VERIFIER),
        eth(1) + eth(5) / alloy::primitives::U256::from(2),
    )
    .await;
}
