//! Trains a job locally and reports what it reached: the held-out loss and
//! accuracy, the trace root, the time per step and, for a language model,
//! text sampled from it.
//!
//! `cargo run --release -p vtrain-proof-of-learning --example train_job -- examples/shakespeare-gpt.toml examples/data/shakespeare.txt.gz`
//!
//! The data is a text file for a `text` dataset, `bundled:digits`, or a CSV
//! or safetensors file.

use std::path::Path;
use std::time::Instant;
use vtrain_proof_of_learning::spec::DatasetFormat;
use vtrain_proof_of_learning::train::generate;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(spec_path), Some(data)) = (args.next(), args.next()) else {
        return Err("usage: train_job <spec.toml> <data>".into());
    };
    let spec = JobSpec::from_toml(&std::fs::read_to_string(&spec_path)?)?;
    let path = Path::new(&data);
    let dataset = if data == "bundled:digits" {
        Dataset::digits()?
    } else if spec.dataset.format == DatasetFormat::Text {
        Dataset::from_text_file(path, spec.dataset.features as usize)?
    } else if data.ends_with(".safetensors") {
        Dataset::from_safetensors_file(path)?
    } else {
        Dataset::from_csv_file(path, 1.0)?
    };
    println!(
        "data: {} samples × {} features, root {}",
        dataset.samples,
        dataset.features,
        dataset.root()
    );
    let kernels = Kernels::detect()?;
    let trainer = Trainer::new(spec.clone(), dataset, kernels.clone())?;
    println!(
        "{} parameters, {} steps of {} on {kernels:?}",
        spec.param_count(),
        spec.steps,
        spec.batch_size
    );
    let started = Instant::now();
    let outcome = trainer.train(|step, _, _| {
        println!(
            "  checkpoint at step {step} after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let test = trainer.evaluate(&outcome.final_state, &trainer.order().test_rows());
    let window = |from: usize| {
        let part = &outcome.losses[from.min(outcome.losses.len())..];
        part.iter().map(|&l| f64::from(l)).sum::<f64>() / part.len().max(1) as f64
    };
    println!(
        "trained in {seconds:.1} s ({:.1} ms/step); mean training loss of the last 100 steps {:.4}",
        1000.0 * seconds / f64::from(spec.steps),
        window(outcome.losses.len().saturating_sub(100))
    );
    println!(
        "held-out: loss {:.4}, accuracy {:.2}% ({} samples); trace root {}",
        test.loss,
        100.0 * test.accuracy,
        spec.dataset.holdout,
        outcome.trace_root
    );
    if spec.dataset.format == DatasetFormat::Text {
        let prompt: Vec<u32> = b"ROMEO:\n".iter().map(|&b| u32::from(b)).collect();
        let tokens = generate(
            &spec,
            &outcome.final_state.params,
            &kernels,
            &prompt,
            400,
            1,
        )?;
        let bytes: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
        println!(
            "--- sampled (seed 1) ---\nROMEO:\n{}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}
