//! Defending results: one task per open game, all at once. A game's task reads
//! the game and its job on chain, decides its duty (`vtrain_dispute::game::duty`)
//! and carries it out, until the game is paid out. Every game over one job
//! plays from the job's one [`SharedRun`]: a wave of games over the same
//! interval costs one replay, replays are served in the order they were asked
//! for, and a game waits for another only while that one replays. That is what
//! the contract's clock allowance assumes (`docs/dispute-game.md` § Clocks):
//! an honest solver answers every game of any wave in time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use alloy::primitives::B256;
use alloy::providers::Provider;
use tokio::task::JoinHandle;
use vtrain_dispute::Market;
use vtrain_dispute::bindings::dispute_game::DisputeGame;
use vtrain_dispute::game::player::id;
use vtrain_dispute::game::{
    Duty, GameClient, GameStage, Move, Party, SharedRun, Side, Tracker, duty, game_tracker,
    replay_start,
};
use vtrain_proof_of_learning::{Hash32, Trainer};
use vtrain_store::ArtifactStore;

use crate::metrics as m;

/// What a game's task needs of its job.
#[derive(Clone)]
pub(crate) struct GameJob {
    /// The job id.
    pub(crate) job_id: u64,
    /// Its canonical spec (moves carry it).
    pub(crate) spec: Vec<u8>,
    /// The solver's run of the job, shared by its games.
    pub(crate) run: Arc<SharedRun>,
    /// The committed checkpoint roots (where replays start from).
    pub(crate) checkpoint_roots: Vec<B256>,
    /// Whether the solver answers at all (a test mode stops).
    pub(crate) answers: bool,
}

/// The running game tasks.
pub(crate) struct Defense<P> {
    market: Arc<Market<P>>,
    store: ArtifactStore,
    poll: Duration,
    tasks: HashMap<u64, JoinHandle<()>>,
    /// Games whose task ended because nothing is left to do in them.
    over: Arc<Mutex<HashSet<u64>>>,
}

impl<P: Provider + Clone + 'static> Defense<P> {
    /// No games yet.
    pub(crate) fn new(market: Arc<Market<P>>, store: ArtifactStore, poll: Duration) -> Self {
        Self {
            market,
            store,
            poll,
            tasks: HashMap::new(),
            over: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Makes sure game `game_id` of `job` has a running task. A task that
    /// ended because the game is over is not restarted; one that died (a
    /// panic) is.
    pub(crate) fn ensure(&mut self, game_id: u64, job: &GameJob) {
        if let Some(task) = self.tasks.get(&game_id) {
            let over = self.over.lock().contains(&game_id);
            if !task.is_finished() || over {
                return;
            }
            tracing::warn!(target: "solver::game", game = game_id, "the game's task died; restarting it");
        }
        let task = GameTask {
            game_id,
            job: job.clone(),
            market: Arc::clone(&self.market),
            store: self.store.clone(),
            poll: self.poll,
            party: None,
            stages: game_tracker(),
            last_error: None,
            over: Arc::clone(&self.over),
        };
        self.tasks.insert(game_id, tokio::spawn(task.run()));
    }

    /// Stops every task (at its next await; the chain keeps the game).
    pub(crate) fn stop(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
    }

    /// Stops every task and forgets which games were over: after a reorg a
    /// game id may name another game, so each starts again from the chain.
    pub(crate) fn reset(&mut self) {
        self.stop();
        self.over.lock().clear();
    }
}

impl<P> Drop for Defense<P> {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

/// What one round of a game's task did.
enum Round {
    /// Nothing is left to do in this game.
    Over,
    /// Look again after the poll interval.
    Again,
}

/// One game's task.
struct GameTask<P> {
    game_id: u64,
    job: GameJob,
    market: Arc<Market<P>>,
    store: ArtifactStore,
    poll: Duration,
    party: Option<Party>,
    /// Its stage, to log each transition once.
    stages: Tracker<u64, GameStage>,
    last_error: Option<String>,
    over: Arc<Mutex<HashSet<u64>>>,
}

impl<P: Provider + Clone + 'static> GameTask<P> {
    async fn run(mut self) {
        m::gauge_games(1.0);
        loop {
            match self.round().await {
                Ok(Round::Over) => {
                    self.over.lock().insert(self.game_id);
                    break;
                }
                Ok(Round::Again) => self.last_error = None,
                Err(e) => self.note(e),
            }
            tokio::time::sleep(self.poll).await;
        }
        m::gauge_games(-1.0);
    }

    /// Logs a failure once (then at debug level while it repeats).
    fn note(&mut self, error: eyre::Report) {
        metrics::counter!(m::ERRORS, "kind" => "game").increment(1);
        let text = format!("{error:#}");
        if self.last_error.as_ref() == Some(&text) {
            tracing::debug!(target: "solver::game", game = self.game_id, error = %text, "still failing");
        } else {
            tracing::warn!(target: "solver::game", game = self.game_id, job = self.job.job_id, error = %text, "game step failed; retrying");
            self.last_error = Some(text);
        }
    }

    async fn round(&mut self) -> eyre::Result<Round> {
        let record = self.market.game_record(self.game_id).await?;
        if let Some(t) = self
            .stages
            .observe(self.game_id, GameStage::of(&record, false))
        {
            let from = t.from.map(GameStage::name);
            if t.within_narrowing() {
                tracing::debug!(target: "solver::game", game = self.game_id, to = %t.to.name(), "game stage");
            } else if t.expected {
                tracing::info!(target: "solver::game", game = self.game_id, job = self.job.job_id, from = ?from, to = %t.to.name(), "game stage");
            } else {
                tracing::warn!(target: "solver::game", game = self.game_id, job = self.job.job_id, from = ?from, to = %t.to.name(), "game stage: a transition the game cannot make (a reorg?)");
            }
        }
        let outcome = self.market.job_outcome(self.job.job_id).await?;
        let head = self.market.head().await?;
        match duty(Side::Solver, &record, &outcome, false, head.timestamp) {
            // (Finalize and ClaimShare are a refuter's duties, never the solver's.)
            Duty::Done | Duty::Finalize | Duty::ClaimShare => {
                if !record.clock.solverWon {
                    metrics::counter!(m::DISPUTES_DECIDED, "outcome" => "lost").increment(1);
                }
                return Ok(Round::Over);
            }
            Duty::Wait { .. } | Duty::AwaitOutcome { .. } => {}
            Duty::Settle => {
                self.market.settle_game(self.game_id).await?;
                metrics::counter!(m::DISPUTES_DECIDED, "outcome" => "won").increment(1);
                tracing::info!(target: "solver::game", game = self.game_id, job = self.job.job_id, "dispute won and settled");
                return Ok(Round::Over);
            }
            Duty::ClaimTimeout => {
                self.market.claim_timeout(self.game_id).await?;
                tracing::info!(target: "solver::game", game = self.game_id, "the challenger ran out of time");
            }
            Duty::Move if self.job.answers => self.play(record).await?,
            Duty::Move => {}
        }
        Ok(Round::Again)
    }

    /// Computes the solver's move (replaying through the job's shared run)
    /// and sends it.
    async fn play(&mut self, record: DisputeGame::Game) -> eyre::Result<()> {
        let mut party = match self.party.take() {
            Some(party) => party,
            None => self.party(&record).await,
        };
        let phase = record.clock.phase;
        let (party, mv) = tokio::task::spawn_blocking(move || {
            let mv = party.solver_move(&record);
            (party, mv)
        })
        .await?;
        self.party = Some(party);
        let Some(mv) = mv else {
            eyre::bail!("game {}: no answer for phase {phase}", self.game_id);
        };
        let name = mv.name();
        let client = GameClient::new(
            *self.market.game().address(),
            self.market.provider().clone(),
            self.job.spec.clone(),
        );
        if matches!(mv, Move::RevealStep { .. }) {
            // The first move that passes the spec: compile it once, so this
            // game's later moves (the one-step proof above all) read the
            // decoded model back. An optimisation only: without it every move
            // still works, at more gas, so a failure is logged, not fatal.
            match client.compile_model().await {
                Ok(0) => {}
                Ok(gas) => {
                    tracing::info!(target: "solver::game", game = self.game_id, gas, "model image compiled")
                }
                Err(error) => {
                    tracing::warn!(target: "solver::game", game = self.game_id, %error, "no model image: the moves decode the spec")
                }
            }
        }
        let gas = client.send(id(self.game_id), mv).await?;
        metrics::counter!(m::DISPUTE_MOVES).increment(1);
        tracing::info!(target: "solver::game", game = self.game_id, phase, r#move = name, gas, "moved");
        Ok(())
    }

    /// The solver's side of this game: the job's shared run, replaying from
    /// the nearest stored checkpoint that checks out at or before the
    /// disputed range (the game's anchor). A checkpoint missing from the
    /// store, or corrupt in it, is passed over: the game then replays from an
    /// earlier one (or S_0), it never gives the game up.
    async fn party(&self, record: &DisputeGame::Game) -> Party {
        let run = Arc::clone(&self.job.run);
        let trainer = Arc::clone(run.trainer());
        let k = trainer.spec().checkpoint_interval;
        let anchor = match replay_start(record, k, &self.job.checkpoint_roots) {
            Some((step, _)) => {
                nearest_stored(&trainer, &self.store, &self.job.checkpoint_roots, step).await
            }
            None => None,
        };
        let party = Party::sharing(run);
        match anchor {
            Some(state) => party.with_anchor(state),
            None => party,
        }
    }
}

/// The last stored checkpoint at or before `step` that loads and matches its
/// committed root.
async fn nearest_stored(
    trainer: &Trainer,
    store: &ArtifactStore,
    roots: &[B256],
    step: u32,
) -> Option<vtrain_proof_of_learning::State> {
    let k = trainer.spec().checkpoint_interval.max(1);
    for c in (0..=step / k).rev() {
        let Some(root) = roots.get(c as usize) else {
            continue;
        };
        // A corrupt copy is quarantined by the store and counts as missing.
        match store.intact_state(trainer, c * k, &Hash32(root.0)).await {
            Ok(Some(state)) => return Some(state),
            Ok(None) => {
                tracing::info!(target: "solver::game", checkpoint = c, "checkpoint not in the store: replaying from an earlier one");
            }
            Err(e) => {
                tracing::warn!(target: "solver::game", checkpoint = c, error = %e, "the store cannot be read: replaying from an earlier checkpoint");
            }
        }
    }
    None
}
