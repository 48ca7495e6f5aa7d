//! One dispute game as the explorer shows it: the live record from the chain
//! (phase, the step range, the clocks, whose move), every move from the
//! game's events with its sender, gas, transaction and the mover's clock left
//! (`crate::clocks`), and what it paid (`crate::payouts`).

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolEvent, SolEventInterface};
use serde::{Deserialize, Serialize};
use vtrain_dispute::bindings::DisputeGame;
use vtrain_dispute::game::player::phase;
use vtrain_dispute::game::stage::phase_name;

use crate::chain::{Chain, Snapshot};
use crate::clocks::{ClockEvent, Start, clock_events, mover_of, replay};
use crate::payouts::{Parties, Payout, payouts};
use crate::view::{Amount, outcome_name};

/// Which level of the narrowing a phase belongs to: L1 bisects the steps of
/// the disputed interval, L2 picks a list of the step, L3 a tensor and its
/// element, L4 the element's micro-step, and the leaf is one fp32 operation
/// the chain executes (`docs/dispute-game.md`).
pub fn level_of(phase: u8) -> &'static str {
    match phase {
        phase::BISECT | phase::JUDGE => "L1 step",
        phase::REVEAL_STEP | phase::CHOOSE_LIST => "L2 list",
        phase::REVEAL..=phase::NAME_ELEMENT => "L3 tensor and element",
        phase::COMMIT_MICRO..=phase::NAME_MICRO_STEP => "L4 micro-step",
        phase::PROVE_STEP => "leaf: one fp32 operation",
        phase::RESOLVED => "resolved",
        _ => "none",
    }
}

/// `DisputeGame.Reason`, by its number.
pub fn reason_name(reason: u8) -> &'static str {
    match reason {
        0 => "the solver proved the step",
        1 => "the step was refuted by the chain's ALU",
        2 => "the side to move ran out of time",
        _ => "unknown",
    }
}

/// One move (or the game's opening or ending), from its event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The event's name (`MidpointPosted`, `StepExecuted`, …).
    pub event: String,
    /// Its fields, as the bindings print them.
    pub fields: String,
    /// The block it was mined in.
    pub block: u64,
    /// That block's time (Unix seconds).
    pub time: u64,
    /// For a move, the seconds its mover's clock had left once it moved
    /// (replayed by `crate::clocks`; `None` for the opening and the end, or
    /// when the replay does not agree with the clocks the chain stores).
    pub clock_left: Option<u64>,
    /// The transaction.
    pub tx: B256,
    /// Who sent it.
    pub sender: Address,
    /// The gas the whole transaction used.
    pub gas_used: u64,
}

/// Everything about one game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameDetail {
    /// The game id.
    pub id: u64,
    /// The job whose result it disputes.
    pub job_id: u64,
    /// The job's solver.
    pub solver: Address,
    /// Who opened it.
    pub challenger: Address,
    /// The challenger's bond.
    pub bond: Amount,
    /// The disputed checkpoint.
    pub checkpoint: u32,
    /// The phase's number and name, and the level of the narrowing it is at.
    pub phase: u8,
    /// The phase's name (`vtrain_dispute::game::stage::phase_name`).
    pub phase_name: String,
    /// [`level_of`] the phase.
    pub level: String,
    /// The steps both sides agree on (lo) and first disagree on (hi).
    pub lo: u64,
    /// See `lo`.
    pub hi: u64,
    /// The state roots at lo and hi.
    pub lo_root: B256,
    /// See `lo_root`.
    pub hi_root: B256,
    /// The disputed element and micro-step, once named (L3, L4).
    pub element: u64,
    /// See `element`.
    pub micro_step: u32,
    /// Seconds left on each side's clock as of the last move.
    pub solver_clock: u64,
    /// See `solver_clock`.
    pub challenger_clock: u64,
    /// When the last move was made (Unix seconds).
    pub last_move_at: u64,
    /// Who must move next and until when (none once resolved).
    pub mover: Option<Address>,
    /// See `mover`.
    pub deadline: Option<u64>,
    /// undecided, solver won or challenger won.
    pub outcome: String,
    /// How it was decided, once it was.
    pub reason: Option<String>,
    /// Whether the market has paid it out.
    pub settled: bool,
    /// Every event of the game, in chain order.
    pub moves: Vec<Move>,
    /// What the game paid, once settled (and its share of a slashed bond).
    pub payouts: Vec<Payout>,
}

/// Reads game `id` from the chain; `None` if there is no such game. Its
/// moves are searched from the block it was opened in, and the other games
/// on its job from the job's (the book's, when it has them: a node may refuse
/// a log query over the whole chain), else from the deployment.
pub async fn game_detail(
    chain: &Chain,
    snapshot: &Snapshot,
    id: u64,
) -> vtrain_dispute::Result<Option<GameDetail>> {
    let market = &chain.market;
    let entry = snapshot.book.games.get(&id);
    let job = entry.and_then(|g| snapshot.book.job(g.job_id));
    let opened_block = entry.map_or_else(|| market.deployed_at(), |g| g.opened_block);
    let job_block = job.map_or_else(|| market.deployed_at(), |j| j.posted_block);
    let token = job.map_or(vtrain_dispute::ETH, |j| j.token);
    let g = market.game_record(id).await?;
    if g.clock.phase == phase::NONE {
        return Ok(None);
    }
    let turn = market.game().turn(U256::from(id)).call().await;
    let (mover, deadline) = match turn {
        Ok(t) if t.mover != Address::ZERO => (Some(t.mover), Some(t.deadline)),
        Ok(_) => (None, None),
        Err(e) => return Err(vtrain_dispute::Error::from_contract(e)),
    };
    let resolved = (g.clock.phase == phase::RESOLVED).then_some(g.clock.solverWon);
    let mut moves = moves(chain, id, opened_block).await?;
    fill_clocks(chain, &g, job_block, &mut moves).await?;
    let parties = Parties {
        solver: g.setup.solver,
        challenger: g.setup.challenger,
        burn: chain.constants().await?.burn,
    };
    let paid = payouts(
        chain,
        id,
        parties,
        token,
        &snapshot.currencies,
        opened_block,
    )
    .await?;
    Ok(Some(GameDetail {
        id,
        job_id: g.setup.jobId.saturating_to(),
        solver: g.setup.solver,
        challenger: g.setup.challenger,
        bond: Amount::eth(g.setup.bond),
        checkpoint: g.setup.checkpoint,
        phase: g.clock.phase,
        phase_name: phase_name(g.clock.phase).into(),
        level: level_of(g.clock.phase).into(),
        lo: g.range.lo,
        hi: g.range.hi,
        lo_root: g.range.loRoot,
        hi_root: g.range.hiRoot,
        element: g.target.element,
        micro_step: g.target.microStep,
        solver_clock: g.clock.solverClock,
        challenger_clock: g.clock.challengerClock,
        last_move_at: g.clock.lastMoveAt,
        mover,
        deadline,
        outcome: outcome_name(resolved).into(),
        reason: resolved.map(|_| reason_name(g.clock.reason).into()),
        settled: g.clock.settled,
        moves: moves.into_iter().map(|(m, _)| m).collect(),
        payouts: paid,
    }))
}

/// Sets each move's `clock_left` by replaying the clocks from the game's
/// opening, the job's later games and the moves (`crate::clocks`), if the
/// replay ends where the chain's record stands; leaves them `None` if not.
async fn fill_clocks(
    chain: &Chain,
    g: &DisputeGame::Game,
    job_block: u64,
    moves: &mut [(Move, u64)],
) -> vtrain_dispute::Result<()> {
    let market = &chain.market;
    let opened = market
        .provider()
        .get_logs(
            &Filter::new()
                .address(*market.game().address())
                .event_signature(DisputeGame::GameOpened::SIGNATURE_HASH)
                .topic2(B256::from(g.setup.jobId))
                .from_block(job_block),
        )
        .await
        .map_err(vtrain_dispute::Error::Rpc)?;
    let position = |log: &alloy::rpc::types::Log| {
        (
            log.block_number.unwrap_or_default(),
            log.log_index.unwrap_or_default(),
        )
    };
    let Some(own) = moves
        .iter()
        .find(|(m, _)| m.event == "GameOpened")
        .map(|(m, index)| (m.block, *index))
    else {
        return Ok(());
    };
    let opened_so_far = opened.iter().filter(|l| position(l) <= own).count() as u64;
    let mut timeline: Vec<((u64, u64), Option<usize>)> = opened
        .iter()
        .filter(|l| position(l) > own)
        .map(|l| (position(l), None))
        .collect();
    for (i, (m, index)) in moves.iter().enumerate() {
        if mover_of(&m.event).is_some() {
            timeline.push(((m.block, *index), Some(i)));
        }
    }
    timeline.sort();
    let events: Vec<ClockEvent> = timeline
        .iter()
        .flat_map(|(_, mv)| match mv {
            None => vec![ClockEvent::LaterGameOpened],
            Some(i) => clock_events(&moves[*i].0.event, moves[*i].0.time),
        })
        .collect();
    let constants = chain.constants().await?;
    let start = Start {
        clock: constants.clock,
        extension: constants.extension,
        opened: opened_so_far,
        opened_at: chain.block_time(own.0).await?,
    };
    let replayed = replay(start, &events);
    if (replayed.solver, replayed.challenger) != (g.clock.solverClock, g.clock.challengerClock) {
        tracing::warn!(target: "explorer", job = %g.setup.jobId, replayed = ?(replayed.solver, replayed.challenger), stored = ?(g.clock.solverClock, g.clock.challengerClock), "the replayed clocks do not match the chain's: not shown");
        return Ok(());
    }
    let order = timeline.iter().filter_map(|(_, mv)| *mv);
    for (i, left) in order.zip(replayed.left) {
        moves[i].0.clock_left = left;
    }
    Ok(())
}

/// The game's events from `from_block` on (every one has the game id as its
/// first topic), each with the sender and gas of its transaction, its
/// block's time and its index in the block.
async fn moves(
    chain: &Chain,
    id: u64,
    from_block: u64,
) -> vtrain_dispute::Result<Vec<(Move, u64)>> {
    let market = &chain.market;
    let filter = Filter::new()
        .address(*market.game().address())
        .topic1(B256::from(U256::from(id)))
        .from_block(from_block);
    let logs = market
        .provider()
        .get_logs(&filter)
        .await
        .map_err(vtrain_dispute::Error::Rpc)?;
    let mut moves = Vec::with_capacity(logs.len());
    for log in logs {
        let Ok(event) = DisputeGame::DisputeGameEvents::decode_log(&log.inner) else {
            continue;
        };
        // `Variant(Variant { field: value, … })`: the name, then the fields.
        let text = format!("{:?}", event.data);
        let (name, inner) = text.split_once('(').unwrap_or((&text, ""));
        let fields = inner
            .strip_suffix(')')
            .unwrap_or(inner)
            .trim_start_matches(name)
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim();
        let Some(tx) = log.transaction_hash else {
            continue;
        };
        let (sender, gas_used) = chain
            .sender_and_gas(tx)
            .await?
            .unwrap_or((Address::ZERO, 0));
        let block = log.block_number.unwrap_or_default();
        moves.push((
            Move {
                event: name.to_owned(),
                fields: fields.to_owned(),
                block,
                time: chain.block_time(block).await?,
                clock_left: None,
                tx,
                sender,
                gas_used,
            },
            log.log_index.unwrap_or_default(),
        ));
    }
    Ok(moves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_has_a_name_and_a_level() {
        assert_eq!(level_of(2), "L1 step");
        assert_eq!(level_of(4), "L2 list");
        assert_eq!(level_of(9), "L3 tensor and element");
        assert_eq!(level_of(12), "L4 micro-step");
        assert_eq!(level_of(13), "leaf: one fp32 operation");
        assert_eq!(level_of(14), "resolved");
        assert_eq!(reason_name(1), "the step was refuted by the chain's ALU");
    }
}
