//! The one error type of `vtrain-dispute`.

use alloy::primitives::Address;
use std::path::PathBuf;

/// Everything that can go wrong in `vtrain-dispute`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A deployment manifest could not be read or written.
    #[error("deployment manifest {path}: {source}")]
    ManifestIo {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A deployment manifest is not valid JSON of the expected shape.
    #[error("deployment manifest {path} is malformed: {source}")]
    ManifestFormat {
        /// The manifest's path.
        path: PathBuf,
        /// The parse failure.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest names a contract the bindings do not know.
    #[error("deployment lists contract {name}, which is not one of vtrain's contracts")]
    UnknownContract {
        /// The contract name from the manifest.
        name: String,
    },
    /// The manifest lacks a contract the caller needs.
    #[error("deployment for chain {chain_id} has no {name} contract")]
    MissingContract {
        /// The chain of the manifest.
        chain_id: u64,
        /// The missing contract name.
        name: String,
    },
    /// The manifest is for another chain than the RPC endpoint serves.
    #[error("deployment manifest is for chain {manifest}, but the RPC endpoint serves chain {rpc}")]
    WrongChain {
        /// The manifest's chain id.
        manifest: u64,
        /// The RPC endpoint's chain id.
        rpc: u64,
    },
    /// The code at a deployed address is not the code the bindings were built from.
    #[error(
        "{name} at {address} holds {found} bytes of code that differ from this build's contract \
         ({expected} bytes): wrong address, wrong chain, or an outdated deployment"
    )]
    CodeMismatch {
        /// The contract name.
        name: String,
        /// The address from the manifest.
        address: Address,
        /// The length of the expected runtime code.
        expected: usize,
        /// The length of the code found on chain.
        found: usize,
    },
    /// A contract's immutable address is not the manifest's contract of that role.
    #[error(
        "{contract}.{field} is {found}, but the manifest's contract for it is at {expected}: \
         a deployment wired to other contracts"
    )]
    WrongLink {
        /// The contract holding the address.
        contract: String,
        /// The getter.
        field: String,
        /// The manifest's address.
        expected: Address,
        /// The address on chain.
        found: Address,
    },
    /// A contract call failed (a revert, decoded where possible, or a transport error).
    #[error("contract call failed: {0}")]
    Contract(String),
    /// A transaction was mined but reverted.
    #[error("transaction {0} reverted")]
    Reverted(String),
    /// Waiting for a receipt failed.
    #[error("no receipt: {0}")]
    Receipt(String),
    /// The RPC endpoint failed or could not be reached.
    #[error("RPC request failed: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
}

impl Error {
    /// A failed contract call or log query.
    pub fn from_contract(error: alloy::contract::Error) -> Self {
        match error {
            alloy::contract::Error::TransportError(e) if e.as_error_resp().is_none() => {
                Self::Rpc(e)
            }
            other => Self::Contract(other.to_string()),
        }
    }

    /// A failed `eth_call` simulation of a transaction: a revert is decoded
    /// against every vtrain contract's custom errors (`WrongStatus(1, 2)`
    /// rather than `0x…`).
    pub fn from_rpc_call(error: alloy::transports::TransportError) -> Self {
        match error.as_error_resp() {
            Some(resp) => match resp.as_revert_data() {
                Some(data) => Self::Contract(format!("reverted: {}", decode_revert(&data))),
                None => Self::Contract(resp.to_string()),
            },
            None => Self::Rpc(error),
        }
    }

    /// Whether trying the same operation again later may succeed (a flaky or
    /// restarting RPC endpoint), as opposed to a problem that needs a fix.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Rpc(_) | Self::Receipt(_))
    }
}

/// A readable form of revert data: the custom error of whichever vtrain
/// contract declares it, `Error(string)`, or the raw bytes.
pub fn decode_revert(data: &[u8]) -> String {
    use crate::bindings::{
        artifact_registry, dispute_game, fp32_alu, graph_semantics, graph_spec_codec, job_market,
        spec_rules,
    };
    use alloy::sol_types::{SolInterface, decode_revert_reason};
    if let Ok(e) = job_market::JobMarket::JobMarketErrors::abi_decode(data) {
        return format!("JobMarket.{e:?}");
    }
    if let Ok(e) = dispute_game::DisputeGame::DisputeGameErrors::abi_decode(data) {
        return format!("DisputeGame.{e:?}");
    }
    if let Ok(e) = artifact_registry::ArtifactRegistry::ArtifactRegistryErrors::abi_decode(data) {
        return format!("ArtifactRegistry.{e:?}");
    }
    if let Ok(e) = graph_semantics::GraphSemantics::GraphSemanticsErrors::abi_decode(data) {
        return format!("GraphSemantics.{e:?}");
    }
    if let Ok(e) = graph_spec_codec::GraphSpecCodec::GraphSpecCodecErrors::abi_decode(data) {
        return format!("GraphSpecCodec.{e:?}");
    }
    if let Ok(e) = spec_rules::SpecRules::SpecRulesErrors::abi_decode(data) {
        return format!("SpecRules.{e:?}");
    }
    if let Ok(e) = fp32_alu::Fp32Alu::Fp32AluErrors::abi_decode(data) {
        return format!("Fp32Alu.{e:?}");
    }
    decode_revert_reason(data).unwrap_or_else(|| format!("0x{}", alloy::hex::encode(data)))
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
