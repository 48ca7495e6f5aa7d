//! What a party must do in a game right now, from the game's record and the
//! chain's time alone: move, claim the other side's timeout, have the result
//! paid out, or wait. A pure decision; the agents carry it out.

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
    /// The game is decided but not paid out: call `JobMarket.settleGame`.
    Settle,
    /// The other side is to move and its clock still runs.
    Wait {
        /// When its clock runs out (unix seconds).
        deadline: u64,
    },
    /// Decided and paid out.
    Done,
}

/// The duty of `side` in game `g` at chain time `now`.
pub fn duty(side: Side, g: &DisputeGame::Game, now: u64) -> Duty {
    if g.clock.phase == phase::RESOLVED {
        return if g.clock.settled {
            Duty::Done
        } else {
            Duty::Settle
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

    #[test]
    fn the_side_to_move_moves_and_the_other_waits_until_its_clock_runs_out() {
        let g = game(phase::BISECT, 1_000);
        assert_eq!(duty(Side::Solver, &g, 1_010), Duty::Move);
        assert_eq!(
            duty(Side::Challenger, &g, 1_010),
            Duty::Wait { deadline: 1_100 }
        );
        assert_eq!(duty(Side::Challenger, &g, 1_100), Duty::ClaimTimeout);
        let g = game(phase::JUDGE, 1_000);
        assert_eq!(duty(Side::Challenger, &g, 1_010), Duty::Move);
        assert_eq!(
            duty(Side::Solver, &g, 1_049),
            Duty::Wait { deadline: 1_050 }
        );
        assert_eq!(duty(Side::Solver, &g, 1_050), Duty::ClaimTimeout);
    }

    #[test]
    fn a_decided_game_is_settled_once() {
        let mut g = game(phase::RESOLVED, 0);
        assert_eq!(duty(Side::Solver, &g, 5), Duty::Settle);
        g.clock.settled = true;
        assert_eq!(duty(Side::Challenger, &g, 5), Duty::Done);
    }
}
