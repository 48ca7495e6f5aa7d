//! The one error type of `vtrain-deploy`.

use std::path::PathBuf;

/// Everything that can go wrong while starting a devnet or deploying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Foundry binary could not be found anywhere it may live.
    #[error(
        "cannot find `{tool}`: looked in {}. Run scripts/setup.sh to install the pinned \
         toolchain into .tools/, or point {env_var} at the binary",
        searched.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ToolNotFound {
        /// The binary's name.
        tool: String,
        /// The environment variable that overrides the search.
        env_var: String,
        /// Every place that was tried.
        searched: Vec<PathBuf>,
    },
    /// anvil did not start.
    #[error("anvil ({path}) failed to start: {source}")]
    AnvilStart {
        /// The anvil binary that was run.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: alloy::node_bindings::NodeError,
    },
    /// A market parameter the contract would refuse.
    #[error("market parameters: {field}: {reason}")]
    BadMarketConfig {
        /// The parameter.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// anvil started without the funded dev accounts a devnet needs.
    #[error("anvil started without funded dev accounts")]
    NoDevAccounts,
    /// A deployment transaction failed or reverted.
    #[error("deploying {contract} failed: {source}")]
    Deploy {
        /// The contract being deployed.
        contract: &'static str,
        /// The failure.
        #[source]
        source: Box<alloy::contract::Error>,
    },
    /// The RPC endpoint failed or could not be reached.
    #[error("RPC request failed: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// Writing or checking the manifest failed.
    #[error(transparent)]
    Manifest(#[from] vtrain_dispute::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
