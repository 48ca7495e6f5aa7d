//! The one transaction manager both daemons and the CLI send through:
//! simulate first (a revert costs nothing and comes back typed), send with a
//! gas margin and one submission at a time per process (nonces never collide),
//! wait for the receipt with a bound, and replace a transaction that is not
//! mined in time by the same one at higher fees (same nonce), so a fee spike
//! cannot hold every later transaction of the account back.

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};

use crate::error::{Error, Result};

/// How a transaction is sent and, if need be, replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendPolicy {
    /// How long each submission waits to be mined before it is replaced.
    pub wait: Duration,
    /// How many times a transaction is replaced at higher fees before the
    /// send gives up (the caller retries on its next round).
    pub max_bumps: u32,
    /// The fee increase per replacement, in percent (nodes require ≥ 10).
    pub bump_percent: u128,
    /// The longest pause between two receipt polls. The first pauses are
    /// shorter ([`FIRST_POLL`], doubling up to this), so a receipt that a
    /// fast chain has at once is seen at once, and a slow chain costs a few
    /// polls more per transaction.
    pub poll: Duration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(40),
            max_bumps: 3,
            bump_percent: 25,
            poll: Duration::from_millis(250),
        }
    }
}

/// The first pause between receipt polls (see [`SendPolicy::poll`]): anvil
/// mines a transaction within milliseconds of taking it.
pub const FIRST_POLL: Duration = Duration::from_millis(5);

fn submit_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// Simulates `call` without sending it (gas estimation executes it): `Ok`
/// with the gas it would use, or the decoded revert as [`Error::Revert`].
pub async fn simulate<P: Provider>(
    provider: &P,
    call: TransactionRequest,
    label: &str,
) -> Result<u64> {
    provider
        .estimate_gas(call)
        .await
        .map_err(|e| Error::from_rpc_call(e, label))
}

/// [`send_with`] under the default [`SendPolicy`].
pub async fn send_simulated<P: Provider>(
    provider: &P,
    call: TransactionRequest,
    label: &str,
) -> Result<TransactionReceipt> {
    send_with(provider, call, label, &SendPolicy::default()).await
}

/// Simulates `call` (gas estimation executes it), then sends it with a 25% gas
/// margin over the estimate, so that a change of state between estimate and
/// inclusion cannot run it out of gas, and waits for its receipt. A
/// submission not mined within `policy.wait` is replaced by the same
/// transaction (same nonce) at fees `bump_percent` higher, up to
/// `max_bumps` times; whichever of them is mined is the receipt. A simulated
/// revert is [`Error::Revert`] (nothing was sent), a mined revert
/// [`Error::Reverted`], no receipt in the end [`Error::Receipt`].
pub async fn send_with<P: Provider>(
    provider: &P,
    call: TransactionRequest,
    label: &str,
    policy: &SendPolicy,
) -> Result<TransactionReceipt> {
    let estimate = simulate(provider, call.clone(), label).await?;
    let call = call.with_gas_limit(estimate.saturating_mul(5) / 4);
    // One submission at a time per process: the nonce is read from the node's
    // pending count while no other submission is in flight, so concurrent game
    // tasks never take the same nonce, and a submission that fails consumes
    // none (`vtrain_cli::signing_provider` uses alloy's simple nonce manager).
    let first = {
        let _submitting = submit_lock().lock().await;
        *provider.send_transaction(call.clone()).await?.tx_hash()
    };
    let mut sent = vec![first];
    for bump in 0..=policy.max_bumps {
        if let Some(receipt) = wait_for_any(provider, &sent, policy).await? {
            return checked(receipt, label);
        }
        if bump == policy.max_bumps {
            break;
        }
        let Some(replacement) = replacement(provider, &sent, call.clone(), policy).await? else {
            // Neither mined nor known to the node any more: dropped from its
            // pool, or its block reorganised away. Waiting on is pointless;
            // the caller decides again on its next round (and simulates).
            if let Some(receipt) = any_receipt(provider, &sent).await? {
                return checked(receipt, label);
            }
            return Err(Error::Receipt(format!(
                "{label}: {first} was dropped by the node before it was mined"
            )));
        };
        let _submitting = submit_lock().lock().await;
        match provider.send_transaction(replacement).await {
            Ok(pending) => {
                tracing::warn!(target: "sender", %label, replaces = %first, with = %pending.tx_hash(), bump = bump + 1, "not mined in time: replaced at higher fees");
                sent.push(*pending.tx_hash());
            }
            // "nonce too low" and the like: one of ours was mined meanwhile.
            Err(e) => {
                tracing::debug!(target: "sender", %label, error = %e, "replacement refused");
            }
        }
    }
    Err(Error::Receipt(format!(
        "{label}: not mined after {} submissions (last {:?})",
        sent.len(),
        sent.last()
    )))
}

/// `call` again with the nonce of the latest of `sent` the node still knows
/// (a replacement evicts the one it replaces) and its fees raised by
/// `policy.bump_percent`; `None` if the node knows none of them.
async fn replacement<P: Provider>(
    provider: &P,
    sent: &[B256],
    call: TransactionRequest,
    policy: &SendPolicy,
) -> Result<Option<TransactionRequest>> {
    use alloy::consensus::Transaction;
    let mut latest = None;
    for hash in sent.iter().rev() {
        if let Some(tx) = provider.get_transaction_by_hash(*hash).await? {
            latest = Some(tx);
            break;
        }
    }
    let Some(latest) = latest else {
        return Ok(None);
    };
    let raise = |fee: u128| {
        fee.max(1)
            .saturating_mul(100 + policy.bump_percent)
            .div_ceil(100)
    };
    let max_fee = raise(latest.max_fee_per_gas());
    let priority = raise(latest.max_priority_fee_per_gas().unwrap_or(0));
    Ok(Some(
        call.with_nonce(latest.nonce())
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(priority.min(max_fee)),
    ))
}

/// Polls the receipts of `hashes` for `policy.wait`; the first found.
async fn wait_for_any<P: Provider>(
    provider: &P,
    hashes: &[B256],
    policy: &SendPolicy,
) -> Result<Option<TransactionReceipt>> {
    let deadline = tokio::time::Instant::now() + policy.wait;
    // When the node first did not know the transactions (reset when it does).
    let mut unknown_since: Option<tokio::time::Instant> = None;
    let mut pause = FIRST_POLL.min(policy.poll);
    loop {
        if let Some(receipt) = any_receipt(provider, hashes).await? {
            return Ok(Some(receipt));
        }
        // Not mined, and unknown to the node on every poll for a whole
        // `policy.poll` (not a lagging backend; the short first pauses do not
        // shorten that): dropped, or its block reorganised away. Waiting on
        // is pointless; the caller decides again on its next round.
        let now = tokio::time::Instant::now();
        unknown_since = if known_to_node(provider, hashes).await? {
            None
        } else {
            Some(unknown_since.unwrap_or(now))
        };
        if unknown_since.is_some_and(|since| now - since >= policy.poll) {
            return Err(Error::Receipt(format!(
                "{:?} dropped by the node before it was mined",
                hashes.last()
            )));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(policy.poll);
    }
}

/// Whether the node knows any of `hashes` (pending or mined).
async fn known_to_node<P: Provider>(provider: &P, hashes: &[B256]) -> Result<bool> {
    for hash in hashes {
        if provider.get_transaction_by_hash(*hash).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The receipt of any of `hashes`, if one is mined.
async fn any_receipt<P: Provider>(
    provider: &P,
    hashes: &[B256],
) -> Result<Option<TransactionReceipt>> {
    for hash in hashes {
        if let Some(receipt) = provider.get_transaction_receipt(*hash).await? {
            return Ok(Some(receipt));
        }
    }
    Ok(None)
}

fn checked(receipt: TransactionReceipt, label: &str) -> Result<TransactionReceipt> {
    if !receipt.status() {
        return Err(Error::Reverted(format!(
            "{:?} ({label}, gas used {})",
            receipt.transaction_hash, receipt.gas_used
        )));
    }
    Ok(receipt)
}
