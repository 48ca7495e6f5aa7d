//! The settings every agent daemon shares, and how they are resolved: each is
//! a flag, an environment variable, and a key of the TOML file given by
//! `--config`; a flag or variable wins over the file, the file over the
//! default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use eyre::WrapErr;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Flags every agent daemon takes.
#[derive(Args, Clone, Debug, Default)]
pub struct AgentArgs {
    /// A TOML file with any of these settings (`rpc_url = "…"`, …) and the agent's own.
    #[arg(long, env = "VTRAIN_CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON-RPC endpoint [default: http://127.0.0.1:8545].
    #[arg(long, env = "VTRAIN_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Folder of deployment manifests [default: deployments].
    #[arg(long, env = "VTRAIN_DEPLOYMENTS_DIR")]
    pub deployments_dir: Option<PathBuf>,
    /// Hex private key of the agent's account (prefer the env var).
    #[arg(long, env = "VTRAIN_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// Artifact store: a directory, file://, s3:// or gs:// URL [default: vtrain-store].
    #[arg(long, env = "VTRAIN_STORE")]
    pub store: Option<String>,
    /// The agent's own state folder [default: vtrain-<agent>-data].
    #[arg(long, env = "VTRAIN_DATADIR")]
    pub datadir: Option<PathBuf>,
    /// Where the HTTP server (status, /metrics, artifacts) listens.
    #[arg(long, env = "VTRAIN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// How often to look at the chain, in milliseconds [default: 1000].
    #[arg(long, env = "VTRAIN_POLL_MS")]
    pub poll_ms: Option<u64>,
    /// How many blocks deep an event must be before the agent acts on it
    /// [default: 0 on a local devnet (chain 31337), 5 elsewhere].
    #[arg(long, env = "VTRAIN_CONFIRMATIONS")]
    pub confirmations: Option<u64>,
}

/// The shared keys of an agent's TOML file.
#[derive(Debug, Default, Deserialize)]
struct AgentFile {
    rpc_url: Option<String>,
    deployments_dir: Option<PathBuf>,
    private_key: Option<String>,
    store: Option<String>,
    datadir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    poll_ms: Option<u64>,
    confirmations: Option<u64>,
}

/// An agent's TOML file: the shared keys, the agent's own (`T`), and nothing else.
#[derive(Debug, Deserialize)]
struct FileWith<T> {
    #[serde(flatten)]
    common: AgentFile,
    #[serde(flatten)]
    own: T,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// The resolved shared settings.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// Folder of deployment manifests.
    pub deployments_dir: PathBuf,
    /// The signing key.
    pub private_key: Option<String>,
    /// Artifact store location.
    pub store: String,
    /// The agent's own state folder.
    pub datadir: PathBuf,
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Poll interval.
    pub poll: Duration,
    /// Confirmation depth; `None` for the chain's default
    /// ([`default_confirmations`]).
    pub confirmations: Option<u64>,
}

/// The chain id of local devnets (anvil, hardhat): their blocks are only
/// reorganised when a test asks, and they mine only when sent a transaction,
/// so a depth would stall them.
pub const DEVNET_CHAIN_ID: u64 = 31337;

/// The confirmation depth agents use on `chain_id` unless told otherwise:
/// none on a local devnet; 5 blocks elsewhere, which rides out a sequencer's
/// or a proposer's short reorgs (10 s on an OP-stack L2, a minute on L1) at
/// the cost of acting that much later (`docs/agents.md`, reorgs).
pub fn default_confirmations(chain_id: u64) -> u64 {
    if chain_id == DEVNET_CHAIN_ID { 0 } else { 5 }
}

impl AgentArgs {
    /// Resolves the shared settings of agent `name` (whose server listens on
    /// `default_port` by default) and reads the agent's own keys `T` from the
    /// file (all optional; `T::default()` without a file).
    pub fn resolve<T: DeserializeOwned + Default>(
        self,
        name: &str,
        default_port: u16,
    ) -> eyre::Result<(AgentConfig, T)> {
        let (file, own) = match &self.config {
            Some(path) => {
                let parsed: FileWith<T> = read_toml(path)?;
                if let Some(key) = parsed.unknown.keys().next() {
                    eyre::bail!("config file {}: unknown key `{key}`", path.display());
                }
                (parsed.common, parsed.own)
            }
            None => (AgentFile::default(), T::default()),
        };
        let config = AgentConfig {
            rpc_url: self
                .rpc_url
                .or(file.rpc_url)
                .unwrap_or_else(|| "http://127.0.0.1:8545".into()),
            deployments_dir: self
                .deployments_dir
                .or(file.deployments_dir)
                .unwrap_or_else(|| "deployments".into()),
            private_key: self.private_key.or(file.private_key),
            store: self
                .store
                .or(file.store)
                .unwrap_or_else(|| "vtrain-store".into()),
            datadir: self
                .datadir
                .or(file.datadir)
                .unwrap_or_else(|| format!("vtrain-{name}-data").into()),
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port))),
            poll: Duration::from_millis(self.poll_ms.or(file.poll_ms).unwrap_or(1_000).max(10)),
            confirmations: self.confirmations.or(file.confirmations),
        };
        Ok((config, own))
    }
}

fn read_toml<T: DeserializeOwned>(path: &Path) -> eyre::Result<T> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).wrap_err_with(|| format!("config file {} is malformed", path.display()))
}

/// Connects an agent: its signer, the deployment manifest for the chain behind
/// the RPC endpoint (checked byte for byte against the chain), and the market.
pub async fn connect_agent(
    config: &AgentConfig,
) -> eyre::Result<(
    alloy::primitives::Address,
    vtrain_dispute::Market<impl alloy::providers::Provider + Clone + use<>>,
)> {
    let key = crate::KeyArgs {
        private_key: config.private_key.clone(),
    };
    let (account, provider) = crate::signing_provider(&config.rpc_url, key.signer()?)?;
    let chain = crate::ChainArgs {
        rpc_url: config.rpc_url.clone(),
        deployments_dir: config.deployments_dir.clone(),
    };
    let deployment = chain.load_deployment(&provider).await?;
    deployment
        .check(&provider)
        .await
        .wrap_err("the deployment manifest does not match the chain")?;
    let confirmations = config
        .confirmations
        .unwrap_or_else(|| default_confirmations(deployment.chain_id));
    let market =
        vtrain_dispute::Market::new(&deployment, provider)?.with_confirmations(confirmations);
    Ok((account, market))
}

/// Removes the tasks of `tasks` that have ended and returns their outcomes
/// (a task that panicked or was aborted gives its `JoinError`); running
/// tasks stay. How the daemons collect their training runs and replays.
pub async fn take_finished<K, T>(
    tasks: &mut std::collections::HashMap<K, tokio::task::JoinHandle<T>>,
) -> Vec<(K, Result<T, tokio::task::JoinError>)>
where
    K: Copy + Eq + std::hash::Hash,
{
    let ended: Vec<K> = tasks
        .iter()
        .filter(|(_, task)| task.is_finished())
        .map(|(key, _)| *key)
        .collect();
    let mut outcomes = Vec::with_capacity(ended.len());
    for key in ended {
        if let Some(task) = tasks.remove(&key) {
            outcomes.push((key, task.await));
        }
    }
    outcomes
}

/// Runs an agent binary's `main` future on a multi-threaded runtime and shuts
/// the runtime down without waiting more than 250 ms for blocking work
/// still running (a replay, a training step): such work is redone after a
/// restart, so Ctrl-C or SIGTERM ends the process at once instead of when
/// the replay would have finished.
pub fn run_agent(main: impl std::future::Future<Output = eyre::Result<()>>) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let result = runtime.block_on(main);
    runtime.shutdown_timeout(Duration::from_millis(250));
    result
}

/// An agent's main loop: `tick` every `poll` until `stop` resolves, which
/// also ends a tick under way at its next await (everything a tick does is
/// re-derived from the chain, the store and the datadir on the next start, so
/// ending it anywhere is as safe as `kill -9`). A failed tick is logged (with
/// `agent` naming the daemon) and retried on the next; `on_outcome` sees each
/// tick's error, or `None`, for the agent's status.
pub async fn tick_until(
    agent: &'static str,
    poll: Duration,
    stop: impl std::future::Future<Output = ()>,
    mut tick: impl AsyncFnMut() -> eyre::Result<()>,
    mut on_outcome: impl FnMut(Option<String>),
) {
    tokio::pin!(stop);
    let mut failures = crate::FailureLog::default();
    loop {
        let result = tokio::select! {
            result = tick() => result,
            () = &mut stop => return,
        };
        let error = result.as_ref().err().map(|e| format!("{e:#}"));
        if error.is_some() {
            metrics::counter!(format!("vtrain_{agent}_errors_total"), "kind" => "tick")
                .increment(1);
        }
        failures.report(&format!("{agent} tick"), result);
        on_outcome(error);
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(poll) => {}
        }
    }
}
