//! The solver's decisions, as a pure function: a snapshot of the job book and
//! of what the solver holds locally in, a plan out. The daemon
//! (`crate::daemon`) builds the snapshot, carries the plan out (each action is
//! I/O: a fetch, a transaction, a task) and reads the chain again next tick.
//! Nothing here touches the network, the disk or a clock, so every decision
//! has a table test below.

use std::collections::BTreeMap;

use alloy::primitives::{Address, U256};
use vtrain_dispute::{JobBook, JobEntry, JobPhase};
use vtrain_proof_of_learning::JobSpec;

/// Seconds a job must leave before its submit deadline for the solver to claim it.
pub const MIN_TIME_TO_SUBMIT: u64 = 30;

/// What the operator allows (`SolverConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Jobs held at once, at most.
    pub capacity: usize,
    /// The currencies the solver takes jobs in, each with the smallest reward
    /// worth a claim in its smallest unit: ETH ([`vtrain_dispute::ETH`]) and
    /// each token `--min-reward` names. A job in any other token is refused.
    pub min_rewards: BTreeMap<Address, U256>,
    /// The largest model, in parameters.
    pub max_params: usize,
}

/// Where a claimed job's training stands on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Training {
    /// Not started, or stopped (a restart): start or resume it.
    Idle,
    /// A training task is running.
    Running,
    /// The result is in the datadir.
    Trained,
}

/// What the planner sees.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot<'a> {
    /// The solver's account.
    pub account: Address,
    /// The latest block's time.
    pub now: u64,
    /// The job book.
    pub book: &'a JobBook,
    /// The training state of each job the solver holds (absent: `Idle`).
    pub training: &'a BTreeMap<u64, Training>,
}

/// One thing to do for one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start (or resume) training a claimed job.
    Train {
        /// The job.
        job: u64,
    },
    /// Training is under way: nothing to do but serve progress.
    AwaitTraining {
        /// The job.
        job: u64,
    },
    /// Announce and commit a trained result.
    Submit {
        /// The job.
        job: u64,
    },
    /// The submit deadline passed before the result was committed: the bond
    /// is lost (anyone can now slash it); nothing is sent.
    MissedDeadline {
        /// The job.
        job: u64,
    },
    /// A submitted result: serve its trace, defend its games (one task each),
    /// finalize once its window has closed.
    Defend {
        /// The job.
        job: u64,
        /// Its undecided games.
        open_games: Vec<u64>,
    },
}

impl Action {
    /// The job it is for.
    pub fn job(&self) -> u64 {
        match self {
            Self::Train { job }
            | Self::AwaitTraining { job }
            | Self::Submit { job }
            | Self::MissedDeadline { job }
            | Self::Defend { job, .. } => *job,
        }
    }
}

/// The plan of one tick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Open jobs that pass every check the book allows, best first: the
    /// daemon checks their data and this machine's speed, then claims, until
    /// `room` claims have gone through.
    pub candidates: Vec<u64>,
    /// How many more jobs the solver may hold.
    pub room: usize,
    /// Open jobs not taken, and why.
    pub refusals: Vec<(u64, String)>,
    /// What to do for the jobs the solver holds.
    pub actions: Vec<Action>,
}

/// Where a job this solver claimed stands, from its side: the job's state
/// machine. The chain and the datadir decide it; the daemon logs each
/// transition once (`vtrain_dispute::game::Tracker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStage {
    /// Claimed; training (or about to resume).
    Training,
    /// Trained; the result is not committed yet.
    Trained,
    /// Trained too late: the submit deadline passed.
    MissedDeadline,
    /// Committed; the challenge window runs, no game is open.
    InWindow,
    /// Committed, with undecided games.
    Disputed,
    /// Finalized: paid.
    Paid,
    /// Slashed.
    Slashed,
}

impl JobStage {
    /// The stage of `job` (one this solver claimed) whose training stands at
    /// `training`, at chain time `now`; `None` for another's job.
    pub fn of(
        job: &JobEntry,
        book: &JobBook,
        account: Address,
        training: Training,
        now: u64,
    ) -> Option<Self> {
        if job.solver != Some(account) {
            return None;
        }
        Some(match job.phase {
            JobPhase::Open | JobPhase::Cancelled => return None,
            JobPhase::Claimed => match claimed(job, training, now) {
                Action::Submit { .. } => Self::Trained,
                Action::MissedDeadline { .. } => Self::MissedDeadline,
                _ => Self::Training,
            },
            JobPhase::Submitted => {
                if open_games(job, book).next().is_some() {
                    Self::Disputed
                } else {
                    Self::InWindow
                }
            }
            JobPhase::Finalized => Self::Paid,
            JobPhase::Slashed => Self::Slashed,
        })
    }

    /// Whether a job can go from `self` to `next` (a stage may be skipped
    /// between two polls; nothing goes back but a dispute that ends).
    pub fn can_become(self, next: Self) -> bool {
        use JobStage::*;
        self == next
            || matches!(
                (self, next),
                (
                    Training,
                    Trained | MissedDeadline | InWindow | Disputed | Slashed
                ) | (Trained, MissedDeadline | InWindow | Disputed | Slashed)
                    | (MissedDeadline, Slashed)
                    | (InWindow, Disputed | Paid | Slashed)
                    | (Disputed, InWindow | Paid | Slashed)
            )
    }
}

/// Plans one tick.
pub fn plan(snapshot: &Snapshot<'_>, policy: &Policy) -> Plan {
    let mine = |j: &JobEntry| j.solver == Some(snapshot.account);
    let live = || {
        snapshot
            .book
            .jobs
            .values()
            .filter(|j| !j.phase.is_terminal())
    };
    let held = live()
        .filter(|j| j.phase == JobPhase::Claimed && mine(j))
        .count();
    let mut plan = Plan {
        room: policy.capacity.saturating_sub(held),
        ..Plan::default()
    };
    for job in live() {
        match job.phase {
            JobPhase::Open if plan.room > 0 => match refusal(job, snapshot.now, policy) {
                Some(reason) => plan.refusals.push((job.id, reason)),
                None => plan.candidates.push(job.id),
            },
            JobPhase::Claimed if mine(job) => {
                let training = snapshot
                    .training
                    .get(&job.id)
                    .copied()
                    .unwrap_or(Training::Idle);
                plan.actions.push(claimed(job, training, snapshot.now));
            }
            JobPhase::Submitted if mine(job) => {
                plan.actions.push(Action::Defend {
                    job: job.id,
                    open_games: open_games(job, snapshot.book).collect(),
                });
            }
            _ => {}
        }
    }
    // The best-paid first, within a currency (amounts in two currencies do
    // not compare: ETH jobs first, then each token's by address); among
    // equals, the oldest.
    plan.candidates.sort_by_key(|id| {
        let (token, reward) = snapshot
            .book
            .job(*id)
            .map(|j| (j.token, j.reward))
            .unwrap_or_default();
        (token, std::cmp::Reverse(reward), *id)
    });
    plan
}

/// The games on `job` not yet decided (one the book has not seen yet counts
/// as open).
fn open_games<'a>(job: &'a JobEntry, book: &'a JobBook) -> impl Iterator<Item = u64> + 'a {
    job.games
        .iter()
        .copied()
        .filter(|g| book.games.get(g).is_none_or(|g| g.resolved.is_none()))
}

/// Why an open job is not worth claiming, if it is not.
fn refusal(job: &JobEntry, now: u64, policy: &Policy) -> Option<String> {
    if let Some(error) = &job.spec_error {
        return Some(format!("its spec is not valid: {error}"));
    }
    match policy.min_rewards.get(&job.token) {
        None => {
            return Some(format!(
                "it pays in the token {}, which --min-reward does not name",
                job.token
            ));
        }
        Some(min) if job.reward < *min => {
            return Some("the reward is below --min-reward".into());
        }
        Some(_) => {}
    }
    if now >= job.claim_deadline || job.submit_deadline < now.saturating_add(MIN_TIME_TO_SUBMIT) {
        return Some("too close to its deadlines".into());
    }
    match JobSpec::from_canonical_bytes(&job.spec).map(|s| s.param_count()) {
        Err(e) => Some(format!("its spec does not decode: {e}")),
        Ok(params) if params > policy.max_params => {
            Some(format!("{params} parameters exceed --max-params"))
        }
        Ok(_) => None,
    }
}

/// What is due for a job the solver has claimed.
fn claimed(job: &JobEntry, training: Training, now: u64) -> Action {
    match training {
        Training::Trained if now >= job.submit_deadline => Action::MissedDeadline { job: job.id },
        Training::Trained => Action::Submit { job: job.id },
        Training::Running => Action::AwaitTraining { job: job.id },
        Training::Idle => Action::Train { job: job.id },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{B256, Bytes};
    use vtrain_dispute::GameEntry;

    const ME: Address = Address::repeat_byte(0xAA);
    const OTHER: Address = Address::repeat_byte(0xBB);
    const TOKEN: Address = Address::repeat_byte(0x70);
    const UNKNOWN_TOKEN: Address = Address::repeat_byte(0x71);
    const NOW: u64 = 1_000_000;

    fn policy() -> Policy {
        Policy {
            capacity: 2,
            min_rewards: BTreeMap::from([
                (vtrain_dispute::ETH, U256::from(10)),
                (TOKEN, U256::from(1000)),
            ]),
            max_params: 1_000_000,
        }
    }

    fn spec() -> JobSpec {
        JobSpec::from_toml(include_str!("../../examples/digits-mlp.toml")).expect("example spec")
    }

    fn job(id: u64, phase: JobPhase, solver: Option<Address>) -> JobEntry {
        let spec = spec();
        JobEntry {
            id,
            submitter: OTHER,
            job_hash: B256::from(spec.job_hash().0),
            dataset_root: B256::ZERO,
            token: Address::ZERO,
            reward: U256::from(100),
            solver_bond: U256::from(50),
            claim_deadline: NOW + 3_600,
            submit_deadline: NOW + 7_200,
            challenge_window: 3_600,
            spec: Bytes::from(spec.canonical_bytes()),
            spec_error: None,
            posted_block: 1,
            phase,
            solver,
            result: None,
            games: Vec::new(),
        }
    }

    fn book(jobs: Vec<JobEntry>) -> JobBook {
        let mut book = JobBook::starting_at(1);
        for j in jobs {
            book.jobs.insert(j.id, j);
        }
        book
    }

    fn run(book: &JobBook, training: &[(u64, Training)]) -> Plan {
        let training = training.iter().copied().collect();
        plan(
            &Snapshot {
                account: ME,
                now: NOW,
                book,
                training: &training,
            },
            &policy(),
        )
    }

    #[test]
    fn open_jobs_are_claimed_best_paid_first_within_capacity() {
        let mut cheap = job(1, JobPhase::Open, None);
        cheap.reward = U256::from(20);
        let rich = job(2, JobPhase::Open, None);
        let held = job(3, JobPhase::Claimed, Some(ME));
        let plan = run(&book(vec![cheap, rich, held]), &[(3, Training::Running)]);
        assert_eq!(plan.candidates, vec![2, 1]);
        assert_eq!(plan.room, 1, "capacity 2, one held");
        assert_eq!(plan.actions, vec![Action::AwaitTraining { job: 3 }]);
    }

    #[test]
    fn token_jobs_above_their_floor_are_taken_ranked_within_their_currency() {
        let mut in_token = job(1, JobPhase::Open, None);
        in_token.token = TOKEN;
        in_token.reward = U256::from(5_000); // far more units than the ETH job: not ranked above it
        let mut eth = job(2, JobPhase::Open, None);
        eth.reward = U256::from(20);
        let mut richer_in_token = job(3, JobPhase::Open, None);
        richer_in_token.token = TOKEN;
        richer_in_token.reward = U256::from(9_000);
        let plan = run(&book(vec![in_token, eth, richer_in_token]), &[]);
        assert_eq!(plan.candidates, vec![2, 3, 1]);
        assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    }

    #[test]
    fn a_full_solver_considers_nothing() {
        let jobs = vec![
            job(1, JobPhase::Claimed, Some(ME)),
            job(2, JobPhase::Claimed, Some(ME)),
            job(3, JobPhase::Open, None),
        ];
        let plan = run(&book(jobs), &[]);
        assert_eq!(plan.room, 0);
        assert!(plan.candidates.is_empty() && plan.refusals.is_empty());
        assert_eq!(
            plan.actions,
            vec![Action::Train { job: 1 }, Action::Train { job: 2 }]
        );
    }

    #[test]
    fn open_jobs_are_refused_for_each_reason() {
        let mut low = job(1, JobPhase::Open, None);
        low.reward = U256::from(9);
        let mut late = job(2, JobPhase::Open, None);
        late.claim_deadline = NOW;
        let mut tight = job(3, JobPhase::Open, None);
        tight.submit_deadline = NOW + MIN_TIME_TO_SUBMIT - 1;
        let mut garbled = job(4, JobPhase::Open, None);
        garbled.spec = Bytes::from_static(b"not a spec");
        let mut invalid = job(5, JobPhase::Open, None);
        invalid.spec_error = Some("its job hash is not the chain's".into());
        let big = job(6, JobPhase::Open, None);
        let mut low_in_token = job(7, JobPhase::Open, None);
        low_in_token.token = TOKEN;
        low_in_token.reward = U256::from(999); // the ETH floor would take it, the token's does not
        let mut unknown_token = job(8, JobPhase::Open, None);
        unknown_token.token = UNKNOWN_TOKEN;
        let mut tiny = policy();
        tiny.max_params = spec().param_count() - 1;
        let book = book(vec![
            low,
            late,
            tight,
            garbled,
            invalid,
            big,
            low_in_token,
            unknown_token,
        ]);
        let training = BTreeMap::new();
        let snapshot = Snapshot {
            account: ME,
            now: NOW,
            book: &book,
            training: &training,
        };
        let plan = plan(&snapshot, &tiny);
        let reasons: BTreeMap<u64, String> = plan.refusals.into_iter().collect();
        assert!(reasons[&1].contains("min-reward"), "{reasons:?}");
        assert!(reasons[&2].contains("deadlines"), "{reasons:?}");
        assert!(reasons[&3].contains("deadlines"), "{reasons:?}");
        assert!(reasons[&4].contains("does not decode"), "{reasons:?}");
        assert!(reasons[&5].contains("not valid"), "{reasons:?}");
        assert!(reasons[&6].contains("max-params"), "{reasons:?}");
        assert!(reasons[&7].contains("below --min-reward"), "{reasons:?}");
        assert!(reasons[&8].contains("does not name"), "{reasons:?}");
        assert!(plan.candidates.is_empty());
    }

    #[test]
    fn a_claimed_job_trains_then_submits_unless_its_deadline_passed() {
        let mut overdue = job(4, JobPhase::Claimed, Some(ME));
        overdue.submit_deadline = NOW;
        let jobs = vec![
            job(1, JobPhase::Claimed, Some(ME)),
            job(2, JobPhase::Claimed, Some(ME)),
            job(3, JobPhase::Claimed, Some(ME)),
            overdue,
        ];
        let mut policy = policy();
        policy.capacity = 10;
        let book = book(jobs);
        let training = BTreeMap::from([
            (2, Training::Running),
            (3, Training::Trained),
            (4, Training::Trained),
        ]);
        let snapshot = Snapshot {
            account: ME,
            now: NOW,
            book: &book,
            training: &training,
        };
        assert_eq!(
            plan(&snapshot, &policy).actions,
            vec![
                Action::Train { job: 1 },
                Action::AwaitTraining { job: 2 },
                Action::Submit { job: 3 },
                Action::MissedDeadline { job: 4 },
            ]
        );
    }

    #[test]
    fn other_solvers_jobs_and_ended_jobs_are_left_alone() {
        let jobs = vec![
            job(1, JobPhase::Claimed, Some(OTHER)),
            job(2, JobPhase::Submitted, Some(OTHER)),
            job(3, JobPhase::Finalized, Some(ME)),
            job(4, JobPhase::Slashed, Some(ME)),
            job(5, JobPhase::Cancelled, None),
        ];
        let plan = run(&book(jobs), &[]);
        assert_eq!(
            plan,
            Plan {
                room: 2,
                ..Plan::default()
            }
        );
    }

    #[test]
    fn a_jobs_stage_follows_its_phase_its_training_and_its_games() {
        let book = book(vec![]);
        let mut j = job(1, JobPhase::Claimed, Some(ME));
        let stage = |j: &JobEntry, t| JobStage::of(j, &book, ME, t, NOW);
        assert_eq!(stage(&j, Training::Idle), Some(JobStage::Training));
        assert_eq!(stage(&j, Training::Running), Some(JobStage::Training));
        assert_eq!(stage(&j, Training::Trained), Some(JobStage::Trained));
        j.submit_deadline = NOW;
        assert_eq!(stage(&j, Training::Trained), Some(JobStage::MissedDeadline));
        j.phase = JobPhase::Submitted;
        assert_eq!(stage(&j, Training::Trained), Some(JobStage::InWindow));
        j.games = vec![9];
        assert_eq!(
            stage(&j, Training::Trained),
            Some(JobStage::Disputed),
            "an unseen game is open"
        );
        j.phase = JobPhase::Finalized;
        assert_eq!(stage(&j, Training::Idle), Some(JobStage::Paid));
        j.phase = JobPhase::Slashed;
        assert_eq!(stage(&j, Training::Idle), Some(JobStage::Slashed));
        j.solver = Some(OTHER);
        assert_eq!(stage(&j, Training::Idle), None);
    }

    #[test]
    fn the_job_machine_allows_forward_transitions_and_a_dispute_ending_only() {
        use JobStage::*;
        for (from, to, allowed) in [
            (Training, Trained, true),
            (Trained, InWindow, true),
            (InWindow, Disputed, true),
            (Disputed, InWindow, true),
            (Disputed, Paid, true),
            (Disputed, Slashed, true),
            (Trained, MissedDeadline, true),
            (MissedDeadline, Slashed, true),
            (InWindow, Training, false),
            (Paid, Slashed, false),
            (Slashed, Paid, false),
            (MissedDeadline, InWindow, false),
            (Paid, Disputed, false),
        ] {
            assert_eq!(from.can_become(to), allowed, "{from:?} → {to:?}");
        }
    }

    #[test]
    fn a_submitted_result_is_defended_with_its_undecided_games() {
        let mut submitted = job(1, JobPhase::Submitted, Some(ME));
        submitted.games = vec![10, 11, 12];
        let mut book = book(vec![submitted]);
        for (id, resolved) in [(10, Some(true)), (11, None), (12, Some(false))] {
            book.games.insert(
                id,
                GameEntry {
                    id,
                    job_id: 1,
                    challenger: OTHER,
                    checkpoint: 1,
                    init: false,
                    opened_block: 5,
                    resolved,
                    settled: false,
                    share_claimed: false,
                },
            );
        }
        let plan = run(&book, &[]);
        assert_eq!(
            plan.actions,
            vec![Action::Defend {
                job: 1,
                open_games: vec![11]
            }]
        );
    }
}
