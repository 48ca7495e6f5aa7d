//! `vtrain`: the submitter CLI: post training jobs with escrow, watch them and fetch the trained model.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vtrain_cli::init_tracing();
    vtrain_submitter_cli::Cli::parse().run().await
}
