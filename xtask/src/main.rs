//! Developer tasks for the vtrain workspace. Run as `cargo xtask <task>`.
//!
//! `bindings` turns forge's build artifacts into the committed Rust bindings of
//! `vtrain-dispute`; `bindings --check` fails when the committed files differ from
//! what the current contracts compile to.

mod bindings;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "vtrain developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the contracts with forge and regenerate dispute/artifacts and
    /// dispute/src/bindings.rs from the artifacts.
    Bindings {
        /// Do not write anything: fail if the committed bindings differ from the
        /// freshly built ones.
        #[arg(long)]
        check: bool,
        /// Use the existing contracts/out instead of running `forge build` first.
        #[arg(long)]
        skip_build: bool,
    },
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.task {
        Task::Bindings { check, skip_build } => {
            if !skip_build {
                bindings::forge_build(&root)?;
            }
            let generated = bindings::generate(&root)?;
            if check {
                bindings::check(&root, &generated)
            } else {
                bindings::write(&root, &generated)
            }
        }
    }
}
