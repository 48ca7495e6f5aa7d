//! kill -9 at any moment, then restart: the same outcome and the same money.

use std::time::{Duration, Instant};

use vtrain_dispute::market::status;
use vtrain_e2e::{Agent, Net, SOLVER, SUBMITTER, VERIFIER};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

use crate::common::{eth, settle, small_spec};

/// Kills `agent` with SIGKILL after `period` and restarts it at once, again
/// and again until `done` resolves, each life 100 ms longer than the last (so
/// that even a slow, loaded machine makes progress); returns how many times it
/// was killed.
async fn chaos<F: std::future::Future<Output = u8>>(
    agent: &std::sync::Mutex<Agent>,
    period: Duration,
    done: F,
) -> (u8, usize) {
    tokio::pin!(done);
    let mut kills = 0;
    let mut life = period;
    loop {
        tokio::select! {
            outcome = &mut done => return (outcome, kills),
            () = tokio::time::sleep(life) => {
                let mut agent = agent.lock().expect("agent");
                agent.kill9();
                agent.restart();
                kills += 1;
                life += Duration::from_millis(100);
            }
        }
    }
}

/// The trace root an uninterrupted honest run of `spec` commits to.
fn honest_trace_root(spec: &std::path::Path) -> String {
    let spec = JobSpec::from_toml(&std::fs::read_to_string(spec).expect("spec")).expect("valid");
    let trainer = Trainer::new(
        spec,
        Dataset::digits().expect("digits"),
        Kernels::new(Level::detect(), 1).expect("kernels"),
    )
    .expect("trainer");
    trainer
        .train(|_, _, _| Ok(()))
        .expect("trains")
        .trace_root
        .to_hex()
}

/// The solver is killed every 250 ms, through claiming, training (a long
/// digits job), submitting and finalizing: it commits the same trace as an
/// uninterrupted run and is paid exactly as much.
#[tokio::test(flavor = "multi_thread")]
async fn a_solver_killed_again_and_again_commits_the_same_result_and_is_paid() {
    let net = Net::start().await;
    let solver = std::sync::Mutex::new(net.solver(&[]));
    let _verifier = net.verifier(&[]);
    let spec = net.write_spec("long.toml", Some((4_000, 400, 128)));
    let expected = honest_trace_root(&spec);
    let job = net.post(&spec, "1h");
    let (outcome, kills) = chaos(
        &solver,
        Duration::from_millis(250),
        settle(&net, job, Duration::from_secs(300)),
    )
    .await;
    assert_eq!(
        outcome,
        status::FINALIZED,
        "solver:\n{}",
        solver.lock().map(|s| s.log()).unwrap_or_default()
    );
    eprintln!("solver killed {kills} times");
    assert!(kills >= 3, "the solver was killed mid-run ({kills} times)");
    let committed = net.market().job(job).await.expect("job").traceRoot;
    assert_eq!(committed.to_string(), expected);
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;
    let log = solver.lock().map(|s| s.log()).unwrap_or_default();
    assert!(log.matches("solver up").count() > 1);
}

/// The watchtower is killed every 300 ms while it verifies and plays a dispute
/// against a cheating solver: it still wins, exactly as an uninterrupted one.
#[tokio::test(flavor = "multi_thread")]
async fn a_watchtower_killed_mid_dispute_still_wins() {
    let net = Net::start().await;
    let _solver = net.solver(&["--fault", "flip-ulp@13"]);
    let verifier = std::sync::Mutex::new(net.verifier(&[]));
    let job = net.post(&small_spec(&net), "1h");
    let (outcome, kills) = chaos(
        &verifier,
        Duration::from_millis(300),
        settle(&net, job, Duration::from_secs(240)),
    )
    .await;
    assert_eq!(outcome, status::SLASHED);
    eprintln!("watchtower killed {kills} times");
    assert!(kills >= 3, "killed mid-run ({kills} times)");
    net.wait_withdrawn(
        net.address(VERIFIER),
        eth(1) + eth(5) / alloy::primitives::U256::from(2),
    )
    .await;
    assert_eq!(net.credits(net.address(SUBMITTER)).await, eth(10));
}

/// A cheating solver killed mid-dispute and restarted goes on defending its
/// (wrong) result from its store, and loses just the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_solver_killed_mid_dispute_resumes_and_the_outcome_is_unchanged() {
    let net = Net::start().await;
    let solver = std::sync::Mutex::new(net.solver(&["--fault", "flip-ulp@13"]));
    let _verifier = net.verifier(&[]);
    let job = net.post(&small_spec(&net), "1h");
    let start = Instant::now();
    let (outcome, kills) = chaos(
        &solver,
        Duration::from_millis(300),
        settle(&net, job, Duration::from_secs(240)),
    )
    .await;
    assert_eq!(outcome, status::SLASHED);
    eprintln!("solver killed {kills} times in {:?}", start.elapsed());
    assert!(kills >= 3, "killed mid-run ({kills} times)");
    let game = net.market().game_record(1).await.expect("game");
    assert!(!game.clock.solverWon);
    assert_eq!(net.credits(net.address(SUBMITTER)).await, eth(10));
}

/// SIGTERM in the middle of a long training run: the solver stops at its next
/// step and exits at once (its checkpoints are stored; a restart resumes),
/// instead of training on first (3.6–3.9 s measured without the stop flag,
/// 4 ms with it).
#[tokio::test(flavor = "multi_thread")]
async fn a_solver_told_to_stop_mid_training_exits_promptly() {
    let net = Net::start().await;
    let mut solver = net.solver(&[]);
    // Minutes of training at one thread.
    let spec = net.write_spec("long.toml", Some((200_000, 10_000, 512)));
    let job = net.post(&spec, "1h");
    net.wait_status(job, status::CLAIMED, Duration::from_secs(60))
        .await;
    vtrain_e2e::wait_until(Duration::from_secs(60), "a checkpoint", || async {
        solver.log().contains("checkpoint stored").then_some(())
    })
    .await;
    let took = solver.terminate();
    eprintln!("the solver exited {took:?} after SIGTERM");
    assert!(
        took < Duration::from_secs(2),
        "it stopped training to exit ({took:?})\n{}",
        solver.log()
    );
    assert_eq!(net.status(job).await, status::CLAIMED, "nothing submitted");
}

/// SIGTERM while the watchtower replays a long interval: it exits at once
/// (the runtime does not wait for the replay, which a restart redoes from its
/// verdict-less state) instead of when the replay would have ended: 260 ms
/// measured with ~9 s of replay left, which it used to wait out.
#[tokio::test(flavor = "multi_thread")]
async fn a_watchtower_told_to_stop_mid_replay_exits_promptly() {
    let net = Net::start().await;
    let _solver = net.solver(&[]);
    // One interval of many seconds at one thread, for both agents.
    let spec = net.write_spec("long.toml", Some((12_000, 12_000, 512)));
    let job = net.post(&spec, "1h");
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(300))
        .await;
    let mut verifier = net.verifier(&[]);
    vtrain_e2e::wait_until(Duration::from_secs(60), "a replay", || async {
        verifier.log().contains("verifying").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let took = verifier.terminate();
    eprintln!("the watchtower exited {took:?} after SIGTERM");
    let log = verifier.log();
    assert!(
        !log.contains("result agrees with the replay"),
        "the replay was not under way when it was told to stop:\n{log}"
    );
    assert!(
        took < Duration::from_secs(2),
        "it finished its replay before exiting ({took:?})\n{log}"
    );
}
