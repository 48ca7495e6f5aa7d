//! Bad input gets a clear error and loses nothing.

use std::time::Duration;

use alloy::primitives::U256;
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, Proxy, SOLVER, SUBMITTER};

use crate::common::{eth, settle, small_spec};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_spec_or_the_wrong_data_is_refused_before_anything_is_sent() {
    let net = Net::start().await;
    let before = net.balance(net.address(SUBMITTER)).await;

    let broken = net.path("broken.toml");
    std::fs::write(&broken, "steps = \"many\"\n").expect("write");
    let out = net.cli(&[
        "job",
        "post",
        "--spec",
        &broken.display().to_string(),
        "--data",
        "bundled:digits",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("is invalid"), "{}", stderr(&out));

    // A spec whose dataset root is not the data's.
    let spec = small_spec(&net);
    let text = std::fs::read_to_string(&spec)
        .expect("spec")
        .replace("0xc489fc31", "0xc489fc32");
    let wrong = net.path("wrong-root.toml");
    std::fs::write(&wrong, text).expect("write");
    let out = net.cli(&[
        "job",
        "post",
        "--spec",
        &wrong.display().to_string(),
        "--data",
        "bundled:digits",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not the dataset the spec commits to"),
        "{}",
        stderr(&out)
    );

    // Data that is not data.
    let junk = net.path("junk.csv");
    std::fs::write(&junk, "1,2,x\n").expect("write");
    let out = net.cli(&[
        "job",
        "post",
        "--spec",
        &spec.display().to_string(),
        "--data",
        &junk.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    assert_eq!(net.job_count().await, 0);
    assert_eq!(
        net.balance(net.address(SUBMITTER)).await,
        before,
        "not a wei spent"
    );
}

/// A transaction the chain would refuse is simulated, refused with its decoded
/// reason and never sent: the balance does not move.
#[tokio::test(flavor = "multi_thread")]
async fn a_reverting_transaction_is_refused_with_its_reason_and_costs_nothing() {
    let net = Net::start().await;
    let _solver = net.solver(&[]);
    let job = net.post(&small_spec(&net), "1h");
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(60))
        .await;
    let before = net.balance(net.address(SUBMITTER)).await;
    let out = net.cli(&["job", "cancel", &job.to_string()]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("WrongStatus"), "{}", stderr(&out));
    assert_eq!(net.balance(net.address(SUBMITTER)).await, before);
    assert_eq!(net.status(job).await, status::SUBMITTED);
    let out = net.cli(&["job", "status", "99"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
}

/// The RPC endpoint goes down mid-job and comes back: the agents retry and
/// the job ends as it would have.
#[tokio::test(flavor = "multi_thread")]
async fn agents_ride_out_an_rpc_outage() {
    let net = Net::start().await;
    let upstream = net.rpc_url().trim_start_matches("http://").to_owned();
    let proxy = Proxy::start(upstream).await;
    let solver = net.solver_via(&proxy.url(), &[]);
    let verifier = net.verifier_via(&proxy.url(), &[]);
    let job = net.post(&small_spec(&net), "1h");
    net.wait_status(job, status::CLAIMED, Duration::from_secs(60))
        .await;
    proxy.down();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.up();
    assert_eq!(
        settle(&net, job, Duration::from_secs(120)).await,
        status::FINALIZED
    );
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;
    let logs = solver.log() + &verifier.log();
    assert!(logs.contains("retrying"), "the outage was noticed:\n{logs}");
    // The CLI, with the node unreachable, says so with exit code 4.
    proxy.down();
    let out = net.cli_via(&proxy.url(), &["job", "status", "1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

/// A checkpoint corrupted in the solver's store: the solver refuses to resume
/// from it and recomputes it; the watchtower never accepts it. The job ends as
/// if nothing happened.
#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_checkpoint_in_the_store_is_detected_and_costs_nothing() {
    let net = Net::start().await;
    let (mut solver, job) = crate::common::submitted_then_store_corrupted(&net).await;
    // A sampling watchtower fetches the checkpoints: each fails its root
    // check. Its secret is pinned so that it samples intervals 1 and 3 and
    // must fetch their starts (a random one samples all four 1 time in 8,
    // fetches nothing, and the test would not test).
    crate::common::pin_sample(&net, &small_spec(&net), 0.5, &[1, 3]);
    let verifier = net.verifier(&["--sample-rate", "0.5"]);
    solver.restart();
    assert_eq!(
        settle(&net, job, Duration::from_secs(120)).await,
        status::FINALIZED
    );
    let verdict = crate::common::verdict(&net, job, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    assert!(
        !verdict["withheld"].as_array().expect("list").is_empty(),
        "{verdict}"
    );
    assert!(
        verifier.log().contains("not the committed one"),
        "{}",
        verifier.log()
    );
}

/// Someone announces a junk location for the dataset's root before the
/// submitter does: announcements are per publisher, so the submitter's own is
/// still made, the solver tries both, rejects the junk by its root and trains.
#[tokio::test(flavor = "multi_thread")]
async fn a_junk_location_announced_first_does_not_block_the_job() {
    use alloy::network::EthereumWallet;
    use alloy::providers::ProviderBuilder;
    use vtrain_dispute::bindings::ArtifactRegistry;

    let net = Net::start().await;
    let griefer: alloy::signers::local::PrivateKeySigner =
        vtrain_e2e::KEYS[4].parse().expect("key");
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(griefer))
        .connect_http(net.rpc_url().parse().expect("url"));
    let junk = net.path("junk.safetensors");
    std::fs::write(&junk, b"not the digits").expect("write");
    let root = vtrain_proof_of_learning::Dataset::digits()
        .expect("digits")
        .root();
    let registry = ArtifactRegistry::new(
        net.deployment
            .address("ArtifactRegistry")
            .expect("registry"),
        &provider,
    );
    registry
        .publish(root.0.into(), 14, format!("file://{}", junk.display()))
        .send()
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined");

    let solver = net.solver(&[]);
    let _verifier = net.verifier(&[]);
    let job = net.post(&small_spec(&net), "1h");
    assert_eq!(
        settle(&net, job, Duration::from_secs(120)).await,
        status::FINALIZED
    );
    assert!(
        solver
            .log()
            .contains("announced dataset is not the committed one"),
        "{}",
        solver.log()
    );
}

/// Amounts and funds are checked before anything is sent: a negative amount
/// is refused (it once wrapped to 2^128 − 1 wei), and an account that holds
/// the reward but not the gas of the announcements and the post is refused
/// too, instead of paying for an announcement and then failing.
#[tokio::test(flavor = "multi_thread")]
async fn amounts_and_funds_are_checked_before_anything_is_sent() {
    use alloy::providers::Provider;
    let net = Net::start().await;
    let spec = small_spec(&net);
    for bad in [
        ["--solver-bond=-1"],
        ["--reward=-1"],
        ["--reward=0.0000000000000000001"],
    ] {
        let out = net.post_with(&spec, "1h", &bad);
        assert_eq!(out.status.code(), Some(3), "{bad:?}: {}", stderr(&out));
    }
    // A fresh account (private key 1) holding the reward and a hair more.
    let fresh: alloy::primitives::Address = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        .parse()
        .expect("address");
    let funds = eth(100) + U256::from(1_000_000_000u64);
    let _: serde_json::Value = net
        .provider
        .raw_request("anvil_setBalance".into(), (fresh, funds))
        .await
        .expect("anvil_setBalance");
    let key = format!("0x{:064x}", 1);
    let out = net.post_with(&spec, "1h", &["--reward", "10", "--private-key", &key]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("posting needs"), "{}", stderr(&out));
    assert_eq!(net.balance(fresh).await, funds, "not a wei spent");
    let sent = net
        .provider
        .get_transaction_count(fresh)
        .await
        .expect("nonce");
    assert_eq!(sent, 0, "no transaction sent");
    assert_eq!(net.job_count().await, 0);
}

/// A job that Rust accepts but the market refuses: the Shakespeare GPT with a
/// checkpoint interval of 1,500 steps, whose replay (up to 2 × 1,501 steps of
/// 895 million operations) exceeds what one clock extension allows at the
/// market's replay rate. The post is simulated first: refused with the
/// market's reason, before the dataset is announced or anything else is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_market_refuses_is_refused_before_anything_is_sent() {
    let net = Net::start().await;
    let before = net.balance(net.address(SUBMITTER)).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let spec = std::fs::read_to_string(root.join("examples/shakespeare-gpt.toml"))
        .expect("the example")
        .replace("checkpoint_interval = 500", "checkpoint_interval = 1500");
    let path = net.path("heavy-gpt.toml");
    std::fs::write(&path, spec).expect("spec");
    let out = net.cli(&[
        "job",
        "post",
        "--spec",
        &path.display().to_string(),
        "--data",
        &root
            .join("examples/data/shakespeare.txt.gz")
            .display()
            .to_string(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("JobMarket.postJob"), "{err}");
    assert!(err.contains("IntervalTooHeavy"), "{err}");
    assert_eq!(net.job_count().await, 0);
    assert_eq!(
        net.balance(net.address(SUBMITTER)).await,
        before,
        "not a wei spent"
    );
}

#[test]
fn a_gpu_solver_on_a_machine_without_cuda_is_refused_at_start() {
    if vtrain_cuda::driver_present() {
        return; // a GPU machine: scripts/gpu-check.sh covers the device
    }
    let out = std::process::Command::new(vtrain_e2e::binary("vtrain-solver"))
        .args([
            "run",
            "--device",
            "cuda:0",
            "--rpc-url",
            "http://127.0.0.1:9",
        ])
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .output()
        .expect("the solver runs");
    assert!(
        !out.status.success(),
        "a solver without its device must not start"
    );
    let text = stderr(&out);
    assert!(text.contains("device cuda:0 cannot train"), "{text}");
    assert!(
        text.contains("the CUDA driver (libcuda.so) is not installed"),
        "{text}"
    );
}
