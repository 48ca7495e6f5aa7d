#![doc = include_str!("../README.md")]

mod cmd;
pub mod exit;
mod output;
pub mod plot;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vtrain_cli::CheckArgs;

pub use exit::{CliError, Failure};

/// vtrain, the submitter CLI: post training jobs with escrow, watch them and fetch the trained model.
#[derive(Debug, Parser)]
#[command(name = "vtrain", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Post, follow, cancel and fetch training jobs.
    #[command(subcommand)]
    Job(cmd::JobCommand),
    /// Check that the deployment manifest matches the chain before trusting it.
    Check(CheckArgs),
    /// Serve a read-only web explorer of the deployment: jobs, results, games and payouts.
    Explorer(ExplorerArgs),
}

/// `vtrain explorer`.
#[derive(Debug, clap::Args)]
pub struct ExplorerArgs {
    /// Where the chain is and where its manifest lives.
    #[command(flatten)]
    pub chain: vtrain_cli::ChainArgs,
    /// The address to serve on (the explorer is read-only and holds no key;
    /// bind beyond localhost only behind a proxy you trust).
    #[arg(long, env = "VTRAIN_EXPLORER_LISTEN", default_value = "127.0.0.1:8600")]
    pub listen: std::net::SocketAddr,
    /// How often the chain is read, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub poll_ms: u64,
}

impl ExplorerArgs {
    async fn run(self) -> Result<(), CliError> {
        use alloy::providers::Provider;
        let unreachable = |report| CliError {
            failure: Failure::Unreachable,
            report,
        };
        let provider = self
            .chain
            .provider()
            .map_err(|report| CliError {
                failure: Failure::Input,
                report,
            })?
            .erased();
        let deployment = self
            .chain
            .load_deployment(&provider)
            .await
            .map_err(unreachable)?;
        vtrain_explorer::serve(
            provider,
            &self.chain.rpc_url,
            &deployment,
            self.listen,
            std::time::Duration::from_millis(self.poll_ms),
        )
        .await
        .map_err(unreachable)
    }
}

impl Cli {
    /// Runs the chosen subcommand; prints any error and returns its exit code.
    pub async fn run(self) -> ExitCode {
        let (json, result) = match self.command {
            Command::Job(command) => (command.json(), command.run().await),
            Command::Explorer(args) => (false, args.run().await),
            Command::Check(args) => (
                false,
                args.run().await.map_err(|report| CliError {
                    failure: Failure::Unreachable,
                    report,
                }),
            ),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                output::print_error(&error, json);
                ExitCode::from(error.failure as u8)
            }
        }
    }
}
