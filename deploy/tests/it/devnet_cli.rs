//! The `vtrain-deploy` binary, as the README's demo command runs it.

use std::process::Command;
use vtrain_dispute::Deployment;

fn vtrain_deploy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vtrain-deploy"))
}

#[test]
fn devnet_deploys_writes_the_manifest_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = vtrain_deploy()
        .args(["devnet", "--port", "0", "--exit-after-deploy", "--json"])
        .arg("--deployments-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vtrain-deploy devnet failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Deployment = serde_json::from_slice(&output.stdout).unwrap();
    let written = Deployment::load(&Deployment::path_in(dir.path(), printed.chain_id)).unwrap();
    assert_eq!(printed, written);
    assert!(written.address("ArtifactRegistry").is_ok());
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
