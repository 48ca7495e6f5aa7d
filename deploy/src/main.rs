//! `vtrain-deploy`: start a local devnet or deploy vtrain's contracts.

use clap::Parser;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    vtrain_cli::init_tracing();
    vtrain_deploy::cmd::Cli::parse().run().await
}
