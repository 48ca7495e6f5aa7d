//! Who gets paid when several games run on one job (issue 11): a wave of
//! attacker games against an honest solver, and a cheating solver's sock
//! puppet racing the honest watchtower. Real daemons, real anvil; payouts are
//! measured in wei from balances, gas included.

use std::time::Duration;

use alloy::primitives::{Address, I256, U256};
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, VERIFIER, wait_until};

use crate::common::{eth, small_spec};

/// The market's defaults (`vtrain_deploy::MarketConfig::default()`).
const CHALLENGER_BOND: u64 = 1; // tenths of an ETH
const BURN_BPS: u64 = 5_000;

/// Waits until the job has `count` games and every one of them is decided;
/// returns their records.
async fn decided_games(
    net: &Net,
    job: u64,
    count: usize,
    limit: Duration,
) -> Vec<vtrain_dispute::bindings::dispute_game::DisputeGame::Game> {
    let market = net.market();
    wait_until(
        limit,
        &format!("{count} decided games on job {job}"),
        || async {
            let total = market
                .game()
                .gameCount()
                .call()
                .await
                .ok()?
                .saturating_to::<u64>();
            let mut games = Vec::new();
            for id in 1..=total {
                let g = market.game_record(id).await.ok()?;
                if g.setup.jobId == U256::from(job) {
                    games.push(g);
                }
            }
            let done = games.len() == count
                && games
                    .iter()
                    .all(|g| g.clock.phase == vtrain_dispute::game::player::phase::RESOLVED);
            done.then_some(games)
        },
    )
    .await
}

/// Lets the window pass once every game is decided, and waits for the outcome.
async fn close(net: &Net, job: u64, wanted: u8) {
    let record = net.market().job(job).await.expect("job");
    net.advance(record.challengeWindow + 1).await;
    net.wait_status(job, wanted, Duration::from_secs(60)).await;
}

fn signed(before: U256, after: U256) -> I256 {
    I256::from_raw(after).wrapping_sub(I256::from_raw(before))
}

/// Three attackers each dispute a different interval of an honest result at
/// once. The solver plays all three games at the same time (one task per
/// game), wins every one, is paid, and collects each attacker's bond net of
/// the burn; each attacker loses its bond and its gas.
#[tokio::test(flavor = "multi_thread")]
async fn three_attacker_games_at_once_are_all_won_by_the_honest_solver() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let job = net.post(&small_spec(&net), "1h");
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(120))
        .await;
    // Deluded at steps 13, 23 and 33 of 40 (k = 10): checkpoints 2, 3 and 4.
    let attackers: Vec<(Address, U256, vtrain_e2e::Agent)> = start_attackers(&net).await;
    let games = decided_games(&net, job, 3, Duration::from_secs(240)).await;
    let mut checkpoints: Vec<u32> = games.iter().map(|g| g.setup.checkpoint).collect();
    checkpoints.sort_unstable();
    assert_eq!(checkpoints, [2, 3, 4], "three intervals under dispute");
    for g in &games {
        assert!(g.clock.solverWon, "solver log:\n{}", solver.log());
    }
    close(&net, job, status::FINALIZED).await;

    // The solver: reward + bond, and 3 × (bond − burn) from the attackers.
    let per_game =
        eth(CHALLENGER_BOND) - eth(CHALLENGER_BOND) * U256::from(BURN_BPS) / U256::from(10_000);
    let solver_paid = eth(15) + U256::from(3) * per_game;
    net.wait_withdrawn(net.address(SOLVER), solver_paid).await;
    for (address, before, _agent) in attackers {
        assert_eq!(net.withdrawn(address).await, U256::ZERO);
        let lost = before - net.balance(address).await;
        assert!(lost > eth(CHALLENGER_BOND), "the bond and gas: {lost}");
        eprintln!("attacker {address}: lost {lost} wei (bond and gas)");
    }
    eprintln!(
        "{}",
        solver
            .log()
            .lines()
            .filter(|l| l.contains("moved"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "honest solver: withdrew {solver_paid} wei (reward + bond + 3 forfeited bonds net of burn)"
    );
}

/// Starts the three attackers (accounts 5, 6, 7) and records their balances.
async fn start_attackers(net: &Net) -> Vec<(Address, U256, vtrain_e2e::Agent)> {
    let mut out = Vec::new();
    for (i, step) in ["13", "23", "33"].into_iter().enumerate() {
        let index = 5 + i;
        let address = net.address(index);
        let before = net.balance(address).await;
        let agent = net.verifier_as(
            &format!("attacker{i}"),
            index,
            &["--dispute-honest-at", step],
        );
        out.push((address, before, agent));
    }
    out
}

/// A cheating solver's second account (account 4) refutes the lie at once;
/// the honest watchtower comes later and refutes it too. The refuting games
/// share the slashed bond equally, whatever settles first: the honest
/// watchtower ends with a positive net gain, gas included, and the cheater
/// with its puppet loses at least the burned half of its bond.
#[tokio::test(flavor = "multi_thread")]
async fn a_sock_puppet_cannot_take_the_honest_watchtowers_pay() {
    let net = Net::start().await;
    let solver_address = net.address(SOLVER);
    let puppet_address = net.address(4);
    let honest_address = net.address(VERIFIER);
    let (solver_start, puppet_start) = (
        net.balance(solver_address).await,
        net.balance(puppet_address).await,
    );
    let solver = net.solver(&["--fault", "flip-ulp@13"]);
    let puppet = net.verifier_as("puppet", 4, &[]);
    let job = net.post(&small_spec(&net), "1h");
    // The puppet is first: its game is open before the honest watchtower starts.
    wait_until(Duration::from_secs(120), "the puppet's game", || async {
        let n = net.market().game().gameCount().call().await.ok()?;
        (n >= U256::from(1)).then_some(())
    })
    .await;
    let honest_before = net.balance(honest_address).await;
    let honest = net.verifier(&[]);
    let games = decided_games(&net, job, 2, Duration::from_secs(240)).await;
    for g in &games {
        assert!(
            !g.clock.solverWon,
            "both refute the lie\nsolver:\n{}\nhonest:\n{}",
            solver.log(),
            honest.log()
        );
    }
    close(&net, job, status::SLASHED).await;

    // Each refuting game: its bond and half of (bond − burn).
    let bond = eth(5);
    let share = (bond - bond * U256::from(BURN_BPS) / U256::from(10_000)) / U256::from(2);
    let paid = eth(CHALLENGER_BOND) + share;
    net.wait_withdrawn(honest_address, paid).await;
    net.wait_withdrawn(puppet_address, paid).await;
    let job_record = net.market().job(job).await.expect("job");
    assert_eq!(job_record.refutations, 2);
    assert_eq!(job_record.refuterShare, share);

    let honest_gain = signed(honest_before, net.balance(honest_address).await);
    let cheater = signed(solver_start, net.balance(solver_address).await)
        + signed(puppet_start, net.balance(puppet_address).await);
    eprintln!("honest watchtower: net {honest_gain} wei, gas included");
    eprintln!("cheater with its puppet: net {cheater} wei, gas included");
    assert!(
        honest_gain > I256::ZERO,
        "the honest watchtower profits: {honest_gain}"
    );
    let burned = I256::from_raw(bond * U256::from(BURN_BPS) / U256::from(10_000));
    assert!(
        cheater < -burned,
        "the cheater loses at least the burn: {cheater}"
    );
    drop(puppet);
}
