//! `vtrain job cancel`.

use clap::Args;
use serde::Serialize;
use vtrain_cli::KeyArgs;

use super::Common;
use crate::exit::{CliResult, from_chain};
use crate::output::emit;

/// `vtrain job cancel` flags.
#[derive(Args, Clone, Debug)]
pub struct CancelArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The submitter's key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// The job id.
    pub job_id: u64,
}

#[derive(Serialize)]
struct Cancelled {
    job_id: u64,
    refunded_wei: String,
    transaction: String,
}

impl CancelArgs {
    /// Cancels the job and withdraws the refund.
    pub async fn run(self) -> CliResult<()> {
        let (account, market) = self.common.signing_market(&self.key).await?;
        let id = alloy::primitives::U256::from(self.job_id);
        let call = market.market().cancelJob(id).into_transaction_request();
        let receipt = market
            .send(call, "JobMarket.cancelJob")
            .await
            .map_err(|e| from_chain(e, &format!("cancelling job {}", self.job_id)))?;
        let credits = market
            .withdraw_all(account)
            .await
            .map_err(|e| from_chain(e, "withdrawing the refund"))?;
        let out = Cancelled {
            job_id: self.job_id,
            refunded_wei: credits.to_string(),
            transaction: receipt.transaction_hash.to_string(),
        };
        emit(self.common.json, &out, || {
            format!(
                "cancelled job {}; {} ETH withdrawn to {account}\n",
                self.job_id,
                vtrain_cli::format_eth(credits)
            )
        });
        Ok(())
    }
}

/// `vtrain job withdraw` flags.
#[derive(Args, Clone, Debug)]
pub struct WithdrawArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The submitter's key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Send the ETH to this address instead of the key's own account.
    #[arg(long)]
    pub to: Option<alloy::primitives::Address>,
}

#[derive(Serialize)]
struct Withdrawn {
    account: String,
    to: String,
    withdrawn_wei: String,
}

impl WithdrawArgs {
    /// Withdraws everything the market owes the account (refunds of slashed or
    /// cancelled jobs).
    pub async fn run(self) -> CliResult<()> {
        let (account, market) = self.common.signing_market(&self.key).await?;
        let to = self.to.unwrap_or(account);
        if to.is_zero() {
            return Err(crate::exit::fail(
                crate::exit::Failure::Input,
                "--to is the zero address: the ETH would be lost",
            ));
        }
        let credits = market
            .withdraw_to(account, to)
            .await
            .map_err(|e| from_chain(e, "withdrawing"))?;
        let out = Withdrawn {
            account: account.to_string(),
            to: to.to_string(),
            withdrawn_wei: credits.to_string(),
        };
        emit(self.common.json, &out, || {
            format!("withdrew {} ETH to {to}\n", vtrain_cli::format_eth(credits))
        });
        Ok(())
    }
}
