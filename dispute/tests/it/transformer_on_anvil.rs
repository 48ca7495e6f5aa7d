//! The transformer's ops disputed on anvil: a solver that lies about one
//! element of one intermediate of each op kind of a GPT step (embedding and its
//! gradients, each stage of causal self-attention forward and backward, the
//! residual add, the next-token gathers and loss, layer norm, GELU, clipping)
//! is refuted by one fp32 operation executed on chain, within the one-step
//! proof's gas budget.

use std::path::Path;
use std::sync::Arc;

use vtrain_dispute::game::{Lie, Tamper};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

use crate::l4_on_anvil::{
    REASON_STEP_REFUTED, dispute_on, intermediates_are_refuted, op_name, shrunk_spec,
};

/// `examples/shakespeare-gpt.toml` shrunk (4 steps, checkpoints every 2, batch
/// `batch`), its model replaced by `model` if given, on `window`-token rows of
/// the bundled corpus.
fn gpt_trainer(batch: u32, model: Option<&str>, window: usize) -> Arc<Trainer> {
    let mut spec: JobSpec = shrunk_spec(
        include_str!("../../../examples/shakespeare-gpt.toml"),
        batch,
        model,
    );
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/shakespeare.txt.gz"
    ));
    let dataset = Dataset::from_text_file(corpus, window).unwrap();
    spec.dataset.root = dataset.root().to_hex();
    spec.dataset.samples = dataset.samples as u32;
    spec.dataset.features = window as u32;
    let kernels = Kernels::new(Level::detect(), 1).unwrap();
    Arc::new(Trainer::new(spec, dataset, kernels).unwrap())
}

/// The small GPT (`examples/models/small-gpt.toml`, a head over the 128
/// bytes) on 9-token rows, batch 4.
fn small_gpt_trainer() -> Arc<Trainer> {
    let model = include_str!("../../../examples/models/small-gpt.toml").replace(
        r#"{ kind = "linear", out = 32 }"#,
        r#"{ kind = "linear", out = 128 }"#,
    );
    gpt_trainer(4, Some(&model), 9)
}

/// One lie per op kind of step 1: the first intermediate of each kind (both
/// gathers, x and the next-token targets, and the embedding's position
/// gradient, a bias gradient over `[B, T·D]`), at its last element (a score's
/// is on the diagonal, never masked; a softmax statistic's is the longest sum).
fn one_lie_per_op_kind(trainer: &Trainer) -> Vec<(usize, usize)> {
    let graph = trainer.graph(1);
    let mut seen = std::collections::BTreeSet::new();
    (0..graph.nodes.len())
        .filter(|i| !graph.new_params.contains(i) && !graph.new_moments.contains(i))
        .filter(|&i| {
            let node = &graph.nodes[i];
            let kind = match op_name(&node.op).as_str() {
                "Gather" | "BiasGrad" => format!("{} {}", op_name(&node.op), node.name),
                other => other.to_owned(),
            };
            seen.insert(kind)
        })
        .map(|i| (i, graph.nodes[i].len() - 1))
        .collect()
}

/// Every op kind of the small GPT, refuted on chain down to one fp32 operation.
#[tokio::test]
async fn every_transformer_op_is_refuted_on_chain() {
    let trainer = small_gpt_trainer();
    let lies = one_lie_per_op_kind(&trainer);
    let kinds: Vec<String> = lies
        .iter()
        .map(|&(i, _)| op_name(&trainer.graph(1).nodes[i].op))
        .collect();
    for kind in [
        "Embed",
        "EmbedGrad",
        "AttnScores",
        "AttnSoftmaxStats",
        "AttnSoftmax",
        "AttnContext",
        "AttnProbsGrad",
        "AttnValueGrad",
        "AttnSoftmaxDot",
        "AttnSoftmaxGrad",
        "AttnQueryGrad",
        "AttnKeyGrad",
        "Add",
        "LayerNormStats",
        "LayerNormInputGrad",
        "Gelu",
        "GeluGrad",
        "GradSquareSum",
        "ClipScale",
        "ClipGrad",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} is not lied about: {kinds:?}"
        );
    }
    intermediates_are_refuted(trainer, lies).await;
}

/// The reference GPT, `examples/shakespeare-gpt.toml`, at its own size (batch
/// 16, 64 positions, width 64, 128 classes; 4 steps): one lie per op kind, and
/// one in an attention weight's AdamW update, each refuted within the one-step
/// proof's budget. Prints the moves and gas of the games.
#[tokio::test]
async fn every_reference_gpt_op_is_refuted_on_chain() {
    let trainer = gpt_trainer(16, None, 65);
    let lies = one_lie_per_op_kind(&trainer);
    let (worst, moves, gas) = intermediates_are_refuted(trainer.clone(), lies).await;
    eprintln!("reference GPT: the longest game {moves} moves, the dearest {gas} gas in all");
    // W_q of the first attention layer: parameter 4 (after the embedding's two
    // tables and the first layer norm's γ and β).
    let lie = Tamper {
        step: 1,
        lie: Lie::Weight {
            param: 4,
            element: 4095,
        },
    };
    let outcome = dispute_on(trainer, Some(lie), None).await;
    eprintln!(
        "W_q' (AdamW): refuted at micro-step {} of {}, proveStep {} gas, {} moves, {} gas in all",
        outcome.micro_step, outcome.program_length, outcome.prove_gas, outcome.moves, outcome.gas
    );
    assert!(!outcome.solver_won);
    assert_eq!(outcome.reason, REASON_STEP_REFUTED);
    assert!(outcome.prove_gas.max(worst) <= 200_000);
}
