//! A corrupt file in an honest agent's own store costs it a replay, never the
//! game: the store quarantines the file (it counts as missing) and the agent
//! rebuilds what it needs from an earlier checkpoint, or S_0.

use std::path::Path;
use std::time::Duration;

use alloy::primitives::U256;
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SUBMITTER, VERIFIER};

use crate::common::{
    assert_the_honest_solver_won, corrupt_every_file, eth, settle, small_spec,
    submitted_then_store_corrupted,
};

/// Files under `store`'s quarantine folder.
fn quarantined(store: &Path) -> usize {
    let dir = store.join("quarantine").join("states");
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// Every checkpoint in the honest solver's store is corrupted, then a deluded
/// challenger disputes its result: the solver quarantines the files, replays
/// from S_0, wins the game and is paid.
#[tokio::test(flavor = "multi_thread")]
async fn an_honest_solver_whose_store_is_corrupt_still_wins_its_game() {
    let net = Net::start().await;
    let (mut solver, job) = submitted_then_store_corrupted(&net).await;
    let store = net.path("solver-store");
    let challenger = net.verifier(&["--dispute-honest-at", "13"]);
    solver.restart();
    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    assert_the_honest_solver_won(&net, outcome, &solver, &challenger).await;
    assert!(quarantined(&store) >= 1, "the bad files are kept aside");
    assert!(solver.log().contains("quarantined"), "{}", solver.log());
}

/// The only watchtower challenged a cheater; then it is killed, every state
/// in its store is corrupted, and it is restarted: it sets the bad start of
/// its disputed interval aside, replays from S_0 and still wins.
#[tokio::test(flavor = "multi_thread")]
async fn a_watchtower_whose_store_is_corrupt_still_wins_its_game() {
    let net = Net::start().await;
    let _solver = net.solver(&["--fault", "flip-ulp@13"]);
    let mut verifier = net.verifier(&[]);
    let job = net.post(&small_spec(&net), "1h");
    crate::common::wait_for_a_game(&net).await;
    verifier.kill9();
    let store = net.path("verifier-store");
    assert!(corrupt_every_file(&store.join("states")) >= 1);
    verifier.restart();
    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    assert_eq!(outcome, status::SLASHED, "watchtower:\n{}", verifier.log());
    net.wait_withdrawn(net.address(VERIFIER), eth(1) + eth(5) / U256::from(2))
        .await;
    assert_eq!(net.credits(net.address(SUBMITTER)).await, eth(10));
    assert!(quarantined(&store) >= 1, "the bad state is kept aside");
    let log = verifier.log();
    assert!(log.contains("quarantined"), "{log}");
    // A failure is logged when it starts, not at every poll.
    let repeated = log.matches("retrying every tick").count();
    assert!(repeated <= 5, "{repeated} failure lines:\n{log}");
}
