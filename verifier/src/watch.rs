//! The watchtower's chain loop. Each tick it reads the chain (the job book),
//! verifies each new result while its window is open, challenges what it
//! found wrong, plays its games, and withdraws. Verdicts are kept in the
//! datadir and the start state of each disputed interval in the store, so a
//! restart resumes without replaying again; everything else is re-read from
//! the chain.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use vtrain_cli::FailureLog;
use vtrain_dispute::bindings::dispute_game::DisputeGame;
use vtrain_dispute::game::player::id;
use vtrain_dispute::game::{
    Duty, GameClient, GameStage, Party, Side, Tracker, Trajectory, duty, game_tracker, opening_at,
    replay_start,
};
use vtrain_dispute::{GameEntry, Head, JobBook, JobEntry, JobPhase, Market};
use vtrain_proof_of_learning::{Hash32, JobSpec, Kernels, Level, State, Trainer};
use vtrain_store::{ArtifactStore, Datadir};

use crate::config::VerifierConfig;
use crate::metrics as m;
use crate::plan::{self, Action, Snapshot};
use crate::replay::{CheckpointSource, Verdict, sample, verify};

/// What `vtrain-verifier status` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchReport {
    /// The watchtower's account.
    pub account: Address,
    /// The latest block seen.
    pub block: u64,
    /// Verdicts so far.
    pub verdicts: Vec<Verdict>,
    /// Its games: (game id, job id, state).
    pub games: Vec<(u64, u64, String)>,
    /// The last error, if the last tick failed.
    pub last_error: Option<String>,
}

/// Checkpoints from the solver's announced server, each checked against its root.
struct HttpSource {
    runtime: Handle,
    bases: Vec<String>,
    trainer: Arc<Trainer>,
}

impl CheckpointSource for HttpSource {
    fn checkpoint(&mut self, c: u32, root: &Hash32) -> Option<State> {
        let step = c * self.trainer.spec().checkpoint_interval;
        for base in &self.bases {
            let uri = format!("{base}/checkpoints/{c}");
            let state = self
                .runtime
                .block_on(vtrain_store::fetch(&uri))
                .and_then(|bytes| {
                    vtrain_store::decode_state(&self.trainer, &uri, &bytes, step, root)
                });
            match state {
                Ok(state) => return Some(state),
                Err(e) => {
                    tracing::warn!(target: "verifier::fetch", %uri, error = %e, "checkpoint not served or not the committed one");
                }
            }
        }
        metrics::counter!(m::CHECKPOINTS_WITHHELD).increment(1);
        None
    }
}

type Verification = JoinHandle<eyre::Result<Verdict>>;

/// The loop's state (all of it re-derivable from chain, store and datadir).
pub struct Watchtower<P> {
    config: VerifierConfig,
    account: Address,
    market: Market<P>,
    datadir: Datadir,
    store: ArtifactStore,
    report: Arc<RwLock<WatchReport>>,
    book: JobBook,
    verifying: HashMap<u64, Verification>,
    trainers: HashMap<u64, Arc<Trainer>>,
    parties: HashMap<u64, Party>,
    lost: std::collections::HashSet<u64>,
    /// Each game's stage, to log each transition once.
    stages: Tracker<u64, GameStage>,
    failures: FailureLog,
}

/// The datadir secret that salts the sample (`Datadir::secret`).
const SAMPLE_SECRET: &str = "sample";

fn verdict_name(job_id: u64) -> String {
    format!("verdict-{job_id}")
}

fn hashes(roots: &[alloy::primitives::B256]) -> Vec<Hash32> {
    roots.iter().map(|r| Hash32(r.0)).collect()
}

impl<P: Provider + Clone + 'static> Watchtower<P> {
    /// A watchtower for `account`.
    pub fn new(
        config: VerifierConfig,
        account: Address,
        market: Market<P>,
        datadir: Datadir,
        store: ArtifactStore,
        report: Arc<RwLock<WatchReport>>,
    ) -> Self {
        let book = JobBook::resume(
            datadir.load::<JobBook>("book").ok().flatten(),
            market.deployed_at(),
        );
        Self {
            config,
            account,
            market,
            datadir,
            store,
            report,
            book,
            verifying: HashMap::new(),
            trainers: HashMap::new(),
            parties: HashMap::new(),
            lost: std::collections::HashSet::new(),
            stages: game_tracker(),
            failures: FailureLog::default(),
        }
    }

    /// Runs ticks until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) -> eyre::Result<()> {
        let (poll, report) = (self.config.agent.poll, self.report.clone());
        vtrain_cli::tick_until(
            "verifier",
            poll,
            stop,
            async || self.tick().await,
            |error| {
                report.write().last_error = error;
            },
        )
        .await;
        Ok(())
    }

    /// One pass: read the chain, plan (`crate::plan`, pure), carry the plan out.
    pub async fn tick(&mut self) -> eyre::Result<()> {
        let (head, synced) = self.market.catch_up(&mut self.book).await?;
        if let Some(reorg) = synced.reorg {
            self.forget_reorged(reorg);
        }
        self.datadir.save("book", &self.book)?;
        self.reap_verifications().await;
        let verdicts = self.verdicts();
        let verifying = self.verifying.keys().copied().collect();
        let actions = plan::plan(&Snapshot {
            account: self.account,
            now: head.timestamp,
            book: &self.book,
            verdicts: &verdicts,
            verifying: &verifying,
        });
        for action in actions {
            let (kind, id, result) = match action {
                Action::Verify { job } => ("job", job, self.start_verification(job).await),
                Action::Challenge { job, checkpoint } => {
                    ("job", job, self.challenge(job, checkpoint).await)
                }
                Action::Play { game } => ("game", game, self.play(game, head).await),
            };
            self.note(kind, id, result);
        }
        self.withdraw().await?;
        self.publish_report(head).await;
        Ok(())
    }

    /// Collects the verifications that ended and keeps their verdicts.
    async fn reap_verifications(&mut self) {
        for (id, outcome) in vtrain_cli::take_finished(&mut self.verifying).await {
            let trace_root = self
                .book
                .job(id)
                .and_then(|j| j.result.as_ref())
                .map(|r| r.trace_root);
            let result = match outcome {
                Ok(Ok(mut verdict)) => {
                    verdict.trace_root = trace_root;
                    self.datadir
                        .save(&verdict_name(id), &verdict)
                        .map_err(Into::into)
                }
                Ok(Err(e)) => Err(e),
                Err(e) => Err(eyre::eyre!("the verification of job {id} died: {e}")),
            };
            self.note("job", id, result);
        }
    }

    /// The verdicts on the results in the book, from the datadir: a
    /// malformed record is set aside (and the result verified again), and a
    /// verdict on another result under the same job id (a reorg) is not used.
    fn verdicts(&mut self) -> BTreeMap<u64, Option<u32>> {
        let mut verdicts = BTreeMap::new();
        let submitted: Vec<(u64, alloy::primitives::B256)> = self
            .book
            .jobs
            .values()
            .filter(|j| j.phase == JobPhase::Submitted && j.solver != Some(self.account))
            .filter_map(|j| j.result.as_ref().map(|r| (j.id, r.trace_root)))
            .collect();
        for (id, trace_root) in submitted {
            match self.datadir.load_or_set_aside::<Verdict>(&verdict_name(id)) {
                Ok(Some(verdict)) if verdict.trace_root.is_none_or(|root| root == trace_root) => {
                    verdicts.insert(id, verdict.dispute);
                }
                Ok(_) => {}
                Err(e) => self.note("job", id, Err(e.into())),
            }
        }
        verdicts
    }

    /// The chain changed under the book (which was read again): a job id may
    /// now name another job and a game id another game, so everything kept
    /// by id goes (verdicts on disk are kept: each names the trace root it
    /// judged, and one of another result is not used).
    fn forget_reorged(&mut self, reorg: vtrain_dispute::Reorg) {
        metrics::counter!(m::REORGS).increment(1);
        tracing::warn!(target: "verifier", block = reorg.block, was = %reorg.was, now = ?reorg.now, "reorg: the chain changed under the book; it was read again");
        for (_, task) in self.verifying.drain() {
            task.abort();
        }
        self.trainers.clear();
        self.parties.clear();
        self.lost.clear();
        self.stages.clear();
    }

    /// Counts and logs (once, see `FailureLog`) the outcome of a duty on a
    /// job or a game; the duty is retried next tick.
    fn note(&mut self, kind: &'static str, id: u64, result: eyre::Result<()>) {
        if result.is_err() {
            metrics::counter!(m::ERRORS, "kind" => kind).increment(1);
        }
        self.failures.report(&format!("{kind} {id}"), result);
    }

    async fn trainer(&mut self, job: &JobEntry) -> eyre::Result<Arc<Trainer>> {
        if let Some(trainer) = self.trainers.get(&job.id) {
            return Ok(trainer.clone());
        }
        let spec = JobSpec::from_canonical_bytes(&job.spec)?;
        let inputs = vtrain_store::fetch_job_inputs(&self.store, &spec, |root| {
            self.book.uris(&alloy::primitives::B256::from(root.0))
        })
        .await?;
        let kernels = Kernels::new(Level::detect(), self.config.threads)?;
        let trainer = Arc::new(Trainer::with_initial_model(
            spec,
            inputs.dataset,
            inputs.initial_model,
            kernels,
        )?);
        self.trainers.insert(job.id, trainer.clone());
        Ok(trainer)
    }

    /// Opens a game against `job_id`'s result, found wrong at `checkpoint`.
    async fn challenge(&mut self, job_id: u64, checkpoint: u32) -> eyre::Result<()> {
        let Some(result) = self.book.job(job_id).and_then(|j| j.result.clone()) else {
            return Ok(());
        };
        let posted = hashes(&result.checkpoint_roots);
        let opening = opening_at(&posted, checkpoint as usize);
        let bond = self.market.challenger_bond().await?;
        let call = self
            .market
            .market()
            .challenge(
                id(job_id),
                opening.checkpoint,
                opening.left_root,
                opening.left_proof,
                opening.right_root,
                opening.right_proof,
            )
            .value(bond)
            .into_transaction_request();
        let receipt = self.market.send(call, "challenge").await?;
        metrics::counter!(m::DISPUTES_OPENED).increment(1);
        tracing::info!(target: "verifier", job = job_id, checkpoint, bond = %vtrain_cli::format_eth(bond), gas = receipt.gas_used, "challenged");
        Ok(())
    }

    /// Starts the verification of `job_id`'s result (a blocking task; its
    /// verdict is collected by `reap_verifications`).
    async fn start_verification(&mut self, job_id: u64) -> eyre::Result<()> {
        let Some(job) = self.book.job(job_id).cloned() else {
            return Ok(());
        };
        let Some(result) = job.result.clone() else {
            return Ok(());
        };
        let trainer = self.trainer(&job).await?;
        metrics::counter!(m::JOBS_WATCHED).increment(1);
        let posted = hashes(&result.checkpoint_roots);
        let intervals = posted.len().saturating_sub(1) as u32;
        // The salt is secret: a solver that knew a watchtower's sample could
        // lie where it does not look (`docs/agents.md`, the odds of a sample).
        let mut salt = self.datadir.secret(SAMPLE_SECRET)?.to_vec();
        salt.extend_from_slice(job.job_hash.as_slice());
        let chosen = sample(intervals, self.config.sample_rate, &salt);
        let bases: Vec<String> = self.book.uris(&result.trace_root);
        tracing::info!(target: "verifier", job = job.id, intervals = chosen.len(), of = intervals, "verifying");
        let (job_id, store, runtime) = (job.id, self.store.clone(), Handle::current());
        let delusion = self.config.delusion;
        let task = tokio::task::spawn_blocking(move || -> eyre::Result<Verdict> {
            if let Some(tamper) = delusion {
                // The malicious challenger: it "finds" whatever its corrupted run differs in.
                let mut party = Party::new(Trajectory::new(trainer, Some(tamper)));
                let dispute = party.opening(&posted).map(|o| o.checkpoint as u32);
                return Ok(Verdict {
                    job_id,
                    replayed: Vec::new(),
                    fetched: Vec::new(),
                    withheld: Vec::new(),
                    dispute,
                    trace_root: None,
                });
            }
            let mut source = HttpSource {
                runtime: runtime.clone(),
                bases,
                trainer: trainer.clone(),
            };
            let (verdict, start) = verify(job_id, &trainer, &posted, &chosen, &mut source);
            if let Some(start) = start {
                runtime.block_on(store.put_state(&trainer, &start))?;
            }
            match verdict.dispute {
                Some(c) => {
                    tracing::warn!(target: "verifier", job = job_id, checkpoint = c, replayed = verdict.replayed.len(), "MISMATCH: the committed trace is wrong")
                }
                None => {
                    tracing::info!(target: "verifier", job = job_id, replayed = verdict.replayed.len(), "result agrees with the replay")
                }
            }
            Ok(verdict)
        });
        self.verifying.insert(job.id, task);
        Ok(())
    }

    /// Plays one of its games.
    async fn play(&mut self, game_id: u64, head: Head) -> eyre::Result<()> {
        let Some(game) = self.book.games.get(&game_id).cloned() else {
            return Ok(());
        };
        let game = &game;
        let record = self.market.game_record(game.id).await?;
        let Some(job) = self.book.job(game.job_id).cloned() else {
            return Ok(());
        };
        // Every game is decided on its merits, whatever the others did. A game
        // we won is paid out at once (our bond back); our share of the
        // solver's bond follows once the job's outcome is fixed: after its
        // window, with every game on it paid out.
        let outcome = self.market.job_outcome(job.id).await?;
        let claimed = self.market.share_claimed(game.id).await?;
        if let Some(t) = self
            .stages
            .observe(game.id, GameStage::of(&record, claimed))
        {
            let from = t.from.map(GameStage::name);
            if t.within_narrowing() {
                tracing::debug!(target: "verifier::game", game = game.id, to = %t.to.name(), "game stage");
            } else if t.expected {
                tracing::info!(target: "verifier::game", game = game.id, job = job.id, from = ?from, to = %t.to.name(), "game stage");
            } else {
                tracing::warn!(target: "verifier::game", game = game.id, job = job.id, from = ?from, to = %t.to.name(), "game stage: a transition the game cannot make (a reorg?)");
            }
        }
        match duty(Side::Challenger, &record, &outcome, claimed, head.timestamp) {
            Duty::Wait { .. } => Ok(()),
            Duty::AwaitOutcome { window_end } => {
                // Past the window, end and pay out whatever nobody else does.
                if head.timestamp >= window_end {
                    self.market.wind_up(&job.games, head.timestamp).await?;
                }
                Ok(())
            }
            Duty::Done => {
                if record.clock.solverWon && self.lost.insert(game.id) {
                    metrics::counter!(m::DISPUTES_DECIDED, "outcome" => "lost").increment(1);
                    tracing::warn!(target: "verifier::game", game = game.id, job = job.id, "dispute lost: the bond goes to the solver");
                }
                Ok(())
            }
            Duty::Settle => {
                self.market.settle_game(game.id).await?;
                metrics::counter!(m::DISPUTES_DECIDED, "outcome" => "won").increment(1);
                let steps_replayed = self
                    .parties
                    .get_mut(&game.id)
                    .map_or(0, |p| p.trajectory().steps_executed());
                tracing::info!(target: "verifier::game", game = game.id, job = job.id, steps_replayed, "dispute won: bond back");
                Ok(())
            }
            Duty::Finalize => {
                self.market.finalize(job.id).await?;
                tracing::info!(target: "verifier", job = job.id, "job outcome fixed: the solver is slashed");
                Ok(())
            }
            Duty::ClaimShare => {
                self.market.claim_share(game.id).await?;
                let share = self.market.job(job.id).await?.refuterShare;
                let currency =
                    vtrain_dispute::Currency::read_or_raw(self.market.provider(), job.token).await;
                tracing::info!(target: "verifier::game", game = game.id, job = job.id, share = %currency.format(share), "share of the solver's bond claimed");
                Ok(())
            }
            Duty::ClaimTimeout => {
                self.market.claim_timeout(game.id).await?;
                tracing::info!(target: "verifier::game", game = game.id, "the solver ran out of time");
                Ok(())
            }
            Duty::Move => self.move_in(&job, game, &record).await,
        }
    }

    async fn move_in(
        &mut self,
        job: &JobEntry,
        game: &GameEntry,
        record: &DisputeGame::Game,
    ) -> eyre::Result<()> {
        if !self.parties.contains_key(&game.id) {
            let party = self.party(job, game.id, record).await?;
            self.parties.insert(game.id, party);
        }
        let client = GameClient::new(
            *self.market.game().address(),
            self.market.provider().clone(),
            job.spec.to_vec(),
        );
        let revealed = client.revealed(id(game.id), game.opened_block).await?;
        let Some(party) = self.parties.get_mut(&game.id) else {
            return Ok(());
        };
        let Some(mv) = tokio::task::block_in_place(|| party.challenger_move(record, &revealed))
        else {
            eyre::bail!("game {}: no move for phase {}", game.id, record.clock.phase);
        };
        let name = mv.name();
        let steps_replayed = party.trajectory().steps_executed();
        let gas = client.send(id(game.id), mv).await?;
        metrics::counter!(m::DISPUTE_MOVES).increment(1);
        tracing::info!(target: "verifier::game", game = game.id, phase = record.clock.phase, r#move = name, gas, steps_replayed, "moved");
        Ok(())
    }

    /// The challenger's side: its honest run seeded with the checked state at
    /// the start of the disputed interval (from its store), so a dispute
    /// replays one interval, not the job.
    async fn party(
        &mut self,
        job: &JobEntry,
        game_id: u64,
        record: &DisputeGame::Game,
    ) -> eyre::Result<Party> {
        let trainer = self.trainer(job).await?;
        if let Some(tamper) = self.config.delusion {
            return Ok(Party::new(Trajectory::new(trainer, Some(tamper))));
        }
        let mut trajectory = Trajectory::new(trainer.clone(), None);
        let k = trainer.spec().checkpoint_interval;
        let roots = job
            .result
            .as_ref()
            .map(|r| r.checkpoint_roots.as_slice())
            .unwrap_or_default();
        // Without the stored start (missing, or corrupt and so quarantined by
        // the store) the party replays from S_0: slower, never wrong.
        if let Some((step, root)) = replay_start(record, k, roots) {
            match self.store.intact_state(&trainer, step, &root).await {
                Ok(Some(state)) => trajectory.seed(state),
                Ok(None) => {
                    tracing::warn!(target: "verifier::game", game = game_id, step, "the disputed interval's start is not in the store: replaying from S_0")
                }
                Err(e) => {
                    tracing::warn!(target: "verifier::game", game = game_id, step, error = %e, "the store cannot be read: replaying from S_0")
                }
            }
        }
        Ok(Party::new(trajectory))
    }

    async fn withdraw(&self) -> eyre::Result<()> {
        let tokens = self.book.tokens_of(self.account);
        for (token, amount) in self.market.withdraw_all(self.account, &tokens).await? {
            if token == vtrain_dispute::ETH {
                tracing::info!(target: "verifier", amount = %vtrain_cli::format_eth(amount), "withdrew");
            } else {
                tracing::info!(target: "verifier", %token, %amount, "withdrew a token credit");
            }
        }
        Ok(())
    }

    async fn publish_report(&self, head: Head) {
        let balance = self
            .market
            .provider()
            .get_balance(self.account)
            .await
            .unwrap_or(U256::ZERO);
        let eth = |wei: U256| {
            vtrain_cli::format_eth(wei)
                .parse::<f64>()
                .unwrap_or_default()
        };
        metrics::gauge!(m::BALANCE_ETH).set(eth(balance));
        let mut verdicts = BTreeMap::new();
        for job in self.book.jobs.values() {
            if let Ok(Some(verdict)) = self.datadir.load::<Verdict>(&verdict_name(job.id)) {
                verdicts.insert(job.id, verdict);
            }
        }
        let mine: Vec<&GameEntry> = self
            .book
            .games
            .values()
            .filter(|g| g.challenger == self.account)
            .collect();
        let open = mine.iter().filter(|g| g.resolved.is_none()).count();
        let bond = self.market.challenger_bond().await.unwrap_or_default();
        metrics::gauge!(m::BONDS_LOCKED_ETH).set(eth(bond) * open as f64);
        let games = mine
            .iter()
            .map(|g| {
                let state = match g.resolved {
                    None => "open",
                    Some(true) => "lost",
                    Some(false) => "won",
                };
                (g.id, g.job_id, state.to_owned())
            })
            .collect();
        let report = {
            let mut report = self.report.write();
            *report = WatchReport {
                account: self.account,
                block: head.number,
                verdicts: verdicts.into_values().collect(),
                games,
                last_error: report.last_error.take(),
            };
            report.clone()
        };
        if let Err(e) = self.datadir.save("status", &report) {
            tracing::warn!(target: "verifier", error = %e, "cannot write the status record");
        }
    }
}
