//! The transaction manager on anvil: a transaction not mined in time is
//! replaced by the same one (same nonce) at higher fees, and whichever is
//! mined is the receipt.

use std::time::Duration;

use alloy::consensus::Transaction;
use alloy::network::EthereumWallet;
use alloy::primitives::B256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use vtrain_dispute::{Market, SendPolicy, send_with};
use vtrain_e2e::{KEYS, Net, SOLVER};

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_not_mined_in_time_is_replaced_at_higher_fees() {
    let net = Net::start().await;
    let signer: PrivateKeySigner = KEYS[SOLVER].parse().expect("key");
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(net.rpc_url().parse().expect("url"));
    let market = Market::new(&net.deployment, provider.clone()).expect("market");
    let nonce = provider
        .get_transaction_count(net.address(SOLVER))
        .await
        .expect("nonce");
    // The fees the first submission is sent with (alloy's gas filler asks the same).
    let first = provider.estimate_eip1559_fees().await.expect("fees");

    // Nothing is mined until the test says so: a fee spike, seen from the sender.
    let _: serde_json::Value = net
        .provider
        .raw_request("evm_setAutomine".into(), (false,))
        .await
        .expect("automine off");
    let call = market
        .registry()
        .publish(B256::repeat_byte(7), 1, "http://127.0.0.1:9/x".into())
        .into_transaction_request();
    let policy = SendPolicy {
        wait: Duration::from_millis(400),
        max_bumps: 5,
        bump_percent: 25,
        poll: Duration::from_millis(50),
    };
    let sending =
        tokio::spawn(async move { send_with(market.provider(), call, "publish", &policy).await });
    // Long enough for the first submission and two replacements.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let status: serde_json::Value = net
        .provider
        .raw_request("txpool_status".into(), ())
        .await
        .expect("txpool_status");
    let _: serde_json::Value = net
        .provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("mine");
    let receipt = sending
        .await
        .expect("the sender task")
        .expect("a receipt, after replacements");
    let _: serde_json::Value = net
        .provider
        .raw_request("evm_setAutomine".into(), (true,))
        .await
        .expect("automine on");

    assert!(receipt.status());
    let mined = provider
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .expect("rpc")
        .expect("the mined transaction");
    assert_eq!(mined.nonce(), nonce, "a replacement keeps the nonce");
    let priority = mined
        .max_priority_fee_per_gas()
        .expect("an EIP-1559 transaction");
    assert!(
        priority > first.max_priority_fee_per_gas
            && mined.max_fee_per_gas() > first.max_fee_per_gas,
        "the mined one is a replacement at higher fees: priority {priority}, max {} vs {first:?} \
         first (pool before mining: {status})",
        mined.max_fee_per_gas()
    );
    assert_eq!(
        status["pending"], "0x1",
        "replacements replace: one in the pool"
    );
    assert_eq!(
        provider
            .get_transaction_count(net.address(SOLVER))
            .await
            .expect("nonce"),
        nonce + 1,
        "one transaction was mined, not one per submission"
    );
}
