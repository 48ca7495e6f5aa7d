//! What several tests share.

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, wait_until};

/// One ETH in wei.
pub(crate) fn eth(tenths: u64) -> U256 {
    U256::from(tenths) * U256::from(100_000_000_000_000_000u64)
}

/// Waits until job `job` is finalized or slashed (returning which). Once the
/// result's window is the only thing left, chain time jumps past it.
pub(crate) async fn settle(net: &Net, job: u64, limit: Duration) -> u8 {
    settle_with(net, job, limit, false).await
}

/// As [`settle`]; with `solver_stalls`, whenever a game has waited for the
/// solver for five seconds of wall time (it cannot or will not move), chain
/// time also jumps past the solver's clock, so that its timeout can be claimed.
/// Only for solvers that are meant to stall: an honest one must never be
/// timed out by the test.
pub(crate) async fn settle_with(net: &Net, job: u64, limit: Duration, solver_stalls: bool) -> u8 {
    let market = net.market();
    let solver = net.address(SOLVER);
    let start = Instant::now();
    let mut stuck: Option<(u64, u64, Instant)> = None;
    loop {
        let record = market.job(job).await.expect("job");
        if record.status == status::FINALIZED || record.status == status::SLASHED {
            return record.status;
        }
        assert!(
            start.elapsed() < limit,
            "job {job} did not settle in {limit:?}"
        );
        let games = market.game().gameCount().call().await.expect("gameCount");
        let (mut open_game, mut any_game) = (false, false);
        for game in 1..=games.saturating_to::<u64>() {
            let g = market.game_record(game).await.expect("game");
            if g.setup.jobId != U256::from(job) {
                continue;
            }
            any_game = true;
            if g.clock.phase == 14 {
                continue;
            }
            open_game = true;
            let (mover, _) = market
                .game()
                .turn(U256::from(game))
                .call()
                .await
                .map(|t| (t.mover, t.deadline))
                .expect("turn");
            let key = (game, g.clock.lastMoveAt);
            match stuck {
                Some((gk, lm, since)) if (gk, lm) == key && mover == solver && solver_stalls => {
                    if since.elapsed() > Duration::from_secs(5) {
                        net.advance(2 * 3_600 + 60).await;
                        stuck = None;
                    }
                }
                _ => stuck = Some((key.0, key.1, Instant::now())),
            }
        }
        let verdict: Option<serde_json::Value> = std::fs::read(
            net.path("verifier-data")
                .join(format!("verdict-{job}.json")),
        )
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        // Nothing left to wait for: the watchtower agreed, or its game is over.
        let agrees = verdict.is_some_and(|v| v["dispute"].is_null() || any_game);
        if record.status == status::SUBMITTED && !open_game && agrees {
            // The watchtower has looked and found nothing (or its game is over):
            // let the window pass.
            let head = market.head().await.expect("head");
            if head.timestamp < record.submittedAt + record.challengeWindow {
                net.advance(record.challengeWindow + 1).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the watchtower has a verdict on `job`.
pub(crate) async fn verdict(net: &Net, job: u64, limit: Duration) -> serde_json::Value {
    let path = net
        .path("verifier-data")
        .join(format!("verdict-{job}.json"));
    wait_until(limit, "the watchtower's verdict", || async {
        let bytes = std::fs::read(&path).ok()?;
        serde_json::from_slice(&bytes).ok()
    })
    .await
}

/// The small digits job (40 steps, k = 10, one hidden layer of 16): trains in
/// milliseconds, disputes in a few seconds.
pub(crate) fn small_spec(net: &Net) -> std::path::PathBuf {
    net.write_spec("small.toml", Some((40, 10, 16)))
}

/// `vtrain job fetch <job> --out <dir>/<name> --json` with `extra` flags: the
/// command succeeds and the fetched model's root is the job's `modelRoot` on
/// chain; returns the command's JSON.
pub(crate) async fn fetch_model(
    net: &Net,
    job: u64,
    name: &str,
    extra: &[&str],
) -> serde_json::Value {
    let model = net.path(name);
    let (job_arg, out) = (job.to_string(), model.display().to_string());
    let mut args = vec!["job", "fetch", &job_arg, "--out", &out, "--json"];
    args.extend_from_slice(extra);
    let output = net.cli(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fetched: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let on_chain = net.market().job(job).await.expect("job").modelRoot;
    assert_eq!(
        fetched["model_root"].as_str(),
        Some(on_chain.to_string().as_str())
    );
    assert!(model.exists(), "{} was written", model.display());
    fetched
}

/// Flips one byte near the end of every file in `dir` (past a safetensors
/// header: the file still parses, its root is wrong); returns how many.
pub(crate) fn corrupt_every_file(dir: &std::path::Path) -> usize {
    let mut corrupted = 0;
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read");
        let at = bytes.len() - 3;
        bytes[at] ^= 0x40;
        std::fs::write(&path, bytes).expect("write");
        corrupted += 1;
    }
    corrupted
}

/// An honest solver trains and submits the small job, is killed, and every
/// state in its store is corrupted; returns the (stopped) solver and the job.
pub(crate) async fn submitted_then_store_corrupted(net: &Net) -> (vtrain_e2e::Agent, u64) {
    let mut solver = net.solver(&[]);
    let job = net.post(&small_spec(net), "1h");
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(60))
        .await;
    solver.kill9();
    let states = net.path("solver-store").join("states");
    assert!(corrupt_every_file(&states) >= 5);
    (solver, job)
}

/// Waits (up to two minutes) until some game has been opened.
pub(crate) async fn wait_for_a_game(net: &Net) {
    let market = net.market();
    wait_until(Duration::from_secs(120), "a challenge", || async {
        let games = market.game().gameCount().call().await.ok()?;
        (games >= U256::from(1)).then_some(())
    })
    .await;
}

/// The honest solver beat a deluded challenger in game 1 of a job that ended
/// `outcome`: the job is finalized, the game won by the solver's proof (not
/// on time), and the solver withdrew its reward, its bond and half the
/// challenger's bond.
pub(crate) async fn assert_the_honest_solver_won(
    net: &Net,
    outcome: u8,
    solver: &vtrain_e2e::Agent,
    challenger: &vtrain_e2e::Agent,
) {
    assert_eq!(
        outcome,
        status::FINALIZED,
        "solver:\n{}\nchallenger:\n{}",
        solver.log(),
        challenger.log()
    );
    let game = net.market().game_record(1).await.expect("game");
    assert!(game.clock.solverWon);
    assert_eq!(game.clock.reason, 0, "won by its proof (StepProved)");
    net.wait_withdrawn(net.address(SOLVER), eth(15) + eth(1) / U256::from(2))
        .await;
}

/// Writes a watchtower secret (`verifier-data/sample.secret`) under which
/// `replay::sample` picks exactly `intervals` of `spec`'s job at `rate`.
pub(crate) fn pin_sample(net: &Net, spec: &std::path::Path, rate: f64, intervals: &[u32]) {
    let text = std::fs::read_to_string(spec).expect("spec");
    let spec = vtrain_proof_of_learning::JobSpec::from_toml(&text).expect("spec");
    let count = spec.steps / spec.checkpoint_interval;
    let job_hash = spec.job_hash();
    let secret = (0u8..=255)
        .map(|b| [b; 32])
        .find(|secret| {
            let salt = [secret.as_slice(), &job_hash.0].concat();
            vtrain_verifier::replay::sample(count, rate, &salt) == intervals
        })
        .expect("a secret with that sample");
    let datadir = net.path("verifier-data");
    std::fs::create_dir_all(&datadir).expect("datadir");
    std::fs::write(datadir.join("sample.secret"), secret).expect("secret");
}

/// The small job posted on `net` and slashed: a solver that flips one ulp at
/// step 13, an honest watchtower that refutes it down to the ALU and has
/// withdrawn its pay (its bond back and half the solver's bond). Returns the
/// job and the two agents (kept running while the caller holds them).
pub(crate) async fn slashed_small_job(net: &Net) -> (u64, [vtrain_e2e::Agent; 2]) {
    let solver = net.solver(&["--fault", "flip-ulp@13"]);
    let verifier = net.verifier(&[]);
    let job = net.post(&small_spec(net), "1h");
    assert_eq!(
        settle(net, job, Duration::from_secs(180)).await,
        status::SLASHED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    net.wait_withdrawn(
        net.address(vtrain_e2e::VERIFIER),
        eth(1) + eth(5) / U256::from(2),
    )
    .await;
    (job, [solver, verifier])
}
