//! `vtrain-verifier`: The vtrain watchtower verifier: replays sampled checkpoint intervals and challenges wrong results.

use clap::Parser;

fn main() -> eyre::Result<()> {
    vtrain_cli::init_tracing();
    vtrain_cli::run_agent(vtrain_verifier::Cli::parse().run())
}
