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
    /// The game is decided in our favour and can be paid out now: call
    /// `JobMarket.settleGame`.
    Settle,
    /// We refuted the solver, and are paid once the job's outcome is fixed:
    /// when its window has closed and every game on it is decided.
    AwaitOutcome {
        /// When the window closes (unix seconds).
        window_end: u64,
    },
    /// The other side is to move and its clock still runs.
    Wait {
        /// When its clock runs out (unix seconds).
        deadline: u64,
    },
    /// Decided, and either paid out or nothing of ours to collect.
    Done,
}

/// Where the job of a game stands: what decides when a refuting game is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    /// When the job's challenge window closes (unix seconds).
    pub window_end: u64,
    /// How many of the job's games are not yet decided (`DisputeGame.gamesOf`).
    pub live_games: u32,
    /// How many of them the solver lost so far.
    pub refuted: u32,
    /// Whether the job's outcome is already fixed (finalized or slashed).
    pub fixed: bool,
}

impl JobOutcome {
    /// Whether `JobMarket.finalize` (or a refuting game's settlement) can fix
    /// the outcome at chain time `now`.
    pub fn can_fix(&self, now: u64) -> bool {
        self.fixed || (now >= self.window_end && self.live_games == 0)
    }
}

/// The duty of `side` in game `g` of a job in state `job`, at chain time `now`.
pub fn duty(side: Side, g: &DisputeGame::Game, job: &JobOutcome, now: u64) -> Duty {
    if g.clock.phase == phase::RESOLVED {
        let ours = g.clock.solverWon == (side == Side::Solver);
        return match (g.clock.settled, ours) {
            (true, _) | (false, false) => Duty::Done,
            // A game the solver won pays it at once; one it lost pays the
            // challenger once the job's outcome can be fixed.
            (false, true) if g.clock.solverWon || job.can_fix(now) => Duty::Settle,
            (false, true) => Duty::AwaitOutcome {
                window_end: job.window_end,
            },
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
        live_games: 1,
        refuted: 0,
        fixed: false,
    };

    #[test]
    fn the_side_to_move_moves_and_the_other_waits_until_its_clock_runs_out() {
        let g = game(phase::BISECT, 1_000);
        assert_eq!(duty(Side::Solver, &g, &OPEN, 1_010), Duty::Move);
        assert_eq!(
            duty(Side::Challenger, &g, &OPEN, 1_010),
            Duty::Wait { deadline: 1_100 }
        );
        assert_eq!(duty(Side::Challenger, &g, &OPEN, 1_100), Duty::ClaimTimeout);
        let g = game(phase::JUDGE, 1_000);
        assert_eq!(duty(Side::Challenger, &g, &OPEN, 1_010), Duty::Move);
        assert_eq!(
            duty(Side::Solver, &g, &OPEN, 1_049),
            Duty::Wait { deadline: 1_050 }
        );
        assert_eq!(duty(Side::Solver, &g, &OPEN, 1_050), Duty::ClaimTimeout);
    }

    #[test]
    fn a_game_the_solver_won_is_settled_by_it_at_once() {
        let mut g = game(phase::RESOLVED, 0);
        g.clock.solverWon = true;
        assert_eq!(duty(Side::Solver, &g, &OPEN, 5), Duty::Settle);
        assert_eq!(duty(Side::Challenger, &g, &OPEN, 5), Duty::Done);
        g.clock.settled = true;
        assert_eq!(duty(Side::Solver, &g, &OPEN, 5), Duty::Done);
    }

    #[test]
    fn a_refuting_game_is_paid_once_the_job_outcome_can_be_fixed() {
        let g = game(phase::RESOLVED, 0);
        let waiting = Duty::AwaitOutcome { window_end: 2_000 };
        assert_eq!(duty(Side::Challenger, &g, &OPEN, 2_500), waiting);
        let decided = JobOutcome {
            live_games: 0,
            ..OPEN
        };
        assert_eq!(duty(Side::Challenger, &g, &decided, 1_999), waiting);
        assert_eq!(duty(Side::Challenger, &g, &decided, 2_000), Duty::Settle);
        assert_eq!(duty(Side::Solver, &g, &decided, 2_000), Duty::Done);
        let fixed = JobOutcome {
            fixed: true,
            ..OPEN
        };
        assert_eq!(duty(Side::Challenger, &g, &fixed, 0), Duty::Settle);
    }
}
