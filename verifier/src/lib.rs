#![doc = include_str!("../README.md")]

use clap::{Parser, Subcommand};
use vtrain_cli::CheckArgs;

/// The vtrain watchtower verifier: replays sampled checkpoint intervals and challenges wrong results.
#[derive(Debug, Parser)]
#[command(name = "vtrain-verifier", version, about)]
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
