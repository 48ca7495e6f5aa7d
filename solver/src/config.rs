//! The solver's configuration: the settings every agent shares
//! (`vtrain_cli::AgentArgs`) and its own, each a flag, an environment
//! variable and a key of the `--config` TOML file.

use alloy::primitives::U256;
use clap::Args;
use eyre::WrapErr;
use serde::Deserialize;

use crate::fault::Fault;

/// `vtrain-solver run` flags.
#[derive(Args, Clone, Debug, Default)]
pub struct RunArgs {
    /// Chain, key, store, datadir, server and polling.
    #[command(flatten)]
    pub agent: vtrain_cli::AgentArgs,
    /// The server's URL as others reach it, announced on chain [default: http://<listen>].
    #[arg(long, env = "VTRAIN_SOLVER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Jobs trained at once [default: 1].
    #[arg(long, env = "VTRAIN_SOLVER_CAPACITY")]
    pub capacity: Option<usize>,
    /// The smallest reward worth claiming: `0.5` for ETH, `TOKEN=250` for an
    /// ERC-20 (in its units: 250 USDC). Repeatable (or comma-separated); a
    /// job paid in a token no entry names is refused [default: 0, ETH only].
    #[arg(long, env = "VTRAIN_SOLVER_MIN_REWARD", value_delimiter = ',')]
    pub min_reward: Vec<String>,
    /// The largest model to accept, in parameters [default: 10000000].
    #[arg(long, env = "VTRAIN_SOLVER_MAX_PARAMS")]
    pub max_params: Option<usize>,
    /// Training threads (the bits do not depend on it) [default: all cores].
    #[arg(long, env = "VTRAIN_SOLVER_THREADS")]
    pub threads: Option<usize>,
    /// Where to train: `cpu`, or `cuda:N` (a GPU, qualified against the CPU
    /// reference at start) [default: cpu].
    #[arg(long, env = "VTRAIN_SOLVER_DEVICE")]
    pub device: Option<vtrain_cuda::DeviceChoice>,
    /// Test only: behave dishonestly (see the `fault` module).
    #[arg(long, env = "VTRAIN_SOLVER_FAULT", hide = true)]
    pub fault: Option<Fault>,
}

/// The solver's own keys of the TOML file.
#[derive(Debug, Default, Deserialize)]
struct SolverFile {
    public_url: Option<String>,
    capacity: Option<usize>,
    min_reward: Option<MinRewardFile>,
    max_params: Option<usize>,
    threads: Option<usize>,
    device: Option<String>,
}

/// `min_reward` in the TOML file: one entry or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MinRewardFile {
    One(String),
    Many(Vec<String>),
}

/// One `--min-reward` entry: the floor in one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MinReward {
    /// In ETH, in wei.
    Eth(U256),
    /// In a token, as written: its decimals are read from the chain at start.
    Token {
        /// The token.
        token: alloy::primitives::Address,
        /// The amount as written (`250`, `0.5`).
        amount: String,
    },
}

impl std::str::FromStr for MinReward {
    type Err = eyre::Report;

    fn from_str(text: &str) -> eyre::Result<Self> {
        match text.split_once('=') {
            None => Ok(Self::Eth(vtrain_cli::parse_eth(text)?)),
            Some((token, amount)) => {
                let token: alloy::primitives::Address = token.trim().parse().map_err(|e| {
                    eyre::eyre!("{token:?} is not a token address (TOKEN=AMOUNT): {e}")
                })?;
                if token.is_zero() {
                    eyre::bail!("the zero address is ETH: write the ETH amount alone");
                }
                // The syntax now, the decimals once the token is read.
                vtrain_dispute::token::parse_units(amount, vtrain_dispute::token::MAX_DECIMALS)
                    .map_err(|e| eyre::eyre!(e))?;
                Ok(Self::Token {
                    token,
                    amount: amount.trim().to_owned(),
                })
            }
        }
    }
}

/// The currencies the solver takes jobs in, by address (ETH at zero).
pub(crate) type Currencies =
    std::collections::BTreeMap<alloy::primitives::Address, vtrain_dispute::Currency>;

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct SolverConfig {
    /// The shared agent settings.
    pub agent: vtrain_cli::AgentConfig,
    /// The server's public URL, without a trailing slash.
    pub public_url: String,
    /// Jobs trained at once.
    pub capacity: usize,
    /// The smallest reward worth claiming, per currency (`MinReward`).
    pub min_rewards: Vec<MinReward>,
    /// The largest model to accept, in parameters.
    pub max_params: usize,
    /// Training threads.
    pub threads: usize,
    /// Where training steps run.
    pub device: vtrain_cuda::DeviceChoice,
    /// Test only: a dishonest behaviour.
    pub fault: Option<Fault>,
}

impl SolverConfig {
    /// What the planner needs of it (`crate::plan`), with each token floor in
    /// the token's units, and the currencies it takes jobs in (ETH and each
    /// token named), as read through `provider` for their decimals. Fails
    /// (before anything is sent) when a token cannot be read or an amount has
    /// more places than its token.
    pub async fn policy<P: alloy::providers::Provider>(
        &self,
        provider: &P,
    ) -> eyre::Result<(crate::plan::Policy, Currencies)> {
        let mut currencies =
            Currencies::from([(vtrain_dispute::ETH, vtrain_dispute::Currency::eth())]);
        let mut min_rewards = std::collections::BTreeMap::new();
        for entry in &self.min_rewards {
            match entry {
                MinReward::Eth(wei) => {
                    min_rewards.insert(vtrain_dispute::ETH, *wei);
                }
                MinReward::Token { token, amount } => {
                    let currency = vtrain_dispute::Currency::read(provider, *token)
                        .await
                        .wrap_err_with(|| format!("min_reward: the token {token}"))?;
                    let units = vtrain_dispute::token::parse_units(amount, currency.decimals)
                        .map_err(|e| eyre::eyre!("min_reward for {}: {e}", currency.symbol))?;
                    tracing::info!(target: "solver", token = %token, symbol = %currency.symbol, min_reward = %currency.format(units), "takes jobs paid in a token");
                    min_rewards.insert(*token, units);
                    currencies.insert(*token, currency);
                }
            }
        }
        min_rewards.entry(vtrain_dispute::ETH).or_insert(U256::ZERO);
        let policy = crate::plan::Policy {
            capacity: self.capacity,
            min_rewards,
            max_params: self.max_params,
        };
        Ok((policy, currencies))
    }
}

impl RunArgs {
    /// Resolves flags, environment, file and defaults.
    pub fn resolve(self) -> eyre::Result<SolverConfig> {
        let (agent, file) = self.agent.resolve::<SolverFile>("solver", 7070)?;
        let listen = agent.listen;
        Ok(SolverConfig {
            public_url: self
                .public_url
                .or(file.public_url)
                .unwrap_or_else(|| format!("http://{listen}"))
                .trim_end_matches('/')
                .to_owned(),
            capacity: self.capacity.or(file.capacity).unwrap_or(1).max(1),
            min_rewards: {
                let texts = match (self.min_reward, file.min_reward) {
                    (flags, _) if !flags.is_empty() => flags,
                    (_, Some(MinRewardFile::One(text))) => vec![text],
                    (_, Some(MinRewardFile::Many(texts))) => texts,
                    (_, None) => Vec::new(),
                };
                texts
                    .iter()
                    .map(|text| text.parse::<MinReward>().wrap_err("min_reward"))
                    .collect::<eyre::Result<_>>()?
            },
            max_params: self.max_params.or(file.max_params).unwrap_or(10_000_000),
            threads: self
                .threads
                .or(file.threads)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            device: match (self.device, file.device) {
                (Some(device), _) => device,
                (None, Some(text)) => text
                    .parse()
                    .map_err(|error: String| eyre::eyre!("device: {error}"))?,
                (None, None) => vtrain_cuda::DeviceChoice::Cpu,
            },
            fault: self.fault,
            agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_file(text: &str, args: RunArgs) -> eyre::Result<SolverConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("solver.toml");
        std::fs::write(&path, text)?;
        let mut args = args;
        args.agent.config = Some(path);
        args.resolve()
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let config = with_file(
            "capacity = 3\nmin_reward = \"0.5\"\nstore = \"/srv/store\"\n",
            RunArgs {
                capacity: Some(2),
                ..RunArgs::default()
            },
        )
        .expect("resolves");
        assert_eq!(config.capacity, 2);
        assert_eq!(
            config.min_rewards,
            vec![MinReward::Eth(
                U256::from(5u64) * U256::from(10u64).pow(U256::from(17))
            )]
        );
        assert_eq!(config.agent.store, "/srv/store");
        assert_eq!(config.public_url, "http://127.0.0.1:7070");
        assert_eq!(config.agent.datadir.to_str(), Some("vtrain-solver-data"));
        assert_eq!(config.device, vtrain_cuda::DeviceChoice::Cpu);
    }

    #[test]
    fn min_rewards_name_eth_and_tokens_and_refuse_what_is_not_an_amount() {
        let token = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        let config = with_file(
            &format!("min_reward = [\"0.25\", \"{token}=250.5\"]\n"),
            RunArgs::default(),
        )
        .expect("resolves");
        assert_eq!(
            config.min_rewards,
            vec![
                MinReward::Eth(U256::from(25u64) * U256::from(10u64).pow(U256::from(16))),
                MinReward::Token {
                    token: token.parse().expect("address"),
                    amount: "250.5".into()
                },
            ]
        );
        let flags = with_file(
            "min_reward = \"9\"\n",
            RunArgs {
                min_reward: vec![format!("{token}=1")],
                ..RunArgs::default()
            },
        )
        .expect("resolves");
        assert_eq!(flags.min_rewards.len(), 1, "the flags replace the file");
        for bad in [
            "-1".to_owned(),
            format!("{token}=-5"),
            "0x12=5".to_owned(),
            format!("{}=5", alloy::primitives::Address::ZERO),
            format!("{token}=1e6"),
        ] {
            let error = with_file(
                "",
                RunArgs {
                    min_reward: vec![bad.clone()],
                    ..RunArgs::default()
                },
            )
            .expect_err(&bad);
            assert!(
                format!("{error:#}").contains("min_reward"),
                "{bad}: {error:#}"
            );
        }
    }

    #[test]
    fn the_device_comes_from_the_flag_or_the_file_and_a_bad_one_is_refused() {
        let from_file = with_file("device = \"cuda:1\"\n", RunArgs::default()).expect("resolves");
        assert_eq!(from_file.device, vtrain_cuda::DeviceChoice::Cuda(1));
        let flag = with_file(
            "device = \"cuda:1\"\n",
            RunArgs {
                device: Some(vtrain_cuda::DeviceChoice::Cpu),
                ..RunArgs::default()
            },
        )
        .expect("resolves");
        assert_eq!(flag.device, vtrain_cuda::DeviceChoice::Cpu);
        let error = with_file("device = \"gpu0\"\n", RunArgs::default()).expect_err("refused");
        assert!(
            format!("{error:#}").contains("expected cpu, cuda or cuda:N"),
            "{error:#}"
        );
    }

    #[test]
    fn the_confirmation_depth_is_a_flag_or_a_key_else_the_chains_default() {
        let from_file = with_file("confirmations = 12\n", RunArgs::default()).expect("resolves");
        assert_eq!(from_file.agent.confirmations, Some(12));
        let mut args = RunArgs::default();
        args.agent.confirmations = Some(0);
        let flag = with_file("confirmations = 12\n", args).expect("resolves");
        assert_eq!(flag.agent.confirmations, Some(0));
        let unset = with_file("", RunArgs::default()).expect("resolves");
        assert_eq!(unset.agent.confirmations, None);
        assert_eq!(
            vtrain_cli::default_confirmations(vtrain_cli::DEVNET_CHAIN_ID),
            0
        );
        assert_eq!(vtrain_cli::default_confirmations(10), 5);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let error = with_file("capacty = 3\n", RunArgs::default()).expect_err("typo");
        assert!(format!("{error:#}").contains("capacty"), "{error:#}");
    }
}
