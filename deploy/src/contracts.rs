//! Deploys every vtrain contract through the generated bindings.

use crate::error::{Error, Result};
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use std::collections::BTreeMap;
use vtrain_dispute::Deployment;
use vtrain_dispute::bindings::{
    ArtifactRegistry, AttentionPrograms, DensePrograms, DevToken, Fp32Alu, GraphSemantics,
    GraphSpecRules, ImagePrograms, JobMarket, NormPrograms,
};

/// The most moves one side makes in a game (`JobMarket.MAX_MOVES_PER_SIDE`).
pub const MAX_MOVES_PER_SIDE: u64 = 110;
/// The longest chess clock or extension (`JobMarket.MAX_CLOCK`).
pub const MAX_CLOCK_SECS: u64 = 30 * 24 * 3600;

/// The market's parameters (`JobMarket.Config`; `docs/dispute-game.md` §
/// Payouts and § Clocks say how to choose them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketConfig {
    /// The bond a challenger posts per game, in wei.
    pub challenger_bond: U256,
    /// The burned share of a forfeited bond, in basis points, in (0, 10000).
    pub burn_bps: u16,
    /// Each side's chess clock per game, in seconds.
    pub clock_secs: u64,
    /// The time for the replay of one checkpoint interval, in seconds.
    pub extension_secs: u64,
    /// The time the market allows for one move to be mined, in seconds.
    pub move_time_secs: u64,
    /// The fp32 primitives per second a solver is assumed to replay.
    pub replay_rate: u64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            challenger_bond: U256::from(100_000_000_000_000_000u128), // 0.1 ETH
            burn_bps: 5_000,
            clock_secs: 3_600,
            extension_secs: 1_800,
            move_time_secs: 30,
            replay_rate: 1_000_000_000,
        }
    }
}

impl MarketConfig {
    /// The constructor's checks, so that a bad configuration is refused before
    /// anything is deployed.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field: &'static str, reason: String| Err(Error::BadMarketConfig { field, reason });
        if self.challenger_bond.is_zero() {
            return bad("challenger bond", "must be above zero".into());
        }
        if self.burn_bps == 0 || self.burn_bps >= 10_000 {
            return bad(
                "burn",
                format!(
                    "{} bps: must be in 1..=9999 (with none a cheater's sock puppets win its bond \
                     back; with all, refuting pays nothing)",
                    self.burn_bps
                ),
            );
        }
        if self.move_time_secs == 0 {
            return bad("move time", "must be at least one second".into());
        }
        let minimum = MAX_MOVES_PER_SIDE.saturating_mul(self.move_time_secs);
        if self.clock_secs < minimum || self.clock_secs > MAX_CLOCK_SECS {
            return bad(
                "clock",
                format!(
                    "{} s: must be at least {MAX_MOVES_PER_SIDE} moves × {} s = {minimum} s and \
                     at most 30 days",
                    self.clock_secs, self.move_time_secs
                ),
            );
        }
        if self.extension_secs == 0 || self.extension_secs > MAX_CLOCK_SECS {
            return bad(
                "extension",
                format!("{} s: must be in 1 s..=30 days", self.extension_secs),
            );
        }
        if self.replay_rate == 0 {
            return bad("replay rate", "must be above zero".into());
        }
        Ok(())
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
/// ALU, the step semantics of layer graphs (with its dense-op, image-op and
/// layer-norm programs and spec rules), and the job market with the dispute game it
/// creates.
pub async fn deploy_contracts<P: Provider>(
    provider: &P,
    deployer: Address,
    config: &MarketConfig,
) -> Result<Deployment> {
    config.validate()?;
    let chain_id = provider.get_chain_id().await?;
    let registry = ArtifactRegistry::deploy(provider)
        .await
        .map_err(deploy_error("ArtifactRegistry"))?;
    let alu = Fp32Alu::deploy(provider)
        .await
        .map_err(deploy_error("Fp32Alu"))?;
    let dense = DensePrograms::deploy(provider)
        .await
        .map_err(deploy_error("DensePrograms"))?;
    let images = ImagePrograms::deploy(provider)
        .await
        .map_err(deploy_error("ImagePrograms"))?;
    let norms = NormPrograms::deploy(provider)
        .await
        .map_err(deploy_error("NormPrograms"))?;
    let attention = AttentionPrograms::deploy(provider)
        .await
        .map_err(deploy_error("AttentionPrograms"))?;
    let rules = GraphSpecRules::deploy(provider)
        .await
        .map_err(deploy_error("GraphSpecRules"))?;
    let semantics = GraphSemantics::deploy(
        provider,
        *dense.address(),
        *images.address(),
        *norms.address(),
        *attention.address(),
        *rules.address(),
    )
    .await
    .map_err(deploy_error("GraphSemantics"))?;
    let market = JobMarket::deploy(
        provider,
        *alu.address(),
        *semantics.address(),
        JobMarket::Config {
            challengerBond: config.challenger_bond,
            burnBps: U256::from(config.burn_bps),
            clock: config.clock_secs,
            extension: config.extension_secs,
            moveTime: config.move_time_secs,
            replayRate: config.replay_rate,
        },
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
        ("DensePrograms".to_owned(), *dense.address()),
        ("ImagePrograms".to_owned(), *images.address()),
        ("NormPrograms".to_owned(), *norms.address()),
        ("AttentionPrograms".to_owned(), *attention.address()),
        ("GraphSpecRules".to_owned(), *rules.address()),
        ("GraphSemantics".to_owned(), *semantics.address()),
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

/// What `vtrain-deploy devnet` mints of its test token to each dev account:
/// 1,000,000 vUSD (6 decimals).
pub const DEV_TOKEN_FUNDING: u64 = 1_000_000 * 1_000_000;

/// Deploys `DevToken` (a test stablecoin anyone may mint, for devnets only),
/// mints `DEV_TOKEN_FUNDING` to each of `accounts`, and records it in
/// `deployment` as `DevToken`. Returns its address.
pub async fn deploy_dev_token<P: Provider>(
    provider: &P,
    deployment: &mut Deployment,
    accounts: &[Address],
) -> Result<Address> {
    let token = DevToken::deploy(provider)
        .await
        .map_err(deploy_error("DevToken"))?;
    for account in accounts {
        token
            .mint(*account, U256::from(DEV_TOKEN_FUNDING))
            .send()
            .await
            .map_err(deploy_error("DevToken"))?
            .get_receipt()
            .await
            .map_err(|e| deploy_error("DevToken")(e.into()))?;
    }
    let address = *token.address();
    tracing::info!(target: "deploy", contract = "DevToken", %address, funded = accounts.len(), "deployed");
    deployment.contracts.insert("DevToken".to_owned(), address);
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constructor_checks_are_made_before_anything_is_sent() {
        assert!(MarketConfig::default().validate().is_ok());
        let refused = |change: fn(&mut MarketConfig)| {
            let mut config = MarketConfig::default();
            change(&mut config);
            config.validate().is_err()
        };
        assert!(refused(|c| c.burn_bps = 0));
        assert!(refused(|c| c.burn_bps = 10_000));
        assert!(refused(|c| c.challenger_bond = U256::ZERO));
        assert!(refused(|c| c.move_time_secs = 0));
        assert!(refused(
            |c| c.clock_secs = MAX_MOVES_PER_SIDE * c.move_time_secs - 1
        ));
        assert!(refused(|c| c.clock_secs = MAX_CLOCK_SECS + 1));
        assert!(refused(|c| c.extension_secs = 0));
        assert!(refused(|c| c.replay_rate = 0));
        let mut exact = MarketConfig::default();
        exact.clock_secs = MAX_MOVES_PER_SIDE * exact.move_time_secs;
        assert!(exact.validate().is_ok());
    }
}
