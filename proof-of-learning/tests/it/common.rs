//! Shared fixtures.

use vtrain_proof_of_learning::spec::ModelSpec;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

/// The reference job, `examples/digits-mlp.toml`.
pub(crate) fn digits_spec() -> JobSpec {
    JobSpec::from_toml(include_str!("../../../examples/digits-mlp.toml")).unwrap()
}

/// The convolutional reference job, `examples/digits-cnn.toml`.
pub(crate) fn digits_cnn_spec() -> JobSpec {
    JobSpec::from_toml(include_str!("../../../examples/digits-cnn.toml")).unwrap()
}

/// The layer-norm and GELU reference job, `examples/digits-ln-gelu.toml`.
pub(crate) fn digits_ln_gelu_spec() -> JobSpec {
    JobSpec::from_toml(include_str!("../../../examples/digits-ln-gelu.toml")).unwrap()
}

/// A small variant of the reference job for the slower checks (emulation,
/// many thread counts): 2 hidden layers, AdamW with warm-up, 40 steps.
pub(crate) fn small_spec() -> JobSpec {
    let mut spec = digits_spec();
    spec.steps = 40;
    spec.checkpoint_interval = 10;
    spec.batch_size = 32;
    spec.model = vtrain_proof_of_learning::spec::ModelSpec::Mlp {
        hidden: vec![24, 16],
        activation: Default::default(),
    };
    spec.optimizer = vtrain_proof_of_learning::spec::OptimizerSpec::Adamw {
        learning_rate: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    spec.schedule =
        vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupDecay { warmup_steps: 5 };
    spec
}

/// A small convolutional job for the slower checks: every image op (padding,
/// stride 2, average and overlapping max pooling, dropout), AdamW with warm-up, 20 steps.
pub(crate) fn small_cnn_spec() -> JobSpec {
    let mut spec = small_spec();
    spec.steps = 20;
    spec.checkpoint_interval = 5;
    spec.batch_size = 16;
    spec.model = ModelSpec::from_toml(
        r#"kind = "graph"
input = [1, 8, 8]
layers = [
  { kind = "conv2d", out_channels = 4, kernel = 3, padding = 1 },
  { kind = "relu" },
  { kind = "avgpool2d", kernel = 2 },
  { kind = "conv2d", out_channels = 6, kernel = 3, stride = 2, padding = 1 },
  { kind = "relu" },
  { kind = "maxpool2d", kernel = 2, stride = 1 },
  { kind = "dropout", p = 0.25 },
  { kind = "flatten" },
  { kind = "linear", out = 10 },
]"#,
    )
    .unwrap();
    spec
}

/// A small job with layer norms and GELUs for the slower checks
/// (`examples/models/small-norm.toml`), AdamW with warm-up, 20 steps.
pub(crate) fn small_norm_spec() -> JobSpec {
    let mut spec = small_spec();
    spec.steps = 20;
    spec.checkpoint_interval = 5;
    spec.batch_size = 16;
    spec.model =
        ModelSpec::from_toml(include_str!("../../../examples/models/small-norm.toml")).unwrap();
    spec
}

/// A trainer for `spec` on the bundled digits at `level` with `threads`.
pub(crate) fn trainer(spec: JobSpec, level: Level, threads: usize) -> Trainer {
    Trainer::new(
        spec,
        Dataset::digits().unwrap(),
        Kernels::new(level, threads).unwrap(),
    )
    .unwrap()
}

/// Checks that the vector file at `relative` (from the workspace root), which
/// the contracts' tests read, holds `text`; with `VTRAIN_BLESS` set, writes it
/// first. `test` names the test that regenerates it.
pub(crate) fn check_vector_file(relative: &str, text: &str, test: &str) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    if std::env::var_os("VTRAIN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{relative} is out of date: run VTRAIN_BLESS=1 cargo test -p vtrain-proof-of-learning --test it {test}",
    );
}

/// `edit` applied to the spec text `base` must be refused with an error
/// holding every one of `words`.
pub(crate) fn refused_edit(base: &str, edit: impl Fn(&str) -> String, words: &[&str]) {
    let text = edit(base);
    assert_ne!(text, base, "the edit must change the spec");
    let error = JobSpec::from_toml(&text).unwrap_err().to_string();
    for word in words {
        assert!(error.contains(word), "expected {word:?} in: {error}");
    }
}
