//! A devnet with vtrain deployed, and the agents and commands of a test.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use vtrain_deploy::{Devnet, DevnetConfig, MarketConfig, deploy_contracts};
use vtrain_dispute::{Deployment, Market};

use crate::agent::{Agent, binary, free_port, run_cli};
use crate::{KEYS, SOLVER, SUBMITTER, VERIFIER};

/// Polls `check` every 100 ms until it returns `Some`, or panics after `limit`
/// with `what` (and whatever `context` says about the agents).
pub async fn wait_until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Moves the chain time of the node behind `provider` forward by `seconds`
/// and mines a block.
pub async fn advance_time(provider: &impl Provider, seconds: u64) {
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (seconds,))
        .await
        .expect("evm_increaseTime");
    let _: serde_json::Value = provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
}

/// Waits until job `job` of `market` has status `status` (see
/// `vtrain_dispute::market::status`).
pub async fn wait_status<P: Provider + Clone>(
    market: &Market<P>,
    job: u64,
    status: u8,
    limit: Duration,
) {
    let what = format!(
        "job {job} to be {}",
        vtrain_dispute::market::status::name(status)
    );
    wait_until(limit, &what, || async {
        (market.job(job).await.ok()?.status == status).then_some(())
    })
    .await;
}

/// anvil with vtrain deployed, and a folder for everything the test writes.
pub struct Net {
    /// The test's folder (manifest, stores, datadirs, logs, specs).
    pub dir: tempfile::TempDir,
    devnet: Devnet,
    /// The deployment.
    pub deployment: Deployment,
    /// A read-only provider.
    pub provider: DynProvider,
}

impl Net {
    /// Starts anvil (a block per transaction) and deploys vtrain.
    pub async fn start() -> Self {
        let devnet = Devnet::spawn(&DevnetConfig::default()).expect("anvil (run scripts/setup.sh)");
        // VTRAIN_E2E_KEEP=1 keeps the folder (logs, datadirs, stores) for a
        // person to read after a failure; its path is printed.
        let keep = std::env::var_os("VTRAIN_E2E_KEEP").is_some();
        let dir = tempfile::Builder::new()
            .prefix("vtrain-e2e-")
            .disable_cleanup(keep)
            .tempdir()
            .expect("tempdir");
        if keep {
            eprintln!("e2e folder kept: {}", dir.path().display());
        }
        let deployer = devnet.signer(0).expect("dev account 0");
        let address = deployer.address();
        let signing = ProviderBuilder::new()
            .wallet(EthereumWallet::from(deployer))
            .connect_http(devnet.endpoint_url());
        let mut deployment = deploy_contracts(&signing, address, &MarketConfig::default())
            .await
            .expect("deploys");
        // As `vtrain-deploy devnet` does: a test token funded to every account.
        vtrain_deploy::deploy_dev_token(&signing, &mut deployment, devnet.addresses())
            .await
            .expect("deploys the test token");
        deployment
            .write_atomic(&dir.path().join("deployments"))
            .expect("manifest");
        let provider = ProviderBuilder::new()
            .connect_http(devnet.endpoint_url())
            .erased();
        Self {
            dir,
            devnet,
            deployment,
            provider,
        }
    }

    /// The node's URL.
    pub fn rpc_url(&self) -> String {
        self.devnet
            .endpoint_url()
            .to_string()
            .trim_end_matches('/')
            .to_owned()
    }

    /// A path in the test's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A read-only market handle.
    pub fn market(&self) -> Market<DynProvider> {
        Market::new(&self.deployment, self.provider.clone()).expect("market")
    }

    /// The address of dev account `index`.
    pub fn address(&self, index: usize) -> Address {
        self.devnet.addresses()[index]
    }

    /// Moves chain time forward by `seconds` and mines a block.
    pub async fn advance(&self, seconds: u64) {
        advance_time(&self.provider, seconds).await;
    }

    /// Environment for an agent or the CLI acting as dev account `index`,
    /// talking to `rpc_url` (the node, or a proxy in front of it).
    pub fn env(&self, index: usize, rpc_url: &str, store: &str) -> Vec<(String, String)> {
        let mut env = self.chain_env(rpc_url);
        env.push(("VTRAIN_PRIVATE_KEY".into(), KEYS[index].into()));
        env.push((
            "VTRAIN_STORE".into(),
            self.path(store).display().to_string(),
        ));
        env
    }

    /// The node and the manifest, for any vtrain program.
    fn chain_env(&self, rpc_url: &str) -> Vec<(String, String)> {
        vec![
            ("VTRAIN_RPC_URL".into(), rpc_url.into()),
            (
                "VTRAIN_DEPLOYMENTS_DIR".into(),
                self.path("deployments").display().to_string(),
            ),
        ]
    }

    /// Starts agent binary `program` as dev account `index`, with datadir
    /// `<name>-data` (unless `extra` names one), store `<name>-store` (unless
    /// `extra` has `--store`), log `<name>.log`, a free port, fast polling and
    /// one thread.
    fn agent(
        &self,
        program: &str,
        name: &str,
        index: usize,
        rpc_url: &str,
        extra: &[&str],
    ) -> Agent {
        self.agent_with_env(program, name, index, rpc_url, extra, &[])
    }

    /// As [`Self::agent`], with the variables `env` added to its environment.
    fn agent_with_env(
        &self,
        program: &str,
        name: &str,
        index: usize,
        rpc_url: &str,
        extra: &[&str],
        env: &[(String, String)],
    ) -> Agent {
        let mut args: Vec<String> = vec!["run".into()];
        if !extra.contains(&"--datadir") {
            args.push("--datadir".into());
            args.push(self.path(&format!("{name}-data")).display().to_string());
        }
        args.extend([
            "--listen".into(),
            format!("127.0.0.1:{}", free_port()),
            "--poll-ms".into(),
            "100".into(),
            "--threads".into(),
            "1".into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut envs = self.env(index, rpc_url, &format!("{name}-store"));
        envs.extend_from_slice(env);
        Agent::start(
            binary(program),
            args,
            envs,
            self.path(&format!("{name}.log")),
        )
    }

    /// Starts a solver (account 2) with `extra` flags, through `rpc_url`.
    pub fn solver_via(&self, rpc_url: &str, extra: &[&str]) -> Agent {
        self.agent("vtrain-solver", "solver", SOLVER, rpc_url, extra)
    }

    /// Starts a solver talking to the node directly.
    pub fn solver(&self, extra: &[&str]) -> Agent {
        self.solver_via(&self.rpc_url(), extra)
    }

    /// Starts a solver with `extra` flags and the variables `env` (an S3
    /// store's credentials and endpoint, for one).
    pub fn solver_with_env(&self, extra: &[&str], env: &[(String, String)]) -> Agent {
        let rpc_url = self.rpc_url();
        self.agent_with_env("vtrain-solver", "solver", SOLVER, &rpc_url, extra, env)
    }

    /// Starts a watchtower with `extra` flags and the variables `env`.
    pub fn verifier_with_env(&self, extra: &[&str], env: &[(String, String)]) -> Agent {
        let rpc_url = self.rpc_url();
        self.agent_with_env(
            "vtrain-verifier",
            "verifier",
            VERIFIER,
            &rpc_url,
            extra,
            env,
        )
    }

    /// Starts a watchtower (account 3) with `extra` flags, through `rpc_url`.
    pub fn verifier_via(&self, rpc_url: &str, extra: &[&str]) -> Agent {
        self.agent("vtrain-verifier", "verifier", VERIFIER, rpc_url, extra)
    }

    /// Starts a watchtower talking to the node directly.
    pub fn verifier(&self, extra: &[&str]) -> Agent {
        self.verifier_via(&self.rpc_url(), extra)
    }

    /// Starts a watchtower as dev account `index` (another challenger: a
    /// second watchtower, an attacker, a cheater's sock puppet), with datadir,
    /// store and log named after `name`.
    pub fn verifier_as(&self, name: &str, index: usize, extra: &[&str]) -> Agent {
        self.agent("vtrain-verifier", name, index, &self.rpc_url(), extra)
    }

    /// Starts `vtrain explorer` on a free port, reading the chain every
    /// 100 ms; its URL is [`Agent::listen_url`]. It gets no key.
    pub fn explorer(&self) -> Agent {
        let envs = self.chain_env(&self.rpc_url());
        let args = [
            "explorer",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--poll-ms",
            "100",
        ];
        Agent::start(
            binary("vtrain"),
            args.iter().map(|a| (*a).to_owned()).collect(),
            envs,
            self.path("explorer.log"),
        )
    }

    /// Runs `vtrain` as the submitter (account 1).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_via(&self.rpc_url(), args)
    }

    /// Runs `vtrain` as the submitter, talking to `rpc_url` (a proxy, a fork).
    pub fn cli_via(&self, rpc_url: &str, args: &[&str]) -> std::process::Output {
        let env = self.env(SUBMITTER, rpc_url, "submitter-store");
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_cli(args, &env)
    }

    /// Waits until `account` has withdrawn exactly `amount` from the market in all.
    pub async fn wait_withdrawn(&self, account: Address, amount: U256) {
        let what = format!("{account} to have withdrawn {amount} wei");
        wait_until(Duration::from_secs(30), &what, || async {
            (self.withdrawn(account).await == amount).then_some(())
        })
        .await;
    }

    /// Writes the digits spec, shrunk to `steps` steps with checkpoints every
    /// `interval` and one hidden layer of `hidden` (`None`: the full example).
    pub fn write_spec(&self, name: &str, shrink: Option<(u32, u32, u32)>) -> PathBuf {
        let mut text = include_str!("../../examples/digits-mlp.toml").to_owned();
        if let Some((steps, interval, hidden)) = shrink {
            text = text
                .replace("steps = 800", &format!("steps = {steps}"))
                .replace(
                    "checkpoint_interval = 100",
                    &format!("checkpoint_interval = {interval}"),
                )
                .replace("hidden = [128]", &format!("hidden = [{hidden}]"));
        }
        let path = self.path(name);
        std::fs::write(&path, text).expect("spec");
        path
    }

    /// Posts `spec` on the bundled digits data with a challenge window of
    /// `window`; returns the job id.
    pub fn post(&self, spec: &std::path::Path, window: &str) -> u64 {
        self.post_on(spec, "bundled:digits", window)
    }

    /// Posts `spec` on the dataset `data` (`--data`: a path or
    /// `bundled:digits`) with a challenge window of `window`; returns the job
    /// id.
    pub fn post_on(&self, spec: &std::path::Path, data: &str, window: &str) -> u64 {
        let out = self.post_command(spec, data, window, &[]);
        assert!(
            out.status.success(),
            "job post failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let posted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        posted["job_id"].as_u64().expect("a job id")
    }

    /// `vtrain job post --json` of `spec` on the bundled digits data with a
    /// challenge window of `window` and the `extra` flags; the command's output,
    /// whatever it is.
    pub fn post_with(
        &self,
        spec: &std::path::Path,
        window: &str,
        extra: &[&str],
    ) -> std::process::Output {
        self.post_command(spec, "bundled:digits", window, extra)
    }

    /// `vtrain job post --json` of `spec` on `data`; the command's output.
    fn post_command(
        &self,
        spec: &std::path::Path,
        data: &str,
        window: &str,
        extra: &[&str],
    ) -> std::process::Output {
        let spec = spec.display().to_string();
        let mut args = vec![
            "job",
            "post",
            "--spec",
            &spec,
            "--data",
            data,
            "--challenge-window",
            window,
            "--json",
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// How many jobs the market has seen.
    pub async fn job_count(&self) -> u64 {
        self.market()
            .market()
            .jobCount()
            .call()
            .await
            .expect("jobCount")
            .saturating_to()
    }

    /// The job's on-chain status.
    pub async fn status(&self, job: u64) -> u8 {
        self.market().job(job).await.expect("job").status
    }

    /// Waits until job `job` has status `status` (see `vtrain_dispute::market::status`).
    pub async fn wait_status(&self, job: u64, status: u8, limit: Duration) {
        wait_status(&self.market(), job, status, limit).await;
    }

    /// What `account` can withdraw from the market.
    pub async fn credits(&self, account: Address) -> U256 {
        self.credits_in(vtrain_dispute::ETH, account).await
    }

    /// The balance of `account`.
    pub async fn balance(&self, account: Address) -> U256 {
        self.provider.get_balance(account).await.expect("balance")
    }

    /// The total `Withdrawn` in ETH by `account` so far, from the market's events.
    pub async fn withdrawn(&self, account: Address) -> U256 {
        self.withdrawn_in(vtrain_dispute::ETH, account).await
    }

    /// The total `Withdrawn` in `token` (ETH: zero) by `account` so far.
    pub async fn withdrawn_in(&self, token: Address, account: Address) -> U256 {
        let events = self
            .market()
            .market()
            .Withdrawn_filter()
            .topic1(token)
            .topic2(account)
            .from_block(0)
            .query()
            .await
            .expect("events");
        events.iter().map(|(e, _)| e.amount).sum()
    }

    /// How many transactions `account` has sent (its nonce at the latest block).
    pub async fn nonce(&self, account: Address) -> u64 {
        self.provider
            .get_transaction_count(account)
            .await
            .expect("nonce")
    }

    /// The devnet's test token (`DevToken`, 6 decimals, funded to every account).
    pub fn dev_token(&self) -> Address {
        self.deployment
            .address("DevToken")
            .expect("DevToken in the manifest")
    }

    /// `account`'s balance of `token`.
    pub async fn token_balance(&self, token: Address, account: Address) -> U256 {
        vtrain_dispute::token::IERC20Metadata::new(token, &self.provider)
            .balanceOf(account)
            .call()
            .await
            .expect("balanceOf")
    }

    /// What `account` can withdraw from the market in `token`.
    pub async fn credits_in(&self, token: Address, account: Address) -> U256 {
        self.market()
            .credits(token, account)
            .await
            .expect("credits")
    }
}
