//! What the explorer shows of jobs, computed from the job book and the
//! chain's time: pure functions with table tests. The server serialises them
//! and adds nothing; scripts read the same JSON as the pages.

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use vtrain_dispute::{Currency, GameEntry, JobBook, JobEntry};
use vtrain_proof_of_learning::spec::JobSpec;

/// The currencies of the book's jobs, by address ([`vtrain_dispute::ETH`]
/// for ether), as read from their token contracts.
pub type Currencies = std::collections::BTreeMap<Address, Currency>;

/// An amount exactly, in its currency's smallest unit (wei for ETH), and in
/// whole units for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// The amount in the smallest unit, as a decimal string (JSON numbers
    /// lose precision past 2^53). Named `wei` for ETH and tokens alike.
    pub wei: String,
    /// The amount in whole units (ETH up to 6 decimals, a token exactly).
    pub display: String,
    /// The currency's symbol: `ETH`, or the token's (`?` if it has none).
    pub token: String,
    /// The currency's address: zero for ETH, else the token contract.
    pub currency: Address,
}

impl Amount {
    /// `wei` in ETH.
    pub fn eth(wei: U256) -> Self {
        Self {
            wei: wei.to_string(),
            display: vtrain_cli::format_eth(wei),
            token: "ETH".into(),
            currency: vtrain_dispute::ETH,
        }
    }

    /// `units` of the currency at `address`, as `currencies` knows it (raw
    /// units under `?` when it does not).
    pub fn of(units: U256, address: Address, currencies: &Currencies) -> Self {
        if address == vtrain_dispute::ETH {
            return Self::eth(units);
        }
        let (symbol, display) = match currencies.get(&address) {
            Some(c) => (
                c.symbol.clone(),
                vtrain_dispute::token::format_units(units, c.decimals),
            ),
            None => ("?".to_owned(), units.to_string()),
        };
        Self {
            wei: units.to_string(),
            display,
            token: symbol,
            currency: address,
        }
    }
}

/// One line of the job list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRow {
    /// The job id.
    pub id: u64,
    /// open, claimed, submitted, finalized, slashed or cancelled.
    pub status: String,
    /// Who posted it.
    pub submitter: Address,
    /// Who claimed it.
    pub solver: Option<Address>,
    /// The escrowed reward.
    pub reward: Amount,
    /// The solver's bond.
    pub solver_bond: Amount,
    /// Until when it can be claimed (Unix seconds).
    pub claim_deadline: u64,
    /// Until when a claimed job's result must be committed.
    pub submit_deadline: u64,
    /// When the challenge window closes, once a result is committed.
    pub window_end: Option<u64>,
    /// Seconds of the window left at `now` (0 once closed), once a result is
    /// committed.
    pub window_left: Option<u64>,
    /// How many games were opened against its result.
    pub games: usize,
    /// How many of them are undecided.
    pub open_games: usize,
    /// The block it was posted in.
    pub posted_block: u64,
    /// Why its spec is not a valid job, if it is not.
    pub spec_error: Option<String>,
}

/// Which jobs the list shows (every field optional, all must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct JobFilter {
    /// Only jobs in this status (its API name).
    pub status: Option<String>,
    /// Only jobs posted by this account.
    pub submitter: Option<Address>,
    /// Only jobs claimed by this account.
    pub solver: Option<Address>,
}

impl JobFilter {
    fn admits(&self, job: &JobEntry) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(job.phase.name()))
            && self.submitter.is_none_or(|a| a == job.submitter)
            && self.solver.is_none_or(|a| job.solver == Some(a))
    }
}

/// The job statuses the API knows, for a filter to be checked against.
pub const STATUSES: [&str; 6] = [
    "open",
    "claimed",
    "submitted",
    "finalized",
    "slashed",
    "cancelled",
];

fn undecided(book: &JobBook, job: &JobEntry) -> usize {
    job.games
        .iter()
        .filter(|id| book.games.get(id).is_none_or(|g| g.resolved.is_none()))
        .count()
}

/// The row of `job` at chain time `now`.
pub fn job_row(book: &JobBook, currencies: &Currencies, job: &JobEntry, now: u64) -> JobRow {
    let window_end = job
        .result
        .as_ref()
        .map(|r| r.window_end(job.challenge_window));
    JobRow {
        id: job.id,
        status: job.phase.name().into(),
        submitter: job.submitter,
        solver: job.solver,
        reward: Amount::of(job.reward, job.token, currencies),
        solver_bond: Amount::of(job.solver_bond, job.token, currencies),
        claim_deadline: job.claim_deadline,
        submit_deadline: job.submit_deadline,
        window_end,
        window_left: window_end.map(|end| end.saturating_sub(now)),
        games: job.games.len(),
        open_games: undecided(book, job),
        posted_block: job.posted_block,
        spec_error: job.spec_error.clone(),
    }
}

/// The jobs `filter` admits, newest first.
pub fn job_rows(
    book: &JobBook,
    currencies: &Currencies,
    filter: &JobFilter,
    now: u64,
) -> Vec<JobRow> {
    book.jobs
        .values()
        .rev()
        .filter(|job| filter.admits(job))
        .map(|job| job_row(book, currencies, job, now))
        .collect()
}

/// An artifact root and where it is announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its content root.
    pub root: B256,
    /// Every announced location, oldest first (anyone may announce one:
    /// a reader checks what it fetches against the root).
    pub locations: Vec<String>,
}

fn artifact(book: &JobBook, root: B256) -> Artifact {
    Artifact {
        root,
        locations: book.uris(&root),
    }
}

/// A committed result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultView {
    /// The trace root over the checkpoint roots, and where the trace is served.
    pub trace: Artifact,
    /// The model's root and where it is served.
    pub model: Artifact,
    /// The state root at the last step.
    pub final_state_root: B256,
    /// Every checkpoint's state root, 0, k, …, T.
    pub checkpoint_roots: Vec<B256>,
    /// The block it was committed in, and its time.
    pub block: u64,
    /// When the challenge window opened (Unix seconds).
    pub submitted_at: u64,
}

/// A game as the book knows it (the page adds the chain's live record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameRow {
    /// The game id.
    pub id: u64,
    /// Who opened it.
    pub challenger: Address,
    /// The disputed checkpoint.
    pub checkpoint: u64,
    /// undecided, solver won or challenger won.
    pub outcome: String,
    /// Whether the market has paid it out.
    pub settled: bool,
}

/// What the outcome of a game is called.
pub fn outcome_name(resolved: Option<bool>) -> &'static str {
    match resolved {
        None => "undecided",
        Some(true) => "solver won",
        Some(false) => "challenger won",
    }
}

fn game_row(game: &GameEntry) -> GameRow {
    GameRow {
        id: game.id,
        challenger: game.challenger,
        checkpoint: game.checkpoint,
        outcome: outcome_name(game.resolved).into(),
        settled: game.settled,
    }
}

/// Everything about one job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    /// Its line in the list.
    #[serde(flatten)]
    pub row: JobRow,
    /// The job hash (keccak of the canonical spec).
    pub job_hash: B256,
    /// The dataset's root and where it is announced.
    pub dataset: Artifact,
    /// The decoded spec (layers, optimizer, schedule, data), when valid.
    pub spec: Option<JobSpec>,
    /// The solver's live progress route, when it announced one.
    pub progress: Vec<String>,
    /// The committed result.
    pub result: Option<ResultView>,
    /// The games against it, by id.
    pub games: Vec<GameRow>,
}

/// The detail of job `id` at chain time `now`, if the book has it.
/// `progress_key` is the registry key under which the solver announces
/// where its progress is served (`vtrain_dispute::progress_key`).
pub fn job_detail(
    book: &JobBook,
    currencies: &Currencies,
    id: u64,
    now: u64,
    progress_key: B256,
) -> Option<JobDetail> {
    let job = book.job(id)?;
    let spec = job
        .spec_error
        .is_none()
        .then(|| JobSpec::from_canonical_bytes(&job.spec).ok())
        .flatten();
    Some(JobDetail {
        row: job_row(book, currencies, job, now),
        job_hash: job.job_hash,
        dataset: artifact(book, job.dataset_root),
        spec,
        progress: book.uris(&progress_key),
        result: job.result.as_ref().map(|r| ResultView {
            trace: artifact(book, r.trace_root),
            model: artifact(book, r.model_root),
            final_state_root: r.final_state_root,
            checkpoint_roots: r.checkpoint_roots.clone(),
            block: r.block,
            submitted_at: r.submitted_at,
        }),
        games: job
            .games
            .iter()
            .filter_map(|g| book.games.get(g))
            .map(game_row)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Bytes;
    use vtrain_dispute::{JobPhase, JobResult};

    const ALICE: Address = Address::repeat_byte(0xA1);
    const BOB: Address = Address::repeat_byte(0xB0);

    fn job(id: u64, phase: JobPhase, solver: Option<Address>) -> JobEntry {
        JobEntry {
            id,
            submitter: ALICE,
            job_hash: B256::repeat_byte(id as u8),
            dataset_root: B256::repeat_byte(0xDA),
            token: Address::ZERO,
            reward: U256::from(1_500_000_000_000_000_000u128),
            solver_bond: U256::from(500_000_000_000_000_000u128),
            claim_deadline: 100,
            submit_deadline: 200,
            challenge_window: 3_600,
            spec: Bytes::from_static(b"not a spec"),
            spec_error: Some("does not decode".into()),
            posted_block: id,
            phase,
            solver,
            result: None,
            games: Vec::new(),
        }
    }

    fn book() -> JobBook {
        let mut book = JobBook::starting_at(0);
        book.jobs.insert(1, job(1, JobPhase::Open, None));
        let mut submitted = job(2, JobPhase::Submitted, Some(BOB));
        submitted.result = Some(JobResult {
            trace_root: B256::repeat_byte(0x77),
            final_state_root: B256::repeat_byte(0x55),
            model_root: B256::repeat_byte(0x66),
            checkpoint_roots: vec![B256::ZERO, B256::repeat_byte(0x55)],
            block: 9,
            submitted_at: 1_000,
        });
        submitted.games = vec![1, 2];
        book.jobs.insert(2, submitted);
        book.jobs.insert(3, job(3, JobPhase::Finalized, Some(BOB)));
        for (id, resolved) in [(1, Some(true)), (2, None)] {
            book.games.insert(
                id,
                GameEntry {
                    id,
                    job_id: 2,
                    challenger: ALICE,
                    checkpoint: 1,
                    init: false,
                    opened_block: 10,
                    resolved,
                    settled: resolved.is_some(),
                    share_claimed: false,
                },
            );
        }
        book
    }

    #[test]
    fn the_list_is_newest_first_and_filters_by_status_and_account() {
        let book = book();
        let ids = |filter: JobFilter| -> Vec<u64> {
            job_rows(&book, &Currencies::new(), &filter, 0)
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(JobFilter::default()), [3, 2, 1]);
        let status = |s: &str| JobFilter {
            status: Some(s.into()),
            ..JobFilter::default()
        };
        assert_eq!(ids(status("submitted")), [2]);
        assert_eq!(ids(status("Finalized")), [3], "case does not matter");
        assert_eq!(ids(status("slashed")), Vec::<u64>::new());
        let solver = JobFilter {
            solver: Some(BOB),
            ..JobFilter::default()
        };
        assert_eq!(ids(solver), [3, 2]);
        let both = JobFilter {
            submitter: Some(ALICE),
            status: Some("open".into()),
            ..JobFilter::default()
        };
        assert_eq!(ids(both), [1]);
        let nobody = JobFilter {
            submitter: Some(BOB),
            ..JobFilter::default()
        };
        assert_eq!(ids(nobody), Vec::<u64>::new());
    }

    #[test]
    fn a_row_counts_undecided_games_and_the_window_left() {
        let book = book();
        let row = job_row(&book, &Currencies::new(), book.job(2).expect("job"), 1_600);
        assert_eq!((row.games, row.open_games), (2, 1));
        assert_eq!(row.window_end, Some(4_600));
        assert_eq!(row.window_left, Some(3_000));
        let closed = job_row(&book, &Currencies::new(), book.job(2).expect("job"), 9_999);
        assert_eq!(closed.window_left, Some(0));
        let open = job_row(&book, &Currencies::new(), book.job(1).expect("job"), 0);
        assert_eq!((open.window_end, open.window_left), (None, None));
        assert_eq!(open.reward.wei, "1500000000000000000");
        assert_eq!(open.reward.display, "1.5");
        assert_eq!(open.solver_bond.display, "0.5");
    }

    #[test]
    fn the_detail_names_artifacts_games_and_an_invalid_spec() {
        let mut book = book();
        book.artifacts.insert(
            B256::repeat_byte(0x66),
            vec![vtrain_dispute::book::ArtifactLocation {
                publisher: BOB,
                size: 1,
                uri: "http://solver/v1/models/66".into(),
            }],
        );
        let detail =
            job_detail(&book, &Currencies::new(), 2, 0, B256::repeat_byte(0x01)).expect("job 2");
        assert!(detail.spec.is_none(), "an invalid spec is not decoded");
        assert_eq!(detail.row.spec_error.as_deref(), Some("does not decode"));
        let result = detail.result.expect("result");
        assert_eq!(result.model.locations, ["http://solver/v1/models/66"]);
        assert!(result.trace.locations.is_empty());
        let outcomes: Vec<&str> = detail.games.iter().map(|g| g.outcome.as_str()).collect();
        assert_eq!(outcomes, ["solver won", "undecided"]);
        assert!(job_detail(&book, &Currencies::new(), 99, 0, B256::ZERO).is_none());
    }

    #[test]
    fn amounts_are_shown_in_the_jobs_currency() {
        let usd = Address::repeat_byte(0x55);
        let odd = Address::repeat_byte(0x66);
        let currencies = Currencies::from([(
            usd,
            Currency {
                address: usd,
                symbol: "vUSD".into(),
                decimals: 6,
            },
        )]);
        let mut book = JobBook::starting_at(0);
        let mut paid_in_usd = job(1, JobPhase::Open, None);
        paid_in_usd.token = usd;
        paid_in_usd.reward = U256::from(250_500_000u64);
        let mut paid_in_odd = job(2, JobPhase::Open, None);
        paid_in_odd.token = odd;
        paid_in_odd.reward = U256::from(7u64);
        book.jobs.insert(1, paid_in_usd);
        book.jobs.insert(2, paid_in_odd);
        let row = job_row(&book, &currencies, book.job(1).expect("job"), 0);
        assert_eq!(
            (row.reward.display.as_str(), row.reward.token.as_str()),
            ("250.5", "vUSD")
        );
        assert_eq!(row.reward.wei, "250500000");
        assert_eq!(row.reward.currency, usd);
        let unknown = job_row(&book, &currencies, book.job(2).expect("job"), 0);
        assert_eq!(
            (
                unknown.reward.display.as_str(),
                unknown.reward.token.as_str()
            ),
            ("7", "?")
        );
        let eth = Amount::of(
            U256::from(10u64).pow(U256::from(18)),
            vtrain_dispute::ETH,
            &currencies,
        );
        assert_eq!((eth.display.as_str(), eth.token.as_str()), ("1", "ETH"));
    }
}
