//! The market parameters a deployment is made with, as flags.

use crate::MarketConfig;
use clap::Args;

/// The market's parameters (`docs/dispute-game.md` § Payouts and § Clocks).
/// The defaults suit a devnet and a chain with blocks of a few seconds.
#[derive(Args, Clone, Debug)]
pub struct MarketArgs {
    /// The bond a challenger posts per game, in ETH.
    #[arg(long, env = "VTRAIN_CHALLENGER_BOND", default_value = "0.1")]
    pub challenger_bond: String,
    /// The burned share of a forfeited bond, in basis points (1..=9999).
    #[arg(long, env = "VTRAIN_BURN_BPS", default_value_t = MarketConfig::default().burn_bps)]
    pub burn_bps: u16,
    /// Each side's chess clock per game, in seconds (at least 110 × --move-time).
    #[arg(long, env = "VTRAIN_CLOCK", default_value_t = MarketConfig::default().clock_secs)]
    pub clock: u64,
    /// Seconds for the replay of one checkpoint interval; a solver gets one
    /// per interval under dispute on its job.
    #[arg(long, env = "VTRAIN_EXTENSION", default_value_t = MarketConfig::default().extension_secs)]
    pub extension: u64,
    /// Seconds the market allows for one move to be mined (block time plus
    /// inclusion latency).
    #[arg(long, env = "VTRAIN_MOVE_TIME", default_value_t = MarketConfig::default().move_time_secs)]
    pub move_time: u64,
    /// fp32 primitives per second a solver is assumed to replay; jobs whose
    /// interval would not replay within --extension are refused.
    #[arg(long, env = "VTRAIN_REPLAY_RATE", default_value_t = MarketConfig::default().replay_rate)]
    pub replay_rate: u64,
}

impl MarketArgs {
    /// The checked configuration.
    pub fn config(&self) -> eyre::Result<MarketConfig> {
        let config = MarketConfig {
            challenger_bond: vtrain_cli::parse_eth(&self.challenger_bond)
                .map_err(|e| eyre::eyre!("--challenger-bond: {e}"))?,
            burn_bps: self.burn_bps,
            clock_secs: self.clock,
            extension_secs: self.extension,
            move_time_secs: self.move_time,
            replay_rate: self.replay_rate,
        };
        config.validate()?;
        Ok(config)
    }
}
