//! `vtrain job status` and `vtrain job list`.

use alloy::providers::Provider;
use clap::Args;
use serde::Serialize;
use vtrain_dispute::market::status;
use vtrain_dispute::{JobBook, Market};

use super::{Common, book};
use crate::exit::{CliResult, Failure, fail, from_chain};
use crate::output::emit;

/// `vtrain job status` flags.
#[derive(Args, Clone, Debug)]
pub struct StatusArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The job id.
    pub job_id: u64,
}

/// `vtrain job list` flags.
#[derive(Args, Clone, Debug)]
pub struct ListArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
}

/// One dispute, as shown.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct GameView {
    /// The game id.
    pub id: u64,
    /// Who challenged.
    pub challenger: String,
    /// The first disputed checkpoint.
    pub checkpoint: u64,
    /// open / solver won / challenger won.
    pub state: String,
    /// The game's phase number (`DisputeGame.Phase`).
    pub phase: u8,
    /// The disputed step range [lo, hi].
    pub steps: (u64, u64),
    /// How far the game has narrowed the disagreement, in words.
    pub narrowed_to: String,
    /// How it ended: step_proved, step_refuted or timeout.
    pub reason: Option<String>,
}

/// One job, as shown.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct JobView {
    /// The job id.
    pub id: u64,
    /// open, claimed, submitted, finalized, slashed or cancelled.
    pub status: String,
    /// Who posted it.
    pub submitter: String,
    /// Who claimed it.
    pub solver: Option<String>,
    /// The reward, in the currency's smallest unit (wei for ETH).
    pub reward_wei: String,
    /// The solver's bond, in the currency's smallest unit.
    pub solver_bond_wei: String,
    /// The currency of reward and bond: address (zero for ETH), symbol, decimals.
    pub currency: vtrain_dispute::Currency,
    /// The job hash.
    pub job_hash: String,
    /// Training steps.
    pub steps: u32,
    /// Claim deadline (unix seconds).
    pub claim_deadline: u64,
    /// Submit deadline.
    pub submit_deadline: u64,
    /// When the result was submitted (0 if not).
    pub submitted_at: u64,
    /// When its challenge window closes (0 if not submitted).
    pub window_closes_at: u64,
    /// The committed trace root.
    pub trace_root: Option<String>,
    /// The committed model root.
    pub model_root: Option<String>,
    /// Its disputes.
    pub games: Vec<GameView>,
    /// Disputes that refuted the solver (set when the job is slashed).
    pub refutations: u32,
    /// What each refuting dispute is paid besides its bond, in wei.
    pub refuter_share_wei: String,
    /// The chain's time when this was read.
    pub chain_time: u64,
}

/// Reads one job's view.
pub(crate) async fn job_view<P: Provider + Clone>(
    market: &Market<P>,
    book: &JobBook,
    job_id: u64,
) -> CliResult<JobView> {
    let Some(entry) = book.job(job_id) else {
        return Err(fail(
            Failure::NotFound,
            format!(
                "there is no job {job_id} (the market has {} jobs)",
                book.jobs.len()
            ),
        ));
    };
    let job = market
        .job(job_id)
        .await
        .map_err(|e| from_chain(e, "reading the job"))?;
    let head = market
        .head()
        .await
        .map_err(|e| from_chain(e, "reading the chain time"))?;
    let mut games = Vec::new();
    for &game_id in &entry.games {
        let record = market
            .game_record(game_id)
            .await
            .map_err(|e| from_chain(e, "reading a dispute"))?;
        let state = match record.clock.phase {
            vtrain_dispute::game::player::phase::RESOLVED if record.clock.solverWon => "solver won",
            vtrain_dispute::game::player::phase::RESOLVED => "challenger won",
            _ => "open",
        };
        let resolved = record.clock.phase == vtrain_dispute::game::player::phase::RESOLVED;
        games.push(GameView {
            id: game_id,
            challenger: record.setup.challenger.to_string(),
            checkpoint: book.games.get(&game_id).map_or(0, |g| g.checkpoint),
            state: state.into(),
            phase: record.clock.phase,
            steps: (record.range.lo, record.range.hi),
            narrowed_to: narrowing(&record),
            reason: resolved.then(|| {
                match record.clock.reason {
                    0 => "step_proved",
                    1 => "step_refuted",
                    2 => "timeout",
                    _ => "unknown",
                }
                .to_owned()
            }),
        });
    }
    let submitted = job.submittedAt > 0;
    Ok(JobView {
        id: job_id,
        status: status::name(job.status).into(),
        submitter: job.submitter.to_string(),
        solver: entry.solver.map(|s| s.to_string()),
        reward_wei: job.reward.to_string(),
        solver_bond_wei: job.solverBond.to_string(),
        currency: vtrain_dispute::Currency::read_or_raw(market.provider(), job.token).await,
        job_hash: job.jobHash.to_string(),
        steps: job.steps,
        claim_deadline: job.claimDeadline,
        submit_deadline: job.submitDeadline,
        submitted_at: job.submittedAt,
        window_closes_at: if submitted {
            job.submittedAt + job.challengeWindow
        } else {
            0
        },
        trace_root: entry.result.as_ref().map(|r| r.trace_root.to_string()),
        model_root: entry.result.as_ref().map(|r| r.model_root.to_string()),
        games,
        refutations: job.refutations,
        refuter_share_wei: job.refuterShare.to_string(),
        chain_time: head.timestamp,
    })
}

/// The narrowing so far: interval, step, tensor, element, fp32 operation.
fn narrowing(g: &vtrain_dispute::bindings::dispute_game::DisputeGame::Game) -> String {
    const LISTS: [&str; 5] = [
        "intermediates",
        "new optimizer state",
        "new weights",
        "old optimizer state",
        "old weights",
    ];
    let phase = g.clock.phase;
    let step = if g.setup.init {
        "the initial state".to_owned()
    } else if g.range.hi - g.range.lo > 1 {
        return format!("steps {}..{}", g.range.lo, g.range.hi);
    } else {
        format!("step {}", g.range.lo)
    };
    if phase <= 4 {
        return step;
    }
    let list = LISTS.get(g.descent.list as usize).copied().unwrap_or("?");
    let mut text = format!("{step}, {list}");
    if phase >= 7 || (matches!(phase, 5 | 6) && g.descent.tree > 0) {
        text += &format!(", tensor {}", g.descent.tensorIndex);
    }
    if phase >= 10 {
        text += &format!(", element {}", g.target.element);
    }
    if phase >= 13 {
        text += &format!(
            ", fp32 operation {} of {}",
            g.target.microStep + 1,
            g.target.programLength
        );
    }
    text
}

/// The human rendering of a job view.
pub(crate) fn render(view: &JobView) -> String {
    let amount = |units: &str| view.currency.format(units.parse().unwrap_or_default());
    let mut out = format!(
        "job {}: {}\n  reward        {} (solver bond {})\n  submitter     {}\n  solver        {}\n  steps         {}\n",
        view.id,
        view.status,
        amount(&view.reward_wei),
        amount(&view.solver_bond_wei),
        view.submitter,
        view.solver.as_deref().unwrap_or("-"),
        view.steps,
    );
    match view.status.as_str() {
        "open" => {
            out += &format!(
                "  claimable for {}\n",
                remaining(view.claim_deadline, view.chain_time)
            )
        }
        "claimed" => {
            out += &format!(
                "  must submit within {}\n",
                remaining(view.submit_deadline, view.chain_time)
            )
        }
        "submitted" => {
            out += &format!(
                "  challenge window {}\n",
                if view.chain_time < view.window_closes_at {
                    format!(
                        "closes in {}",
                        remaining(view.window_closes_at, view.chain_time)
                    )
                } else {
                    "closed (vtrain job finalize fixes the outcome once every dispute is paid out)"
                        .into()
                }
            )
        }
        "slashed" if view.refutations > 0 => {
            out += &format!(
                "  refuted by     {} dispute(s), each paid its bond and {} of the solver's bond\n",
                view.refutations,
                amount(&view.refuter_share_wei)
            )
        }
        _ => {}
    }
    if let Some(root) = &view.trace_root {
        out += &format!("  trace root    {root}\n");
    }
    if let Some(root) = &view.model_root {
        out += &format!("  model root    {root}\n");
    }
    for game in &view.games {
        let how = game
            .reason
            .as_deref()
            .map(|r| format!(", {}", r.replace('_', " ")))
            .unwrap_or_default();
        out += &format!(
            "  dispute {} by {} at checkpoint {}: {}{how}\n    narrowed to {}\n",
            game.id, game.challenger, game.checkpoint, game.state, game.narrowed_to
        );
    }
    out
}

fn remaining(deadline: u64, now: u64) -> String {
    let left = deadline.saturating_sub(now);
    if left == 0 {
        "no time (passed)".into()
    } else if left < 120 {
        format!("{left} s")
    } else if left < 7_200 {
        format!("{} min", left.div_ceil(60))
    } else {
        format!("{} h", left.div_ceil(3_600))
    }
}

impl StatusArgs {
    /// Shows the job.
    pub async fn run(self) -> CliResult<()> {
        let market = self.common.market().await?;
        let book = book(&market).await?;
        let view = job_view(&market, &book, self.job_id).await?;
        emit(self.common.json, &view, || render(&view));
        Ok(())
    }
}

#[derive(Serialize)]
struct ListedJob {
    id: u64,
    status: String,
    /// In the currency's smallest unit (wei for ETH).
    reward_wei: String,
    /// The currency (zero for ETH).
    token: String,
    #[serde(skip)]
    reward: String,
    submitter: String,
    solver: Option<String>,
    disputes: usize,
}

impl ListArgs {
    /// Lists the jobs.
    pub async fn run(self) -> CliResult<()> {
        let market = self.common.market().await?;
        let book = book(&market).await?;
        let mut currencies = std::collections::BTreeMap::new();
        for job in book.jobs.values() {
            if let std::collections::btree_map::Entry::Vacant(slot) = currencies.entry(job.token) {
                slot.insert(
                    vtrain_dispute::Currency::read_or_raw(market.provider(), job.token).await,
                );
            }
        }
        let listed: Vec<ListedJob> = book
            .jobs
            .values()
            .map(|j| ListedJob {
                id: j.id,
                status: j.phase.name().into(),
                reward_wei: j.reward.to_string(),
                token: j.token.to_string(),
                reward: currencies
                    .get(&j.token)
                    .map_or_else(|| j.reward.to_string(), |c| c.format(j.reward)),
                submitter: j.submitter.to_string(),
                solver: j.solver.map(|s| s.to_string()),
                disputes: j.games.len(),
            })
            .collect();
        emit(self.common.json, &listed, || {
            if listed.is_empty() {
                return "no jobs on this market yet: post one with `vtrain job post`\n".into();
            }
            let mut out = format!(
                "{:>4}  {:<10} {:>10}  {:<42}  {}\n",
                "id", "status", "reward", "solver", "disputes"
            );
            for j in &listed {
                out += &format!(
                    "{:>4}  {:<10} {:>10}  {:<42}  {}\n",
                    j.id,
                    j.status,
                    j.reward,
                    j.solver.as_deref().unwrap_or("-"),
                    j.disputes
                );
            }
            out
        });
        Ok(())
    }
}
