//! The solver's chain loop. Each tick it reads the chain (the job book, built
//! from events), decides per job what is due, and does it; every open game of
//! its results gets a task of its own (`crate::defense`), so games are
//! defended concurrently. No
//! decision depends on memory that a restart loses: the book is re-read from
//! the chain, training resumes from the datadir and the store, and every
//! transaction is simulated before it is sent, so a transaction that became
//! pointless (the job was claimed by someone else, the game moved on) is
//! skipped rather than sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use tokio::task::JoinHandle;
use vtrain_dispute::game::player::id;
use vtrain_dispute::game::{SharedRun, Tracker, Trajectory};
use vtrain_dispute::{Head, JobBook, JobEntry, JobPhase, Market};
use vtrain_proof_of_learning::{JobSpec, Kernels, Level, Trainer};
use vtrain_store::Datadir;

use crate::config::SolverConfig;
use crate::defense::{Defense, GameJob};
use crate::metrics as m;
use crate::plan::{self, Action, JobStage, Snapshot, Training};
use crate::shared::{JobRuntime, JobStatus, Shared, StatusReport};
use crate::training::{ResultRecord, Run, TrainingRecord, load_record};

/// The loop's state (all of it re-derivable from chain, store and datadir).
pub struct Daemon<P> {
    config: SolverConfig,
    /// What the planner allows, with token floors in their units (read once).
    policy: crate::plan::Policy,
    /// The currencies of `policy` (symbol, decimals), read with it.
    currencies: crate::config::Currencies,
    account: Address,
    market: Arc<Market<P>>,
    datadir: Datadir,
    shared: Arc<Shared>,
    book: JobBook,
    training: HashMap<u64, JoinHandle<eyre::Result<ResultRecord>>>,
    defense: Defense<P>,
    refused: BTreeMap<u64, String>,
    failures: vtrain_cli::FailureLog,
    /// Each held job's stage, to log each transition once.
    stages: Tracker<u64, JobStage>,
    /// Set on shutdown: every training run stops at its next step.
    stop_training: Arc<AtomicBool>,
}

impl<P: Provider + Clone + 'static> Daemon<P> {
    /// A daemon for `account`, resuming from the datadir's book if it has
    /// one. Reads the tokens `--min-reward` names (their decimals).
    pub async fn new(
        config: SolverConfig,
        account: Address,
        market: Market<P>,
        datadir: Datadir,
        shared: Arc<Shared>,
    ) -> eyre::Result<Self> {
        let saved = datadir.load::<JobBook>("book").unwrap_or_else(|e| {
            tracing::warn!(target: "solver", error = %e, "unreadable job book: rebuilding it from the chain");
            None
        });
        let book = JobBook::resume(saved, market.deployed_at());
        let (policy, currencies) = config.policy(market.provider()).await?;
        let market = Arc::new(market);
        let defense = Defense::new(Arc::clone(&market), shared.store.clone(), config.agent.poll);
        Ok(Self {
            config,
            policy,
            currencies,
            account,
            market,
            datadir,
            shared,
            book,
            training: HashMap::new(),
            defense,
            refused: BTreeMap::new(),
            failures: vtrain_cli::FailureLog::default(),
            stages: Tracker::new(JobStage::can_become),
            stop_training: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs ticks until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) -> eyre::Result<()> {
        let (poll, shared) = (self.config.agent.poll, self.shared.clone());
        vtrain_cli::tick_until(
            "solver",
            poll,
            stop,
            async || self.tick().await,
            |error| {
                shared.status.write().last_error = error;
            },
        )
        .await;
        // Training threads stop at their next step (their checkpoints are
        // stored: a restart resumes them), game tasks at their next await.
        self.stop_training.store(true, Ordering::Relaxed);
        self.defense.stop();
        Ok(())
    }

    /// One pass: read the chain, plan (`crate::plan`, pure), carry the plan out.
    pub async fn tick(&mut self) -> eyre::Result<()> {
        let (head, synced) = self.market.catch_up(&mut self.book).await?;
        if let Some(reorg) = synced.reorg {
            self.forget_reorged(reorg);
        }
        self.datadir.save("book", &self.book)?;
        self.reap_training().await;
        let training = self.training_states()?;
        let plan = plan::plan(
            &Snapshot {
                account: self.account,
                now: head.timestamp,
                book: &self.book,
                training: &training,
            },
            &self.policy,
        );
        self.log_stages(&training, head.timestamp);
        for (job, reason) in plan.refusals {
            self.refuse(job, reason);
        }
        let mut room = plan.room;
        for id in plan.candidates {
            if room == 0 {
                break;
            }
            let Some(job) = self.book.job(id).cloned() else {
                continue;
            };
            // One job's failure (a revert, a fetch) is that job's: the tick
            // goes on with the others, withdrawals and the report.
            let result = self.claim_if_fit(&job).await.map(|claimed| {
                room -= usize::from(claimed);
            });
            self.note_failure(id, result);
        }
        for action in plan.actions {
            let id = action.job();
            let result = self.execute(action, head.timestamp).await;
            self.note_failure(id, result);
        }
        self.withdraw().await?;
        self.report(head).await;
        Ok(())
    }

    /// The chain changed under the book (which was read again): drops what
    /// was derived from the old one. A job id may now name another job, a
    /// game id another game: the game tasks restart from the chain, and the
    /// runtime of a job that is no longer this solver's same job goes (its
    /// training record is keyed by job hash too: `training::load_record`).
    fn forget_reorged(&mut self, reorg: vtrain_dispute::Reorg) {
        metrics::counter!(m::REORGS).increment(1);
        tracing::warn!(target: "solver", block = reorg.block, was = %reorg.was, now = ?reorg.now, "reorg: the chain changed under the book; it was read again, and the games restart from the chain");
        self.defense.reset();
        self.refused.clear();
        self.stages.clear();
        let (book, account) = (&self.book, self.account);
        self.shared.jobs.write().retain(|id, runtime| {
            book.job(*id).is_some_and(|job| {
                job.solver == Some(account) && job.job_hash.0 == runtime.trainer.job_hash().0
            })
        });
    }

    /// Logs each of its jobs' stage transitions once.
    fn log_stages(&mut self, training: &BTreeMap<u64, Training>, now: u64) {
        for job in self.book.jobs.values() {
            let state = training.get(&job.id).copied().unwrap_or(Training::Idle);
            let Some(stage) = JobStage::of(job, &self.book, self.account, state, now) else {
                continue;
            };
            if let Some(t) = self.stages.observe(job.id, stage) {
                if t.expected {
                    tracing::info!(target: "solver", job = job.id, from = ?t.from, to = ?t.to, "job stage");
                } else {
                    tracing::warn!(target: "solver", job = job.id, from = ?t.from, to = ?t.to, "job stage: a transition a job cannot make (a reorg?)");
                }
            }
        }
    }

    /// Carries out one planned action.
    async fn execute(&mut self, action: Action, now: u64) -> eyre::Result<()> {
        let job_id = action.job();
        let Some(job) = self.book.job(job_id).cloned() else {
            return Ok(());
        };
        match action {
            Action::Train { .. } => self.train(&job).await,
            Action::AwaitTraining { .. } => Ok(()),
            Action::Submit { .. } => self.submit(&job).await,
            Action::MissedDeadline { .. } => {
                eyre::bail!(
                    "the submit deadline passed before the result was committed; the bond is lost"
                )
            }
            Action::Defend { open_games, .. } => {
                self.defend(&job, !open_games.is_empty(), now).await
            }
        }
    }

    /// Collects the training tasks that ended; a failed one is its job's
    /// failure (the plan starts it again).
    async fn reap_training(&mut self) {
        for (id, outcome) in vtrain_cli::take_finished(&mut self.training).await {
            let result = match outcome {
                Ok(trained) => trained.map(|_| ()),
                Err(e) => Err(eyre::eyre!("the training task of job {id} died: {e}")),
            };
            self.note_failure(id, result);
        }
    }

    /// Where the training of each job this solver holds stands.
    fn training_states(&self) -> eyre::Result<BTreeMap<u64, Training>> {
        let mut states = BTreeMap::new();
        for job in self
            .book
            .jobs
            .values()
            .filter(|j| j.phase == JobPhase::Claimed && j.solver == Some(self.account))
        {
            let state = if self.training.contains_key(&job.id) {
                Training::Running
            } else if load_record(&self.datadir, job.id, job.job_hash)?
                .is_some_and(|r| r.result.is_some())
            {
                Training::Trained
            } else {
                Training::Idle
            };
            states.insert(job.id, state);
        }
        Ok(states)
    }

    /// Checks what the book cannot (the data, and that this machine could
    /// defend the job in time), then claims. Returns whether it claimed.
    async fn claim_if_fit(&mut self, job: &JobEntry) -> eyre::Result<bool> {
        let spec = JobSpec::from_canonical_bytes(&job.spec)?;
        // Get and check the data before bonding anything.
        let trainer = match self.trainer(&spec).await {
            Ok(trainer) => trainer,
            Err(e) => return Ok(self.refuse(job.id, format!("{e:#}"))),
        };
        // A job this machine could not defend in time is not taken: one game's
        // replay must fit well within the clock extension the market grants per
        // game.
        if let Some(reason) = self.too_slow_to_defend(&trainer).await? {
            return Ok(self.refuse(job.id, reason));
        }
        // A token job's bond is pulled by the market: the balance is checked
        // and the market approved for exactly the bond, last, when everything
        // else has passed (a restart finds the approval and goes on).
        let currency = self.currency(job.token).await;
        let value = if currency.is_eth() {
            job.solver_bond
        } else {
            let held = currency
                .balance_of(self.market.provider(), self.account)
                .await?;
            if held < job.solver_bond {
                return Ok(self.refuse(
                    job.id,
                    format!(
                        "the bond is {}; this account holds {}",
                        currency.format(job.solver_bond),
                        currency.format(held)
                    ),
                ));
            }
            let spender = *self.market.market().address();
            currency
                .ensure_allowance(
                    self.market.provider(),
                    self.account,
                    spender,
                    job.solver_bond,
                )
                .await?;
            U256::ZERO
        };
        let call = self
            .market
            .market()
            .claimJob(id(job.id))
            .value(value)
            .into_transaction_request();
        match self.market.send(call, "claimJob").await {
            Ok(receipt) => {
                metrics::counter!(m::JOBS_CLAIMED).increment(1);
                tracing::info!(target: "solver", job = job.id, bond = %currency.format(job.solver_bond), gas = receipt.gas_used, "claimed");
                self.hold(job.id, trainer);
                Ok(true)
            }
            Err(e) if !e.is_retryable() => {
                Ok(self.refuse(job.id, format!("the claim would fail: {e}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Why this machine could not replay one game of `trainer`'s job within
    /// half the market's extension, if it could not: one step is timed, and a
    /// game costs at most 2(k + 1) of them (k to bisect, k + 1 to reach and
    /// instrument the disputed step).
    async fn too_slow_to_defend(&self, trainer: &Arc<Trainer>) -> eyre::Result<Option<String>> {
        let extension = self.market.game().extension().call().await?;
        let timed = Arc::clone(trainer);
        let step = tokio::task::spawn_blocking(move || {
            let state = timed.initial_state();
            let start = std::time::Instant::now();
            timed.step(&state).map(|_| start.elapsed())
        })
        .await??;
        let k = trainer.spec().checkpoint_interval;
        let replay = step.as_secs_f64() * 2.0 * (f64::from(k) + 1.0);
        Ok((replay > extension as f64 / 2.0).then(|| {
            format!(
                "a game's replay would take {replay:.0} s here, more than half the market's \
                 {extension} s extension"
            )
        }))
    }

    /// Logs a job's failure once (then at debug level while it repeats): a
    /// move that cannot be made keeps failing every tick until the game moves on.
    /// Counts and logs (once: `FailureLog`) the outcome of a job's duty.
    fn note_failure(&mut self, job: u64, result: eyre::Result<()>) {
        if result.is_err() {
            metrics::counter!(m::ERRORS, "kind" => "job").increment(1);
        }
        self.failures.report(&format!("job {job}"), result);
    }

    fn refuse(&mut self, id: u64, reason: String) -> bool {
        if self.refused.get(&id) != Some(&reason) {
            tracing::info!(target: "solver", job = id, %reason, "not taking the job");
            self.refused.insert(id, reason);
        }
        false
    }

    /// The trainer for `spec`'s job: its dataset (and a fine-tuning job's initial
    /// model) fetched and checked, the fault applied.
    async fn trainer(&self, spec: &JobSpec) -> eyre::Result<Arc<Trainer>> {
        let inputs = vtrain_store::fetch_job_inputs(&self.shared.store, spec, |root| {
            self.book.uris(&B256::from(root.0))
        })
        .await?;
        let kernels = Kernels::new(Level::detect(), self.config.threads)?;
        let trainer = match self.shared.fault {
            Some(fault) => fault.trainer(spec, inputs, kernels)?,
            None => Trainer::with_initial_model(
                spec.clone(),
                inputs.dataset,
                inputs.initial_model,
                kernels,
            )?,
        };
        let trainer = match &self.shared.backend {
            Some(backend) => trainer.with_backend(Arc::clone(backend)),
            None => trainer,
        };
        Ok(Arc::new(trainer))
    }

    fn hold(&self, job_id: u64, trainer: Arc<Trainer>) {
        let tamper = self.shared.fault.and_then(|f| f.tamper());
        self.shared
            .jobs
            .write()
            .entry(job_id)
            .or_insert_with(|| JobRuntime {
                run: SharedRun::new(Trajectory::new(Arc::clone(&trainer), tamper)),
                trainer,
                tamper,
                progress: Arc::new(AtomicU32::new(0)),
                checkpoint_roots: Vec::new(),
                trace_root: None,
                disputed: false,
            });
    }

    /// Makes sure the runtime of a job this solver holds is loaded (after a restart).
    async fn ensure_held(&mut self, job: &JobEntry) -> eyre::Result<()> {
        if self.shared.jobs.read().contains_key(&job.id) {
            return Ok(());
        }
        let spec = JobSpec::from_canonical_bytes(&job.spec)?;
        let trainer = self.trainer(&spec).await?;
        self.hold(job.id, trainer);
        Ok(())
    }

    /// A claimed job without a result: announce where its progress is
    /// served, and train it (in the background; a restart resumes it).
    async fn train(&mut self, job: &JobEntry) -> eyre::Result<()> {
        self.ensure_held(job).await?;
        let progress = format!("{}/v1/jobs/{}/progress", self.config.public_url, job.id);
        self.announce(vtrain_dispute::progress_key(job.id), progress, 1)
            .await?;
        self.start_training(job.id);
        Ok(())
    }

    /// A trained job: announce where its trace and model are, then commit.
    async fn submit(&mut self, job: &JobEntry) -> eyre::Result<()> {
        self.ensure_held(job).await?;
        let Some(record) = load_record(&self.datadir, job.id, job.job_hash)? else {
            return Ok(());
        };
        let Some(result) = record.result else {
            return Ok(());
        };
        self.expose(job.id, &record, &result);
        // Announce where the trace and the model are before committing to them,
        // so watchtowers can fetch as soon as the result is on chain.
        self.announce_result(
            result.trace_root,
            result.model_root,
            record.checkpoint_roots.len(),
        )
        .await?;
        let call = self
            .market
            .market()
            .submitResult(
                id(job.id),
                result.trace_root,
                record.checkpoint_roots.clone(),
                result.model_root,
                result.optimizer_root,
            )
            .into_transaction_request();
        let receipt = self.market.send(call, "submitResult").await?;
        metrics::counter!(m::RESULTS_SUBMITTED).increment(1);
        tracing::info!(target: "solver", job = job.id, trace_root = %result.trace_root, gas = receipt.gas_used, "result submitted");
        Ok(())
    }

    fn start_training(&mut self, job_id: u64) {
        let held = self
            .shared
            .jobs
            .read()
            .get(&job_id)
            .map(|j| (j.trainer.clone(), j.tamper, j.progress.clone()));
        let Some((trainer, tamper, progress)) = held else {
            return;
        };
        let run = Run {
            job_id,
            trainer,
            tamper,
            store: self.shared.store.clone(),
            datadir: self.datadir.clone(),
            progress,
            cancel: Arc::clone(&self.stop_training),
        };
        let runtime = tokio::runtime::Handle::current();
        metrics::gauge!(m::JOBS_TRAINING).increment(1.0);
        let handle = tokio::task::spawn_blocking(move || {
            let result = run.train(&runtime);
            metrics::gauge!(m::JOBS_TRAINING).decrement(1.0);
            result
        });
        self.training.insert(job_id, handle);
    }

    /// Makes the trace servable over HTTP.
    fn expose(&self, job_id: u64, record: &TrainingRecord, result: &ResultRecord) {
        if let Some(runtime) = self.shared.jobs.write().get_mut(&job_id) {
            runtime
                .checkpoint_roots
                .clone_from(&record.checkpoint_roots);
            runtime.trace_root = Some(result.trace_root);
        }
    }

    /// A submitted job: announce where its trace is, defend its games, have
    /// them paid out, and finalize once the window has closed.
    async fn defend(&mut self, job: &JobEntry, disputed: bool, now: u64) -> eyre::Result<()> {
        // Collect first: being paid needs nothing but the chain.
        self.finalize_if_due(job, now).await?;
        self.ensure_held(job).await?;
        let Some(posted) = &job.result else {
            return Ok(());
        };
        if let Some(record) = load_record(&self.datadir, job.id, job.job_hash)?
            && let Some(result) = record.result
        {
            self.expose(job.id, &record, &result);
        } else if let Some(runtime) = self.shared.jobs.write().get_mut(&job.id) {
            runtime
                .checkpoint_roots
                .clone_from(&posted.checkpoint_roots);
            runtime.trace_root = Some(posted.trace_root);
        }
        if let Some(runtime) = self.shared.jobs.write().get_mut(&job.id) {
            runtime.disputed = disputed;
        }
        // Every game of the job gets its own task; they share the job's run.
        if let Some(game_job) = self.game_job(job) {
            for game_id in &job.games {
                self.defense.ensure(*game_id, &game_job);
            }
        }
        self.announce_result(
            posted.trace_root,
            posted.model_root,
            posted.checkpoint_roots.len(),
        )
        .await
    }

    /// Finalizes the job once its window has closed with every game paid out
    /// and none lost.
    async fn finalize_if_due(&self, job: &JobEntry, now: u64) -> eyre::Result<()> {
        let Some(result) = &job.result else {
            return Ok(());
        };
        // Before the window closes nothing can be fixed: no chain read.
        if now < result.window_end(job.challenge_window) {
            return Ok(());
        }
        let outcome = self.market.job_outcome(job.id).await?;
        if outcome.refuted > 0 || !outcome.can_fix(now) {
            return Ok(());
        }
        match self.market.finalize(job.id).await {
            Ok(_) => {
                metrics::counter!(m::JOBS_FINALIZED).increment(1);
                let currency = self.currency(job.token).await;
                tracing::info!(target: "solver", job = job.id, reward = %currency.format(job.reward), "finalized");
                Ok(())
            }
            Err(e) if !e.is_retryable() => {
                tracing::debug!(target: "solver", job = job.id, error = %e, "not final yet");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What the game tasks of `job` share.
    fn game_job(&self, job: &JobEntry) -> Option<GameJob> {
        let jobs = self.shared.jobs.read();
        let runtime = jobs.get(&job.id)?;
        Some(GameJob {
            job_id: job.id,
            spec: job.spec.to_vec(),
            run: Arc::clone(&runtime.run),
            checkpoint_roots: runtime.checkpoint_roots.clone(),
            answers: self.shared.fault.is_none_or(|f| f.answers_disputes()),
        })
    }

    /// Announces where the trace and the model of a result are served.
    async fn announce_result(
        &self,
        trace_root: B256,
        model_root: B256,
        checkpoints: usize,
    ) -> eyre::Result<()> {
        let base = &self.config.public_url;
        self.announce(
            trace_root,
            format!("{base}/v1/traces/{trace_root}"),
            checkpoints as u64,
        )
        .await?;
        self.announce(model_root, format!("{base}/v1/models/{model_root}"), 1)
            .await
    }

    /// Announces `uri` for `root` in the registry unless this solver already has.
    async fn announce(&self, root: B256, uri: String, size: u64) -> eyre::Result<()> {
        if self.market.is_published_by(root, self.account).await? {
            return Ok(());
        }
        let call = self
            .market
            .registry()
            .publish(root, size.max(1), uri.clone())
            .into_transaction_request();
        self.market.send(call, "publish").await?;
        tracing::info!(target: "solver", %root, %uri, "announced");
        Ok(())
    }

    /// `token`'s currency: as read at start for ETH and the tokens
    /// `--min-reward` names (the only ones the planner claims jobs in); read
    /// now for another (a job claimed under an earlier configuration).
    async fn currency(&self, token: Address) -> vtrain_dispute::Currency {
        match self.currencies.get(&token) {
            Some(known) => known.clone(),
            None => vtrain_dispute::Currency::read_or_raw(self.market.provider(), token).await,
        }
    }

    async fn withdraw(&self) -> eyre::Result<()> {
        let tokens = self.book.tokens_of(self.account);
        for (token, amount) in self.market.withdraw_all(self.account, &tokens).await? {
            if token == vtrain_dispute::ETH {
                metrics::counter!(m::WITHDRAWN_WEI).increment(amount.saturating_to::<u64>());
                tracing::info!(target: "solver", amount = %vtrain_cli::format_eth(amount), "withdrew");
            } else {
                tracing::info!(target: "solver", %token, %amount, "withdrew a token credit");
            }
        }
        Ok(())
    }

    async fn report(&self, head: Head) {
        let balance = self
            .market
            .provider()
            .get_balance(self.account)
            .await
            .unwrap_or(U256::ZERO);
        metrics::gauge!(m::BALANCE_ETH).set(
            vtrain_cli::format_eth(balance)
                .parse::<f64>()
                .unwrap_or_default(),
        );
        let credits = self
            .market
            .credits(vtrain_dispute::ETH, self.account)
            .await
            .unwrap_or_default();
        let jobs_rt = self.shared.jobs.read();
        let mut jobs = Vec::new();
        let mut games = Vec::new();
        for job in self
            .book
            .jobs
            .values()
            .filter(|j| j.solver == Some(self.account))
        {
            let (step, steps) = jobs_rt
                .get(&job.id)
                .map(|rt| (rt.progress.load(Ordering::Relaxed), rt.trainer.spec().steps))
                .unwrap_or_default();
            let activity = match job.phase {
                JobPhase::Claimed if self.training.contains_key(&job.id) => "training",
                JobPhase::Claimed => "submitting",
                JobPhase::Submitted
                    if job
                        .games
                        .iter()
                        .any(|g| self.book.games.get(g).is_some_and(|g| g.resolved.is_none())) =>
                {
                    "defending"
                }
                JobPhase::Submitted => "in challenge window",
                JobPhase::Finalized => "paid",
                JobPhase::Slashed => "slashed",
                JobPhase::Cancelled | JobPhase::Open => continue,
            };
            jobs.push(JobStatus {
                id: job.id,
                activity: activity.into(),
                step,
                steps,
            });
            for game in job.games.iter().filter_map(|g| self.book.games.get(g)) {
                let state = match game.resolved {
                    None => "open".to_owned(),
                    Some(true) => "won".to_owned(),
                    Some(false) => "lost".to_owned(),
                };
                games.push((game.id, job.id, state));
            }
        }
        drop(jobs_rt);
        let report = {
            let mut status = self.shared.status.write();
            *status = StatusReport {
                account: self.account,
                block: head.number,
                jobs,
                games,
                credits_wei: credits.to_string(),
                last_error: status.last_error.take(),
            };
            status.clone()
        };
        if let Err(e) = self.datadir.save("status", &report) {
            tracing::warn!(target: "solver", error = %e, "cannot write the status record");
        }
    }
}
