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
}

impl Cli {
    /// Runs the chosen subcommand; prints any error and returns its exit code.
    pub async fn run(self) -> ExitCode {
        let (json, result) = match self.command {
            Command::Job(command) => (command.json(), command.run().await),
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
