//! The chess clocks as they stood at each move of a game, replayed from the
//! game's events by the contract's rule (`DisputeGame._move`,
//! `docs/dispute-game.md` § Clocks): at its opening a game gives the
//! challenger `clock + extension` and the solver `clock + extension × n`, n
//! the games opened on the job so far; every later game on the job adds one
//! extension to the solver's clock; the solver's step reveal (L2) gives the
//! challenger one extension for its instrumented replay of the step; each
//! move charges its mover the time since the last move. A pure function: the explorer checks its result
//! against the clocks the chain stores, and shows nothing rather than a
//! number the chain does not agree with.

/// Which side makes a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The solver (bisect, reveals, openings, the one-step proof).
    Solver,
    /// The challenger (judge, picks, namings).
    Challenger,
}

/// The side whose move emits the game event `name`, or `None` for events
/// that are no move (`GameOpened`, `GameResolved`).
pub fn mover_of(name: &str) -> Option<Side> {
    match name {
        "MidpointPosted"
        | "StepRevealed"
        | "NodeRevealed"
        | "TensorOpened"
        | "LeafRevealed"
        | "MicroTraceCommitted"
        | "StepExecuted" => Some(Side::Solver),
        "MidpointJudged" | "ListChosen" | "ChildPicked" | "ElementNamed" | "MicroTraceEntered"
        | "MicroStepNamed" => Some(Side::Challenger),
        _ => None,
    }
}

/// What the game event `name`, mined at block time `time`, does to the
/// clocks: nothing for an event that is no move; the move; and, for the
/// solver's step reveal, the challenger's extension after it.
pub fn clock_events(name: &str, time: u64) -> Vec<ClockEvent> {
    let Some(side) = mover_of(name) else {
        return Vec::new();
    };
    let mut events = vec![ClockEvent::Move { side, time }];
    if name == "StepRevealed" {
        events.push(ClockEvent::ChallengerExtension);
    }
    events
}

/// Something that changes a game's clocks, in chain order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockEvent {
    /// Another game opened on the same job after this one (the solver's clock
    /// grows by one extension).
    LaterGameOpened,
    /// The challenger is given one extension (after `StepRevealed`: it now
    /// replays the disputed step instrumented).
    ChallengerExtension,
    /// A move of this game by `side` at block time `time`.
    Move {
        /// Who moved.
        side: Side,
        /// The block's time (Unix seconds).
        time: u64,
    },
}

/// How a game's clocks started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// The market's clock per side (`DisputeGame.clock`).
    pub clock: u64,
    /// The extension per game (`DisputeGame.extension`).
    pub extension: u64,
    /// The games opened on the job up to and including this one.
    pub opened: u64,
    /// The block time of the opening.
    pub opened_at: u64,
}

/// The clocks after the replay: each move's mover's clock left after it (in
/// the order of the moves), and both clocks after the last event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Per move, the seconds its mover had left once it moved (`None` if the
    /// move came after the mover's time ran out, which the chain refuses).
    pub left: Vec<Option<u64>>,
    /// The solver's clock after the last event.
    pub solver: u64,
    /// The challenger's clock after the last event.
    pub challenger: u64,
}

/// Replays `events` from `start`.
pub fn replay(start: Start, events: &[ClockEvent]) -> Replay {
    let mut solver = start
        .clock
        .saturating_add(start.extension.saturating_mul(start.opened));
    let mut challenger = start.clock.saturating_add(start.extension);
    let mut last = start.opened_at;
    let mut left = Vec::new();
    for event in events {
        match *event {
            ClockEvent::LaterGameOpened => solver = solver.saturating_add(start.extension),
            ClockEvent::ChallengerExtension => {
                challenger = challenger.saturating_add(start.extension);
            }
            ClockEvent::Move { side, time } => {
                let elapsed = time.saturating_sub(last);
                let clock = match side {
                    Side::Solver => &mut solver,
                    Side::Challenger => &mut challenger,
                };
                left.push(clock.checked_sub(elapsed));
                *clock = clock.saturating_sub(elapsed);
                last = time;
            }
        }
    }
    Replay {
        left,
        solver,
        challenger,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Start = Start {
        clock: 3_600,
        extension: 1_800,
        opened: 1,
        opened_at: 1_000,
    };

    fn mv(side: Side, time: u64) -> ClockEvent {
        ClockEvent::Move { side, time }
    }

    #[test]
    fn each_move_charges_its_mover_the_time_since_the_last() {
        let r = replay(
            START,
            &[
                mv(Side::Solver, 1_010),
                mv(Side::Challenger, 1_110),
                mv(Side::Solver, 1_111),
            ],
        );
        assert_eq!(r.left, vec![Some(5_390), Some(5_300), Some(5_389)]);
        assert_eq!((r.solver, r.challenger), (5_389, 5_300));
    }

    #[test]
    fn later_games_on_the_job_credit_the_solver_one_extension_each() {
        let second = Start { opened: 2, ..START };
        assert_eq!(replay(second, &[]).solver, 3_600 + 2 * 1_800);
        let r = replay(
            START,
            &[
                ClockEvent::LaterGameOpened,
                mv(Side::Solver, 1_100),
                ClockEvent::LaterGameOpened,
            ],
        );
        assert_eq!(r.left, vec![Some(5_400 + 1_800 - 100)]);
        assert_eq!(r.solver, 5_400 + 2 * 1_800 - 100);
        assert_eq!(r.challenger, 5_400, "the challenger gets no credit");
    }

    #[test]
    fn the_step_reveal_gives_the_challenger_an_extension() {
        let r = replay(
            START,
            &[
                mv(Side::Solver, 1_001),
                ClockEvent::ChallengerExtension,
                mv(Side::Challenger, 1_003),
            ],
        );
        // 2 s since the solver's move, on a clock one extension longer
        assert_eq!(r.left, vec![Some(5_399), Some(5_400 + 1_800 - 2)]);
        assert_eq!((r.solver, r.challenger), (5_399, 7_198));
    }

    #[test]
    fn a_move_past_the_clock_has_no_time_left() {
        let r = replay(START, &[mv(Side::Challenger, 1_000 + 5_401)]);
        assert_eq!(r.left, vec![None]);
        assert_eq!(r.challenger, 0);
    }

    #[test]
    fn only_the_step_reveal_brings_the_challengers_extension() {
        assert_eq!(
            clock_events("StepRevealed", 7),
            vec![mv(Side::Solver, 7), ClockEvent::ChallengerExtension]
        );
        assert_eq!(clock_events("ListChosen", 8), vec![mv(Side::Challenger, 8)]);
        assert_eq!(clock_events("GameResolved", 9), vec![]);
    }

    #[test]
    fn every_move_event_has_its_side() {
        assert_eq!(mover_of("MidpointPosted"), Some(Side::Solver));
        assert_eq!(mover_of("StepExecuted"), Some(Side::Solver));
        assert_eq!(mover_of("MidpointJudged"), Some(Side::Challenger));
        assert_eq!(mover_of("MicroStepNamed"), Some(Side::Challenger));
        assert_eq!(mover_of("GameOpened"), None);
        assert_eq!(mover_of("GameResolved"), None);
    }
}
