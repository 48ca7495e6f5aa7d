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
    /// A call or a simulated transaction reverted; nothing was sent. The
    /// reason is kept typed (`Revert`), so a caller can tell one custom error
    /// from another without reading text.
    #[error("{label}: reverted: {revert}")]
    Revert {
        /// What was called (`claimJob`, `getJob`, …).
        label: String,
        /// Why, decoded against every vtrain contract's errors.
        revert: Revert,
    },
    /// The node answered with an error that is not a revert, or with
    /// something that cannot be read (an undecodable event).
    #[error("contract call failed: {0}")]
    Contract(String),
    /// The node lacks a block it should have (it is behind, or pruned).
    #[error("the node has no block {0}")]
    MissingBlock(u64),
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
    /// A failed contract call (a view): a revert is kept typed.
    pub fn from_contract(error: alloy::contract::Error) -> Self {
        match error {
            alloy::contract::Error::TransportError(e) => Self::from_rpc_call(e, "call"),
            other => Self::Contract(other.to_string()),
        }
    }

    /// A failed `eth_call` or `eth_estimateGas` of `label`: a revert is
    /// decoded against every vtrain contract's custom errors
    /// (`JobMarket.WrongStatus`, not `0x…`) and kept typed.
    pub fn from_rpc_call(error: alloy::transports::TransportError, label: &str) -> Self {
        match error.as_error_resp() {
            Some(resp) => match resp.as_revert_data() {
                Some(data) => Self::Revert {
                    label: label.to_owned(),
                    revert: Revert::decode(&data),
                },
                None => Self::Contract(format!("{label}: {resp}")),
            },
            None => Self::Rpc(error),
        }
    }

    /// The revert, if this is one.
    pub fn revert(&self) -> Option<&Revert> {
        match self {
            Self::Revert { revert, .. } => Some(revert),
            _ => None,
        }
    }

    /// Whether trying the same operation again later may succeed (a flaky or
    /// restarting RPC endpoint), as opposed to a problem that needs a fix.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Rpc(_) | Self::Receipt(_) | Self::MissingBlock(_)
        )
    }
}

/// Why a call reverted: the custom error of whichever vtrain contract
/// declares it, a `require` message, or the raw bytes.
#[derive(Clone, Debug)]
pub enum Revert {
    /// A `JobMarket` error.
    JobMarket(crate::bindings::job_market::JobMarket::JobMarketErrors),
    /// A `DisputeGame` error.
    DisputeGame(crate::bindings::dispute_game::DisputeGame::DisputeGameErrors),
    /// An `ArtifactRegistry` error.
    ArtifactRegistry(crate::bindings::artifact_registry::ArtifactRegistry::ArtifactRegistryErrors),
    /// Another vtrain contract's error (a library's: the ALU, the codec, the
    /// spec rules, the step semantics), as its readable name.
    Library(String),
    /// `Error(string)` or a panic code.
    Message(String),
    /// Bytes nothing decodes.
    Raw(alloy::primitives::Bytes),
}

impl Revert {
    /// Decodes revert data.
    pub fn decode(data: &[u8]) -> Self {
        use crate::bindings::{artifact_registry, dispute_game, job_market};
        use alloy::sol_types::{SolError, SolInterface};
        if let Ok(e) = job_market::JobMarket::JobMarketErrors::abi_decode(data) {
            return Self::JobMarket(e);
        }
        if let Ok(e) = dispute_game::DisputeGame::DisputeGameErrors::abi_decode(data) {
            return Self::DisputeGame(e);
        }
        if let Ok(e) = artifact_registry::ArtifactRegistry::ArtifactRegistryErrors::abi_decode(data)
        {
            return Self::ArtifactRegistry(e);
        }
        let text = decode_revert(data);
        if !text.starts_with("0x") && text.contains('.') {
            return Self::Library(text);
        }
        if let Ok(revert) = alloy::sol_types::Revert::abi_decode(data) {
            return Self::Message(revert.reason);
        }
        if let Ok(panic) = alloy::sol_types::Panic::abi_decode(data) {
            return Self::Message(panic.to_string());
        }
        Self::Raw(alloy::primitives::Bytes::copy_from_slice(data))
    }
}

impl std::fmt::Display for Revert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::JobMarket(e) => write!(f, "JobMarket.{e:?}"),
            Self::DisputeGame(e) => write!(f, "DisputeGame.{e:?}"),
            Self::ArtifactRegistry(e) => write!(f, "ArtifactRegistry.{e:?}"),
            Self::Library(text) | Self::Message(text) => f.write_str(text),
            Self::Raw(bytes) => write!(f, "{bytes}"),
        }
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
        if let graph_semantics::GraphSemantics::GraphSemanticsErrors::UnsupportedSpec(u) = &e {
            return format!(
                "GraphSemantics.UnsupportedSpec(offset {}): the deployed step semantics cannot \
                 read the canonical spec from that byte on (a layer, loss, format or section it \
                 cannot dispute), so no game could settle the job",
                u.offset
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::job_market::JobMarket;
    use alloy::sol_types::{SolError, SolInterface};

    #[test]
    fn a_revert_is_decoded_into_its_contracts_typed_error() {
        let data = JobMarket::WindowClosed {}.abi_encode();
        let revert = Revert::decode(&data);
        assert!(
            matches!(
                revert,
                Revert::JobMarket(JobMarket::JobMarketErrors::WindowClosed(_))
            ),
            "{revert:?}"
        );
        assert_eq!(revert.to_string(), "JobMarket.WindowClosed(WindowClosed)");
        let data =
            JobMarket::JobMarketErrors::WindowClosed(JobMarket::WindowClosed {}).abi_encode();
        assert!(matches!(Revert::decode(&data), Revert::JobMarket(_)));
    }

    #[test]
    fn a_message_and_unknown_bytes_are_kept_as_such() {
        let message = alloy::sol_types::Revert::from("nope").abi_encode();
        assert!(matches!(Revert::decode(&message), Revert::Message(m) if m.contains("nope")));
        assert!(matches!(Revert::decode(&[1, 2, 3, 4]), Revert::Raw(_)));
    }
}
