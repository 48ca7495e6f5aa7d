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
    /// The refund in the job's currency's smallest unit (wei for ETH).
    refunded_wei: String,
    /// The job's currency: `0x0…0` for ETH, else the token.
    token: String,
    transaction: String,
}

impl CancelArgs {
    /// Cancels the job and withdraws the refund.
    pub async fn run(self) -> CliResult<()> {
        let (account, market) = self.common.signing_market(&self.key).await?;
        let id = alloy::primitives::U256::from(self.job_id);
        let record = market
            .job(self.job_id)
            .await
            .map_err(|e| from_chain(e, &format!("reading job {}", self.job_id)))?;
        let currency = vtrain_dispute::Currency::read(market.provider(), record.token)
            .await
            .map_err(|e| from_chain(e, "reading the job's token"))?;
        let call = market.market().cancelJob(id).into_transaction_request();
        let receipt = market
            .send(call, "JobMarket.cancelJob")
            .await
            .map_err(|e| from_chain(e, &format!("cancelling job {}", self.job_id)))?;
        let credits = market
            .withdraw_to(currency.address, account, account)
            .await
            .map_err(|e| from_chain(e, "withdrawing the refund"))?;
        let out = Cancelled {
            job_id: self.job_id,
            refunded_wei: credits.to_string(),
            token: currency.address.to_string(),
            transaction: receipt.transaction_hash.to_string(),
        };
        emit(self.common.json, &out, || {
            format!(
                "cancelled job {}; {} withdrawn to {account}\n",
                self.job_id,
                currency.format(credits)
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
    /// Send the credits to this address instead of the key's own account.
    #[arg(long)]
    pub to: Option<alloy::primitives::Address>,
    /// Withdraw this token's credit too (repeatable). ETH and the tokens of
    /// every job the account took part in are always withdrawn.
    #[arg(long = "token", value_name = "ADDRESS")]
    pub tokens: Vec<alloy::primitives::Address>,
}

#[derive(Serialize)]
struct Withdrawn {
    account: String,
    to: String,
    /// ETH withdrawn, in wei.
    withdrawn_wei: String,
    /// Each token withdrawn from: its address, symbol and amount (smallest unit).
    tokens: Vec<TokenWithdrawn>,
}

#[derive(Serialize)]
struct TokenWithdrawn {
    token: String,
    symbol: String,
    amount: String,
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
        let book = super::book(&market).await?;
        let mut tokens = book.tokens_of(account);
        tokens.extend(self.tokens.iter().copied().filter(|t| !t.is_zero()));
        tokens.sort();
        tokens.dedup();
        // Every currency is read before anything is sent: a bad --token fails here.
        let mut currencies = Vec::new();
        for token in tokens {
            currencies.push(
                vtrain_dispute::Currency::read(market.provider(), token)
                    .await
                    .map_err(|e| from_chain(e, &format!("reading the token {token}")))?,
            );
        }
        let credits = market
            .withdraw_to(vtrain_dispute::ETH, account, to)
            .await
            .map_err(|e| from_chain(e, "withdrawing"))?;
        let mut withdrawn = Vec::new();
        for currency in &currencies {
            let amount = market
                .withdraw_to(currency.address, account, to)
                .await
                .map_err(|e| from_chain(e, &format!("withdrawing {}", currency.symbol)))?;
            if !amount.is_zero() {
                withdrawn.push((currency, amount));
            }
        }
        let out = Withdrawn {
            account: account.to_string(),
            to: to.to_string(),
            withdrawn_wei: credits.to_string(),
            tokens: withdrawn
                .iter()
                .map(|(c, amount)| TokenWithdrawn {
                    token: c.address.to_string(),
                    symbol: c.symbol.clone(),
                    amount: amount.to_string(),
                })
                .collect(),
        };
        emit(self.common.json, &out, || {
            let mut text = format!("withdrew {} ETH to {to}\n", vtrain_cli::format_eth(credits));
            for (currency, amount) in &withdrawn {
                text.push_str(&format!("withdrew {} to {to}\n", currency.format(*amount)));
            }
            text
        });
        Ok(())
    }
}
