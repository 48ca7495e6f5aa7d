#![doc = include_str!("../README.md")]

mod config;
mod daemon;
mod defense;
pub mod fault;
pub mod metrics;
pub mod plan;
pub mod server;
pub mod shared;
pub mod step_reports;
pub mod training;

pub use config::{RunArgs, SolverConfig};
pub use daemon::Daemon;
pub use shared::{JobStatus, StatusReport};
pub use training::{ResultRecord, TrainingRecord};

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;

use clap::{Args, Parser, Subcommand};
use eyre::WrapErr;
use vtrain_cli::CheckArgs;
use vtrain_store::{ArtifactStore, Datadir};

/// The vtrain solver daemon: claims jobs, trains them bit-exactly, commits to its checkpoints and defends its results.
#[derive(Debug, Parser)]
#[command(name = "vtrain-solver", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: claim, train, submit, serve, defend, withdraw.
    Run(Box<RunArgs>),
    /// Show what a running (or stopped) solver is doing, from its datadir.
    Status(StatusArgs),
    /// Check that the deployment manifest matches the chain before trusting it.
    Check(CheckArgs),
}

/// `status` flags.
#[derive(Args, Clone, Debug)]
pub struct StatusArgs {
    /// The solver's datadir.
    #[arg(long, env = "VTRAIN_DATADIR", default_value = "vtrain-solver-data")]
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

/// Runs the daemon until Ctrl-C or SIGTERM.
pub async fn run(config: SolverConfig) -> eyre::Result<()> {
    // The device first: a GPU that cannot give the CPU's bits is refused
    // before the solver touches the chain.
    let device = config.device;
    let backend = tokio::task::spawn_blocking(move || vtrain_cuda::start(device))
        .await
        .wrap_err("the device check panicked")?
        .wrap_err_with(|| format!("device {device} cannot train"))?
        .map(|(backend, report)| {
            tracing::info!(
                target: "solver",
                device = %report.device,
                primitive_cases = report.primitive_cases,
                golden_steps = report.job_steps,
                golden_trace_root = %report.trace_root,
                "device qualified: it gives the CPU reference's bits"
            );
            backend
        });
    let (account, market) = vtrain_cli::connect_agent(&config.agent).await?;
    let store = ArtifactStore::open(&config.agent.store)?;
    let datadir = Datadir::open(&config.agent.datadir)?;
    crate::metrics::describe();
    let shared = Arc::new(shared::Shared {
        store,
        fault: config.fault,
        metrics: vtrain_cli::install_metrics()?,
        jobs: RwLock::new(Default::default()),
        status: RwLock::new(StatusReport::default()),
        datadir: datadir.clone(),
        step_reports: Default::default(),
        backend,
    });
    #[cfg(feature = "faults")]
    if let Some(fault) = config.fault {
        tracing::warn!(target: "solver", ?fault, "TEST MODE: this solver cheats and will be slashed");
    }
    let listen = config.agent.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .wrap_err_with(|| format!("cannot listen on {listen}"))?;
    tracing::info!(target: "solver", %account, %listen, url = %config.public_url, store = %shared.store.url(), "solver up");
    let server = axum::serve(
        listener,
        server::router(shared.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    );
    let daemon = Daemon::new(config, account, market, datadir, shared).await?;
    tokio::select! {
        result = server => result.wrap_err("HTTP server failed"),
        result = daemon.run(vtrain_cli::shutdown_signal()) => result,
    }
}

fn status(args: &StatusArgs) -> eyre::Result<()> {
    let datadir = Datadir::open(&args.datadir)?;
    let report: StatusReport = datadir.load("status")?.ok_or_else(|| {
        eyre::eyre!(
            "no status in {}: has `vtrain-solver run` been started with this --datadir?",
            args.datadir.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("solver {} at block {}", report.account, report.block);
    println!(
        "credits: {} ETH",
        vtrain_cli::format_eth(report.credits_wei.parse().unwrap_or_default())
    );
    for job in &report.jobs {
        println!(
            "job {:>4}  {:<20} step {}/{}",
            job.id, job.activity, job.step, job.steps
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
