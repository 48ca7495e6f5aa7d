#![doc = include_str!("../README.md")]

use alloy::providers::{Provider, ProviderBuilder};
use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;
use vtrain_dispute::Deployment;

/// Sends `tracing` logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// How to reach the chain and where its deployment manifest lives.
#[derive(Args, Clone, Debug)]
pub struct ChainArgs {
    /// JSON-RPC endpoint of the chain vtrain is deployed on.
    #[arg(long, env = "VTRAIN_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// Folder holding the deployment manifests, `<chainId>.json`.
    #[arg(long, env = "VTRAIN_DEPLOYMENTS_DIR", default_value = "deployments")]
    pub deployments_dir: PathBuf,
}

impl ChainArgs {
    /// A read-only provider for `--rpc-url`.
    pub fn provider(&self) -> eyre::Result<impl Provider + Clone + use<>> {
        let url = self
            .rpc_url
            .parse()
            .wrap_err_with(|| format!("--rpc-url {} is not a valid URL", self.rpc_url))?;
        Ok(ProviderBuilder::new().connect_http(url))
    }

    /// Reads the manifest of the chain behind `provider`.
    pub async fn load_deployment<P: Provider>(&self, provider: &P) -> eyre::Result<Deployment> {
        let chain_id = provider
            .get_chain_id()
            .await
            .wrap_err_with(|| format!("cannot reach the RPC endpoint {}", self.rpc_url))?;
        let path = Deployment::path_in(&self.deployments_dir, chain_id);
        Deployment::load(&path).wrap_err_with(|| {
            format!("no usable deployment for chain {chain_id}: run `vtrain-deploy` first")
        })
    }
}

/// `check`: verify that the deployment manifest matches the chain.
#[derive(Args, Clone, Debug)]
pub struct CheckArgs {
    /// Where the chain is and where its manifest lives.
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl CheckArgs {
    /// Loads the manifest, checks every contract's code on chain, and prints
    /// what was verified.
    pub async fn run(self) -> eyre::Result<()> {
        let provider = self.chain.provider()?;
        let deployment = self.chain.load_deployment(&provider).await?;
        let check = deployment
            .check(&provider)
            .await
            .wrap_err("the deployment manifest does not match the chain")?;
        print!("{check}");
        Ok(())
    }
}
