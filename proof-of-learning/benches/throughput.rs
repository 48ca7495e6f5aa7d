//! Training and commitment throughput of the vtrain engine.
//!
//! `cargo bench -p vtrain-proof-of-learning --bench throughput` prints the
//! Markdown tables recorded in `docs/benchmarks.md`. Timings are wall-clock
//! medians of repeated runs on the machine at hand.
//!
//! `cargo bench -p vtrain-proof-of-learning --bench throughput -- gpt` runs
//! only the transformer's table (`examples/shakespeare-gpt.toml` on the
//! bundled corpus); `-- gpt-profile` runs only its training steps, 200 of
//! them at the best level on one thread, for `perf record`; `-- gemm` only the
//! FMA peak and the matmul table; `-- mlp` only the FMA peak and the
//! 784-1024-1024-10 MLP; `-- commit` only the commitment costs.
//!
//! Every run says which CPU it ran on and measures that CPU's fp32 FMA peak
//! (see `peak`), so each GFLOP/s figure is also a fraction of the limit.

#[path = "throughput/peak.rs"]
mod peak;

use std::path::Path;
use std::time::{Duration, Instant};
use vtrain_proof_of_learning::commit::tensor_root;
use vtrain_proof_of_learning::prng::uniform01;
use vtrain_proof_of_learning::repops::{LrSchedule, Op};
use vtrain_proof_of_learning::spec::{DatasetFormat, DatasetSpec, ModelSpec, OptimizerSpec};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, State, Trainer};

/// `repeats` timed runs of `f` after one warm-up run: the median and the
/// fastest.
fn time_median_min(repeats: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut samples: Vec<Duration> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    (samples[samples.len() / 2], samples[0])
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
    let spec = spec_for(dataset, model, batch, 100_000, 100);
    // The scalar level runs the large MLP at about 2 s a step: left out there.
    let large = spec.param_count() > 1_000_000;
    for level in Level::available() {
        if level == Level::Scalar && large {
            continue;
        }
        let trainer = Trainer::new(
            spec.clone(),
            dataset.clone(),
            Kernels::new(level, threads).expect("level"),
        )
        .expect("job");
        let mut state = trainer.initial_state();
        let (median, fastest) = time_median_min(7, || train_steps(&trainer, &mut state, steps));
        let per_s = |elapsed: Duration| f64::from(steps * batch) / elapsed.as_secs_f64();
        println!(
            "| {name} | {level} | {threads} | {:.0} | {:.0} | {:.3} |",
            per_s(median),
            per_s(fastest),
            median.as_secs_f64() * 1e3 / f64::from(steps)
        );
    }
}

/// The GPT trainer at `level` on `threads` workers, and the tokens per
/// sequence.
fn gpt_trainer(level: Level, threads: usize) -> (Trainer, u32) {
    let spec = JobSpec::from_toml(include_str!("../../examples/shakespeare-gpt.toml"))
        .expect("the GPT example");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/shakespeare.txt.gz");
    let dataset = Dataset::from_text_file(&corpus, spec.dataset.features as usize)
        .expect("examples/data/shakespeare.txt.gz");
    let tokens = spec.dataset.features - 1;
    let kernels = Kernels::new(level, threads).expect("level");
    (Trainer::new(spec, dataset, kernels).expect("job"), tokens)
}

/// Runs `steps` training steps from `state` on.
fn train_steps(trainer: &Trainer, state: &mut State, steps: u32) {
    for _ in 0..steps {
        let next = trainer.step(state).expect("step").state;
        trainer.recycle(std::mem::replace(state, next));
    }
}

/// The transformer of `examples/shakespeare-gpt.toml` exactly as specified
/// (AdamW, warm-up and cosine schedule, clipping to norm 1, batch 16 windows
/// of 64 + 1 bytes of the bundled corpus), `steps` steps per timed run, at
/// the SIMD levels (the scalar level, about a second a step, is left out).
/// One sample is one sequence of 64 predicted tokens.
fn gpt_throughput(steps: u32, threads: usize) {
    for level in Level::available() {
        if level == Level::Scalar {
            continue;
        }
        let (trainer, tokens) = gpt_trainer(level, threads);
        let batch = trainer.spec().batch_size;
        let mut state = trainer.initial_state();
        let (median, fastest) = time_median_min(9, || train_steps(&trainer, &mut state, steps));
        let per_s = |elapsed: Duration| f64::from(steps * batch) / elapsed.as_secs_f64();
        println!(
            "| shakespeare GPT, batch {batch} × {tokens} tokens | {level} | {threads} | {:.0} | {:.0} | {:.0} | {:.3} |",
            per_s(median),
            per_s(fastest),
            per_s(median) * tokens as f64,
            median.as_secs_f64() * 1e3 / f64::from(steps)
        );
    }
}

fn gpt_table(threads: usize) {
    println!("## Transformer training throughput (examples/shakespeare-gpt.toml, AdamW)\n");
    println!(
        "| model | kernels | threads | sequences/s (median) | sequences/s (best) | tokens/s (median) | ms/step (median) |\n|---|---|---|---|---|---|---|"
    );
    for t in [1, threads] {
        gpt_throughput(20, t);
    }
}

const TRAIN_HEADER: &str = "| model | kernels | threads | samples/s (median of 7) | samples/s (best) | ms/step (median) |\n|---|---|---|---|---|---|";

/// The machine line and the FMA peak at every level, on 1 and `threads`
/// threads; returns the peaks by (level, threads).
fn peak_table(threads: usize) -> Vec<((Level, usize), f64)> {
    println!("Machine: {}\n", peak::cpu_description());
    println!("## fp32 FMA peak (12 independent fma chains per thread)\n");
    println!("| kernels | threads | GFLOP/s |\n|---|---|---|");
    let mut peaks = Vec::new();
    for level in Level::available() {
        for t in [1, threads] {
            let gflops = peak::fma_peak(level, t);
            println!("| {level} | {t} | {gflops:.1} |");
            peaks.push(((level, t), gflops));
        }
    }
    println!();
    peaks
}

/// The linear op on square n³ products at every level: GFLOP/s as the median
/// and best of 9 runs, and as a share of the measured peak.
fn gemm_table(threads: usize, peaks: &[((Level, usize), f64)]) {
    println!("## Matmul (linear op, n×n×n)\n");
    println!(
        "| n | kernels | threads | GFLOP/s (median of 9) | GFLOP/s (best) | median ÷ FMA peak |\n|---|---|---|---|---|---|"
    );
    for n in [512, 1024] {
        let a: Vec<f32> = (0..n * n).map(|i| uniform01(3, i as u64)).collect();
        let w: Vec<f32> = (0..n * n).map(|i| uniform01(4, i as u64)).collect();
        let b = vec![0.0f32; n];
        let mut out = vec![0.0f32; n * n];
        for level in Level::available() {
            if level == Level::Scalar && n > 512 {
                continue;
            }
            for t in [1, threads] {
                let kernels = Kernels::new(level, t).expect("level");
                let op = Op::Linear { m: n, k: n, n };
                let (median, fastest) =
                    time_median_min(9, || kernels.run(&op, &[&a, &w, &b], &mut out));
                let gflops = |d: Duration| 2.0 * (n * n * n) as f64 / d.as_secs_f64() / 1e9;
                let peak = peaks
                    .iter()
                    .find(|(key, _)| *key == (level, t))
                    .map_or(f64::NAN, |(_, peak)| *peak);
                println!(
                    "| {n} | {level} | {t} | {:.1} | {:.1} | {:.0}% |",
                    gflops(median),
                    gflops(fastest),
                    100.0 * gflops(median) / peak
                );
            }
        }
    }
    println!();
}

/// The 784-1024-1024-10 MLP at batch 128 on synthetic data.
fn large_mlp(threads: usize) {
    let mnist_like = Dataset::synthetic(4096, 784, 10);
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
}

fn main() {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(2);
    let mode = |name: &str| std::env::args().skip(1).any(|arg| arg == name);
    if mode("gemm") {
        let peaks = peak_table(threads);
        gemm_table(threads, &peaks);
        return;
    }
    if mode("commit") {
        let digits = Dataset::digits().expect("digits");
        commitments_table(threads, &digits, &Dataset::synthetic(4096, 784, 10));
        return;
    }
    if mode("mlp") {
        peak_table(threads);
        println!("## Training throughput (SGD-momentum, samples/s)\n");
        println!("{TRAIN_HEADER}");
        large_mlp(threads);
        return;
    }
    // `cargo bench` passes `--bench`; a bare `gpt` selects the transformer only.
    if mode("gpt") {
        gpt_table(threads);
        return;
    }
    if mode("gpt-profile") {
        let (trainer, _) = gpt_trainer(Level::detect(), 1);
        let mut state = trainer.initial_state();
        let start = Instant::now();
        train_steps(&trainer, &mut state, 200);
        println!(
            "200 GPT steps at {} on 1 thread: {:.3} ms/step",
            Level::detect(),
            start.elapsed().as_secs_f64() * 1e3 / 200.0
        );
        return;
    }
    let peaks = peak_table(threads);
    println!("## Training throughput (SGD-momentum, samples/s)\n");
    println!("{TRAIN_HEADER}");
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
    large_mlp(threads);
    let mnist_like = Dataset::synthetic(4096, 784, 10);

    println!();
    gpt_table(threads);
    println!();
    gemm_table(threads, &peaks);

    commitments_table(threads, &digits, &mnist_like);
}

/// What committing costs: the keccak Merkle root of a large tensor, and a
/// state root against the training steps of one checkpoint interval. Every
/// figure is the median of 5 timed runs (and, for the rate, the best).
fn commitments_table(threads: usize, digits: &Dataset, mnist_like: &Dataset) {
    println!("## Commitments\n");
    let big: Vec<f32> = (0..16 * 1024 * 1024)
        .map(|i| uniform01(5, i as u64))
        .collect();
    let (median, fastest) = time_median_min(5, || {
        std::hint::black_box(tensor_root(&[big.len()], &big));
    });
    let rate = |d: Duration| 64.0 * 1.048_576 / d.as_secs_f64();
    println!("| what | result (median of 5) |\n|---|---|");
    println!(
        "| keccak Merkle root of a 64 MiB tensor ({threads} threads) | {:.0} MB/s (best {:.0}) |",
        rate(median),
        rate(fastest)
    );
    for (name, dataset, hidden, batch) in [
        ("digits 64-128-10, batch 64", digits, vec![128], 64),
        (
            "784-1024-1024-10, batch 128",
            mnist_like,
            vec![1024, 1024],
            128,
        ),
    ] {
        let spec = spec_for(dataset, mlp(hidden), batch, 100_000, 100);
        let trainer =
            Trainer::new(spec, dataset.clone(), Kernels::detect().expect("kernels")).expect("job");
        let mut state = trainer.initial_state();
        let steps = if batch == 64 { 100 } else { 10 };
        let (step_time, _) = time_median_min(5, || train_steps(&trainer, &mut state, steps));
        let step_time = step_time / steps;
        let (root_time, _) = time_median_min(5, || {
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
