//! `vtrain-deploy deploy`.

use crate::deploy_contracts;
use alloy::network::EthereumWallet;
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;

/// Deploy every contract to an existing chain.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// JSON-RPC endpoint of the target chain.
    #[arg(long, env = "VTRAIN_RPC_URL")]
    pub rpc_url: String,
    /// Hex private key of the funded deployer account.
    #[arg(long, env = "VTRAIN_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: String,
    /// Folder for the deployment manifest, `<chainId>.json`.
    #[arg(long, env = "VTRAIN_DEPLOYMENTS_DIR", default_value = "deployments")]
    pub deployments_dir: PathBuf,
    /// Print the manifest as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The market's parameters.
    #[command(flatten)]
    pub market: super::MarketArgs,
}

impl DeployArgs {
    /// Deploys, writes the manifest and prints the addresses.
    pub async fn run(self) -> eyre::Result<()> {
        let market = self.market.config()?;
        let signer: PrivateKeySigner = self
            .private_key
            .trim()
            .parse()
            .wrap_err("--private-key is not a valid hex secp256k1 private key")?;
        let url = self
            .rpc_url
            .parse()
            .wrap_err_with(|| format!("--rpc-url {} is not a valid URL", self.rpc_url))?;
        let deployer = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url);
        let deployment = deploy_contracts(&provider, deployer, &market)
            .await
            .wrap_err_with(|| format!("deploying to {}", self.rpc_url))?;
        let manifest = deployment
            .write_atomic(&self.deployments_dir)
            .wrap_err("writing the deployment manifest")?;
        let header = format!("chain     {} via {}", deployment.chain_id, self.rpc_url);
        super::print_deployment(&header, &deployment, &manifest, self.json)
    }
}
