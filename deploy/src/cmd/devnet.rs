//! `vtrain-deploy devnet`.

use crate::{Devnet, DevnetConfig, deploy_contracts};
use alloy::network::EthereumWallet;
use alloy::providers::ProviderBuilder;
use clap::Args;
use eyre::{OptionExt, WrapErr};
use std::path::PathBuf;

/// Start a local anvil, deploy every contract and write the manifest.
#[derive(Args, Debug)]
pub struct DevnetArgs {
    /// Port for anvil's JSON-RPC; 0 picks a free one.
    #[arg(long, env = "VTRAIN_DEVNET_PORT", default_value_t = 8545)]
    pub port: u16,
    /// Also mine a block every this many seconds (anvil's mixed mining: every
    /// transaction still gets its block at once), so that chain time moves
    /// while nothing is sent and challenge windows and clocks run out; by
    /// default a block is mined per transaction only.
    #[arg(long, env = "VTRAIN_DEVNET_BLOCK_TIME")]
    pub block_time: Option<u64>,
    /// The anvil binary (default: $VTRAIN_ANVIL, else .tools/bin/anvil from
    /// scripts/setup.sh, else anvil on PATH).
    #[arg(long)]
    pub anvil: Option<PathBuf>,
    /// Folder for the deployment manifest, `<chainId>.json`.
    #[arg(long, env = "VTRAIN_DEPLOYMENTS_DIR", default_value = "deployments")]
    pub deployments_dir: PathBuf,
    /// Stop anvil and exit once the contracts are deployed, instead of serving
    /// until Ctrl-C.
    #[arg(long)]
    pub exit_after_deploy: bool,
    /// Print the manifest as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The market's parameters.
    #[command(flatten)]
    pub market: super::MarketArgs,
}

impl DevnetArgs {
    /// Starts anvil, deploys, prints the addresses, then serves until Ctrl-C
    /// or SIGTERM (or exits at once with `--exit-after-deploy`).
    pub async fn run(self) -> eyre::Result<()> {
        let market = self.market.config()?;
        let devnet = Devnet::spawn(&DevnetConfig {
            anvil: self.anvil,
            port: self.port,
            block_time: self.block_time,
            fork_url: None,
        })
        .wrap_err("starting the devnet")?;
        let url = devnet.endpoint_url();
        tracing::info!(target: "deploy::devnet", %url, chain_id = devnet.chain_id(), "anvil is up");

        let deployer = devnet.signer(0).ok_or_eyre("anvil has no dev account 0")?;
        let deployer_address = deployer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(deployer))
            .connect_http(url.clone());
        let deployment = deploy_contracts(&provider, deployer_address, &market)
            .await
            .wrap_err("deploying the contracts to the devnet")?;
        let manifest = deployment
            .write_atomic(&self.deployments_dir)
            .wrap_err("writing the deployment manifest")?;

        let header = format!("devnet    {url} (chain {})", deployment.chain_id);
        super::print_deployment(&header, &deployment, &manifest, self.json)?;

        if self.exit_after_deploy {
            drop(devnet);
            tracing::info!(target: "deploy::devnet", "anvil stopped");
            return Ok(());
        }
        tracing::info!(target: "deploy::devnet", "serving until Ctrl-C");
        wait_for_shutdown_signal().await?;
        drop(devnet);
        tracing::info!(target: "deploy::devnet", "anvil stopped");
        Ok(())
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub(super) async fn wait_for_shutdown_signal() -> eyre::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .wrap_err("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.wrap_err("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
