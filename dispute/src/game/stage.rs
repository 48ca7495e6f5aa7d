//! A game's lifecycle as an explicit state machine, the same for both sides:
//! where a game stands, read from its on-chain record, and a tracker that
//! reports each transition once (agents log it), in the style of BoLD's edge
//! tracker. The chain decides every transition; the machine names them and
//! refuses to report one that cannot happen except after a reorg.

use std::collections::BTreeMap;

use super::player::phase;
use crate::bindings::dispute_game::DisputeGame;

/// Where a game stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GameStage {
    /// Narrowing the disagreement down: the game is in `phase`
    /// (`player::phase`), one side to move.
    Narrowing {
        /// The on-chain phase.
        phase: u8,
    },
    /// Decided, not yet paid out.
    Decided {
        /// Whether the solver won.
        solver_won: bool,
    },
    /// Paid out by the market (`settleGame`).
    PaidOut {
        /// Whether the solver won.
        solver_won: bool,
    },
    /// A refuting challenger has collected its share of the slashed bond.
    ShareClaimed,
}

impl GameStage {
    /// The stage of game `g`; `share_claimed` says whether its share was collected.
    pub fn of(g: &DisputeGame::Game, share_claimed: bool) -> Self {
        let solver_won = g.clock.solverWon;
        if g.clock.phase != phase::RESOLVED {
            Self::Narrowing {
                phase: g.clock.phase,
            }
        } else if !g.clock.settled {
            Self::Decided { solver_won }
        } else if share_claimed && !solver_won {
            Self::ShareClaimed
        } else {
            Self::PaidOut { solver_won }
        }
    }

    /// A short name for logs.
    pub fn name(self) -> String {
        let winner = |solver_won| {
            if solver_won {
                "the solver"
            } else {
                "the challenger"
            }
        };
        match self {
            Self::Narrowing { phase } => format!("narrowing ({})", phase_name(phase)),
            Self::Decided { solver_won } => format!("won by {}", winner(solver_won)),
            Self::PaidOut { solver_won } => format!("paid out to {}", winner(solver_won)),
            Self::ShareClaimed => "share claimed".into(),
        }
    }

    /// Whether the chain can take a game from `self` to `next`: between
    /// phases while narrowing (bisection and the descent into lists, tensors
    /// and micro-steps loop back), from any phase to a decision (a timeout
    /// ends the game anywhere), to the payout, to the share; never back.
    pub fn can_become(self, next: Self) -> bool {
        match (self, next) {
            (Self::Narrowing { .. }, _) => true,
            (Self::Decided { solver_won: a }, Self::PaidOut { solver_won: b }) => a == b,
            (Self::Decided { solver_won: false }, Self::ShareClaimed)
            | (Self::PaidOut { solver_won: false }, Self::ShareClaimed) => true,
            (a, b) => a == b,
        }
    }
}

/// The on-chain name of `phase`.
pub fn phase_name(p: u8) -> &'static str {
    match p {
        phase::NONE => "none",
        phase::BISECT => "bisect",
        phase::JUDGE => "judge",
        phase::REVEAL_STEP => "reveal step",
        phase::CHOOSE_LIST => "choose list",
        phase::REVEAL => "reveal",
        phase::PICK => "pick",
        phase::OPEN_TENSOR => "open tensor",
        phase::REVEAL_LEAF => "reveal leaf",
        phase::NAME_ELEMENT => "name element",
        phase::COMMIT_MICRO => "commit micro",
        phase::CHOOSE_MICRO => "choose micro",
        phase::NAME_MICRO_STEP => "name micro step",
        phase::PROVE_STEP => "prove step",
        phase::RESOLVED => "resolved",
        _ => "unknown",
    }
}

/// A transition seen by a [`Tracker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition<S> {
    /// The stage before (`None`: first seen).
    pub from: Option<S>,
    /// The stage now.
    pub to: S,
    /// Whether the machine allows it (`false` only after a reorg, or a bug).
    pub expected: bool,
}

impl Transition<GameStage> {
    /// Whether it is a move from one narrowing phase to the next (logged at
    /// debug level: each move is logged already).
    pub fn within_narrowing(&self) -> bool {
        matches!(
            (self.from, self.to),
            (
                Some(GameStage::Narrowing { .. }),
                GameStage::Narrowing { .. }
            )
        )
    }
}

/// Remembers the last stage of each tracked thing (a game, a job) and reports
/// a transition only when the stage changes: each is logged once, not once
/// per poll.
#[derive(Clone, Debug)]
pub struct Tracker<K, S> {
    last: BTreeMap<K, S>,
    allowed: fn(S, S) -> bool,
}

impl<K: Ord, S: Copy + PartialEq> Tracker<K, S> {
    /// A tracker whose machine allows `from → to` when `allowed(from, to)`.
    pub fn new(allowed: fn(S, S) -> bool) -> Self {
        Self {
            last: BTreeMap::new(),
            allowed,
        }
    }

    /// Records that `key` is at `stage`; the transition if it moved.
    pub fn observe(&mut self, key: K, stage: S) -> Option<Transition<S>> {
        let from = self.last.insert(key, stage);
        (from != Some(stage)).then(|| Transition {
            from,
            to: stage,
            expected: from.is_none_or(|from| (self.allowed)(from, stage)),
        })
    }

    /// Forgets everything (after a reorg: ids may name other things now).
    pub fn clear(&mut self) {
        self.last.clear();
    }
}

/// A tracker of game stages.
pub fn game_tracker<K: Ord>() -> Tracker<K, GameStage> {
    Tracker::new(GameStage::can_become)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(p: u8, settled: bool, solver_won: bool) -> DisputeGame::Game {
        let mut g = DisputeGame::Game::default();
        g.clock.phase = p;
        g.clock.settled = settled;
        g.clock.solverWon = solver_won;
        g
    }

    #[test]
    fn the_stage_is_read_from_the_record() {
        use GameStage::*;
        let table = [
            (
                game(phase::BISECT, false, false),
                false,
                Narrowing { phase: 1 },
            ),
            (
                game(phase::RESOLVED, false, true),
                false,
                Decided { solver_won: true },
            ),
            (
                game(phase::RESOLVED, true, true),
                false,
                PaidOut { solver_won: true },
            ),
            (
                game(phase::RESOLVED, true, false),
                false,
                PaidOut { solver_won: false },
            ),
            (game(phase::RESOLVED, true, false), true, ShareClaimed),
        ];
        for (g, claimed, stage) in table {
            assert_eq!(GameStage::of(&g, claimed), stage);
        }
    }

    #[test]
    fn the_machine_allows_the_chains_transitions_only() {
        use GameStage::*;
        let bisect = Narrowing {
            phase: phase::BISECT,
        };
        let prove = Narrowing {
            phase: phase::PROVE_STEP,
        };
        let challenger = Decided { solver_won: false };
        let solver = Decided { solver_won: true };
        for (from, to, allowed) in [
            (bisect, prove, true),
            (
                Narrowing {
                    phase: phase::JUDGE,
                },
                bisect,
                true,
            ),
            (bisect, solver, true),
            (prove, PaidOut { solver_won: false }, true),
            (challenger, PaidOut { solver_won: false }, true),
            (challenger, PaidOut { solver_won: true }, false),
            (challenger, ShareClaimed, true),
            (solver, ShareClaimed, false),
            (PaidOut { solver_won: false }, ShareClaimed, true),
            (ShareClaimed, bisect, false),
            (solver, bisect, false),
        ] {
            assert_eq!(from.can_become(to), allowed, "{from:?} → {to:?}");
        }
    }

    #[test]
    fn a_tracker_reports_each_transition_once() {
        let mut tracker = game_tracker::<u64>();
        let bisect = GameStage::Narrowing {
            phase: phase::BISECT,
        };
        let judge = GameStage::Narrowing {
            phase: phase::JUDGE,
        };
        let first = tracker.observe(1, bisect).expect("first seen");
        assert_eq!((first.from, first.expected), (None, true));
        assert_eq!(tracker.observe(1, bisect), None, "no change, no report");
        let moved = tracker.observe(1, judge).expect("moved");
        assert_eq!(
            (moved.from, moved.to, moved.expected),
            (Some(bisect), judge, true)
        );
        let decided = GameStage::Decided { solver_won: true };
        assert!(tracker.observe(1, decided).is_some_and(|t| t.expected));
        let back = tracker.observe(1, bisect).expect("moved back");
        assert!(
            !back.expected,
            "a decided game never plays on (a reorg did that)"
        );
        tracker.clear();
        assert!(tracker.observe(1, bisect).is_some_and(|t| t.from.is_none()));
    }
}
