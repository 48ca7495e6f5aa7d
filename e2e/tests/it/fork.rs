//! `vtrain-deploy fork` of a running devnet that already has a finalized job:
//! a new job runs against the forked state.

use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::providers::{Provider, ProviderBuilder};
use vtrain_dispute::Market;
use vtrain_dispute::market::status;
use vtrain_e2e::{
    Net, ProcessGroup, advance_time, binary, free_port, members, wait_status, wait_until,
};

use crate::common::{settle, small_spec};

#[tokio::test(flavor = "multi_thread")]
async fn a_new_job_runs_on_a_fork_of_a_devnet_with_history() {
    let net = Net::start().await;
    let spec = small_spec(&net);
    {
        let _solver = net.solver(&[]);
        let _verifier = net.verifier(&[]);
        let job = net.post(&spec, "1h");
        assert_eq!(
            settle(&net, job, Duration::from_secs(120)).await,
            status::FINALIZED
        );
    }

    // Fork it.
    let port = free_port();
    let mut command = Command::new(binary("vtrain-deploy"));
    command
        .args([
            "fork",
            "--fork-url",
            &net.rpc_url(),
            "--port",
            &port.to_string(),
        ])
        .env("VTRAIN_DEPLOYMENTS_DIR", net.path("deployments"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group: the anvil it starts ends with it.
    let mut fork = ProcessGroup::spawn(command).expect("vtrain-deploy fork");
    let fork_url = format!("http://127.0.0.1:{port}");
    let provider = ProviderBuilder::new()
        .connect_http(fork_url.parse().expect("url"))
        .erased();
    let market = Market::new(&net.deployment, provider.clone()).expect("market");
    wait_until(
        Duration::from_secs(30),
        "the fork to serve the market",
        || async {
            market
                .market()
                .jobCount()
                .call()
                .await
                .ok()
                .filter(|n| *n == alloy::primitives::U256::from(1))
        },
    )
    .await;
    assert_eq!(
        market.job(1).await.expect("job 1").status,
        status::FINALIZED,
        "history is there"
    );

    // Agents and the CLI on the fork.
    let solver = net.solver_via(
        &fork_url,
        &["--datadir", &net.path("fork-solver").display().to_string()],
    );
    let verifier = net.verifier_via(
        &fork_url,
        &[
            "--datadir",
            &net.path("verifier-data").display().to_string(),
        ],
    );
    let spec = spec.display().to_string();
    let out = net.cli_via(
        &fork_url,
        &[
            "job",
            "post",
            "--spec",
            &spec,
            "--data",
            "bundled:digits",
            "--challenge-window",
            "1h",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(posted["job_id"], 2, "ids go on from the source chain's");

    // Let it run: move the fork's time past the window once the watchtower agreed.
    wait_status(&market, 2, status::SUBMITTED, Duration::from_secs(120)).await;
    crate::common::verdict(&net, 2, Duration::from_secs(60)).await;
    advance_time(&provider, 3_601).await;
    wait_status(&market, 2, status::FINALIZED, Duration::from_secs(60)).await;
    // The source chain never saw job 2.
    assert_eq!(net.job_count().await, 1);
    drop((solver, verifier));
    let group = fork.id();
    assert!(
        members(group).len() >= 2,
        "vtrain-deploy and its anvil run in the group"
    );
    fork.end();
    assert_eq!(members(group), Vec::<u32>::new(), "nothing is left running");
}
