//! Job spec parsing, validation and hashing.

use crate::common::digits_spec;
use vtrain_proof_of_learning::{Error, JobSpec};

/// The job hash of `examples/digits-mlp.toml`. It moves only when the spec or
/// its canonical encoding changes.
const DIGITS_JOB_HASH: &str = "0xf5a96f579fcb51fbdd2016f25c97ea62c41bbff1df2c5d6131fb099107289be1";

#[test]
fn the_reference_spec_has_a_stable_job_hash() {
    let spec = digits_spec();
    assert_eq!(spec.job_hash().to_hex(), DIGITS_JOB_HASH);
    // Formatting and field order of the TOML do not matter; values do.
    let reparsed = JobSpec::from_toml(&spec.to_toml()).unwrap();
    assert_eq!(reparsed.job_hash(), spec.job_hash());
    let mut other = spec.clone();
    other.seed += 1;
    assert_ne!(other.job_hash(), spec.job_hash());
}

fn rejects(edit: impl Fn(&str) -> String, field: &str) {
    let base = include_str!("../../../examples/digits-mlp.toml");
    let text = edit(base);
    assert_ne!(text, base, "the edit must change the spec");
    let error = JobSpec::from_toml(&text).unwrap_err();
    assert!(
        error.to_string().contains(field),
        "expected an error about {field}, got: {error}"
    );
}

#[test]
fn malformed_specs_get_clear_errors() {
    rejects(
        |s| s.replace("checkpoint_interval = 100", "checkpoint_interval = 70"),
        "checkpoint_interval",
    );
    rejects(
        |s| s.replace("checkpoint_interval = 100", "checkpoint_interval = 0"),
        "checkpoint_interval",
    );
    rejects(|s| s.replace("steps = 800", "steps = 0"), "steps");
    rejects(
        |s| s.replace("hidden = [128]", "hidden = [0]"),
        "model.hidden",
    );
    rejects(
        |s| s.replace("hidden = [128]", "hidden = [70000]"),
        "model.hidden",
    );
    rejects(
        |s| s.replace("learning_rate = 0.1", "learning_rate = nan"),
        "optimizer.learning_rate",
    );
    rejects(
        |s| s.replace("learning_rate = 0.1", "learning_rate = -1.0"),
        "optimizer.learning_rate",
    );
    rejects(
        |s| s.replace("momentum = 0.9", "momentum = 1.5"),
        "optimizer.momentum",
    );
    rejects(
        |s| s.replace("batch_size = 64", "batch_size = 0"),
        "batch_size",
    );
    rejects(
        |s| s.replace("holdout = 360", "holdout = 1797"),
        "dataset.holdout",
    );
    rejects(
        |s| s.replace("root = \"0xc4", "root = \"0xzz"),
        "dataset.root",
    );
    rejects(
        |s| s.replace("repops_version = 1", "repops_version = 9"),
        "repops_version",
    );
    rejects(
        |s| s.replace("seed = 20261123", "seed = 20261123\nsede = 1"),
        "unknown field",
    );
    rejects(|s| s.replace("kind = \"sgd\"", "kind = \"lbfgs\""), "lbfgs");
    rejects(
        |s| {
            s.replace(
                "[schedule]\nkind = \"constant\"",
                "[schedule]\nkind = \"linear_warmup_decay\"\nwarmup_steps = 800",
            )
        },
        "warmup_steps",
    );
    let error = JobSpec::from_toml("this is not toml").unwrap_err();
    assert!(matches!(error, Error::SpecParse(_)), "{error}");
}

#[test]
fn a_dataset_with_another_root_is_refused() {
    let mut spec = digits_spec();
    spec.dataset.root = format!("0x{}", "11".repeat(32));
    let error = vtrain_proof_of_learning::Trainer::new(
        spec,
        vtrain_proof_of_learning::Dataset::digits().unwrap(),
        vtrain_proof_of_learning::Kernels::detect().unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::DatasetRootMismatch { .. }),
        "{error}"
    );
}
