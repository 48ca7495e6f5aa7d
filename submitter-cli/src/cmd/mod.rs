//! `vtrain job …`: one file per subcommand.

mod cancel;
mod fetch;
mod finalize;
mod initial_model;
mod post;
mod status;
mod watch;

use alloy::providers::Provider;
use clap::{Args, Subcommand};
use vtrain_cli::{ChainArgs, KeyArgs};
use vtrain_dispute::{JobBook, Market};

use crate::exit::{CliResult, Failure, from_chain};

/// `vtrain job` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Publish the dataset to the store and post the job with its escrowed reward.
    Post(Box<post::PostArgs>),
    /// Show one job: status, solver, result, challenge window and disputes.
    Status(status::StatusArgs),
    /// List the jobs on the market.
    List(status::ListArgs),
    /// Follow a job live until it is finalized, slashed or cancelled.
    Watch(watch::WatchArgs),
    /// Cancel a job nobody has claimed; the reward is refunded.
    Cancel(cancel::CancelArgs),
    /// Fix a job's outcome once its window has closed and its disputes are decided (anyone may).
    Finalize(finalize::FinalizeArgs),
    /// Withdraw what the market owes you (the refund of a slashed or cancelled job).
    Withdraw(cancel::WithdrawArgs),
    /// Download the final model, check it against the on-chain modelRoot, and report its test accuracy.
    Fetch(fetch::FetchArgs),
    /// Print the model root of a model file: the `init.root` of a job that fine-tunes it.
    ModelRoot(initial_model::ModelRootArgs),
}

impl JobCommand {
    /// Whether output is JSON.
    pub fn json(&self) -> bool {
        match self {
            Self::Post(a) => a.common.json,
            Self::Status(a) => a.common.json,
            Self::List(a) => a.common.json,
            Self::Watch(a) => a.common.json,
            Self::Cancel(a) => a.common.json,
            Self::Fetch(a) => a.common.json,
            Self::Withdraw(a) => a.common.json,
            Self::Finalize(a) => a.common.json,
            Self::ModelRoot(a) => a.json,
        }
    }

    /// Runs it.
    pub async fn run(self) -> CliResult<()> {
        match self {
            Self::Post(a) => a.run().await,
            Self::Status(a) => a.run().await,
            Self::List(a) => a.run().await,
            Self::Watch(a) => a.run().await,
            Self::Cancel(a) => a.run().await,
            Self::Fetch(a) => a.run().await,
            Self::Withdraw(a) => a.run().await,
            Self::Finalize(a) => a.run().await,
            Self::ModelRoot(a) => a.run(),
        }
    }
}

/// Flags every `job` subcommand takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Where the chain is and where its manifest lives.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print machine-readable JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Common {
    /// A read-only market handle, with the deployment checked against the chain.
    pub async fn market(&self) -> CliResult<Market<impl Provider + Clone + use<>>> {
        let provider = self.chain.provider().map_err(|report| crate::CliError {
            failure: Failure::Input,
            report,
        })?;
        market_for(&self.chain, provider).await
    }

    /// A market handle that signs with `key`.
    pub async fn signing_market(
        &self,
        key: &KeyArgs,
    ) -> CliResult<(
        alloy::primitives::Address,
        Market<impl Provider + Clone + use<>>,
    )> {
        let to_input = |report| crate::CliError {
            failure: Failure::Input,
            report,
        };
        let signer = key.signer().map_err(to_input)?;
        let (account, provider) =
            vtrain_cli::signing_provider(&self.chain.rpc_url, signer).map_err(to_input)?;
        Ok((account, market_for(&self.chain, provider).await?))
    }
}

async fn market_for<P: Provider + Clone>(chain: &ChainArgs, provider: P) -> CliResult<Market<P>> {
    let deployment = chain.load_deployment(&provider).await.map_err(|report| {
        // A transport failure (no answer), found by type, not by text.
        let unreachable = report.chain().any(|cause| {
            cause
                .downcast_ref::<alloy::transports::TransportError>()
                .is_some_and(|e| e.as_error_resp().is_none())
        });
        crate::CliError {
            failure: if unreachable {
                Failure::Unreachable
            } else {
                Failure::Input
            },
            report,
        }
    })?;
    Market::new(&deployment, provider).map_err(|e| from_chain(e, "reading the deployment"))
}

/// The job book, read from the deployment block to the latest block.
pub(crate) async fn book<P: Provider + Clone>(market: &Market<P>) -> CliResult<JobBook> {
    let mut book = JobBook::starting_at(market.deployed_at());
    market
        .catch_up(&mut book)
        .await
        .map_err(|e| from_chain(e, "reading the market's events"))?;
    Ok(book)
}

/// The TOML spec at `path`, validated (exit 3 if it cannot be read or is invalid).
pub(crate) fn read_spec(path: &std::path::Path) -> CliResult<vtrain_proof_of_learning::JobSpec> {
    use crate::exit::Classify;
    let text = std::fs::read_to_string(path).or_fail(
        Failure::Input,
        format!("cannot read the spec {}", path.display()),
    )?;
    vtrain_proof_of_learning::JobSpec::from_toml(&text).or_fail(
        Failure::Input,
        format!("the spec {} is invalid", path.display()),
    )
}

/// Parses a duration: seconds, or a number with `s`, `m`, `h` or `d`.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 30m, 2h or 1d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    value
        .checked_mul(scale)
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("{text:?} must be positive and not absurdly long"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("2h"), Ok(7_200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
