//! Where a training step's time goes: runs `steps` steps of a job and times
//! every node, summed by op kind (the op's name without its geometry).
//!
//! `cargo run --release -p vtrain-proof-of-learning --example profile_step -- examples/shakespeare-gpt.toml examples/data/shakespeare.txt.gz [steps] [threads] [level]`
//!
//! The data may also be `bundled:digits`, or `synthetic` for the bench's
//! uniform random samples of the spec's width (the spec's dataset root is
//! then replaced by theirs), as in
//! `… --example profile_step -- benchmarks/mlp-784-1024-1024-10.toml synthetic 20 2`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use vtrain_proof_of_learning::spec::DatasetFormat;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(spec_path), Some(data)) = (args.first(), args.get(1)) else {
        return Err(
            "usage: profile_step <spec.toml> <data> [steps] [threads] [avx512|avx2|scalar]".into(),
        );
    };
    let steps: u32 = args.get(2).map_or(Ok(20), |s| s.parse())?;
    let threads: usize = args.get(3).map_or(Ok(0), |s| s.parse())?;
    let level = match args.get(4).map(String::as_str) {
        None => Level::detect(),
        Some("avx512") => Level::Avx512,
        Some("avx2") => Level::Avx2Fma,
        Some("scalar") => Level::Scalar,
        Some(other) => return Err(format!("unknown level {other}: avx512, avx2 or scalar").into()),
    };
    let mut spec = JobSpec::from_toml(&std::fs::read_to_string(spec_path)?)?;
    let dataset = if data == "synthetic" {
        let (samples, features) = (
            spec.dataset.samples as usize,
            spec.dataset.features as usize,
        );
        let classes = spec.dataset.classes as usize;
        let dataset = Dataset::synthetic(samples, features, classes);
        spec.dataset.root = dataset.root().to_hex();
        dataset
    } else if data == "bundled:digits" {
        Dataset::digits()?
    } else if spec.dataset.format == DatasetFormat::Text {
        Dataset::from_text_file(Path::new(data), spec.dataset.features as usize)?
    } else {
        Dataset::from_csv_file(Path::new(data), 1.0)?
    };
    let kernels = Kernels::new(level, threads)?;
    let trainer = Trainer::new(spec, dataset, kernels.clone())?;
    let mut state = trainer.initial_state();
    let mut by_op: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let started = Instant::now();
    for _ in 0..steps.min(trainer.spec().steps) {
        let graph = trainer.graph(state.step);
        let mut last = Instant::now();
        let outputs = trainer.execute_with(&graph, &state, |i, _| {
            let now = Instant::now();
            let name = format!("{:?}", graph.nodes[i].op);
            let kind = name
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned();
            let entry = by_op.entry(kind).or_default();
            entry.0 += (now - last).as_secs_f64();
            entry.1 += 1;
            last = now;
        });
        let next = trainer.next_state(&graph, &state, outputs);
        // As the solver does: the old state's buffers serve the next step.
        trainer.recycle(std::mem::replace(&mut state, next));
    }
    let total: f64 = by_op.values().map(|(t, _)| t).sum();
    println!(
        "{steps} steps on {kernels:?}: {:.1} ms/step ({:.1} ms/step in the nodes)",
        1000.0 * started.elapsed().as_secs_f64() / f64::from(steps),
        1000.0 * total / f64::from(steps)
    );
    let mut rows: Vec<_> = by_op.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    for (kind, (time, count)) in rows {
        println!(
            "{:>6.1}%  {:>8.2} ms/step  {:>4} nodes/step  {kind}",
            100.0 * time / total,
            1000.0 * time / f64::from(steps),
            count / steps as usize
        );
    }
    Ok(())
}
