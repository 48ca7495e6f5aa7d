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

/// `examples/shakespeare-gpt.toml` at its own size (batch 16, 64 positions,
/// width 64, 128 classes) shrunk to 4 steps with checkpoints every 2, on the
/// bundled corpus.
fn reference_gpt_trainer() -> Arc<Trainer> {
    let spec: JobSpec = shrunk_spec(
        include_str!("../../../examples/shakespeare-gpt.toml"),
        16,
        None,
    );
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/shakespeare.txt.gz"
    ));
    let dataset = Dataset::from_text_file(corpus, spec.dataset.features as usize).unwrap();
    let kernels = Kernels::new(Level::detect(), 1).unwrap();
    Arc::new(Trainer::new(spec, dataset, kernels).unwrap())
}

/// One lie per op kind of step 1: the first intermediate of each kind (both
/// gathers, x and the next-token targets, and the embedding's position
/// gradient, a bias gradient over `[B, T·D]`, apart), at its last element (a
/// score's is on the diagonal, never masked; a softmax statistic's is the
/// longest sum).
fn one_lie_per_op_kind(trainer: &Trainer) -> Vec<(usize, usize)> {
    let graph = trainer.graph(1);
    let mut seen = std::collections::BTreeSet::new();
    (0..graph.nodes.len())
        .filter(|i| !graph.new_params.contains(i) && !graph.new_moments.contains(i))
        .filter(|&i| {
            let node = &graph.nodes[i];
            let kind = match op_name(&node.op).as_str() {
                "Gather" => format!("Gather {}", node.name),
                "BiasGrad" if node.name.starts_with("dposition") => "PositionGrad".to_owned(),
                other => other.to_owned(),
            };
            seen.insert(kind)
        })
        .map(|i| (i, graph.nodes[i].len() - 1))
        .collect()
}

/// The one-step proof budget of issue 14: 200k gas for every op, as for the
/// other jobs. A transformer's proofs are the dearest (dense 1 KiB operand
/// leaves, 23 layer entries); they meet it with the spec compiled into a model
/// image, which the solver's agent makes before its first spec-passing move
/// (`GameClient::compile_model`), and micro-trace leaves of 32 values
/// (`docs/benchmarks.md` § The transformer's dispute gas).
const TRANSFORMER_PROVE_BUDGET: u64 = 200_000;

/// The reference GPT, `examples/shakespeare-gpt.toml`, at its own size (batch
/// 16, 64 positions, width 64, 128 classes; 4 steps): one lie per op kind
/// (every transformer op, layer norm, GELU, the next-token loss, clipping),
/// and one in an attention weight's AdamW update, each refuted down to one
/// fp32 operation. Prints the moves and gas of the games.
#[tokio::test]
async fn every_reference_gpt_op_is_refuted_on_chain() {
    let trainer = reference_gpt_trainer();
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
    let (worst, moves, gas) =
        intermediates_are_refuted(trainer.clone(), lies, TRANSFORMER_PROVE_BUDGET).await;
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
    assert!(outcome.prove_gas.max(worst) <= TRANSFORMER_PROVE_BUDGET);
}
