//! A local anvil chain: the embedded default for development, demos and tests.

use crate::error::{Error, Result};
use crate::toolchain::find_tool;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use std::path::PathBuf;

/// How to start a devnet.
#[derive(Clone, Debug, Default)]
pub struct DevnetConfig {
    /// The anvil binary; found with [`find_tool`] when `None`.
    pub anvil: Option<PathBuf>,
    /// The port to listen on; `0` lets the OS pick a free one.
    pub port: u16,
    /// Seconds between blocks; `None` mines one block per transaction.
    pub block_time: Option<u64>,
    /// Fork the state of this RPC endpoint instead of starting empty.
    pub fork_url: Option<String>,
}

/// A running anvil. Dropping it shuts anvil down (SIGTERM, then SIGKILL).
#[derive(Debug)]
pub struct Devnet {
    anvil: AnvilInstance,
}

impl Devnet {
    /// Starts anvil as configured and waits until it serves JSON-RPC.
    pub fn spawn(config: &DevnetConfig) -> Result<Self> {
        let path = match &config.anvil {
            Some(path) if path.is_file() => path.clone(),
            Some(path) => {
                return Err(Error::ToolNotFound {
                    tool: "anvil".into(),
                    env_var: "VTRAIN_ANVIL".into(),
                    searched: vec![path.clone()],
                });
            }
            None => find_tool("anvil")?,
        };
        let mut builder = Anvil::at(&path).port(config.port);
        if let Some(seconds) = config.block_time {
            // Mixed mining: a block for every transaction at once (games move
            // fast) and one every `seconds` besides, so chain time advances
            // while nothing is sent and deadlines and windows can pass.
            builder = builder.block_time(seconds).arg("--mixed-mining");
        }
        if let Some(url) = &config.fork_url {
            builder = builder.fork(url.clone());
        }
        let anvil = builder
            .try_spawn()
            .map_err(|source| Error::AnvilStart { path, source })?;
        if anvil.keys().is_empty() {
            return Err(Error::NoDevAccounts);
        }
        Ok(Self { anvil })
    }

    /// The HTTP JSON-RPC endpoint.
    pub fn endpoint_url(&self) -> alloy::transports::http::reqwest::Url {
        self.anvil.endpoint_url()
    }

    /// The chain id anvil reports.
    pub fn chain_id(&self) -> u64 {
        self.anvil.chain_id()
    }

    /// The port anvil listens on.
    pub fn port(&self) -> u16 {
        self.anvil.port()
    }

    /// The funded dev account number `index` (anvil has ten), as a signer.
    pub fn signer(&self, index: usize) -> Option<PrivateKeySigner> {
        self.anvil
            .nth_key(index)
            .map(|key| PrivateKeySigner::from(key.clone()))
    }

    /// The dev accounts' addresses.
    pub fn addresses(&self) -> &[Address] {
        self.anvil.addresses()
    }
}
