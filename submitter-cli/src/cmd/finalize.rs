//! `vtrain job finalize`.

use clap::Args;
use serde::Serialize;
use vtrain_cli::KeyArgs;
use vtrain_dispute::market::status;

use super::Common;
use crate::exit::{CliResult, Failure, fail, from_chain};
use crate::output::emit;

/// `vtrain job finalize` flags.
#[derive(Args, Clone, Debug)]
pub struct FinalizeArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The key that pays the gas (anyone may finalize).
    #[command(flatten)]
    pub key: KeyArgs,
    /// The job id.
    pub job_id: u64,
}

#[derive(Serialize)]
struct Finalized {
    job_id: u64,
    status: String,
    refutations: u32,
    /// Each refuting game's share, in the job's currency's smallest unit.
    refuter_share_wei: String,
    /// The job's currency: zero for ETH, else the token.
    token: String,
    transaction: String,
}

impl FinalizeArgs {
    /// Fixes the job's outcome: pays the solver if no dispute refuted it,
    /// otherwise refunds the submitter and shares the slashed bond among the
    /// refuting games. Refused, with nothing sent, while the window is open or
    /// a dispute is undecided.
    pub async fn run(self) -> CliResult<()> {
        let (_, market) = self.common.signing_market(&self.key).await?;
        let read = |e| from_chain(e, &format!("reading job {}", self.job_id));
        let book = super::book(&market).await?;
        let games = book
            .job(self.job_id)
            .map(|j| j.games.clone())
            .unwrap_or_default();
        let mut outcome = market.job_outcome(self.job_id).await.map_err(read)?;
        let head = market.head().await.map_err(read)?;
        // Past the window, end and pay out the games nobody else has (anyone may).
        if !outcome.fixed && head.timestamp >= outcome.window_end && outcome.open_games > 0 {
            market
                .wind_up(&games, head.timestamp)
                .await
                .map_err(|e| from_chain(e, "paying out the decided disputes"))?;
            outcome = market.job_outcome(self.job_id).await.map_err(read)?;
        }
        if outcome.fixed {
            return Err(fail(
                Failure::Refused,
                format!("job {} is already finalized or slashed", self.job_id),
            ));
        }
        if !outcome.can_fix(head.timestamp) {
            let why = if head.timestamp < outcome.window_end {
                format!(
                    "its challenge window is open for {} s more",
                    outcome.window_end - head.timestamp
                )
            } else {
                format!("{} dispute(s) are still being played", outcome.open_games)
            };
            return Err(fail(
                Failure::NotFound,
                format!("job {} cannot be finalized yet: {why}", self.job_id),
            ));
        }
        let receipt = market
            .finalize(self.job_id)
            .await
            .map_err(|e| from_chain(e, &format!("finalizing job {}", self.job_id)))?;
        let job = market.job(self.job_id).await.map_err(read)?;
        let currency = vtrain_dispute::Currency::read_or_raw(market.provider(), job.token).await;
        let out = Finalized {
            job_id: self.job_id,
            status: status::name(job.status).to_owned(),
            refutations: job.refutations,
            refuter_share_wei: job.refuterShare.to_string(),
            token: currency.address.to_string(),
            transaction: receipt.transaction_hash.to_string(),
        };
        emit(self.common.json, &out, || {
            if job.status == status::SLASHED {
                format!(
                    "job {} slashed: {} dispute(s) refuted the solver, each paid its bond and {}; the reward is refunded (vtrain job withdraw)\n",
                    self.job_id,
                    job.refutations,
                    currency.format(job.refuterShare)
                )
            } else {
                format!("job {} finalized: the solver is paid\n", self.job_id)
            }
        });
        Ok(())
    }
}
