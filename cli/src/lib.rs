#![doc = include_str!("../README.md")]

mod agent;
mod failures;

pub use agent::{
    AgentArgs, AgentConfig, DEVNET_CHAIN_ID, connect_agent, default_confirmations, run_agent,
    take_finished, tick_until,
};
pub use failures::FailureLog;

use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
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
        Ok(ProviderBuilder::new().connect_reqwest(rpc_http_client()?, url))
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

/// The key an agent signs its transactions with.
#[derive(Args, Clone, Debug)]
pub struct KeyArgs {
    /// Hex private key of the account that sends transactions (prefer the env
    /// var: a flag shows up in `ps`).
    #[arg(long, env = "VTRAIN_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
}

impl KeyArgs {
    /// The signer, with an actionable error when the key is missing or malformed.
    pub fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        let key = self.private_key.as_deref().ok_or_else(|| {
            eyre::eyre!("no signing key: set VTRAIN_PRIVATE_KEY or pass --private-key")
        })?;
        key.trim()
            .parse()
            .map_err(|_| eyre::eyre!("the private key is not 32 bytes of hex"))
    }
}

/// A provider for `rpc_url` that signs with `signer`.
pub fn signing_provider(
    rpc_url: &str,
    signer: PrivateKeySigner,
) -> eyre::Result<(Address, impl Provider + Clone + use<>)> {
    let url = rpc_url
        .parse()
        .wrap_err_with(|| format!("--rpc-url {rpc_url} is not a valid URL"))?;
    let address = signer.address();
    // Nonces from the node's pending count at each submission (alloy's simple
    // manager), not a local counter: `vtrain_dispute::send_simulated` submits
    // one transaction at a time, so concurrent senders never collide, and a
    // submission that fails leaves no gap that would stall every later one.
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_reqwest(rpc_http_client()?, url);
    Ok((address, provider))
}

/// The longest one JSON-RPC request may take, connection included.
pub const RPC_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest connecting to the RPC endpoint may take.
pub const RPC_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The HTTP client every JSON-RPC request goes through: bounded, so that a
/// request the network swallows (a connection that a NAT or a load balancer
/// dropped silently, a node that accepts and never answers) fails after
/// [`RPC_REQUEST_TIMEOUT`] and is retried on the next tick, instead of
/// holding an agent's loop forever (reqwest's default waits without end).
pub fn rpc_http_client() -> eyre::Result<alloy::transports::http::reqwest::Client> {
    alloy::transports::http::reqwest::Client::builder()
        .timeout(RPC_REQUEST_TIMEOUT)
        .connect_timeout(RPC_CONNECT_TIMEOUT)
        .build()
        .wrap_err("cannot build the HTTP client for the RPC endpoint")
}

/// Formats a wei amount as ETH with up to 6 decimals.
pub fn format_eth(wei: alloy::primitives::U256) -> String {
    alloy::primitives::utils::format_units(wei, "ether")
        .map(|s| {
            let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
            let frac = frac.get(..6).unwrap_or(frac).trim_end_matches('0');
            if frac.is_empty() {
                int.to_owned()
            } else {
                format!("{int}.{frac}")
            }
        })
        .unwrap_or_else(|_| wei.to_string())
}

/// Parses an ETH amount ("0.5", "1") into wei: a plain non-negative decimal
/// with at most 18 places (`vtrain_dispute::token::parse_units`; alloy's
/// `parse_ether` would read "-1" as two's complement, u256::MAX wei).
pub fn parse_eth(text: &str) -> eyre::Result<alloy::primitives::U256> {
    vtrain_dispute::token::parse_units(text, 18).map_err(|e| eyre::eyre!("not an ETH amount: {e}"))
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

/// Installs the Prometheus recorder for this process; the handle renders the
/// `/metrics` page.
pub fn install_metrics() -> eyre::Result<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| eyre::eyre!("cannot install the metrics recorder: {e}"))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U256;

    #[test]
    fn eth_amounts_are_plain_non_negative_decimals() {
        assert_eq!(
            parse_eth("0.5").expect("amount"),
            U256::from(500_000_000_000_000_000u64)
        );
        assert_eq!(parse_eth(" 1 ").expect("amount"), U256::from(10u64.pow(18)));
        assert_eq!(parse_eth("0").expect("amount"), U256::ZERO);
        // alloy's parse_ether reads "-1" as two's complement: refused first
        for bad in ["-1", "-0.5", "+1", "1e18", "", ".", "1.2.3", "0x10", "one"] {
            assert!(parse_eth(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
