//! `vtrain-solver`: The vtrain solver daemon: claims jobs, trains them bit-exactly, commits to its checkpoints and defends its results.

use clap::Parser;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    vtrain_cli::init_tracing();
    vtrain_solver::Cli::parse().run().await
}
