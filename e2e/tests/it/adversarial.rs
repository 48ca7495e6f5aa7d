//! Every adversarial mode loses: a cheating solver is slashed and the
//! submitter gets the escrow back; a challenger of an honest result loses its
//! bond.

use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, SUBMITTER, VERIFIER};

use crate::common::{eth, settle, small_spec};

/// Runs the small job with a solver started with `--fault fault` and an honest
/// full-replay watchtower; checks who got what.
async fn cheater_is_slashed(fault: &str, verifier_flags: &[&str]) -> serde_json::Value {
    cheater_is_slashed_sampling(fault, verifier_flags, None).await
}

/// [`cheater_is_slashed`] with the watchtower's sample pinned: with
/// `Some((rate, intervals))`, its secret is chosen so that at `rate` it
/// samples exactly `intervals` of the small job (the secret is random
/// otherwise, and so is the sample).
async fn cheater_is_slashed_sampling(
    fault: &str,
    verifier_flags: &[&str],
    pinned: Option<(f64, &[u32])>,
) -> serde_json::Value {
    let net = Net::start().await;
    let solver = net.solver(&["--fault", fault]);
    let spec = small_spec(&net);
    if let Some((rate, intervals)) = pinned {
        crate::common::pin_sample(&net, &spec, rate, intervals);
    }
    let verifier = net.verifier(verifier_flags);
    let job = net.post(&spec, "1h");
    // These two lose on time: the wrong shuffle cannot prove its gather
    // against the dataset root, the other never moves.
    // So do the root-only lies: the chain rebuilds each state root from the
    // revealed tensors with the job's own cursor and key, so no reveal of the
    // liar's matches the root it committed.
    let stalls = [
        "wrong-shuffle",
        "stop-answering",
        "wrong-cursor",
        "wrong-rng-key",
    ]
    .iter()
    .any(|f| fault.starts_with(f));
    let outcome = crate::common::settle_with(&net, job, Duration::from_secs(180), stalls).await;
    assert_eq!(
        outcome,
        status::SLASHED,
        "fault {fault}\nsolver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    // The watchtower: its bond back and half the solver's (the rest is burned).
    net.wait_withdrawn(
        net.address(VERIFIER),
        eth(1) + eth(5) / alloy::primitives::U256::from(2),
    )
    .await;
    // The submitter: the whole escrow, withdrawn with the CLI.
    assert_eq!(net.credits(net.address(SUBMITTER)).await, eth(10));
    let out = net.cli(&["job", "withdraw", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(net.withdrawn(net.address(SUBMITTER)).await, eth(10));
    assert_eq!(net.withdrawn(net.address(SOLVER)).await, eth(0));
    // `watch` on a slashed job says so, with its own exit code.
    let out = net.cli(&["job", "watch", &job.to_string()]);
    assert_eq!(out.status.code(), Some(8));
    let game = net.market().game_record(1).await.expect("game");
    assert!(!game.clock.solverWon);
    // A liar that can still move is refuted by the ALU (one fp32 operation);
    // one that cannot loses on time.
    let expected = if stalls {
        REASON_TIMEOUT
    } else {
        REASON_STEP_REFUTED
    };
    assert_eq!(game.clock.reason, expected, "fault {fault}");
    crate::common::verdict(&net, job, Duration::from_secs(1)).await
}

/// `DisputeGame.Reason.StepRefuted` and `Timeout`.
const REASON_STEP_REFUTED: u8 = 1;
const REASON_TIMEOUT: u8 = 2;

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_ulp_is_slashed() {
    cheater_is_slashed("flip-ulp@13", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_learning_rate_is_slashed() {
    cheater_is_slashed("wrong-lr", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_step_is_slashed() {
    cheater_is_slashed("skip-step@13", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_shuffle_is_slashed() {
    cheater_is_slashed("wrong-shuffle", &[]).await;
}

/// The optimizer moments alone are wrong: refuted at the moment update.
#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_optimizer_moment_is_slashed() {
    cheater_is_slashed("flip-moment@13", &[]).await;
}

/// One intermediate is wrong and the step is computed on from it.
#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_intermediate_is_slashed() {
    cheater_is_slashed("flip-intermediate@13", &[]).await;
}

/// The tensors are right but the state roots commit the wrong data cursor,
/// or the wrong shuffle key: the liar cannot reveal a step that hashes to
/// its root, and loses on time.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_data_cursor_or_rng_key_is_slashed() {
    cheater_is_slashed("wrong-cursor@13", &[]).await;
    cheater_is_slashed("wrong-rng-key@13", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_withheld_checkpoint_is_slashed() {
    // A sampling watchtower, which asks for checkpoints: the last interval is
    // always in its sample, its start is withheld, so it rebuilds it from the
    // nearest state it has, and meets the lie on the way.
    // Its sample is pinned to the last interval alone: a sample that also
    // held interval 1 would meet the lie there first, before asking for a
    // withheld checkpoint (the secret is random otherwise).
    let verdict = cheater_is_slashed_sampling(
        "withhold@13",
        &["--sample-rate", "0.25"],
        Some((0.25, &[3])),
    )
    .await;
    assert!(
        !verdict["withheld"].as_array().expect("list").is_empty(),
        "{verdict}"
    );
    assert_eq!(verdict["dispute"], 2, "{verdict}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_solver_that_stops_answering_is_slashed_on_time() {
    cheater_is_slashed("stop-answering@13", &[]).await;
}

/// A watchtower that disputes an honest result loses its bond; the job is
/// finalized and the solver paid, plus the challenger's forfeit.
#[tokio::test(flavor = "multi_thread")]
async fn a_malicious_challenger_loses_its_bond() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&["--dispute-honest-at", "13"]);
    let job = net.post(&small_spec(&net), "1h");
    let outcome = settle(&net, job, Duration::from_secs(180)).await;
    assert_eq!(outcome, status::FINALIZED, "verifier:\n{}", verifier.log());
    let games = net.market().game().gameCount().call().await.expect("games");
    assert_eq!(
        games,
        alloy::primitives::U256::from(1),
        "the challenger did dispute"
    );
    let game = net.market().game_record(1).await.expect("game");
    assert!(game.clock.solverWon);
    net.wait_withdrawn(
        net.address(SOLVER),
        eth(15) + eth(1) / alloy::primitives::U256::from(2),
    )
    .await;
    assert_eq!(net.withdrawn(net.address(VERIFIER)).await, eth(0));
    drop(solver);
}
