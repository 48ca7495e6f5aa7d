#![doc = include_str!("../README.md")]

use clap::{Parser, Subcommand};
use vtrain_cli::CheckArgs;

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
    /// Check that the deployment manifest matches the chain before trusting it.
    Check(CheckArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> eyre::Result<()> {
        match self.command {
            Command::Check(args) => args.run().await,
        }
    }
}
