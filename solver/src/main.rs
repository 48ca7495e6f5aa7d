//! `vtrain-solver`: The vtrain solver daemon: claims jobs, trains them bit-exactly, commits to its checkpoints and defends its results.

use clap::Parser;

fn main() -> eyre::Result<()> {
    vtrain_cli::init_tracing();
    vtrain_cli::run_agent(vtrain_solver::Cli::parse().run())
}
