//! Trains a job and writes what an independent framework needs to replay it:
//! the spec, the initial parameters (as f32 bit patterns), every step's batch
//! rows, the gradients of step 0, the per-step losses, and the held-out
//! accuracy. `scripts/torch_compare.py` reads it, checks the step-0
//! gradients in float64 and trains the same model in PyTorch.
//!
//! The data is the bundled digits unless the spec's dataset is `text`: then
//! the third argument names the file (`Dataset::from_text_file`), and the
//! export also holds the tokens of every batch row and of every held-out row
//! (`batch_tokens`, `test_tokens`: each row's `features` tokens as integers),
//! so the replay needs no tokenizer of its own.
//!
//! `--steps N` trains only the job's first N steps (the spec, and with it the
//! schedule's total T, is unchanged); the export then has N batches and
//! losses, the held-out accuracy of S_N and no trace root.
//!
//! The exported gradient of each parameter is the raw one of step 0 (or of
//! step S with `--grads-at S`, from S_S's parameters, exported as
//! `grads_params`): the optimizer's gradient input, or, when the job clips
//! gradients (`clip_grad_norm`), the input of the `clip_grad` node the
//! optimizer reads.
//!
//! `cargo run --release -p vtrain-proof-of-learning --example export_run -- examples/digits-mlp.toml out.json`
//! `cargo run --release -p vtrain-proof-of-learning --example export_run -- examples/shakespeare-gpt.toml out.json examples/data/shakespeare.txt.gz --steps 300`

use std::fmt::Write as _;
use std::path::PathBuf;
use vtrain_proof_of_learning::repops::Op;
use vtrain_proof_of_learning::spec::DatasetFormat;
use vtrain_proof_of_learning::train::TensorRef;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Trainer};

const USAGE: &str =
    "usage: export_run <spec.toml> <out.json> [data file] [--steps N] [--grads-at STEP]";

fn bits_list(values: &[f32]) -> String {
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}", v.to_bits());
    }
    out.push(']');
    out
}

/// The tokens of dataset rows `rows`, each row a list of integers.
fn token_rows(dataset: &Dataset, rows: &[u32]) -> String {
    let d = dataset.features;
    let mut out = String::from("[");
    for (i, &r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        let row = &dataset.x[r as usize * d..(r as usize + 1) * d];
        for (j, &token) in row.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}", token as u32);
        }
        out.push(']');
    }
    out.push(']');
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut positional = Vec::new();
    let mut steps_limit: Option<u32> = None;
    let mut grads_at: u32 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--steps" {
            let n = args.next().ok_or(USAGE)?;
            steps_limit = Some(n.parse().map_err(|_| format!("--steps {n:?}: {USAGE}"))?);
        } else if arg == "--grads-at" {
            let n = args.next().ok_or(USAGE)?;
            grads_at = n
                .parse()
                .map_err(|_| format!("--grads-at {n:?}: {USAGE}"))?;
        } else {
            positional.push(arg);
        }
    }
    let (spec_path, out_path, data_path) = match positional.as_slice() {
        [spec, out] => (spec.clone(), out.clone(), None),
        [spec, out, data] => (spec.clone(), out.clone(), Some(PathBuf::from(data))),
        _ => return Err(USAGE.into()),
    };
    let spec = JobSpec::from_toml(&std::fs::read_to_string(&spec_path)?)?;
    let text = spec.dataset.format == DatasetFormat::Text;
    let dataset = match (&data_path, text) {
        (Some(path), true) => Dataset::from_text_file(path, spec.dataset.features as usize)?,
        (None, true) => return Err(format!("a text job needs its data file: {USAGE}").into()),
        (Some(_), false) => {
            return Err(
                "only a text job reads a data file; this one trains on the bundled digits".into(),
            );
        }
        (None, false) => Dataset::digits()?,
    };
    let trainer = Trainer::new(spec.clone(), dataset, Kernels::detect()?)?;
    let initial = trainer.initial_state();
    let steps = steps_limit.map_or(spec.steps, |n| n.min(spec.steps));
    if grads_at >= steps {
        return Err(format!("--grads-at {grads_at}: the run trains steps 0..{steps}").into());
    }
    let mut grads_state = initial.clone();
    let (final_state, losses, trace_root) = if steps == spec.steps && grads_at == 0 {
        let outcome = trainer.train(|_, _, _| Ok(()))?;
        let root = format!("\"{}\"", outcome.trace_root);
        (outcome.final_state, outcome.losses, root)
    } else {
        let mut state = initial.clone();
        let mut losses = Vec::with_capacity(steps as usize);
        for t in 0..steps {
            if t == grads_at {
                grads_state = state.clone();
            }
            let outcome = trainer.step(&state)?;
            losses.push(outcome.loss);
            state = outcome.state;
            if (t + 1) % 50 == 0 {
                eprintln!("step {}: loss {:.4}", t + 1, outcome.loss);
            }
        }
        (state, losses, "null".to_string())
    };
    let test_rows = trainer.order().test_rows();
    let test = trainer.evaluate(&final_state, &test_rows);

    let shapes: Vec<String> = trainer
        .param_shapes()
        .iter()
        .map(|s| format!("{s:?}"))
        .collect();
    let params: Vec<String> = initial.params.iter().map(|p| bits_list(p)).collect();
    let batch_rows: Vec<Vec<u32>> = (0..steps)
        .map(|t| trainer.order().batch_rows(u64::from(t)))
        .collect();
    let batches: Vec<String> = batch_rows.iter().map(|rows| format!("{rows:?}")).collect();
    let losses: Vec<u32> = losses.iter().map(|l| l.to_bits()).collect();

    // The gradient of each parameter at step `grads_at` (0 unless asked):
    // the optimizer reads it at input slot 2 of its first node for that
    // parameter; with clipping, that input is a `clip_grad` node, whose slot
    // 0 is the raw gradient.
    let graph = trainer.graph(grads_at);
    let outputs = trainer.execute(&graph, &grads_state);
    let grads: Vec<String> = (0..initial.params.len())
        .map(|p| {
            let node = &graph.nodes[graph.new_moments[p]];
            let TensorRef::Node(mut grad) = node.inputs[2] else {
                return Err(format!("parameter {p}: no gradient input"));
            };
            if !matches!(node.op, Op::SgdVelocity { .. } | Op::AdamFirstMoment(_)) {
                return Err(format!("parameter {p}: no gradient input"));
            }
            if matches!(graph.nodes[grad].op, Op::ClipGrad) {
                let TensorRef::Node(raw) = graph.nodes[grad].inputs[0] else {
                    return Err(format!("parameter {p}: clip_grad reads no node"));
                };
                grad = raw;
            }
            Ok(bits_list(&outputs[grad]))
        })
        .collect::<Result<_, _>>()?;

    let tokens = if text {
        let batch_tokens: Vec<String> = batch_rows
            .iter()
            .map(|rows| token_rows(trainer.dataset(), rows))
            .collect();
        format!(
            ",\"data\":{:?},\"batch_tokens\":[{}],\"test_tokens\":{}",
            data_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            batch_tokens.join(","),
            token_rows(trainer.dataset(), &test_rows)
        )
    } else {
        String::new()
    };

    let json = format!(
        "{{\"spec\":{:?},\"shapes\":[{}],\"params\":[{}],\"grads\":[{}],\"batches\":[{}],\"losses\":{:?},\"test_rows\":{:?},\"test_accuracy\":{},\"test_loss\":{},\"trace_root\":{},\"grads_step\":{},\"grads_params\":[{}]{}}}\n",
        spec.to_toml(),
        shapes.join(","),
        params.join(","),
        grads.join(","),
        batches.join(","),
        losses,
        test_rows,
        test.accuracy,
        if test.loss.is_finite() {
            test.loss.to_string()
        } else {
            "null".into()
        },
        trace_root,
        grads_at,
        grads_state
            .params
            .iter()
            .map(|p| bits_list(p))
            .collect::<Vec<_>>()
            .join(","),
        tokens
    );
    std::fs::write(&out_path, json)?;
    eprintln!(
        "wrote {out_path}: {steps} of {} steps, held-out accuracy {:.4}, loss {:.4}",
        spec.steps, test.accuracy, test.loss
    );
    Ok(())
}
