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

#[test]
fn a_job_with_ops_the_backend_lacks_is_refused_before_any_step() {
    let spec = JobSpec::from_toml(include_str!("../../examples/digits-cnn.toml")).expect("parses");
    let backend = Arc::new(DeviceBackend::new(EmuDevice));
    let trainer = cpu_trainer(&spec).with_backend(backend);
    let error = trainer.train(|_, _, _| Ok(())).expect_err("refused");
    assert!(
        error.to_string().contains("no kernel for Conv2d"),
        "{error}"
    );
}
