#![doc = include_str!("../README.md")]

mod config;
pub mod metrics;
pub mod plan;
pub mod replay;
mod watch;

pub use config::{RunArgs, VerifierConfig};
pub use replay::Verdict;
pub use watch::{WatchReport, Watchtower};

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;

use axum::Router;
use axum::routing::get;
use clap::{Args, Parser, Subcommand};
use eyre::WrapErr;
use vtrain_cli::CheckArgs;
use vtrain_store::{ArtifactStore, Datadir};

/// The vtrain watchtower: replays sampled checkpoint intervals bit for bit and challenges wrong results.
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
    /// Run the watchtower: verify results, challenge wrong ones, play and withdraw.
    Run(Box<RunArgs>),
    /// Show what the watchtower has verified and disputed, from its datadir.
    Status(StatusArgs),
    /// Check that the deployment manifest matches the chain before trusting it.
    Check(CheckArgs),
}

/// `status` flags.
#[derive(Args, Clone, Debug)]
pub struct StatusArgs {
    /// The watchtower's datadir.
    #[arg(long, env = "VTRAIN_DATADIR", default_value = "vtrain-verifier-data")]
    pub datadir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> eyre::Result<()> {
        match self.command {
            Command::Run(args) => run(args.resolve()?).await,
            Command::Status(args) => status(&args),
            Command::Check(args) => args.run().await,
        }
    }
}

/// Runs the watchtower until Ctrl-C or SIGTERM.
pub async fn run(config: VerifierConfig) -> eyre::Result<()> {
    let (account, market) = vtrain_cli::connect_agent(&config.agent).await?;
    let store = ArtifactStore::open(&config.agent.store)?;
    let datadir = Datadir::open(&config.agent.datadir)?;
    crate::metrics::describe();
    let metrics = vtrain_cli::install_metrics()?;
    let report = Arc::new(RwLock::new(WatchReport::default()));
    #[cfg(feature = "faults")]
    if config.delusion.is_some() {
        tracing::warn!(target: "verifier", "TEST MODE: this watchtower disputes honest results and will lose its bonds");
    }
    let listen = config.agent.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .wrap_err_with(|| format!("cannot listen on {listen}"))?;
    let shared = report.clone();
    let router = Router::new()
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        )
        .route(
            "/v1/status",
            get(move || {
                let report = shared.read().clone();
                std::future::ready(axum::Json(report))
            }),
        );
    tracing::info!(target: "verifier", %account, %listen, store = %store.url(), sample_rate = config.sample_rate, "watchtower up");
    let watchtower = Watchtower::new(config, account, market, datadir, store, report);
    tokio::select! {
        result = axum::serve(listener, router) => result.wrap_err("HTTP server failed"),
        result = watchtower.run(vtrain_cli::shutdown_signal()) => result,
    }
}

fn status(args: &StatusArgs) -> eyre::Result<()> {
    let datadir = Datadir::open(&args.datadir)?;
    let report: WatchReport = datadir.load("status")?.ok_or_else(|| {
        eyre::eyre!(
            "no status in {}: has `vtrain-verifier run` been started with this --datadir?",
            args.datadir.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("watchtower {} at block {}", report.account, report.block);
    for v in &report.verdicts {
        let outcome = match v.dispute {
            Some(c) => format!("WRONG from checkpoint {c}"),
            None => "agrees".into(),
        };
        println!(
            "job {:>4}  {outcome:<28} replayed {} intervals, {} checkpoints withheld",
            v.job_id,
            v.replayed.len(),
            v.withheld.len()
        );
    }
    for (game, job, state) in &report.games {
        println!("game {game:>3} on job {job}: {state}");
    }
    if let Some(error) = &report.last_error {
        println!("last error: {error}");
    }
    Ok(())
}
