//! Deploys every vtrain contract through the generated bindings.

use crate::error::{Error, Result};
use alloy::primitives::Address;
use alloy::providers::Provider;
use std::collections::BTreeMap;
use vtrain_dispute::Deployment;
use vtrain_dispute::bindings::ArtifactRegistry;

/// Deploys every vtrain contract with `provider`, whose wallet is `deployer`,
/// and returns the manifest describing them.
pub async fn deploy_contracts<P: Provider>(provider: &P, deployer: Address) -> Result<Deployment> {
    let chain_id = provider.get_chain_id().await?;
    let registry = ArtifactRegistry::deploy(provider)
        .await
        .map_err(|source| Error::Deploy {
            contract: "ArtifactRegistry",
            source: Box::new(source),
        })?;
    tracing::info!(target: "deploy", contract = "ArtifactRegistry", address = %registry.address(), "deployed");
    let block_number = provider.get_block_number().await?;
    Ok(Deployment {
        chain_id,
        deployer,
        block_number,
        contracts: BTreeMap::from([("ArtifactRegistry".to_owned(), *registry.address())]),
    })
}
