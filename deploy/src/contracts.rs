//! Deploys every vtrain contract through the generated bindings.

use crate::error::{Error, Result};
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use std::collections::BTreeMap;
use vtrain_dispute::Deployment;
use vtrain_dispute::bindings::{ArtifactRegistry, Fp32Alu, JobMarket, MlpSemantics};

/// The market's parameters (see `JobMarket`'s constructor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketConfig {
    /// The bond a challenger posts per game, in wei.
    pub challenger_bond: U256,
    /// The burned share of a forfeited bond, in basis points.
    pub burn_bps: u16,
    /// Each side's chess clock per game, in seconds.
    pub clock_secs: u64,
    /// The extra time for a side's one heavy move (a step replay), in seconds.
    pub extension_secs: u64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            challenger_bond: U256::from(100_000_000_000_000_000u128), // 0.1 ETH
            burn_bps: 5_000,
            clock_secs: 3_600,
            extension_secs: 1_800,
        }
    }
}

fn deploy_error(contract: &'static str) -> impl FnOnce(alloy::contract::Error) -> Error {
    move |source| Error::Deploy {
        contract,
        source: Box::new(source),
    }
}

/// Deploys every vtrain contract with `provider`, whose wallet is `deployer`,
/// and returns the manifest describing them: the artifact registry, the fp32
/// ALU, the MLP step semantics, and the job market with the dispute game it
/// creates.
pub async fn deploy_contracts<P: Provider>(
    provider: &P,
    deployer: Address,
    config: &MarketConfig,
) -> Result<Deployment> {
    let chain_id = provider.get_chain_id().await?;
    let registry = ArtifactRegistry::deploy(provider)
        .await
        .map_err(deploy_error("ArtifactRegistry"))?;
    let alu = Fp32Alu::deploy(provider)
        .await
        .map_err(deploy_error("Fp32Alu"))?;
    let semantics = MlpSemantics::deploy(provider)
        .await
        .map_err(deploy_error("MlpSemantics"))?;
    let market = JobMarket::deploy(
        provider,
        *alu.address(),
        *semantics.address(),
        config.challenger_bond,
        U256::from(config.burn_bps),
        config.clock_secs,
        config.extension_secs,
    )
    .await
    .map_err(deploy_error("JobMarket"))?;
    let game = market
        .game()
        .call()
        .await
        .map_err(deploy_error("DisputeGame"))?;
    let contracts = BTreeMap::from([
        ("ArtifactRegistry".to_owned(), *registry.address()),
        ("Fp32Alu".to_owned(), *alu.address()),
        ("MlpSemantics".to_owned(), *semantics.address()),
        ("JobMarket".to_owned(), *market.address()),
        ("DisputeGame".to_owned(), game),
    ]);
    for (name, address) in &contracts {
        tracing::info!(target: "deploy", contract = %name, %address, "deployed");
    }
    let block_number = provider.get_block_number().await?;
    Ok(Deployment {
        chain_id,
        deployer,
        block_number,
        contracts,
    })
}
