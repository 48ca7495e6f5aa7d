//! `vtrain-deploy devnet`.

use crate::{DEV_TOKEN_FUNDING, Devnet, DevnetConfig, deploy_contracts, deploy_dev_token};
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
    /// Also write the funded dev accounts (index, role, address, private
    /// key: anvil's public test keys) as JSON to this file.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
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
        let mut deployment = deploy_contracts(&provider, deployer_address, &market)
            .await
            .wrap_err("deploying the contracts to the devnet")?;
        // A test token for ERC-20 jobs, funded to every dev account.
        let token = deploy_dev_token(&provider, &mut deployment, devnet.addresses())
            .await
            .wrap_err("deploying the devnet's test token")?;
        let manifest = deployment
            .write_atomic(&self.deployments_dir)
            .wrap_err("writing the deployment manifest")?;

        let header = format!("devnet    {url} (chain {})", deployment.chain_id);
        super::print_deployment(&header, &deployment, &manifest, self.json)?;
        let accounts = dev_accounts(&devnet);
        if let Some(path) = &self.accounts {
            let json: Vec<serde_json::Value> = accounts
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "index": a.index,
                        "role": a.role,
                        "address": a.address,
                        "private_key": a.private_key,
                    })
                })
                .collect();
            std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
                .wrap_err_with(|| format!("writing the dev accounts to {}", path.display()))?;
        }
        if !self.json {
            print_accounts(&accounts);
            println!(
                "test token DevToken (vUSD, 6 decimals) at {token}: {} vUSD minted to each dev account; \
                 anyone may mint more. Pay a job in it with `vtrain job post --token {token}`.",
                DEV_TOKEN_FUNDING / 1_000_000
            );
        }

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

/// One funded dev account, as `--accounts` writes it.
#[derive(Debug)]
pub(super) struct DevAccount {
    /// anvil's account index.
    pub index: usize,
    /// What the README, the demo and the tests use it for.
    pub role: &'static str,
    /// Its address.
    pub address: String,
    /// Its private key: one of anvil's public test keys.
    pub private_key: String,
}

/// The role of dev account `index` in the README's steps, the demo and the
/// end-to-end tests.
fn role(index: usize) -> &'static str {
    match index {
        0 => "deployer",
        1 => "submitter",
        2 => "solver",
        3 => "watchtower",
        _ => "spare",
    }
}

/// The devnet's funded accounts with their keys.
fn dev_accounts(devnet: &crate::Devnet) -> Vec<DevAccount> {
    (0..devnet.addresses().len())
        .filter_map(|index| {
            let signer = devnet.signer(index)?;
            Some(DevAccount {
                index,
                role: role(index),
                address: signer.address().to_string(),
                private_key: format!("0x{}", alloy::hex::encode(signer.to_bytes())),
            })
        })
        .collect()
}

/// The accounts as a table, with the warning that their keys are public.
fn print_accounts(accounts: &[DevAccount]) {
    println!(
        "dev accounts, funded with 10000 ETH each. Their keys are anvil's PUBLIC test keys, \
         known to everyone: never use them on a real chain."
    );
    for account in accounts {
        println!(
            "  {} {:<10} {}  {}",
            account.index, account.role, account.address, account.private_key
        );
    }
    println!(
        "  e.g. VTRAIN_PRIVATE_KEY={} vtrain-solver run",
        accounts
            .iter()
            .find(|a| a.role == "solver")
            .map_or("<key>", |a| a.private_key.as_str())
    );
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
