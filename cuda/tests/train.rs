//! Whole training runs through the device backend (the emulated device:
//! the CUDA kernels' source on the CPU) give the CPU trainer's checkpoint
//! roots, trace root, final state and losses, bit for bit.

use std::sync::Arc;
use vtrain_cuda::{DeviceBackend, EmuDevice};
use vtrain_proof_of_learning::spec::{ModelSpec, OptimizerSpec};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

fn digits_spec() -> JobSpec {
    JobSpec::from_toml(include_str!("../../examples/digits-mlp.toml")).expect("the example parses")
}

fn cpu_trainer(spec: &JobSpec) -> Trainer {
    Trainer::new(
        spec.clone(),
        Dataset::digits().expect("bundled digits"),
        Kernels::new(Level::detect(), 0).expect("kernels"),
    )
    .expect("trainer")
}

/// Trains `spec` on the CPU and through the emulated device; every
/// commitment and every loss must agree.
fn same_run_on_both(spec: &JobSpec) {
    let cpu = cpu_trainer(spec).train(|_, _, _| Ok(())).expect("CPU run");
    let backend = Arc::new(DeviceBackend::new(EmuDevice));
    let device_trainer = cpu_trainer(spec).with_backend(backend);
    let device = device_trainer.train(|_, _, _| Ok(())).expect("device run");
    assert_eq!(device.checkpoint_roots, cpu.checkpoint_roots);
    assert_eq!(device.trace_root, cpu.trace_root);
    assert_eq!(device.final_state, cpu.final_state);
    let bits = |losses: &[f32]| losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&device.losses), bits(&cpu.losses));
    // An interval replayed on the device lands on the CPU's next root.
    let replayed = device_trainer
        .replay_interval(&cpu_trainer(spec).initial_state())
        .expect("replay");
    assert_eq!(replayed.1, cpu.checkpoint_roots[1]);
}

#[test]
fn the_reference_mlp_trains_to_the_cpu_roots_on_the_device() {
    let mut spec = digits_spec();
    spec.steps = 12;
    spec.checkpoint_interval = 4;
    same_run_on_both(&spec);
}

#[test]
fn an_adamw_mlp_with_a_schedule_trains_to_the_cpu_roots_on_the_device() {
    let mut spec = digits_spec();
    spec.steps = 10;
    spec.checkpoint_interval = 5;
    spec.batch_size = 32;
    spec.model = ModelSpec::Mlp {
        hidden: vec![24, 16],
        activation: Default::default(),
    };
    spec.optimizer = OptimizerSpec::Adamw {
        learning_rate: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    spec.schedule =
        vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupDecay { warmup_steps: 3 };
    same_run_on_both(&spec);
}

/// The small AdamW MLP job of the proof-of-learning tests, with `model`.
fn small_spec_with(model: &str, steps: u32, k: u32) -> JobSpec {
    let mut spec = digits_spec();
    spec.steps = steps;
    spec.checkpoint_interval = k;
    spec.batch_size = 16;
    spec.model = ModelSpec::from_toml(model).expect("the model parses");
    spec.optimizer = OptimizerSpec::Adamw {
        learning_rate: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    spec.schedule =
        vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupDecay { warmup_steps: 2 };
    spec
}

#[test]
fn a_cnn_with_every_image_op_trains_to_the_cpu_roots_on_the_device() {
    // Padding, stride 2, average and overlapping max pooling, dropout.
    let model = r#"kind = "graph"
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
]"#;
    same_run_on_both(&small_spec_with(model, 6, 3));
}

#[test]
fn layer_norms_gelus_and_clipping_train_to_the_cpu_roots_on_the_device() {
    let mut spec = small_spec_with(include_str!("../../examples/models/small-norm.toml"), 6, 3);
    // Small enough that the clip scale is below 1 on some steps.
    spec.clip_grad_norm = Some(0.05);
    same_run_on_both(&spec);
}

/// A stream of 32-token text (words over letters 1..=26, space 0, '.' 27),
/// cut into rows of `window` tokens sharing one token each, the label the
/// row's last token (as the transformer tests of proof-of-learning do).
fn token_windows(rows: usize, window: usize) -> Dataset {
    const WORDS: [&str; 8] = ["to", "be", "or", "not", "that", "is", "the", "question"];
    let stride = window - 1;
    let len = rows * stride + 1;
    let mut text = Vec::with_capacity(len + 16);
    let mut i = 0u64;
    while text.len() < len {
        let r = vtrain_proof_of_learning::prng::draw(42, i);
        text.extend_from_slice(WORDS[(r % 8) as usize].as_bytes());
        text.push(if r.is_multiple_of(5) { b'.' } else { b' ' });
        i += 1;
    }
    let tokens: Vec<f32> = text[..len]
        .iter()
        .map(|&c| match c {
            b'a'..=b'z' => f32::from(c - b'a' + 1),
            b'.' => 27.0,
            _ => 0.0,
        })
        .collect();
    let mut x = Vec::with_capacity(rows * window);
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &tokens[r * stride..r * stride + window];
        x.extend_from_slice(row);
        y.push(row[window - 1]);
    }
    Dataset {
        samples: rows,
        features: window,
        classes: 32,
        x,
        y,
    }
}

#[test]
fn a_small_gpt_trains_to_the_cpu_roots_on_the_device() {
    let dataset = token_windows(600, 9);
    let mut spec = small_spec_with(include_str!("../../examples/models/small-gpt.toml"), 4, 2);
    spec.clip_grad_norm = Some(1.0);
    spec.schedule =
        vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupCosine { warmup_steps: 1 };
    spec.dataset.root = dataset.root().to_hex();
    spec.dataset.samples = dataset.samples as u32;
    spec.dataset.features = 9;
    spec.dataset.classes = 32;
    spec.dataset.holdout = 100;
    let trainer = |spec: &JobSpec| {
        Trainer::new(
            spec.clone(),
            dataset.clone(),
            Kernels::new(Level::detect(), 0).expect("kernels"),
        )
        .expect("trainer")
    };
    let cpu = trainer(&spec).train(|_, _, _| Ok(())).expect("CPU run");
    let device = trainer(&spec)
        .with_backend(Arc::new(DeviceBackend::new(EmuDevice)))
        .train(|_, _, _| Ok(()))
        .expect("device run");
    assert_eq!(device.checkpoint_roots, cpu.checkpoint_roots);
    assert_eq!(device.final_state, cpu.final_state);
    let bits = |losses: &[f32]| losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&device.losses), bits(&cpu.losses));
    assert!(cpu.losses.iter().all(|l| l.is_finite()), "{:?}", cpu.losses);
}
