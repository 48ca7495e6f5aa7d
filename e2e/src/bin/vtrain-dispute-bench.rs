//! Measures a whole dispute on a devnet, with the real binaries: the reference
//! digits job (800 steps, k = 100) taken by a solver that flips one weight
//! after step 250, against a full-replay watchtower.
//!
//! Prints the watchtower's CPU time to verify and to play the dispute, next to
//! the in-process cost of replaying one interval and the whole job (the
//! dispute must cost about one interval, not the job), and the dispute's
//! transactions and gas. `docs/benchmarks.md` records the results.
//!
//! Run: `cargo build --release --bins && target/release/vtrain-dispute-bench`.

use std::time::{Duration, Instant};

use alloy::consensus::Transaction as _;
use alloy::network::TransactionResponse as _;
use alloy::providers::Provider;
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, wait_until};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

#[tokio::main]
async fn main() {
    let net = Net::start().await;
    let _solver = net.solver(&["--fault", "flip-ulp@250"]);
    let verifier = net.verifier(&[]);
    let spec_path = net.write_spec("digits.toml", None);
    let t0 = Instant::now();
    let job = net.post(&spec_path, "1h");

    let verdict = net
        .path("verifier-data")
        .join(format!("verdict-{job}.json"));
    wait_until(Duration::from_secs(300), "the verdict", || async {
        verdict.exists().then_some(())
    })
    .await;
    let cpu_verify = verifier.cpu_seconds().unwrap_or(f64::NAN);
    let t_verdict = t0.elapsed();
    // The game is decided on chain; the slash comes with the window's end
    // (an hour of chain time, skipped here), when the watchtower fixes it.
    let market = net.market();
    wait_until(Duration::from_secs(600), "the game's end", || async {
        let g = market.game_record(1).await.ok()?;
        (g.clock.phase == vtrain_dispute::game::player::phase::RESOLVED).then_some(())
    })
    .await;
    let t_decided = t0.elapsed();
    net.advance(3_601).await;
    net.wait_status(job, status::SLASHED, Duration::from_secs(600))
        .await;
    wait_until(Duration::from_secs(60), "the share claimed", || async {
        market.share_claimed(1).await.ok()?.then_some(())
    })
    .await;
    let cpu_end = verifier.cpu_seconds().unwrap_or(f64::NAN);
    let t_end = t0.elapsed();
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&verdict).expect("verdict")).expect("JSON");

    // The dispute's transactions: challenge, every move, and the payout
    // (settleGame, finalize, claimShare).
    let game_address = *market.game().address();
    let market_address = *market.market().address();
    let head = net.provider.get_block_number().await.expect("head");
    let (mut txs, mut gas, mut moves) = (0u64, 0u64, 0u64);
    let challenge = alloy::primitives::keccak256(
        "challenge(uint256,uint64,bytes32,bytes32[],bytes32,bytes32[])",
    );
    let payouts = [
        "settleGame(uint256)",
        "finalize(uint256)",
        "claimShare(uint256)",
    ]
    .map(alloy::primitives::keccak256);
    for number in 0..=head {
        let block = net
            .provider
            .get_block_by_number(number.into())
            .full()
            .await
            .expect("block")
            .expect("exists");
        for tx in block.transactions.txns() {
            let to = tx.to();
            let selector = tx.input().get(..4).map(<[u8]>::to_vec).unwrap_or_default();
            let counts = to == Some(game_address)
                || (to == Some(market_address)
                    && (selector == challenge[..4] || payouts.iter().any(|p| selector == p[..4])));
            if counts {
                let receipt = net
                    .provider
                    .get_transaction_receipt(tx.tx_hash())
                    .await
                    .expect("receipt")
                    .expect("mined");
                txs += 1;
                gas += receipt.gas_used;
                moves += u64::from(to == Some(game_address));
            }
        }
    }

    // In-process reference costs, one thread like the agents in this run.
    let spec =
        JobSpec::from_toml(&std::fs::read_to_string(&spec_path).expect("spec")).expect("spec");
    let trainer = Trainer::new(
        spec,
        Dataset::digits().expect("digits"),
        Kernels::new(Level::detect(), 1).expect("kernels"),
    )
    .expect("trainer");
    let s0 = trainer.initial_state();
    let t = Instant::now();
    let _ = trainer.replay_interval(&s0).expect("replay");
    let one_interval = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = trainer.train(|_, _, _| Ok(())).expect("train");
    let whole_job = t.elapsed().as_secs_f64();

    println!(
        "dispute bench: digits job (800 steps, k = 100), solver flips one weight after step 250"
    );
    println!("  verdict: {verdict}");
    println!(
        "  wall: verdict after {:.1} s, game decided after {:.1} s, slashed and share claimed after {:.1} s (the window skipped)",
        t_verdict.as_secs_f64(),
        t_decided.as_secs_f64(),
        t_end.as_secs_f64()
    );
    println!(
        "  watchtower CPU: start-up + verification {cpu_verify:.2} s; the dispute itself {:.2} s",
        cpu_end - cpu_verify
    );
    println!(
        "  in-process reference: one interval (100 steps) {one_interval:.3} s, the whole job (800 steps) {whole_job:.3} s"
    );
    println!(
        "  dispute CPU / one interval = {:.2}; dispute CPU / whole job = {:.2}",
        (cpu_end - cpu_verify) / one_interval,
        (cpu_end - cpu_verify) / whole_job
    );
    let log = verifier.log();
    let steps_replayed = log
        .rsplit("steps_replayed=")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?");
    println!(
        "  training steps the watchtower executed during the dispute: {steps_replayed} (k = 100, T = 800)"
    );
    println!(
        "  dispute transactions: {txs} ({moves} game moves + challenge + settleGame, finalize, claimShare), {gas} gas in all"
    );
}
