//! The watchtower's decisions, as a pure function: the job book, its verdicts
//! and its running verifications in, a plan out. The daemon (`crate::watch`)
//! builds the snapshot, carries the plan out (replays, transactions, moves)
//! and reads the chain again next tick. Nothing here touches the network, the
//! disk or a clock, so every decision has a table test below.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::Address;
use vtrain_dispute::{JobBook, JobPhase};

/// What the planner sees.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot<'a> {
    /// The watchtower's account.
    pub account: Address,
    /// The latest block's time.
    pub now: u64,
    /// The job book (each result's `submitted_at` known).
    pub book: &'a JobBook,
    /// The verdicts on the results as they stand in the book: job id → the
    /// checkpoint found wrong, `None` where the result agrees.
    pub verdicts: &'a BTreeMap<u64, Option<u32>>,
    /// Jobs whose verification is running.
    pub verifying: &'a BTreeSet<u64>,
}

/// One thing to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Replay the sample of a result in its window (in the background).
    Verify {
        /// The job.
        job: u64,
    },
    /// Open a game against a result found wrong at `checkpoint`.
    Challenge {
        /// The job.
        job: u64,
        /// The first checkpoint found wrong.
        checkpoint: u32,
    },
    /// Play (move, claim a timeout, settle, collect) one of its games.
    Play {
        /// The game.
        game: u64,
    },
}

/// Plans one tick: results to verify or challenge, in job order, then games
/// to play, in game order.
pub fn plan(snapshot: &Snapshot<'_>) -> Vec<Action> {
    let book = snapshot.book;
    let mut actions = Vec::new();
    for job in book.jobs.values() {
        let Some(result) = &job.result else {
            continue;
        };
        // Its own results (a solver that also watches), ended jobs, and
        // specs that are not valid jobs are not verified.
        if job.phase != JobPhase::Submitted
            || job.solver == Some(snapshot.account)
            || job.spec_error.is_some()
        {
            continue;
        }
        let window_open = snapshot.now < result.window_end(job.challenge_window);
        match snapshot.verdicts.get(&job.id) {
            None if window_open && !snapshot.verifying.contains(&job.id) => {
                actions.push(Action::Verify { job: job.id });
            }
            Some(Some(checkpoint)) if window_open => {
                let challenged = book
                    .games
                    .values()
                    .any(|g| g.job_id == job.id && g.challenger == snapshot.account);
                if !challenged {
                    actions.push(Action::Challenge {
                        job: job.id,
                        checkpoint: *checkpoint,
                    });
                }
            }
            _ => {}
        }
    }
    actions.extend(
        book.games
            .values()
            .filter(|g| g.challenger == snapshot.account && g.open_for_challenger())
            .map(|g| Action::Play { game: g.id }),
    );
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{B256, Bytes, U256};
    use vtrain_dispute::{GameEntry, JobEntry, JobResult};

    const ME: Address = Address::repeat_byte(0xAA);
    const SOLVER: Address = Address::repeat_byte(0xBB);
    const OTHER: Address = Address::repeat_byte(0xCC);
    const SUBMITTED_AT: u64 = 1_000_000;
    const WINDOW: u64 = 3_600;
    const OPEN: u64 = SUBMITTED_AT + WINDOW - 1;
    const CLOSED: u64 = SUBMITTED_AT + WINDOW;

    fn job(id: u64, phase: JobPhase, solver: Address) -> JobEntry {
        JobEntry {
            id,
            submitter: OTHER,
            job_hash: B256::ZERO,
            dataset_root: B256::ZERO,
            token: Address::ZERO,
            reward: U256::from(100),
            solver_bond: U256::from(50),
            claim_deadline: 0,
            submit_deadline: 0,
            challenge_window: WINDOW,
            spec: Bytes::new(),
            spec_error: None,
            posted_block: 1,
            phase,
            solver: Some(solver),
            result: Some(JobResult {
                trace_root: B256::repeat_byte(id as u8),
                final_state_root: B256::ZERO,
                model_root: B256::ZERO,
                checkpoint_roots: Vec::new(),
                block: 2,
                submitted_at: SUBMITTED_AT,
            }),
            games: Vec::new(),
        }
    }

    fn game(id: u64, job_id: u64, challenger: Address, resolved: Option<bool>) -> GameEntry {
        GameEntry {
            id,
            job_id,
            challenger,
            checkpoint: 1,
            init: false,
            opened_block: 3,
            resolved,
            settled: false,
            share_claimed: false,
        }
    }

    struct Case {
        jobs: Vec<JobEntry>,
        games: Vec<GameEntry>,
        verdicts: Vec<(u64, Option<u32>)>,
        verifying: Vec<u64>,
        now: u64,
    }

    impl Case {
        fn new(jobs: Vec<JobEntry>, now: u64) -> Self {
            Self {
                jobs,
                games: Vec::new(),
                verdicts: Vec::new(),
                verifying: Vec::new(),
                now,
            }
        }

        fn plan(&self) -> Vec<Action> {
            let mut book = JobBook::starting_at(1);
            for j in &self.jobs {
                book.jobs.insert(j.id, j.clone());
            }
            for g in &self.games {
                book.games.insert(g.id, g.clone());
            }
            let verdicts = self.verdicts.iter().copied().collect();
            let verifying = self.verifying.iter().copied().collect();
            plan(&Snapshot {
                account: ME,
                now: self.now,
                book: &book,
                verdicts: &verdicts,
                verifying: &verifying,
            })
        }
    }

    #[test]
    fn a_new_result_is_verified_in_its_window_only() {
        let jobs = vec![job(1, JobPhase::Submitted, SOLVER)];
        assert_eq!(
            Case::new(jobs.clone(), OPEN).plan(),
            vec![Action::Verify { job: 1 }]
        );
        assert_eq!(Case::new(jobs, CLOSED).plan(), vec![]);
    }

    #[test]
    fn a_running_verification_is_not_started_again() {
        let mut case = Case::new(vec![job(1, JobPhase::Submitted, SOLVER)], OPEN);
        case.verifying = vec![1];
        assert_eq!(case.plan(), vec![]);
    }

    #[test]
    fn a_wrong_result_is_challenged_once_while_the_window_is_open() {
        let mut case = Case::new(vec![job(1, JobPhase::Submitted, SOLVER)], OPEN);
        case.verdicts = vec![(1, Some(3))];
        assert_eq!(
            case.plan(),
            vec![Action::Challenge {
                job: 1,
                checkpoint: 3
            }]
        );
        // Another challenger's game does not stop it (each game is paid on
        // its own merits); its own does, and is played.
        case.games = vec![game(7, 1, OTHER, None)];
        assert_eq!(
            case.plan(),
            vec![Action::Challenge {
                job: 1,
                checkpoint: 3
            }]
        );
        case.games.push(game(8, 1, ME, None));
        assert_eq!(case.plan(), vec![Action::Play { game: 8 }]);
        // Too late to challenge.
        case.games.clear();
        case.now = CLOSED;
        assert_eq!(case.plan(), vec![]);
    }

    #[test]
    fn a_result_that_agrees_is_left_alone() {
        let mut case = Case::new(vec![job(1, JobPhase::Submitted, SOLVER)], OPEN);
        case.verdicts = vec![(1, None)];
        assert_eq!(case.plan(), vec![]);
    }

    #[test]
    fn its_own_results_ended_jobs_and_invalid_specs_are_not_verified() {
        let mut invalid = job(4, JobPhase::Submitted, SOLVER);
        invalid.spec_error = Some("the spec does not decode".into());
        let jobs = vec![
            job(1, JobPhase::Submitted, ME),
            job(2, JobPhase::Finalized, SOLVER),
            job(3, JobPhase::Slashed, SOLVER),
            invalid,
        ];
        assert_eq!(Case::new(jobs, OPEN).plan(), vec![]);
    }

    #[test]
    fn its_games_are_played_until_nothing_is_left_to_collect() {
        let mut won_unpaid = game(3, 1, ME, Some(false));
        won_unpaid.settled = true;
        let mut won_paid = game(4, 1, ME, Some(false));
        won_paid.settled = true;
        won_paid.share_claimed = true;
        let mut case = Case::new(vec![job(1, JobPhase::Slashed, SOLVER)], CLOSED);
        case.games = vec![
            game(1, 1, ME, None),
            game(2, 1, ME, Some(true)),
            won_unpaid,
            won_paid,
            game(5, 1, OTHER, None),
        ];
        assert_eq!(
            case.plan(),
            vec![Action::Play { game: 1 }, Action::Play { game: 3 }]
        );
    }
}
