//! `vtrain-deploy fork`.

use crate::{Devnet, DevnetConfig};
use alloy::providers::ProviderBuilder;
use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;
use vtrain_dispute::Deployment;

/// Start a local anvil that forks a chain where vtrain is deployed (a running
/// devnet or any RPC endpoint), for tests against its state.
#[derive(Args, Debug)]
pub struct ForkArgs {
    /// The JSON-RPC endpoint to fork.
    #[arg(long, env = "VTRAIN_FORK_URL")]
    pub fork_url: String,
    /// Port for the fork's JSON-RPC; 0 picks a free one.
    #[arg(long, env = "VTRAIN_FORK_PORT", default_value_t = 8546)]
    pub port: u16,
    /// The anvil binary (default: $VTRAIN_ANVIL, else .tools/bin/anvil from
    /// scripts/setup.sh, else anvil on PATH).
    #[arg(long)]
    pub anvil: Option<PathBuf>,
    /// Folder holding the forked chain's manifest, `<chainId>.json` (a fork
    /// keeps the chain id, so the same manifest serves both).
    #[arg(long, env = "VTRAIN_DEPLOYMENTS_DIR", default_value = "deployments")]
    pub deployments_dir: PathBuf,
    /// Stop the fork and exit once the deployment is checked on it, instead of
    /// serving until Ctrl-C.
    #[arg(long)]
    pub exit_after_check: bool,
    /// Print the manifest as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl ForkArgs {
    /// Starts the fork, checks that it holds this build's deployment, prints
    /// it, then serves until Ctrl-C or SIGTERM (or exits with
    /// `--exit-after-check`).
    pub async fn run(self) -> eyre::Result<()> {
        let fork = Devnet::spawn(&DevnetConfig {
            anvil: self.anvil,
            port: self.port,
            block_time: None,
            fork_url: Some(self.fork_url.clone()),
        })
        .wrap_err_with(|| format!("starting a fork of {}", self.fork_url))?;
        let url = fork.endpoint_url();
        let chain_id = fork.chain_id();
        tracing::info!(target: "deploy::fork", %url, chain_id, from = %self.fork_url, "fork is up");

        let manifest = Deployment::path_in(&self.deployments_dir, chain_id);
        let deployment = Deployment::load(&manifest).wrap_err_with(|| {
            format!(
                "no vtrain deployment for chain {chain_id} in {}: deploy to the forked chain first \
                 (vtrain-deploy devnet or deploy)",
                self.deployments_dir.display()
            )
        })?;
        let provider = ProviderBuilder::new().connect_http(url.clone());
        deployment
            .check(&provider)
            .await
            .wrap_err("the forked chain does not hold this deployment")?;

        let header = format!("fork      {url} of {} (chain {chain_id})", self.fork_url);
        super::print_deployment(&header, &deployment, &manifest, self.json)?;
        if self.exit_after_check {
            return Ok(());
        }
        tracing::info!(target: "deploy::fork", "serving until Ctrl-C");
        super::wait_for_shutdown_signal().await?;
        drop(fork);
        Ok(())
    }
}
