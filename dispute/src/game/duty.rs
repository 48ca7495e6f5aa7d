//! What a party must do in a game right now, from the game's record, its job's
//! outcome state and the chain's time alone: move, claim the other side's
//! timeout, have the result paid out, or wait. A pure decision; the agents
//! carry it out.

use super::player::{phase, solver_moves};
use crate::bindings::dispute_game::DisputeGame;

/// The side an agent plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The solver whose result is disputed.
    Solver,
    /// The challenger who opened the game.
    Challenger,
}

/// What the agent must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duty {
    /// It is our turn: compute and send a move.
    Move,
    /// The other side's clock has run out: call `timeout`.
    ClaimTimeout,
    /// We won the game: pay it out (`JobMarket.settleGame`; the solver gets
    /// the challenger's bond net of burn, a challenger its bond back).
    Settle,
    /// We refuted the solver and the job's outcome can be fixed now: call
    /// `JobMarket.finalize` (after paying out any decided game of the job).
    Finalize,
    /// The job is slashed: collect our share (`JobMarket.claimShare`).
    ClaimShare,
    /// We refuted the solver; our share waits for the job's outcome: until its
    /// window has closed and every game on it is paid out.
    AwaitOutcome {
        /// When the window closes (unix seconds).
        window_end: u64,
    },
    /// The other side is to move and its clock still runs.
    Wait {
        /// When its clock runs out (unix seconds).
        deadline: u64,
    },
    /// Nothing left for us in this game.
    Done,
}

/// Where the job of a game stands (`JobMarket.getJob`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    /// When the job's challenge window closes (unix seconds).
    pub window_end: u64,
    /// Its games not yet paid out (`openGames`).
    pub open_games: u32,
    /// Its paid-out games the solver lost (`refutations`).
    pub refuted: u32,
    /// Whether its result is submitted and its outcome not yet fixed.
    pub submitted: bool,
    /// Whether its outcome is fixed (finalized or slashed).
    pub fixed: bool,
}

impl JobOutcome {
    /// Whether `JobMarket.finalize` would fix the outcome at chain time `now`.
    pub fn can_fix(&self, now: u64) -> bool {
        self.submitted && now >= self.window_end && self.open_games == 0
    }
}

/// The duty of `side` in game `g`, of a job in state `job`, at chain time
/// `now`; `share_claimed` says whether the game's share has been collected.
pub fn duty(
    side: Side,
    g: &DisputeGame::Game,
    job: &JobOutcome,
    share_claimed: bool,
    now: u64,
) -> Duty {
    if g.clock.phase == phase::RESOLVED {
        let won = g.clock.solverWon == (side == Side::Solver);
        if !g.clock.settled {
            // The winner pays its game out; the loser has nothing to collect.
            return if won { Duty::Settle } else { Duty::Done };
        }
        if side == Side::Solver || g.clock.solverWon {
            return Duty::Done;
        }
        return if job.fixed {
            if share_claimed {
                Duty::Done
            } else {
                Duty::ClaimShare
            }
        } else if job.can_fix(now) {
            Duty::Finalize
        } else {
            Duty::AwaitOutcome {
                window_end: job.window_end,
            }
        };
    }
    let solver_to_move = solver_moves(g.clock.phase);
    if solver_to_move == (side == Side::Solver) {
        return Duty::Move;
    }
    let remaining = if solver_to_move {
        g.clock.solverClock
    } else {
        g.clock.challengerClock
    };
    let deadline = g.clock.lastMoveAt.saturating_add(remaining);
    if now >= deadline {
        Duty::ClaimTimeout
    } else {
        Duty::Wait { deadline }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(phase: u8, last_move_at: u64) -> DisputeGame::Game {
        let mut g = DisputeGame::Game::default();
        g.clock.phase = phase;
        g.clock.lastMoveAt = last_move_at;
        g.clock.solverClock = 100;
        g.clock.challengerClock = 50;
        g
    }

    const OPEN: JobOutcome = JobOutcome {
        window_end: 2_000,
        open_games: 1,
        refuted: 0,
        submitted: true,
        fixed: false,
    };

    #[test]
    fn the_side_to_move_moves_and_the_other_waits_until_its_clock_runs_out() {
        let g = game(phase::BISECT, 1_000);
        assert_eq!(duty(Side::Solver, &g, &OPEN, false, 1_010), Duty::Move);
        assert_eq!(
            duty(Side::Challenger, &g, &OPEN, false, 1_010),
            Duty::Wait { deadline: 1_100 }
        );
        assert_eq!(
            duty(Side::Challenger, &g, &OPEN, false, 1_100),
            Duty::ClaimTimeout
        );
        let g = game(phase::JUDGE, 1_000);
        assert_eq!(duty(Side::Challenger, &g, &OPEN, false, 1_010), Duty::Move);
        assert_eq!(
            duty(Side::Solver, &g, &OPEN, false, 1_049),
            Duty::Wait { deadline: 1_050 }
        );
        assert_eq!(
            duty(Side::Solver, &g, &OPEN, false, 1_050),
            Duty::ClaimTimeout
        );
    }

    #[test]
    fn the_winner_settles_at_once_and_the_loser_is_done() {
        let mut g = game(phase::RESOLVED, 0);
        g.clock.solverWon = true;
        assert_eq!(duty(Side::Solver, &g, &OPEN, false, 5), Duty::Settle);
        assert_eq!(duty(Side::Challenger, &g, &OPEN, false, 5), Duty::Done);
        g.clock.settled = true;
        assert_eq!(duty(Side::Solver, &g, &OPEN, false, 5), Duty::Done);
        let mut g = game(phase::RESOLVED, 0);
        assert_eq!(duty(Side::Challenger, &g, &OPEN, false, 5), Duty::Settle);
        assert_eq!(duty(Side::Solver, &g, &OPEN, false, 5), Duty::Done);
        g.clock.settled = true;
        assert_eq!(duty(Side::Solver, &g, &OPEN, false, 5), Duty::Done);
    }

    #[test]
    fn a_refuter_finalizes_once_it_can_then_claims_its_share_once() {
        let mut g = game(phase::RESOLVED, 0);
        g.clock.settled = true;
        let waiting = Duty::AwaitOutcome { window_end: 2_000 };
        let paid_out = JobOutcome {
            open_games: 0,
            refuted: 1,
            ..OPEN
        };
        assert_eq!(duty(Side::Challenger, &g, &OPEN, false, 2_500), waiting);
        assert_eq!(duty(Side::Challenger, &g, &paid_out, false, 1_999), waiting);
        assert_eq!(
            duty(Side::Challenger, &g, &paid_out, false, 2_000),
            Duty::Finalize
        );
        let slashed = JobOutcome {
            submitted: false,
            fixed: true,
            ..paid_out
        };
        assert_eq!(
            duty(Side::Challenger, &g, &slashed, false, 0),
            Duty::ClaimShare
        );
        assert_eq!(duty(Side::Challenger, &g, &slashed, true, 0), Duty::Done);
        assert_eq!(duty(Side::Solver, &g, &slashed, false, 0), Duty::Done);
    }
}
