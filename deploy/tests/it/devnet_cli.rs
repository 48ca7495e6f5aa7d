//! The `vtrain-deploy` binary, as the README's demo command runs it.

use std::process::Command;
use vtrain_dispute::Deployment;

fn vtrain_deploy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vtrain-deploy"))
}

/// Runs `command` and insists that it succeeds, showing its stderr if not.
fn succeed(command: &mut Command) -> std::process::Output {
    let output = command.output().expect("vtrain-deploy starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn devnet_deploys_writes_the_manifest_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = succeed(
        vtrain_deploy()
            .args(["devnet", "--port", "0", "--exit-after-deploy", "--json"])
            .arg("--deployments-dir")
            .arg(dir.path()),
    );
    let printed: Deployment = serde_json::from_slice(&output.stdout).unwrap();
    let written = Deployment::load(&Deployment::path_in(dir.path(), printed.chain_id)).unwrap();
    assert_eq!(printed, written);
    assert!(written.address("ArtifactRegistry").is_ok());
}

#[test]
fn devnet_prints_and_writes_its_dev_accounts_as_public_test_keys() {
    let dir = tempfile::tempdir().unwrap();
    let accounts_file = dir.path().join("accounts.json");
    let output = succeed(
        vtrain_deploy()
            .args(["devnet", "--port", "0", "--exit-after-deploy"])
            .arg("--deployments-dir")
            .arg(dir.path())
            .arg("--accounts")
            .arg(&accounts_file),
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("PUBLIC test keys"), "{table}");
    let accounts: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&accounts_file).unwrap()).unwrap();
    assert_eq!(accounts.len(), 10);
    // The roles the README, the demo and the e2e tests give the accounts.
    for (index, role) in [
        (0, "deployer"),
        (1, "submitter"),
        (2, "solver"),
        (3, "watchtower"),
    ] {
        assert_eq!(accounts[index]["role"], role);
        let key = accounts[index]["private_key"].as_str().unwrap();
        let address = accounts[index]["address"].as_str().unwrap();
        assert!(table.contains(key) && table.contains(address), "{table}");
        let signer: alloy::signers::local::PrivateKeySigner = key.parse().unwrap();
        assert_eq!(signer.address().to_string(), address);
    }
}

#[test]
fn missing_anvil_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let output = vtrain_deploy()
        .args(["devnet", "--port", "0", "--exit-after-deploy"])
        .arg("--deployments-dir")
        .arg(dir.path())
        .env("VTRAIN_ANVIL", dir.path().join("no-anvil-here"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("scripts/setup.sh"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing is written"
    );
}

#[test]
fn deploy_rejects_a_malformed_private_key() {
    let output = vtrain_deploy()
        .args([
            "deploy",
            "--rpc-url",
            "http://127.0.0.1:9",
            "--private-key",
            "0xnot-hex",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--private-key is not a valid"), "{stderr}");
}

/// `fork` of a running devnet: the fork holds the deployment and the source's
/// state, and what happens on the fork stays there.
#[tokio::test]
async fn fork_of_a_devnet_holds_its_deployment_and_state() {
    use alloy::network::EthereumWallet;
    use alloy::primitives::keccak256;
    use alloy::providers::ProviderBuilder;
    use vtrain_deploy::{Devnet, DevnetConfig, MarketConfig, deploy_contracts};
    use vtrain_dispute::bindings::ArtifactRegistry;

    let source = Devnet::spawn(&DevnetConfig::default()).unwrap();
    let signer = source.signer(0).unwrap();
    let deployer = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(source.endpoint_url());
    let deployment = deploy_contracts(&provider, deployer, &MarketConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    deployment.write_atomic(dir.path()).unwrap();
    let registry = deployment.address("ArtifactRegistry").unwrap();
    ArtifactRegistry::new(registry, &provider)
        .publish(keccak256(b"before the fork"), 1, "file:///a".into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    // The binary checks the deployment on a fork and prints it.
    let output = succeed(
        vtrain_deploy()
            .args([
                "fork",
                "--port",
                "0",
                "--exit-after-check",
                "--json",
                "--fork-url",
            ])
            .arg(source.endpoint_url().as_str())
            .arg("--deployments-dir")
            .arg(dir.path()),
    );
    let printed: Deployment = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, deployment);

    // A fork sees the source's state; its own transactions stay on the fork.
    let fork = Devnet::spawn(&DevnetConfig {
        fork_url: Some(source.endpoint_url().to_string()),
        ..DevnetConfig::default()
    })
    .unwrap();
    let on_fork = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(fork.endpoint_url());
    let forked = ArtifactRegistry::new(registry, &on_fork);
    assert_eq!(forked.artifactCount().call().await.unwrap(), 1);
    forked
        .publish(keccak256(b"on the fork"), 1, "file:///b".into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(forked.artifactCount().call().await.unwrap(), 2);
    let original = ArtifactRegistry::new(registry, &provider);
    assert_eq!(original.artifactCount().call().await.unwrap(), 1);
}

#[test]
fn fork_without_a_manifest_says_what_to_do() {
    use vtrain_deploy::{Devnet, DevnetConfig};
    let source = Devnet::spawn(&DevnetConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = vtrain_deploy()
        .args(["fork", "--port", "0", "--exit-after-check", "--fork-url"])
        .arg(source.endpoint_url().as_str())
        .arg("--deployments-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("deploy to the forked chain first"),
        "{stderr}"
    );
}
