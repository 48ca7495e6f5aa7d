//! Training and commitment throughput of the vtrain engine.
//!
//! `cargo bench -p vtrain-proof-of-learning --bench throughput` prints the
//! Markdown tables recorded in `docs/benchmarks.md`. Timings are wall-clock
//! medians of repeated runs on the machine at hand.

use std::time::{Duration, Instant};
use vtrain_proof_of_learning::commit::tensor_root;
use vtrain_proof_of_learning::prng::{draw, uniform01};
use vtrain_proof_of_learning::repops::{LrSchedule, Op};
use vtrain_proof_of_learning::spec::{DatasetFormat, DatasetSpec, ModelSpec, OptimizerSpec};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(repeats: usize, mut f: impl FnMut()) -> Duration {
    f();
    median(
        (0..repeats)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn synthetic(samples: usize, features: usize, classes: usize) -> Dataset {
    Dataset {
        samples,
        features,
        classes,
        x: (0..samples * features)
            .map(|i| uniform01(1, i as u64))
            .collect(),
        y: (0..samples)
            .map(|i| (draw(2, i as u64) % classes as u64) as f32)
            .collect(),
    }
}

fn spec_for(dataset: &Dataset, model: ModelSpec, batch: u32, steps: u32, k: u32) -> JobSpec {
    JobSpec {
        repops_version: 1,
        seed: 7,
        steps,
        checkpoint_interval: k,
        batch_size: batch,
        dataset: DatasetSpec {
            format: DatasetFormat::Csv,
            root: dataset.root().to_hex(),
            samples: dataset.samples as u32,
            features: dataset.features as u32,
            classes: dataset.classes as u32,
            holdout: 0,
        },
        model,
        optimizer: OptimizerSpec::Sgd {
            learning_rate: 0.01,
            momentum: 0.9,
            weight_decay: 0.0,
        },
        schedule: LrSchedule::Constant,
        init: Default::default(),
        clip_grad_norm: None,
    }
}

fn mlp(hidden: Vec<u32>) -> ModelSpec {
    ModelSpec::Mlp {
        hidden,
        activation: Default::default(),
    }
}

/// The model of `examples/digits-cnn.toml`.
fn digits_cnn() -> ModelSpec {
    JobSpec::from_toml(include_str!("../../examples/digits-cnn.toml"))
        .expect("the CNN example")
        .model
}

fn train_throughput(
    name: &str,
    dataset: &Dataset,
    model: ModelSpec,
    batch: u32,
    steps: u32,
    threads: usize,
) {
    let spec = spec_for(dataset, model, batch, 1000, 100);
    for level in Level::available() {
        let trainer = Trainer::new(
            spec.clone(),
            dataset.clone(),
            Kernels::new(level, threads).expect("level"),
        )
        .expect("job");
        let mut state = trainer.initial_state();
        let elapsed = time(3, || {
            for _ in 0..steps {
                let next = trainer.step(&state).expect("step").state;
                trainer.recycle(std::mem::replace(&mut state, next));
            }
        });
        let samples_per_s = f64::from(steps * batch) / elapsed.as_secs_f64();
        println!(
            "| {name} | {level} | {threads} | {samples_per_s:.0} | {:.3} |",
            elapsed.as_secs_f64() * 1e3 / f64::from(steps)
        );
    }
}

fn main() {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("## Training throughput (SGD-momentum, samples/s)\n");
    println!("| model | kernels | threads | samples/s | ms/step |\n|---|---|---|---|---|");
    let digits = Dataset::digits().expect("digits");
    for t in [1, threads] {
        train_throughput(
            "digits 64-128-10, batch 64",
            &digits,
            mlp(vec![128]),
            64,
            200,
            t,
        );
    }
    for (batch, steps) in [(64, 100), (256, 25)] {
        for t in [1, threads] {
            let name = format!("digits CNN (examples/digits-cnn.toml), batch {batch}");
            train_throughput(&name, &digits, digits_cnn(), batch, steps, t);
        }
    }
    let mnist_like = synthetic(4096, 784, 10);
    for t in [1, threads] {
        train_throughput(
            "784-1024-1024-10, batch 128",
            &mnist_like,
            mlp(vec![1024, 1024]),
            128,
            10,
            t,
        );
    }

    println!("\n## Matmul (linear op, 512×512×512)\n");
    println!("| kernels | threads | GFLOP/s |\n|---|---|---|");
    let n = 512;
    let a: Vec<f32> = (0..n * n).map(|i| uniform01(3, i as u64)).collect();
    let w: Vec<f32> = (0..n * n).map(|i| uniform01(4, i as u64)).collect();
    let b = vec![0.0f32; n];
    let mut out = vec![0.0f32; n * n];
    for level in Level::available() {
        for t in [1, threads] {
            let kernels = Kernels::new(level, t).expect("level");
            let op = Op::Linear { m: n, k: n, n };
            let elapsed = time(5, || kernels.run(&op, &[&a, &w, &b], &mut out));
            println!(
                "| {level} | {t} | {:.1} |",
                2.0 * (n * n * n) as f64 / elapsed.as_secs_f64() / 1e9
            );
        }
    }

    println!("\n## Commitments\n");
    let big: Vec<f32> = (0..16 * 1024 * 1024)
        .map(|i| uniform01(5, i as u64))
        .collect();
    let elapsed = time(3, || {
        std::hint::black_box(tensor_root(&[big.len()], &big));
    });
    println!("| what | result |\n|---|---|");
    println!(
        "| keccak Merkle root of a 64 MiB tensor ({threads} threads) | {:.0} MB/s |",
        64.0 * 1.048_576 / elapsed.as_secs_f64()
    );
    for (name, dataset, hidden, batch) in [
        ("digits 64-128-10, batch 64", &digits, vec![128], 64),
        (
            "784-1024-1024-10, batch 128",
            &mnist_like,
            vec![1024, 1024],
            128,
        ),
    ] {
        let spec = spec_for(dataset, mlp(hidden), batch, 1000, 100);
        let trainer =
            Trainer::new(spec, dataset.clone(), Kernels::detect().expect("kernels")).expect("job");
        let mut state = trainer.initial_state();
        let steps = if batch == 64 { 100 } else { 10 };
        let step_time = time(1, || {
            for _ in 0..steps {
                let next = trainer.step(&state).expect("step").state;
                trainer.recycle(std::mem::replace(&mut state, next));
            }
        }) / steps;
        let root_time = time(3, || {
            std::hint::black_box(trainer.state_root(&state));
        });
        let share =
            root_time.as_secs_f64() / (root_time.as_secs_f64() + 100.0 * step_time.as_secs_f64());
        println!(
            "| {name}: state root {:.2} ms vs 100 steps {:.1} ms | {:.2}% of training time at k = 100 |",
            root_time.as_secs_f64() * 1e3,
            100.0 * step_time.as_secs_f64() * 1e3,
            share * 100.0
        );
    }
}
