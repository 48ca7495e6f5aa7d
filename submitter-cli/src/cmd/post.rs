//! `vtrain job post`.

use std::path::PathBuf;

use alloy::primitives::U256;
use alloy::rpc::types::TransactionRequest;
use clap::Args;
use serde::Serialize;
use vtrain_cli::KeyArgs;
use vtrain_proof_of_learning::spec::DatasetFormat;
use vtrain_proof_of_learning::{Dataset, JobSpec};
use vtrain_store::{ArtifactKey, ArtifactStore};

use super::{Common, parse_duration};
use crate::exit::{Classify, CliResult, Failure, fail, from_chain};
use crate::output::emit;

/// `vtrain job post` flags.
#[derive(Args, Clone, Debug)]
pub struct PostArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The submitter's key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// The job spec (TOML; see examples/digits-mlp.toml).
    #[arg(long)]
    pub spec: PathBuf,
    /// The training data: CSV (features then label per row, optionally gzip'd),
    /// safetensors (`features`, `labels`), or text (a `format = "text"` spec, or
    /// a `.txt`/`.txt.gz` file: bytes cut into windows of `dataset.features`
    /// tokens); `bundled:digits` for the bundled digits set.
    #[arg(long)]
    pub data: String,
    /// Multiply every CSV feature by this (e.g. 0.0625 for pixels 0..16).
    #[arg(long, default_value_t = 1.0)]
    pub feature_scale: f32,
    /// The artifact store the dataset (and initial model) is published to.
    #[arg(long, env = "VTRAIN_STORE", default_value = "vtrain-store")]
    pub store: String,
    /// For a spec that fine-tunes a model (`[init] from = "model"`): the model's
    /// weights, safetensors with tensors `param.0`, `param.1`, … (what `vtrain
    /// job fetch` writes). Without it, the model is taken from the store or
    /// from a location announced on chain (an earlier job's solver).
    #[arg(long)]
    pub init_model: Option<PathBuf>,
    /// Pay in this ERC-20 token instead of ETH: the reward and the solver
    /// bond are in it (challenger bonds stay in ETH). The token is approved
    /// for the reward, after every other check has passed.
    #[arg(long, value_name = "ADDRESS")]
    pub token: Option<alloy::primitives::Address>,
    /// The reward escrowed for the solver, in ETH (or in `--token`'s units,
    /// e.g. 250 for 250 USDC).
    #[arg(long, default_value = "1")]
    pub reward: String,
    /// The bond a solver must post to claim, in ETH (or in `--token`'s units).
    #[arg(long, default_value = "0.5")]
    pub solver_bond: String,
    /// How long solvers have to claim the job.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub claim_within: u64,
    /// How long the claiming solver has to train and submit, after the claim deadline.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub train_within: u64,
    /// How long a result can be challenged.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub challenge_window: u64,
}

#[derive(Serialize)]
struct Posted {
    job_id: u64,
    job_hash: String,
    dataset_root: String,
    dataset_uri: String,
    initial_model: Option<String>,
    /// The reward in the currency's smallest unit (wei for ETH).
    reward_wei: String,
    /// The currency: `0x0…0` for ETH, else the token.
    token: String,
    /// Its symbol.
    currency: String,
    claim_deadline: u64,
    submit_deadline: u64,
    challenge_window: u64,
    transaction: String,
    gas_used: u64,
}

impl PostArgs {
    /// Posts the job.
    pub async fn run(self) -> CliResult<()> {
        let spec = super::read_spec(&self.spec)?;
        let dataset = self.load_data(&spec)?;
        dataset.check_against(&spec).or_fail(
            Failure::Input,
            format!(
                "the data {} is not the dataset the spec commits to (fix `dataset.root` or the data)",
                self.data
            ),
        )?;
        let (account, market) = self.common.signing_market(&self.key).await?;
        let currency = match self.token {
            None => vtrain_dispute::Currency::eth(),
            Some(token) if token.is_zero() => {
                return Err(fail(
                    Failure::Input,
                    "--token is the zero address: leave --token out to pay in ETH",
                ));
            }
            Some(token) => vtrain_dispute::Currency::read(market.provider(), token)
                .await
                .map_err(|e| fail(Failure::Input, format!("--token: {e}")))?,
        };
        let amount = |text: &str, flag: &str| {
            vtrain_dispute::token::parse_units(text, currency.decimals)
                .map_err(|e| fail(Failure::Input, format!("{flag}: {e}")))
        };
        let reward = amount(&self.reward, "--reward")?;
        let bond = amount(&self.solver_bond, "--solver-bond")?;
        if reward.is_zero() || bond.is_zero() {
            return Err(fail(
                Failure::Input,
                "--reward and --solver-bond must be positive",
            ));
        }
        let Ok(bond_wei) = u128::try_from(bond) else {
            return Err(fail(
                Failure::Input,
                "--solver-bond is above 2^128 of the currency's smallest unit",
            ));
        };
        if !currency.is_eth() {
            let held = currency
                .balance_of(market.provider(), account)
                .await
                .map_err(|e| from_chain(e, "reading the token balance"))?;
            if held < reward {
                return Err(fail(
                    Failure::Input,
                    format!(
                        "{account} holds {}; the reward is {}",
                        currency.format(held),
                        currency.format(reward)
                    ),
                ));
            }
        }
        let store = ArtifactStore::open(&self.store).or_fail(
            Failure::Input,
            format!("cannot open the store {}", self.store),
        )?;
        let initial =
            super::initial_model::resolve(&spec, self.init_model.as_deref(), &store, &market)
                .await?;
        let job_call = async |market: &vtrain_dispute::Market<_>| -> CliResult<_> {
            let now = market
                .head()
                .await
                .map_err(|e| from_chain(e, "reading the chain time"))?
                .timestamp;
            let deadlines = now
                .checked_add(self.claim_within)
                .and_then(|claim| Some((claim, claim.checked_add(self.train_within)?)));
            let Some((claim_deadline, submit_deadline)) = deadlines else {
                return Err(fail(
                    Failure::Input,
                    "--claim-within or --train-within is too long",
                ));
            };
            let contract = market.market();
            let spec_bytes: alloy::primitives::Bytes = spec.canonical_bytes().into();
            // What is simulated before anything is sent (with its label), and
            // the posting itself. An ETH job's posting is its own check; a
            // token job's cannot run before its approval, so `checkJob`, which
            // is everything but the transfer, stands in for it.
            let (check, call) = if currency.is_eth() {
                let call = contract
                    .postJob(
                        spec_bytes,
                        claim_deadline,
                        submit_deadline,
                        bond_wei,
                        self.challenge_window,
                    )
                    .value(reward)
                    .into_transaction_request()
                    .from(account);
                ((call.clone(), "JobMarket.postJob"), call)
            } else {
                let check = contract
                    .checkJob(
                        spec_bytes.clone(),
                        claim_deadline,
                        submit_deadline,
                        bond_wei,
                        self.challenge_window,
                        currency.address,
                        reward,
                    )
                    .into_transaction_request()
                    .from(account);
                let call = contract
                    .postTokenJob(
                        spec_bytes,
                        claim_deadline,
                        submit_deadline,
                        bond_wei,
                        self.challenge_window,
                        currency.address,
                        reward,
                    )
                    .into_transaction_request()
                    .from(account);
                ((check, "JobMarket.checkJob"), call)
            };
            Ok((claim_deadline, submit_deadline, check, call))
        };
        let (_, _, (check, label), call) = job_call(&market).await?;
        // Every check the chain makes (the spec's bounds, the market's replay
        // bound, the deadlines, the amounts, the balance) before anything is
        // sent: a job the market would refuse costs nothing, not even the
        // dataset's announcement. A token job's approval comes last.
        vtrain_dispute::simulate(market.provider(), check, label)
            .await
            .map_err(|e| from_chain(e, "checking the job with the market"))?;
        let approvals = if currency.is_eth() {
            Vec::new()
        } else {
            approvals(&market, &currency, account, reward).await?
        };
        // What will be announced, and so every transaction this command
        // sends, is known before any is sent: the account must afford the
        // reward and all of their gas, or nothing is sent at all.
        let dataset_bytes = dataset
            .to_safetensors_bytes()
            .or_fail(Failure::Other, "cannot encode the dataset")?;
        let root = dataset.root();
        let size = dataset_bytes.len() as u64;
        let uri = store.uri(&ArtifactKey::Dataset(root));
        let mut artifacts = vec![Artifact {
            key: ArtifactKey::Dataset(root),
            bytes: dataset_bytes,
            uri: uri.clone(),
            what: "the dataset",
        }];
        if let Some(initial) = &initial {
            let bytes = vtrain_store::encode_model(&spec.param_shapes(), &initial.params)
                .or_fail(Failure::Other, "cannot encode the initial model")?;
            let key = ArtifactKey::Model(initial.root);
            artifacts.push(Artifact {
                key,
                bytes,
                uri: store.uri(&key),
                what: "the initial model",
            });
        }
        let announcements = announcements(&market, account, &artifacts).await?;
        let mut transactions: Vec<_> = announcements.iter().map(|(call, _)| call.clone()).collect();
        if approvals.is_empty() {
            transactions.push(call);
        } else {
            // The posting cannot be estimated before its approval: the
            // approval's gas is counted, the posting's is checked when sent.
            transactions.push(approvals[0].clone());
        }
        let value = if currency.is_eth() {
            reward
        } else {
            U256::ZERO
        };
        afford(&market, account, value, &transactions).await?;
        // Every artifact is in the store before the first announcement: a
        // store that fails costs no transaction.
        for artifact in artifacts {
            store.put(&artifact.key, artifact.bytes).await.or_fail(
                Failure::Other,
                format!("cannot publish {} to the store", artifact.what),
            )?;
        }
        for (call, what) in announcements {
            market
                .send(call, "ArtifactRegistry.publish")
                .await
                .map_err(|e| from_chain(e, &format!("announcing {what}")))?;
        }
        for approve in approvals {
            market
                .send(approve, &format!("{}.approve", currency.symbol))
                .await
                .map_err(|e| from_chain(e, "approving the market for the reward"))?;
        }
        // The deadlines again from the chain's time now: the upload may have
        // taken a while.
        let (claim_deadline, submit_deadline, _, call) = job_call(&market).await?;
        let receipt = market
            .send(call, "JobMarket.postJob")
            .await
            .map_err(|e| from_chain(e, "posting the job"))?;
        let job_id = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| {
                log.log_decode::<vtrain_dispute::bindings::JobMarket::JobPosted>()
                    .ok()
                    .map(|l| l.inner.data.jobId)
            })
            .unwrap_or(U256::ZERO)
            .saturating_to::<u64>();
        let posted = Posted {
            job_id,
            job_hash: spec.job_hash().to_hex(),
            dataset_root: root.to_hex(),
            dataset_uri: uri,
            initial_model: initial.as_ref().map(|i| i.root.to_hex()),
            reward_wei: reward.to_string(),
            token: currency.address.to_string(),
            currency: currency.symbol.clone(),
            claim_deadline,
            submit_deadline,
            challenge_window: self.challenge_window,
            transaction: receipt.transaction_hash.to_string(),
            gas_used: receipt.gas_used,
        };
        emit(self.common.json, &posted, || {
            let initial = posted
                .initial_model
                .as_ref()
                .map(|root| format!("  starts from   the model {root} (fine-tuning)\n"))
                .unwrap_or_default();
            format!(
                "posted job {job_id}\n  job hash      {}\n  dataset       {} ({} bytes)\n{initial}  reward        {} escrowed, solver bond {}\n  claim within  {} s, submit within {} s, challenge window {} s\n  transaction   {} ({} gas)\nfollow it with: vtrain job watch {job_id}\n",
                posted.job_hash,
                posted.dataset_root,
                size,
                currency.format(reward),
                currency.format(bond),
                self.claim_within,
                self.claim_within + self.train_within,
                self.challenge_window,
                posted.transaction,
                posted.gas_used,
            )
        });
        Ok(())
    }

    /// Loads `--data`. A `.safetensors` file is read as such (the canonical
    /// file of any dataset, text included); otherwise a text spec's data, or a
    /// `.txt` or `.txt.gz` file, is cut into windows of the spec's
    /// `dataset.features` tokens.
    fn load_data(&self, spec: &JobSpec) -> CliResult<Dataset> {
        let path = std::path::Path::new(&self.data);
        let text = spec.dataset.format == DatasetFormat::Text
            || [".txt", ".txt.gz"]
                .iter()
                .any(|suffix| self.data.ends_with(suffix));
        let loaded = if self.data == "bundled:digits" {
            Dataset::digits()
        } else if path.extension().is_some_and(|e| e == "safetensors") {
            Dataset::from_safetensors_file(path)
        } else if text {
            Dataset::from_text_file(path, spec.dataset.features as usize)
        } else {
            Dataset::from_csv_file(path, self.feature_scale)
        };
        loaded.or_fail(
            Failure::Input,
            format!("cannot load the data {}", self.data),
        )
    }
}

/// An artifact the job needs, to be stored and announced.
struct Artifact {
    key: ArtifactKey,
    bytes: Vec<u8>,
    uri: String,
    what: &'static str,
}

/// The registry announcements `account` has yet to make for `artifacts`
/// (those it has announced before are skipped), with what each announces.
async fn announcements<P: alloy::providers::Provider + Clone>(
    market: &vtrain_dispute::Market<P>,
    account: alloy::primitives::Address,
    artifacts: &[Artifact],
) -> CliResult<Vec<(TransactionRequest, &'static str)>> {
    let mut calls = Vec::new();
    for artifact in artifacts {
        let root = alloy::primitives::B256::from(artifact.key.root().0);
        let published = market
            .is_published_by(root, account)
            .await
            .map_err(|e| from_chain(e, "checking the registry"))?;
        if !published {
            let call = market
                .registry()
                .publish(root, artifact.bytes.len() as u64, artifact.uri.clone())
                .into_transaction_request()
                .from(account);
            calls.push((call, artifact.what));
        }
    }
    Ok(calls)
}

/// The `approve` transactions a token job needs before it is posted (none
/// when the allowance already covers the reward); the first is checked by
/// simulation.
async fn approvals<P: alloy::providers::Provider + Clone>(
    market: &vtrain_dispute::Market<P>,
    currency: &vtrain_dispute::Currency,
    account: alloy::primitives::Address,
    reward: U256,
) -> CliResult<Vec<TransactionRequest>> {
    let spender = *market.market().address();
    let calls = currency
        .approvals(market.provider(), account, spender, reward)
        .await
        .map_err(|e| from_chain(e, "reading the token allowance"))?;
    if let Some(first) = calls.first() {
        vtrain_dispute::simulate(market.provider(), first.clone(), "approve")
            .await
            .map_err(|e| from_chain(e, "checking the token approval"))?;
    }
    Ok(calls)
}

/// Refuses (exit 3, nothing sent) unless `account` holds `reward` plus the
/// gas of every one of `transactions` at the node's current maximum fee.
async fn afford<P: alloy::providers::Provider + Clone>(
    market: &vtrain_dispute::Market<P>,
    account: alloy::primitives::Address,
    reward: U256,
    transactions: &[TransactionRequest],
) -> CliResult<()> {
    let provider = market.provider();
    let mut gas = 0u64;
    for call in transactions {
        let units = provider
            .estimate_gas(call.clone())
            .await
            .map_err(|e| from_chain(vtrain_dispute::Error::from(e), "estimating gas"))?;
        gas = gas.saturating_add(units);
    }
    let fees = provider
        .estimate_eip1559_fees()
        .await
        .map_err(|e| from_chain(vtrain_dispute::Error::from(e), "reading the gas price"))?;
    let balance = provider
        .get_balance(account)
        .await
        .map_err(|e| from_chain(vtrain_dispute::Error::from(e), "reading the balance"))?;
    let needed = funds_needed(reward, gas, fees.max_fee_per_gas);
    if balance < needed {
        let what = if reward.is_zero() {
            format!("{gas} gas")
        } else {
            format!(
                "the {} ETH reward and {gas} gas",
                vtrain_cli::format_eth(reward)
            )
        };
        return Err(fail(
            Failure::Input,
            format!(
                "{account} holds {} ETH; posting needs {} ETH ({what} at up to {} gwei)",
                vtrain_cli::format_eth(balance),
                vtrain_cli::format_eth(needed),
                fees.max_fee_per_gas / 1_000_000_000,
            ),
        ));
    }
    Ok(())
}

/// The reward plus `gas` units at `max_fee_per_gas` wei, saturating.
fn funds_needed(reward: U256, gas: u64, max_fee_per_gas: u128) -> U256 {
    reward.saturating_add(U256::from(gas).saturating_mul(U256::from(max_fee_per_gas)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_funds_needed_are_the_reward_and_all_the_gas() {
        assert_eq!(funds_needed(U256::from(10), 3, 7), U256::from(31));
        assert_eq!(funds_needed(U256::MAX, 1, 1), U256::MAX, "saturates");
    }
}
