//! Reorgs: the job book notices when the chain changes under it and reads it
//! again, agents read at a confirmation depth, and a solver whose claim is
//! reorged out claims again and is paid.

use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use vtrain_dispute::market::status;
use vtrain_dispute::{JobBook, JobPhase, Market};
use vtrain_e2e::{KEYS, Net, SOLVER};

use crate::common::{eth, settle, small_spec};

async fn rpc(net: &Net, method: &'static str, params: serde_json::Value) -> serde_json::Value {
    net.provider
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Claims `job` as the solver account, straight through the market.
async fn claim_as_solver(net: &Net, job: u64) {
    let signer: PrivateKeySigner = KEYS[SOLVER].parse().expect("key");
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(net.rpc_url().parse().expect("url"));
    let market = Market::new(&net.deployment, provider).expect("market");
    let bond = market.job(job).await.expect("job").solverBond;
    let call = market
        .market()
        .claimJob(U256::from(job))
        .value(U256::from(bond))
        .into_transaction_request();
    market.send(call, "claimJob").await.expect("claims");
}

/// `anvil_reorg` replaces the block holding a claim with an empty one at the
/// same height: the hash the book read up to changes, so the book reads
/// again and the job is open again, as it is on the chain now.
#[tokio::test(flavor = "multi_thread")]
async fn a_claim_reorged_out_of_the_chain_is_out_of_the_book() {
    let net = Net::start().await;
    let job = net.post(&small_spec(&net), "1h");
    let market = net.market();
    claim_as_solver(&net, job).await;

    let mut book = JobBook::starting_at(market.deployed_at());
    let (_, synced) = market.catch_up(&mut book).await.expect("sync");
    assert_eq!(synced.reorg, None, "a first read finds no reorg");
    assert_eq!(book.job(job).expect("job").phase, JobPhase::Claimed);
    let read_to = book.read_to.expect("the book marks the block it read to");

    // The claim's block, replaced by an empty one at the same height.
    rpc(&net, "anvil_reorg", serde_json::json!([1, []])).await;
    assert_eq!(net.status(job).await, status::OPEN, "the claim is gone");
    let (head, synced) = market.catch_up(&mut book).await.expect("sync");
    assert_eq!(head.number, read_to.number, "same height, another block");
    let reorg = synced.reorg.expect("the reorg is found");
    assert_eq!(reorg.block, read_to.number);
    assert_eq!(reorg.was, read_to.hash);
    assert!(reorg.now.is_some_and(|now| now != read_to.hash));
    let entry = book.job(job).expect("the job is still posted");
    assert_eq!(entry.phase, JobPhase::Open);
    assert_eq!(entry.solver, None);

    // Read again from scratch, the book is the same as the new chain's.
    let mut fresh = JobBook::starting_at(market.deployed_at());
    market.catch_up(&mut fresh).await.expect("sync");
    assert_eq!(fresh, book);

    // Nothing changed since: no reorg is reported.
    let (_, synced) = market.catch_up(&mut book).await.expect("sync");
    assert_eq!(synced.reorg, None);
}

/// A book read at a confirmation depth of two sees an event only once two
/// blocks are mined on top of it; a revert to below the block it read is a
/// reorg too (the block is gone).
#[tokio::test(flavor = "multi_thread")]
async fn the_book_reads_at_its_confirmation_depth() {
    let net = Net::start().await;
    let job = net.post(&small_spec(&net), "1h");
    let market = net.market().with_confirmations(2);
    let mut book = JobBook::starting_at(market.deployed_at());
    let (head, _) = market.catch_up(&mut book).await.expect("sync");
    assert_eq!(book.next_block, head.number - 1);
    assert!(book.job(job).is_none(), "a job one block deep is not read");
    for _ in 0..2 {
        rpc(&net, "evm_mine", serde_json::json!([])).await;
    }
    market.catch_up(&mut book).await.expect("sync");
    assert_eq!(
        book.job(job).expect("two blocks deep").phase,
        JobPhase::Open
    );

    let snapshot = rpc(&net, "evm_snapshot", serde_json::json!([])).await;
    for _ in 0..3 {
        rpc(&net, "evm_mine", serde_json::json!([])).await;
    }
    market.catch_up(&mut book).await.expect("sync");
    rpc(&net, "evm_revert", serde_json::json!([snapshot])).await;
    let (_, synced) = market.catch_up(&mut book).await.expect("sync");
    let reorg = synced.reorg.expect("the block read to is gone");
    assert_eq!(reorg.now, None);
    assert_eq!(book.job(job).expect("job").phase, JobPhase::Open);
}

/// The solver claims, trains and submits; then the chain is reverted to just
/// after the job was posted, which takes its claim and its result away. It
/// notices (its book's block is gone), claims again, submits the same result
/// and is paid: without reorg detection its book would say "submitted" for
/// ever and it would never claim again.
#[tokio::test(flavor = "multi_thread")]
async fn a_solver_whose_claim_is_reorged_out_claims_again_and_is_paid() {
    let net = Net::start().await;
    let job = net.post(&small_spec(&net), "1h");
    let snapshot = rpc(&net, "evm_snapshot", serde_json::json!([])).await;
    let solver = net.solver(&[]);
    let _verifier = net.verifier(&[]);
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(120))
        .await;
    let first = net.market().job(job).await.expect("job").traceRoot;
    rpc(&net, "evm_revert", serde_json::json!([snapshot])).await;

    let outcome = settle(&net, job, Duration::from_secs(180)).await;
    assert_eq!(outcome, status::FINALIZED, "solver:\n{}", solver.log());
    let on_chain = net.market().job(job).await.expect("job");
    assert_eq!(
        on_chain.traceRoot, first,
        "the same result, from its datadir"
    );
    // The book keeps the result's time (`submittedAt`), read with its event.
    let mut book = JobBook::starting_at(net.market().deployed_at());
    net.market().catch_up(&mut book).await.expect("sync");
    let result = book
        .job(job)
        .and_then(|j| j.result.clone())
        .expect("result");
    assert_eq!(result.submitted_at, on_chain.submittedAt);
    let log = solver.log();
    assert!(log.contains("reorg"), "the solver logs the reorg:\n{log}");
    assert_eq!(
        log.matches("claimed job=").count(),
        2,
        "claimed again:\n{log}"
    );
    // Its bond back and the reward (the reorged-out claim cost it nothing).
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;
}
