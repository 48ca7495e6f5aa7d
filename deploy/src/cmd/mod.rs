//! The `vtrain-deploy` subcommands, one per file, each an `Args` struct with `run`.

mod deploy;
mod devnet;
mod fork;
mod market;

pub use deploy::DeployArgs;
pub use devnet::DevnetArgs;
use devnet::wait_for_shutdown_signal;
pub use fork::ForkArgs;
pub use market::MarketArgs;

use clap::{Parser, Subcommand};
use std::path::Path;
use vtrain_cli::CheckArgs;
use vtrain_dispute::Deployment;

/// Prints a fresh deployment on stdout: its manifest as JSON with `json`,
/// otherwise `header`, one line per contract and the manifest's path.
fn print_deployment(
    header: &str,
    deployment: &Deployment,
    manifest: &Path,
    json: bool,
) -> eyre::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(deployment)?);
    } else {
        println!("{header}");
        for (name, address) in &deployment.contracts {
            println!("{name:<24} {address}");
        }
        println!("manifest  {}", manifest.display());
    }
    Ok(())
}

/// `vtrain-deploy`: start a local devnet or deploy vtrain to any EVM chain.
#[derive(Debug, Parser)]
#[command(name = "vtrain-deploy", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a local anvil, deploy every contract and write deployments/<chainId>.json.
    Devnet(DevnetArgs),
    /// Deploy every contract to an existing chain through its RPC endpoint.
    Deploy(DeployArgs),
    /// Start a local anvil forking a chain where vtrain is deployed, for tests against its state.
    Fork(ForkArgs),
    /// Check that a deployment manifest matches its chain.
    Check(CheckArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> eyre::Result<()> {
        match self.command {
            Command::Devnet(args) => args.run().await,
            Command::Deploy(args) => args.run().await,
            Command::Fork(args) => args.run().await,
            Command::Check(args) => args.run().await,
        }
    }
}
