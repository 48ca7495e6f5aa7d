//! Trains a job and writes what an independent framework needs to replay it:
//! the spec, the initial parameters (as f32 bit patterns), every step's batch
//! rows, the gradients of step 0, the per-step losses, and the held-out
//! accuracy. `scripts/torch_compare.py` reads it, checks the step-0
//! gradients in float64 and trains the same model in PyTorch.
//!
//! `cargo run --release -p vtrain-proof-of-learning --example export_run -- examples/digits-mlp.toml out.json`

use std::fmt::Write as _;
use vtrain_proof_of_learning::repops::Op;
use vtrain_proof_of_learning::train::TensorRef;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Trainer};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(spec_path), Some(out_path)) = (args.next(), args.next()) else {
        return Err("usage: export_run <spec.toml> <out.json>".into());
    };
    let spec = JobSpec::from_toml(&std::fs::read_to_string(&spec_path)?)?;
    let trainer = Trainer::new(spec.clone(), Dataset::digits()?, Kernels::detect()?)?;
    let initial = trainer.initial_state();
    let outcome = trainer.train(|_, _, _| Ok(()))?;
    let test = trainer.evaluate(&outcome.final_state, &trainer.order().test_rows());

    let shapes: Vec<String> = trainer
        .param_shapes()
        .iter()
        .map(|s| format!("{s:?}"))
        .collect();
    let params: Vec<String> = initial.params.iter().map(|p| bits_list(p)).collect();
    let batches: Vec<String> = (0..spec.steps)
        .map(|t| format!("{:?}", trainer.order().batch_rows(u64::from(t))))
        .collect();
    let losses: Vec<u32> = outcome.losses.iter().map(|l| l.to_bits()).collect();

    // The gradient of each parameter at step 0: the optimizer reads it at
    // input slot 2 of its first node for that parameter.
    let graph = trainer.graph(0);
    let outputs = trainer.execute(&graph, &initial);
    let grads: Vec<String> = (0..initial.params.len())
        .map(|p| {
            let node = &graph.nodes[graph.new_moments[p]];
            match (&node.op, node.inputs[2]) {
                (Op::SgdVelocity { .. } | Op::AdamFirstMoment(_), TensorRef::Node(grad)) => {
                    Ok(bits_list(&outputs[grad]))
                }
                _ => Err(format!("parameter {p}: no gradient input")),
            }
        })
        .collect::<Result<_, _>>()?;

    let json = format!(
        "{{\"spec\":{:?},\"shapes\":[{}],\"params\":[{}],\"grads\":[{}],\"batches\":[{}],\"losses\":{:?},\"test_rows\":{:?},\"test_accuracy\":{},\"trace_root\":\"{}\"}}\n",
        spec.to_toml(),
        shapes.join(","),
        params.join(","),
        grads.join(","),
        batches.join(","),
        losses,
        trainer.order().test_rows(),
        test.accuracy,
        outcome.trace_root
    );
    std::fs::write(&out_path, json)?;
    eprintln!(
        "wrote {out_path}: {} steps, held-out accuracy {:.4}",
        spec.steps, test.accuracy
    );
    Ok(())
}
