//! The watchtower's configuration: the settings every agent shares
//! (`vtrain_cli::AgentArgs`) and its own.

use clap::Args;
use serde::Deserialize;
use vtrain_dispute::game::Tamper;

/// `vtrain-verifier run` flags.
#[derive(Args, Clone, Debug, Default)]
pub struct RunArgs {
    /// Chain, key, store, datadir, server and polling.
    #[command(flatten)]
    pub agent: vtrain_cli::AgentArgs,
    /// The fraction of checkpoint intervals to replay, 0 < rate ≤ 1 [default: 1, full replay].
    #[arg(long, env = "VTRAIN_VERIFIER_SAMPLE_RATE")]
    pub sample_rate: Option<f64>,
    /// Replay threads (the bits do not depend on it) [default: all cores].
    #[arg(long, env = "VTRAIN_VERIFIER_THREADS")]
    pub threads: Option<usize>,
    /// Test only: dispute honest results, believing one flipped weight after step N.
    #[arg(long, env = "VTRAIN_VERIFIER_DISPUTE_HONEST", hide = true)]
    pub dispute_honest_at: Option<u32>,
}

/// The watchtower's own keys of the TOML file.
#[derive(Debug, Default, Deserialize)]
struct VerifierFile {
    sample_rate: Option<f64>,
    threads: Option<usize>,
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// The shared agent settings.
    pub agent: vtrain_cli::AgentConfig,
    /// The fraction of intervals replayed.
    pub sample_rate: f64,
    /// Replay threads.
    pub threads: usize,
    /// Test only: the malicious challenger's delusion (always `None`
    /// without the `faults` feature).
    pub delusion: Option<Tamper>,
}

impl RunArgs {
    /// Resolves flags, environment, file and defaults.
    pub fn resolve(self) -> eyre::Result<VerifierConfig> {
        let (agent, file) = self.agent.resolve::<VerifierFile>("verifier", 7071)?;
        let sample_rate = self.sample_rate.or(file.sample_rate).unwrap_or(1.0);
        if !(sample_rate > 0.0 && sample_rate <= 1.0) {
            eyre::bail!("--sample-rate must be in (0, 1], got {sample_rate}");
        }
        Ok(VerifierConfig {
            agent,
            sample_rate,
            threads: self
                .threads
                .or(file.threads)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            delusion: self.dispute_honest_at.map(delusion).transpose()?,
        })
    }
}

/// The malicious challenger's belief: one flipped weight after `step`.
#[cfg(feature = "faults")]
fn delusion(step: u32) -> eyre::Result<Tamper> {
    Ok(Tamper::weight(step, 0, 7))
}

/// A build without the `faults` feature has no malicious challenger.
#[cfg(not(feature = "faults"))]
fn delusion(_step: u32) -> eyre::Result<Tamper> {
    eyre::bail!(
        "--dispute-honest-at is a test mode, and this build has none (it was built without \
         the `faults` feature)"
    )
}
