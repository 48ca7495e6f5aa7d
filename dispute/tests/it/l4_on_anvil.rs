//! A dispute driven down to one fp32 micro-step on anvil, decided by the
//! on-chain ALU: a solver that flipped one ulp of one weight loses, and an
//! honest solver against a challenger who believes such a flip wins.

use std::sync::Arc;

use alloy::network::EthereumWallet;
use alloy::primitives::{B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use vtrain_deploy::{Devnet, DevnetConfig, MarketConfig, deploy_contracts};
use vtrain_dispute::bindings::JobMarket;
use vtrain_dispute::game::{GameClient, Lie, Move, Party, Tamper, Trajectory, solver_moves};
use vtrain_proof_of_learning::repops::LrSchedule;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

/// Sends a contract call and waits until it is mined.
macro_rules! mined {
    ($call:expr) => {
        $call.send().await.unwrap().get_receipt().await.unwrap()
    };
}

/// The digits job, shrunk: 4 steps, checkpoints every 2, batch 16, one hidden
/// layer of 8.
fn small_trainer() -> Arc<Trainer> {
    let text = include_str!("../../../examples/digits-mlp.toml");
    let mut spec = JobSpec::from_toml(text).unwrap();
    spec.steps = 4;
    spec.checkpoint_interval = 2;
    spec.batch_size = 16;
    spec.model = vtrain_proof_of_learning::spec::ModelSpec::Mlp {
        hidden: vec![8],
        activation: Default::default(),
    };
    trainer_for(spec)
}

pub(crate) struct Outcome {
    pub(crate) solver_won: bool,
    pub(crate) reason: u8,
    pub(crate) moves: usize,
    pub(crate) gas: u64,
    pub(crate) micro_step: u32,
    pub(crate) program_length: u32,
    pub(crate) prove_gas: u64,
}

/// A one-thread trainer of `spec` on the bundled digits.
pub(crate) fn trainer_for(spec: JobSpec) -> Arc<Trainer> {
    let kernels = Kernels::new(Level::detect(), 1).unwrap();
    Arc::new(Trainer::new(spec, Dataset::digits().unwrap(), kernels).unwrap())
}

/// A small convolutional job with every image op: padding, stride 2, max and
/// average pooling, dropout and a flatten; 4 steps, checkpoints every 2, batch 8.
fn small_cnn_trainer() -> Arc<Trainer> {
    shrunk(
        include_str!("../../../examples/digits-cnn.toml"),
        8,
        Some(
            r#"kind = "graph"
input = [1, 8, 8]
layers = [
  { kind = "conv2d", out_channels = 2, kernel = 3, padding = 1 },
  { kind = "relu" },
  { kind = "maxpool2d", kernel = 2 },
  { kind = "conv2d", out_channels = 3, kernel = 3, stride = 2, padding = 1 },
  { kind = "relu" },
  { kind = "avgpool2d", kernel = 2 },
  { kind = "dropout", p = 0.25 },
  { kind = "flatten" },
  { kind = "linear", out = 10 },
]"#,
        ),
    )
}

/// A small job with every layer-norm and GELU op
/// (`examples/models/small-norm.toml`) with `examples/digits-ln-gelu.toml`'s
/// AdamW; 4 steps, checkpoints every 2, batch 8.
fn small_norm_trainer() -> Arc<Trainer> {
    shrunk(
        include_str!("../../../examples/digits-ln-gelu.toml"),
        8,
        Some(include_str!("../../../examples/models/small-norm.toml")),
    )
}

/// The job of `example` (TOML) shrunk to 4 steps with checkpoints every 2 (and
/// a warm-up of at most 1 step), at `batch`, with its model replaced by
/// `model` (a `[model]` table) if given.
fn shrunk(example: &str, batch: u32, model: Option<&str>) -> Arc<Trainer> {
    trainer_for(shrunk_spec(example, batch, model))
}

/// The spec of [`shrunk`].
pub(crate) fn shrunk_spec(example: &str, batch: u32, model: Option<&str>) -> JobSpec {
    let mut spec = JobSpec::from_toml(example).unwrap();
    spec.steps = 4;
    spec.checkpoint_interval = 2;
    spec.batch_size = batch;
    // A warm-up must end before the last step: keep one step of it.
    if let LrSchedule::LinearWarmupDecay { warmup_steps }
    | LrSchedule::LinearWarmupCosine { warmup_steps } = &mut spec.schedule
    {
        *warmup_steps = (*warmup_steps).min(1);
    }
    if let Some(model) = model {
        spec.model = vtrain_proof_of_learning::spec::ModelSpec::from_toml(model).unwrap();
    }
    spec
}

/// Posts the job, lets the solver (believing `solver_tamper`) submit, lets the
/// challenger (believing `challenger_tamper`) open a game, and plays it out.
async fn dispute(solver_tamper: Option<Tamper>, challenger_tamper: Option<Tamper>) -> Outcome {
    dispute_on(small_trainer(), solver_tamper, challenger_tamper).await
}

/// [`dispute`] on `trainer`'s job.
pub(crate) async fn dispute_on(
    trainer: Arc<Trainer>,
    solver_tamper: Option<Tamper>,
    challenger_tamper: Option<Tamper>,
) -> Outcome {
    let devnet = Devnet::spawn(&DevnetConfig::default()).expect("anvil (run scripts/setup.sh)");
    let connect = |i: usize| {
        let signer = devnet.signer(i).unwrap();
        let address = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(devnet.endpoint_url());
        // anvil mines each transaction at once: poll for its receipt every
        // 10 ms rather than alloy's local default of 250 ms.
        provider
            .client()
            .set_poll_interval(std::time::Duration::from_millis(10));
        (address, provider)
    };
    let (deployer, deployer_p) = connect(0);
    let (_, submitter_p) = connect(1);
    let (_, solver_p) = connect(2);
    let (_, challenger_p) = connect(3);
    let deployment = deploy_contracts(&deployer_p, deployer, &MarketConfig::default())
        .await
        .unwrap();
    let market_address = deployment.address("JobMarket").unwrap();
    let game_address = deployment.address("DisputeGame").unwrap();

    let spec = trainer.spec().canonical_bytes();
    let now = deployer_p
        .get_block(alloy::eips::BlockNumberOrTag::Latest.into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let reward = U256::from(10u64.pow(18));
    let bond = U256::from(5 * 10u64.pow(17));

    let market = JobMarket::new(market_address, &submitter_p);
    mined!(
        market
            .postJob(
                spec.clone().into(),
                now + 3_600,
                now + 86_400,
                bond.to::<u128>(),
                3_600,
            )
            .value(reward)
    );
    let job_id = U256::from(1);

    // The solver trains (as it believes), claims and submits.
    let mut solver = Party::new(Trajectory::new(trainer.clone(), solver_tamper));
    let roots = solver.trajectory().checkpoint_roots();
    let final_state = solver.trajectory().state(trainer.spec().steps);
    let list_root = |shapes: &[Vec<usize>], tensors: &[Vec<f32>]| {
        let roots: Vec<_> = shapes
            .iter()
            .zip(tensors)
            .map(|(s, v)| vtrain_proof_of_learning::commit::tensor_root(s, v))
            .collect();
        vtrain_proof_of_learning::commit::tensor_list_root(&roots)
    };
    let model_root = list_root(trainer.param_shapes(), &final_state.params);
    let optimizer_root = list_root(&trainer.moment_shapes(), &final_state.moments);
    let as_b256 = |h: &vtrain_proof_of_learning::Hash32| B256::from(h.0);
    let solver_market = JobMarket::new(market_address, &solver_p);
    mined!(solver_market.claimJob(job_id).value(bond));
    mined!(solver_market.submitResult(
        job_id,
        as_b256(&vtrain_proof_of_learning::commit::trace_root(&roots)),
        roots.iter().map(as_b256).collect(),
        as_b256(&model_root),
        as_b256(&optimizer_root),
    ));

    // The challenger compares and opens at the first differing checkpoint.
    let mut challenger = Party::new(Trajectory::new(trainer.clone(), challenger_tamper));
    let opening = challenger.opening(&roots).expect("the trajectories differ");
    let challenger_market = JobMarket::new(market_address, &challenger_p);
    let challenger_bond = challenger_market.challengerBond().call().await.unwrap();
    mined!(
        challenger_market
            .challenge(
                job_id,
                opening.checkpoint,
                opening.left_root,
                opening.left_proof,
                opening.right_root,
                opening.right_proof,
            )
            .value(challenger_bond)
    );
    let game_id = U256::from(1);

    let solver_client = GameClient::new(game_address, &solver_p, spec.clone());
    let challenger_client = GameClient::new(game_address, &challenger_p, spec);
    // What the solver's agent does before its first move that passes the spec:
    // the model image, once per spec (not a move, not in the game's gas).
    let compile = solver_client.compile_model().await.unwrap();
    eprintln!("  compile (model image): {compile} gas");
    assert!(compile > 0, "a fresh chain has no image of the spec");
    assert_eq!(
        solver_client.compile_model().await.unwrap(),
        0,
        "compiled once"
    );
    let (mut moves, mut gas, mut prove_gas) = (0usize, 0u64, 0u64);
    loop {
        let g = solver_client.game(game_id).await.unwrap();
        if g.clock.phase == vtrain_dispute::game::player::phase::RESOLVED {
            // The winner collects: the payout is a transaction of its own. A
            // refutation slashes the solver once the job's window (an hour)
            // has closed, when the outcome is fixed.
            let settle = mined!(JobMarket::new(market_address, &deployer_p).settleGame(game_id));
            eprintln!("  settleGame: {} gas", settle.gas_used);
            if !g.clock.solverWon {
                let _: serde_json::Value = deployer_p
                    .raw_request("evm_increaseTime".into(), (3_601u64,))
                    .await
                    .unwrap();
                let finalize = mined!(JobMarket::new(market_address, &deployer_p).finalize(job_id));
                eprintln!("  finalize (slash): {} gas", finalize.gas_used);
            }
            let status = JobMarket::new(market_address, &deployer_p)
                .statusOf(job_id)
                .call()
                .await
                .unwrap();
            assert_eq!(
                status,
                if g.clock.solverWon { 3 } else { 5 },
                "Submitted / Slashed"
            );
            return Outcome {
                solver_won: g.clock.solverWon,
                reason: g.clock.reason,
                moves,
                gas,
                micro_step: g.target.microStep,
                prove_gas,
                program_length: g.target.programLength,
            };
        }
        let phase = g.clock.phase;
        let used = if solver_moves(g.clock.phase) {
            let mv = solver.solver_move(&g).expect("the solver has an answer");
            if let Move::ProveStep { proof } = &mv {
                // What the proof's calldata alone costs, and the floor it sets under
                // EIP-7623 (10 gas a token; a zero byte is one token, any other four).
                let bytes = alloy::sol_types::SolValue::abi_encode(proof.as_ref());
                let zeros = bytes.iter().filter(|b| **b == 0).count();
                let tokens = zeros + 4 * (bytes.len() - zeros);
                eprintln!(
                    "  proof: {} calldata bytes ({zeros} zero), {} gas as calldata, floor 21000 + {}",
                    bytes.len(),
                    4 * tokens,
                    10 * tokens
                );
            }
            solver_client.send(game_id, mv).await.unwrap()
        } else {
            let revealed = challenger_client.revealed(game_id, 0).await.unwrap();
            let mv = challenger
                .challenger_move(&g, &revealed)
                .expect("the challenger has a move");
            challenger_client.send(game_id, mv).await.unwrap()
        };
        moves += 1;
        gas += used;
        eprintln!("  move {moves:2}: phase {phase:2}, {used} gas");
        if phase == vtrain_dispute::game::player::phase::PROVE_STEP {
            prove_gas = used;
        }
        assert!(moves < 200, "the game must end");
    }
}

/// `DisputeGame.Reason.StepProved` / `StepRefuted`.
const REASON_STEP_PROVED: u8 = 0;
pub(crate) const REASON_STEP_REFUTED: u8 = 1;

const FLIP: Tamper = Tamper::weight(2, 0, 77);

#[tokio::test]
async fn a_flipped_weight_is_refuted_by_the_alu() {
    let outcome = dispute(Some(FLIP), None).await;
    eprintln!(
        "lying solver: {} moves, {} gas, decided at micro-step {} of {}",
        outcome.moves, outcome.gas, outcome.micro_step, outcome.program_length
    );
    assert!(!outcome.solver_won);
    assert!(outcome.prove_gas > 0, "decided by proveStep");
    assert_eq!(outcome.reason, REASON_STEP_REFUTED);
}

/// A lie in the optimizer moments only (the weights right): the game
/// descends into the optimizer list and the ALU refutes the moment update.
#[tokio::test]
async fn a_flipped_moment_is_refuted_by_the_alu() {
    refuted_by_the_alu(Lie::Moment {
        moment: 0,
        element: 77,
    })
    .await;
}

/// A fault inside a kernel (one element of the first layer's output), with
/// the rest of the step computed from it: refuted at that element.
#[tokio::test]
async fn a_corrupted_intermediate_is_refuted_by_the_alu() {
    refuted_by_the_alu(Lie::Intermediate {
        node: vtrain_dispute::game::tamper::FIRST_LAYER_OUTPUT,
        element: 7,
    })
    .await;
}

/// A solver telling `lie` at step 2 loses at `proveStep`.
async fn refuted_by_the_alu(lie: Lie) {
    let outcome = dispute(Some(Tamper { step: 2, lie }), None).await;
    assert!(!outcome.solver_won, "{lie:?}");
    assert!(outcome.prove_gas > 0, "decided by proveStep");
    assert_eq!(outcome.reason, REASON_STEP_REFUTED, "{lie:?}");
}

#[tokio::test]
async fn an_honest_solver_beats_a_deluded_challenger() {
    let outcome = dispute(None, Some(FLIP)).await;
    eprintln!(
        "honest solver: {} moves, {} gas",
        outcome.moves, outcome.gas
    );
    assert!(outcome.solver_won);
    assert_eq!(outcome.reason, REASON_STEP_PROVED);
}

/// A fine-tuning job (`[init] from = "model"`): the small job started from
/// other weights than the seed's, named by their model root.
fn fine_tuning_trainer() -> Arc<Trainer> {
    let seeded = small_trainer();
    let mut other = seeded.spec().clone();
    other.seed ^= 0xF1;
    let weights = trainer_for(other).initial_state().params;
    let mut spec = seeded.spec().clone();
    spec.init = vtrain_proof_of_learning::spec::InitSpec::Model {
        root: vtrain_proof_of_learning::commit::model_root(seeded.param_shapes(), &weights)
            .to_hex(),
    };
    let kernels = Kernels::new(Level::detect(), 1).unwrap();
    Arc::new(
        Trainer::with_initial_model(spec, Dataset::digits().unwrap(), Some(weights), kernels)
            .unwrap(),
    )
}

/// Fine-tuning, on anvil with the shipped agents' players: S_0's weights are
/// bound to the model root (not disputable), but its moments are; a
/// challenger who believes one moment of S_0 is not +0 disputes checkpoint 0,
/// descends into the optimizer list, and loses to the honest solver's proof
/// (the step commitment the solver proves against counts the bound weights
/// as 0, as `revealStep` stored it).
#[tokio::test]
async fn a_fine_tuning_solver_defends_its_initial_state() {
    let deluded = Tamper {
        step: 0,
        lie: Lie::InitialMoment {
            moment: 1,
            element: 3,
        },
    };
    let outcome = dispute_on(fine_tuning_trainer(), None, Some(deluded)).await;
    eprintln!(
        "fine-tuning S_0: honest solver {} moves, {} gas",
        outcome.moves, outcome.gas
    );
    assert!(outcome.solver_won);
    assert_eq!(outcome.reason, REASON_STEP_PROVED);
    assert!(outcome.prove_gas > 0, "decided by proveStep");
}

/// Fine-tuning: a solver that lies in S_0's moments is refuted on chain.
#[tokio::test]
async fn a_lie_in_a_fine_tuning_initial_state_is_refuted() {
    let lie = Tamper {
        step: 0,
        lie: Lie::InitialMoment {
            moment: 0,
            element: 5,
        },
    };
    let outcome = dispute_on(fine_tuning_trainer(), Some(lie), None).await;
    assert!(!outcome.solver_won);
    assert_eq!(outcome.reason, REASON_STEP_REFUTED);
}

/// One lie per op of the step graph (schedule, gathers, linear, relu,
/// log-softmax, cross-entropy gradient, weight, bias and input gradients, relu
/// gradient): each is refuted by the last micro-step of the lied element,
/// executed on chain. Prints the one-step resolution's gas per op.
#[tokio::test]
async fn every_op_is_refuted_on_chain() {
    every_intermediate_is_refuted(small_trainer()).await;
}

/// The same for a convolutional net: conv2d and its weight, bias and input
/// gradients, max and average pooling and their gradients, dropout and its
/// gradient, each refuted on chain down to one fp32 operation.
/// The same on the reference CNN, `examples/digits-cnn.toml` (batch 64, 4
/// steps): its largest tensors and longest programs (the first conv's weight
/// gradient sums 4,096 products), so its one-step proofs are the dearest.
#[tokio::test]
async fn every_digits_cnn_op_is_refuted_on_chain() {
    let cnn = include_str!("../../../examples/digits-cnn.toml");
    every_intermediate_is_refuted(shrunk(cnn, 64, None)).await;
}

#[tokio::test]
async fn every_cnn_op_is_refuted_on_chain() {
    every_intermediate_is_refuted(small_cnn_trainer()).await;
}

/// The same for layer norms and GELU: the row statistics, the layer norm and
/// its input, gain and shift gradients, GELU and its gradient, each refuted
/// on chain down to one fp32 operation.
#[tokio::test]
async fn every_layer_norm_and_gelu_op_is_refuted_on_chain() {
    every_intermediate_is_refuted(small_norm_trainer()).await;
}

/// The reference job `examples/digits-ln-gelu.toml` itself (batch 64, 4
/// steps): its widest layer norms (128 values a row) have the longest
/// input-gradient programs, so their one-step proofs are the dearest.
#[tokio::test]
async fn every_digits_ln_gelu_op_is_refuted_on_chain() {
    let job = include_str!("../../../examples/digits-ln-gelu.toml");
    every_intermediate_is_refuted(shrunk(job, 64, None)).await;
}

/// S_0 of a job with layer norms: a solver whose first layer norm's gain is
/// one ulp off 1 (a constant, no program) is refuted on chain, and so is one
/// whose drawn linear weight is (the 4-step init program).
#[tokio::test]
async fn a_lie_in_an_initial_layer_norm_gain_is_refuted() {
    for (param, element) in [(2, 5), (0, 9)] {
        let lie = Tamper {
            step: 0,
            lie: Lie::InitialWeight { param, element },
        };
        let outcome = dispute_on(small_norm_trainer(), Some(lie), None).await;
        eprintln!(
            "S_0 parameter {param}: refuted at micro-step {} of {}, {} moves, proveStep {} gas",
            outcome.micro_step, outcome.program_length, outcome.moves, outcome.prove_gas
        );
        assert!(!outcome.solver_won, "parameter {param}");
        assert_eq!(outcome.reason, REASON_STEP_REFUTED, "parameter {param}");
    }
}

/// The optimizer's updates on the reference jobs, which the tests above leave
/// out (they lie about intermediates): SGD's `v'` and `w'` of the digits
/// CNN's second conv weight and AdamW's `m'`, `v'` and `w'` of the ln-gelu
/// net's first weight (128 × 64), each refuted at the lied element's last
/// micro-step within the one-step proof's budget. `DensePrograms` runs these
/// programs behind a call (`docs/benchmarks.md` § The op-family contracts).
#[tokio::test]
async fn every_optimizer_update_of_the_reference_jobs_is_refuted_on_chain() {
    let cnn = shrunk(include_str!("../../../examples/digits-cnn.toml"), 64, None);
    let ln_gelu = shrunk(
        include_str!("../../../examples/digits-ln-gelu.toml"),
        64,
        None,
    );
    let moment = |moment| Lie::Moment {
        moment,
        element: 37,
    };
    let weight = |param| Lie::Weight { param, element: 37 };
    // AdamW keeps m then v: v of parameter q is moment P + q.
    let params = ln_gelu.param_shapes().len();
    let lies = [
        ("cnn v' (SGD)", &cnn, moment(2)),
        ("cnn w' (SGD)", &cnn, weight(2)),
        ("ln-gelu m' (AdamW)", &ln_gelu, moment(0)),
        ("ln-gelu v' (AdamW)", &ln_gelu, moment(params)),
        ("ln-gelu w' (AdamW)", &ln_gelu, weight(0)),
    ];
    let mut worst = 0;
    for (name, trainer, lie) in lies {
        let outcome = dispute_on(trainer.clone(), Some(Tamper { step: 1, lie }), None).await;
        eprintln!(
            "{name}: refuted at micro-step {} of {}, proveStep {} gas, {} moves",
            outcome.micro_step, outcome.program_length, outcome.prove_gas, outcome.moves
        );
        assert!(!outcome.solver_won, "{name}");
        assert_eq!(outcome.reason, REASON_STEP_REFUTED, "{name}");
        worst = worst.max(outcome.prove_gas);
    }
    eprintln!("worst one-step resolution: {worst} gas");
    assert!(worst <= PROVE_BUDGET, "a one-step proof costs {worst} gas");
}

/// A solver that lies about one element of each intermediate of step 1 in
/// turn (`VTRAIN_ONLY_NODE` picks one) loses each game at that element.
async fn every_intermediate_is_refuted(trainer: Arc<Trainer>) {
    let graph = trainer.graph(1);
    let intermediates: Vec<usize> = (0..graph.nodes.len())
        .filter(|i| !graph.new_params.contains(i) && !graph.new_moments.contains(i))
        .collect();
    let lies = intermediates
        .into_iter()
        .map(|node| (node, (graph.nodes[node].len() - 1).min(37)))
        .collect();
    intermediates_are_refuted(trainer, lies, PROVE_BUDGET).await;
}

/// The one-step proof's budget (docs/benchmarks.md § Dispute game gas): gas is
/// deterministic, so a bound on it is a property of the build, not a timing.
pub(crate) const PROVE_BUDGET: u64 = 200_000;

/// A solver that lies about element `e` of step 1's intermediate `node`, for
/// each `(node, e)` of `lies` in turn (`VTRAIN_ONLY_NODE` picks one node), loses
/// each game at that element, each one-step proof within `budget` gas.
/// Returns the worst proof's gas and the moves and gas of the longest and
/// dearest games.
pub(crate) async fn intermediates_are_refuted(
    trainer: Arc<Trainer>,
    lies: Vec<(usize, usize)>,
    budget: u64,
) -> (u64, usize, u64) {
    let graph = trainer.graph(1);
    let (mut worst, mut most_moves, mut most_gas) = (0, 0, 0);
    let only: Option<usize> = std::env::var("VTRAIN_ONLY_NODE")
        .ok()
        .and_then(|v| v.parse().ok());
    for (node, element) in lies
        .into_iter()
        .filter(|(n, _)| only.is_none_or(|o| o == *n))
    {
        let tamper = Tamper {
            step: 1,
            lie: Lie::TraceAndWeight {
                node,
                node_element: element,
                param: 1,
                element: 0,
            },
        };
        let outcome = dispute_on(trainer.clone(), Some(tamper), None).await;
        eprintln!(
            "{:>8} ({}): refuted at micro-step {} of {}, proveStep {} gas, {} moves, {} gas in all",
            graph.nodes[node].name,
            op_name(&graph.nodes[node].op),
            outcome.micro_step,
            outcome.program_length,
            outcome.prove_gas,
            outcome.moves,
            outcome.gas
        );
        assert!(!outcome.solver_won, "node {node}");
        assert_eq!(outcome.reason, REASON_STEP_REFUTED, "node {node}");
        worst = worst.max(outcome.prove_gas);
        most_moves = most_moves.max(outcome.moves);
        most_gas = most_gas.max(outcome.gas);
    }
    eprintln!("worst one-step resolution: {worst} gas");
    assert!(worst <= budget, "a one-step proof costs {worst} gas");
    (worst, most_moves, most_gas)
}

/// The op's variant name (`Conv2dWeightGrad`, …).
pub(crate) fn op_name(op: &vtrain_proof_of_learning::repops::Op) -> String {
    op.name()
}
