//! The spec vectors shared with the contracts (`contracts/test/vectors/specs.json`):
//! canonical specs, valid and invalid, each with the outcome both validations
//! must give. The expected outcome of every case is written here by hand and
//! checked against the Rust decoder and `JobSpec::validate`; the forge test
//! `SpecVectors.t.sol` checks `JobMarket.postJob` (through `GraphSemantics`)
//! against the same file. Invalid specs name the field, which is the argument
//! of the Solidity error `SpecRules.InvalidSpec(field)`; "parse" is a spec that
//! does not decode (Rust `SpecParse`, Solidity `UnsupportedSpec`/`SpecTooShort`).
//! `VTRAIN_BLESS=1 cargo test -p vtrain-proof-of-learning --test it spec_vectors`
//! rewrites the file.

use serde_json::{Value, json};
use vtrain_proof_of_learning::repops::LrSchedule;
use vtrain_proof_of_learning::spec::{DatasetFormat, InitSpec, ModelSpec, OptimizerSpec};
use vtrain_proof_of_learning::{Error, JobSpec};

const DIGITS: &str = include_str!("../../../examples/digits-mlp.toml");

fn digits() -> JobSpec {
    JobSpec::from_toml(DIGITS).unwrap()
}

fn adamw() -> JobSpec {
    let mut s = digits();
    s.model = ModelSpec::Mlp {
        hidden: vec![32, 16],
        activation: Default::default(),
    };
    s.optimizer = OptimizerSpec::Adamw {
        learning_rate: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    s.schedule = LrSchedule::LinearWarmupDecay { warmup_steps: 80 };
    s
}

/// Fine-tuning from the model with root `0xbyte…byte`.
fn from_model(s: &mut JobSpec, byte: u8) {
    s.init = InitSpec::Model {
        root: format!("0x{}", format!("{byte:02x}").repeat(32)),
    };
}

fn with(mut s: JobSpec, change: impl FnOnce(&mut JobSpec)) -> JobSpec {
    change(&mut s);
    s
}

fn hidden(s: &mut JobSpec, widths: &[u32]) {
    s.model = ModelSpec::Mlp {
        hidden: widths.to_vec(),
        activation: Default::default(),
    };
}

fn sgd(s: &mut JobSpec, lr: f32, momentum: f32, wd: f32) {
    s.optimizer = OptimizerSpec::Sgd {
        learning_rate: lr,
        momentum,
        weight_decay: wd,
    };
}

fn adam(s: &mut JobSpec, beta1: f32, beta2: f32, eps: f32) {
    s.optimizer = OptimizerSpec::Adamw {
        learning_rate: 1e-3,
        beta1,
        beta2,
        eps,
        weight_decay: 0.0,
    };
}

/// A spec from its f32 bit pattern.
fn bits(b: u32) -> f32 {
    f32::from_bits(b)
}

/// (name, canonical bytes, expected outcome: "" valid, "parse", or the field).
fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let d = digits;
    let mut cases: Vec<(&str, JobSpec, &str)> = vec![
        ("digits reference job", d(), ""),
        ("adamw, warm-up, two hidden layers", adamw(), ""),
        (
            "step schedule, every = steps",
            with(d(), |s| {
                s.schedule = LrSchedule::Step {
                    every: 800,
                    gamma: 0.5,
                }
            }),
            "",
        ),
        (
            "momentum and weight decay -0.0 are >= 0",
            with(d(), |s| sgd(s, 0.1, -0.0, -0.0)),
            "",
        ),
        (
            "a subnormal learning rate is > 0",
            with(d(), |s| sgd(s, bits(1), 0.9, 0.0)),
            "",
        ),
        (
            "beta2 just below 1",
            with(adamw(), |s| adam(s, 0.0, bits(0x3F7F_FFFF), bits(1))),
            "",
        ),
        (
            "exactly 1024 checkpoints",
            with(d(), |s| {
                s.steps = 1023;
                s.checkpoint_interval = 1;
            }),
            "",
        ),
        (
            "batch = every training sample",
            with(d(), |s| s.batch_size = 1437),
            "",
        ),
        (
            "the smallest dataset",
            with(d(), |s| {
                s.dataset.samples = 2;
                s.dataset.classes = 2;
                s.dataset.holdout = 1;
                s.batch_size = 1;
            }),
            "",
        ),
        (
            "sixteen hidden layers",
            with(d(), |s| hidden(s, &[8; 16])),
            "",
        ),
        (
            "a text dataset",
            with(d(), |s| s.dataset.format = DatasetFormat::Text),
            "",
        ),
        (
            "repops version 2",
            with(d(), |s| s.repops_version = 2),
            "repops_version",
        ),
        ("zero steps", with(d(), |s| s.steps = 0), "steps"),
        ("2^24 steps", with(d(), |s| s.steps = 1 << 24), "steps"),
        (
            "interval 0",
            with(d(), |s| s.checkpoint_interval = 0),
            "checkpoint_interval",
        ),
        (
            "interval above steps",
            with(d(), |s| s.checkpoint_interval = 801),
            "checkpoint_interval",
        ),
        (
            "interval does not divide steps",
            with(d(), |s| s.checkpoint_interval = 300),
            "checkpoint_interval",
        ),
        (
            "1025 checkpoints",
            with(d(), |s| {
                s.steps = 1024;
                s.checkpoint_interval = 1;
            }),
            "checkpoint_interval",
        ),
        (
            "zero dataset root",
            with(d(), |s| s.dataset.root = format!("0x{}", "00".repeat(32))),
            "dataset.root",
        ),
        (
            "one sample",
            with(d(), |s| s.dataset.samples = 1),
            "dataset.samples",
        ),
        (
            "2^24 samples",
            with(d(), |s| s.dataset.samples = 1 << 24),
            "dataset.samples",
        ),
        (
            "no features",
            with(d(), |s| s.dataset.features = 0),
            "dataset.features",
        ),
        (
            "65537 features",
            with(d(), |s| s.dataset.features = 65_537),
            "dataset.features",
        ),
        (
            "no classes",
            with(d(), |s| s.dataset.classes = 0),
            "dataset.classes",
        ),
        (
            "one class",
            with(d(), |s| s.dataset.classes = 1),
            "dataset.classes",
        ),
        (
            "everything held out",
            with(d(), |s| s.dataset.holdout = 1797),
            "dataset.holdout",
        ),
        ("batch 0", with(d(), |s| s.batch_size = 0), "batch_size"),
        (
            "batch above the training samples",
            with(d(), |s| s.batch_size = 1438),
            "batch_size",
        ),
        (
            "batch above 2^16",
            with(d(), |s| {
                s.dataset.samples = 100_000;
                s.dataset.holdout = 0;
                s.batch_size = 65_537;
            }),
            "batch_size",
        ),
        (
            "a hidden width of 0",
            with(d(), |s| hidden(s, &[128, 0])),
            "model.hidden",
        ),
        (
            "a hidden width of 65537",
            with(d(), |s| hidden(s, &[65_537])),
            "model.hidden",
        ),
        (
            "more than 2^28 parameters",
            with(d(), |s| {
                s.dataset.features = 65_536;
                hidden(s, &[4096]);
            }),
            "model",
        ),
        (
            "learning rate 0",
            with(d(), |s| sgd(s, 0.0, 0.9, 0.0)),
            "optimizer.learning_rate",
        ),
        (
            "learning rate -0.0",
            with(d(), |s| sgd(s, -0.0, 0.9, 0.0)),
            "optimizer.learning_rate",
        ),
        (
            "a NaN learning rate under the constant schedule",
            with(d(), |s| sgd(s, bits(0x7FC0_0001), 0.9, 0.0)),
            "optimizer.learning_rate",
        ),
        (
            "an infinite learning rate",
            with(d(), |s| sgd(s, f32::INFINITY, 0.9, 0.0)),
            "optimizer.learning_rate",
        ),
        (
            "a negative learning rate",
            with(d(), |s| sgd(s, -0.1, 0.9, 0.0)),
            "optimizer.learning_rate",
        ),
        (
            "momentum 1",
            with(d(), |s| sgd(s, 0.1, 1.0, 0.0)),
            "optimizer.momentum",
        ),
        (
            "a negative subnormal momentum",
            with(d(), |s| sgd(s, 0.1, bits(0x8000_0001), 0.0)),
            "optimizer.momentum",
        ),
        (
            "a NaN momentum",
            with(d(), |s| sgd(s, 0.1, f32::NAN, 0.0)),
            "optimizer.momentum",
        ),
        (
            "a negative weight decay",
            with(d(), |s| sgd(s, 0.1, 0.9, -1.0)),
            "optimizer.weight_decay",
        ),
        (
            "an infinite weight decay",
            with(d(), |s| sgd(s, 0.1, 0.9, f32::INFINITY)),
            "optimizer.weight_decay",
        ),
        (
            "beta1 1",
            with(adamw(), |s| adam(s, 1.0, 0.999, 1e-8)),
            "optimizer.beta1",
        ),
        (
            "a NaN beta2",
            with(adamw(), |s| adam(s, 0.9, f32::NAN, 1e-8)),
            "optimizer.beta2",
        ),
        (
            "eps 0",
            with(adamw(), |s| adam(s, 0.9, 0.999, 0.0)),
            "optimizer.eps",
        ),
        (
            "warm-up as long as the job",
            with(d(), |s| {
                s.schedule = LrSchedule::LinearWarmupDecay { warmup_steps: 800 }
            }),
            "schedule.warmup_steps",
        ),
        (
            "gradients clipped to norm 1",
            with(adamw(), |s| s.clip_grad_norm = Some(1.0)),
            "",
        ),
        (
            "gradients clipped to the smallest subnormal norm",
            with(d(), |s| s.clip_grad_norm = Some(f32::from_bits(1))),
            "",
        ),
        (
            "a fine-tuning job with clipping: both tails",
            with(d(), |s| {
                s.init = vtrain_proof_of_learning::spec::InitSpec::Model {
                    root: format!("0x{}", "c3".repeat(32)),
                };
                s.clip_grad_norm = Some(0.5)
            }),
            "",
        ),
        (
            "clip_grad_norm 0",
            with(d(), |s| s.clip_grad_norm = Some(0.0)),
            "clip_grad_norm",
        ),
        (
            "clip_grad_norm −1",
            with(d(), |s| s.clip_grad_norm = Some(-1.0)),
            "clip_grad_norm",
        ),
        (
            "clip_grad_norm NaN",
            with(d(), |s| s.clip_grad_norm = Some(f32::NAN)),
            "clip_grad_norm",
        ),
        (
            "clip_grad_norm +∞",
            with(d(), |s| s.clip_grad_norm = Some(f32::INFINITY)),
            "clip_grad_norm",
        ),
        (
            "a zero model root and a bad clip: clipping is named first",
            with(d(), |s| {
                s.init = vtrain_proof_of_learning::spec::InitSpec::Model {
                    root: format!("0x{}", "00".repeat(32)),
                };
                s.clip_grad_norm = Some(0.0)
            }),
            "clip_grad_norm",
        ),
        (
            "cosine warm-up as long as the job",
            with(d(), |s| {
                s.schedule = LrSchedule::LinearWarmupCosine { warmup_steps: 800 }
            }),
            "schedule.warmup_steps",
        ),
        (
            "a cosine schedule after 799 warm-up steps",
            with(d(), |s| {
                s.schedule = LrSchedule::LinearWarmupCosine { warmup_steps: 799 }
            }),
            "",
        ),
        (
            "a step schedule with every = 0",
            with(d(), |s| {
                s.schedule = LrSchedule::Step {
                    every: 0,
                    gamma: 0.5,
                }
            }),
            "schedule.every",
        ),
        (
            "every above steps",
            with(d(), |s| {
                s.schedule = LrSchedule::Step {
                    every: 801,
                    gamma: 0.5,
                }
            }),
            "schedule.every",
        ),
        (
            "gamma 0",
            with(d(), |s| {
                s.schedule = LrSchedule::Step {
                    every: 100,
                    gamma: 0.0,
                }
            }),
            "schedule.gamma",
        ),
        (
            "fine-tuning: S_0 loaded from a model root",
            with(d(), |s| from_model(s, 0xab)),
            "",
        ),
        (
            "fine-tuning with AdamW and a warm-up",
            with(adamw(), |s| from_model(s, 0x01)),
            "",
        ),
        (
            "fine-tuning from the zero root",
            with(d(), |s| from_model(s, 0)),
            "init.root",
        ),
        (
            "a schedule fault before a zero initial root",
            with(d(), |s| {
                from_model(s, 0);
                s.schedule = LrSchedule::Step {
                    every: 0,
                    gamma: 0.5,
                };
            }),
            "schedule.every",
        ),
        (
            "two faults: the first in Rust's order is named",
            with(d(), |s| {
                s.steps = 0;
                sgd(s, f32::NAN, 0.9, 0.0);
            }),
            "steps",
        ),
    ];
    cases.extend(crate::spec_vectors_graph::cases());
    cases.extend(crate::spec_vectors_transformer::cases());
    let mut out: Vec<(&str, Vec<u8>, &str)> = cases
        .drain(..)
        .map(|(name, spec, outcome)| (name, spec.canonical_bytes(), outcome))
        .collect();

    // Specs that do not decode, edited byte by byte from the digits job.
    let base = d().canonical_bytes();
    let edit = |offset: usize, value: u8| {
        let mut b = base.clone();
        b[offset] = value;
        b
    };
    let mut trailing = base.clone();
    trailing.push(0);
    let mut seventeen = base[..74].to_vec();
    seventeen.extend_from_slice(&17u32.to_be_bytes());
    seventeen.extend(std::iter::repeat_n(0, 4 * 17));
    seventeen.extend_from_slice(&base[82..]);
    out.extend([
        ("a truncated header", base[..10].to_vec(), "parse"),
        ("a truncated model section", base[..80].to_vec(), "parse"),
        ("a byte after the end", trailing, "parse"),
        ("dataset format 4", edit(56, 4), "parse"),
        ("model kind 2 on MLP bytes", edit(73, 2), "parse"),
        ("activation 2", edit(82, 2), "parse"),
        ("optimizer 3", edit(83, 3), "parse"),
        ("schedule 5", edit(96, 5), "parse"),
        (
            "a cosine schedule cut before its warm-up",
            edit(96, 4),
            "parse",
        ),
        ("seventeen hidden layers", seventeen, "parse"),
    ]);
    // The initial-weights tail: only `u8 2 ‖ bytes32 root` may follow the schedule.
    let tail = |tag: u8, root_bytes: usize, extra: usize| {
        let mut b = base.clone();
        b.push(tag);
        b.extend(std::iter::repeat_n(0x5a, root_bytes + extra));
        b
    };
    out.extend([
        (
            "an initial-weights tag 1 (the seed is encoded as nothing)",
            tail(1, 32, 0),
            "parse",
        ),
        (
            "a clipping tail followed by 28 more bytes",
            tail(3, 32, 0),
            "parse",
        ),
        ("a clipping tail cut short", tail(3, 3, 0), "parse"),
        ("a tail tag 4", tail(4, 4, 0), "parse"),
        (
            "a clipping tail before the model root",
            {
                let mut b = tail(3, 4, 0);
                b.push(2);
                b.extend([0x5a; 32]);
                b
            },
            "parse",
        ),
        (
            "two clipping tails",
            {
                let mut b = tail(3, 0, 0);
                b.extend(1.0f32.to_bits().to_be_bytes());
                b.push(3);
                b.extend(1.0f32.to_bits().to_be_bytes());
                b
            },
            "parse",
        ),
        ("a model root cut short", tail(2, 31, 0), "parse"),
        ("a byte after the model root", tail(2, 32, 1), "parse"),
        ("an initial-weights tag alone", tail(2, 0, 0), "parse"),
    ]);
    out.extend(crate::spec_vectors_graph::parse_cases());
    out.extend(crate::spec_vectors_transformer::parse_cases());
    out
}

/// The outcome of the Rust decoder and validation: "" or the field or "parse".
fn outcome(bytes: &[u8]) -> String {
    match JobSpec::from_canonical_bytes(bytes) {
        Ok(_) => String::new(),
        Err(Error::InvalidSpec { field, .. }) => field.to_owned(),
        Err(Error::SpecParse(_)) => "parse".to_owned(),
        Err(other) => format!("unexpected error: {other}"),
    }
}

fn vectors() -> Value {
    let vectors: Vec<Value> = cases()
        .into_iter()
        .map(|(name, bytes, expected)| {
            let step_ops = JobSpec::from_canonical_bytes(&bytes)
                .map(|s| s.step_ops().to_string())
                .unwrap_or_default();
            json!({
                "name": name,
                "spec": format!("0x{}", hex(&bytes)),
                "outcome": expected,
                "stepOps": step_ops,
            })
        })
        .collect();
    json!({ "vectors": vectors })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rust_validation_gives_every_expected_outcome() {
    for (name, bytes, expected) in cases() {
        assert_eq!(outcome(&bytes), expected, "{name}");
    }
}

#[test]
fn spec_vectors_match_the_contracts_copy() {
    let text = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
    crate::common::check_vector_file("contracts/test/vectors/specs.json", &text, "spec_vectors");
}
