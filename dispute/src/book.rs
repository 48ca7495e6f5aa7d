//! The job book: everything the market's, the game's and the registry's events
//! have said, folded into one record per job and per game. Agents rebuild it
//! from the deployment block on start (so a lost datadir costs a rescan, never
//! a decision), then follow the chain incrementally.
//!
//! The chain under the book can change (a reorg). The book remembers the hash
//! of the last block it read; when that block is no longer on the chain, the
//! book is read again from the deployment block (`Synced::reorg` says so, for
//! agents to drop what they derived from the old one). Agents read at a
//! confirmation depth (`Market::with_confirmations`), so that this is rare.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEventInterface;
use serde::{Deserialize, Serialize};

use crate::bindings::artifact_registry::ArtifactRegistry::ArtifactRegistryEvents;
use crate::bindings::dispute_game::DisputeGame::DisputeGameEvents;
use crate::bindings::job_market::JobMarket::JobMarketEvents;
use crate::error::{Error, Result};

/// How many blocks one `eth_getLogs` request spans at most.
const LOG_CHUNK: u64 = 5_000;

/// Where a job is in its life, as the events tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPhase {
    /// Posted, waiting for a solver.
    Open,
    /// A solver bonded and is training.
    Claimed,
    /// The result is committed; its challenge window runs or games are open.
    Submitted,
    /// The solver was paid.
    Finalized,
    /// The solver lost a game or missed its deadline; the submitter was refunded.
    Slashed,
    /// Withdrawn before anyone claimed it.
    Cancelled,
}

impl JobPhase {
    /// The job's `JobMarket.Status` number on chain (`market::status`).
    pub fn status(self) -> u8 {
        use crate::market::status;
        match self {
            Self::Open => status::OPEN,
            Self::Claimed => status::CLAIMED,
            Self::Submitted => status::SUBMITTED,
            Self::Finalized => status::FINALIZED,
            Self::Slashed => status::SLASHED,
            Self::Cancelled => status::CANCELLED,
        }
    }

    /// Its name (`open` … `cancelled`), as `market::status::name` gives it.
    pub fn name(self) -> &'static str {
        crate::market::status::name(self.status())
    }

    /// Whether nothing can happen to the job any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finalized | Self::Slashed | Self::Cancelled)
    }
}

/// A committed result (`ResultSubmitted`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    /// The trace root over the checkpoint roots.
    pub trace_root: B256,
    /// The state root at step T.
    pub final_state_root: B256,
    /// The root of the final weights.
    pub model_root: B256,
    /// Every checkpoint's state root, 0, k, …, T.
    pub checkpoint_roots: Vec<B256>,
    /// The block it was committed in.
    pub block: u64,
    /// That block's timestamp: `JobMarket`'s `submittedAt`, when the
    /// challenge window opened (read once, by the sync that reads the event).
    #[serde(default)]
    pub submitted_at: u64,
}

impl JobResult {
    /// When the result's challenge window closes (`submittedAt + window`).
    pub fn window_end(&self, challenge_window: u64) -> u64 {
        self.submitted_at.saturating_add(challenge_window)
    }
}

/// One job, from its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEntry {
    /// The job id.
    pub id: u64,
    /// Who posted it.
    pub submitter: Address,
    /// The job hash (keccak of the canonical spec).
    pub job_hash: B256,
    /// The dataset's content root.
    pub dataset_root: B256,
    /// The currency of reward, solver bond and refuters' shares: ETH
    /// ([`crate::ETH`]) or an ERC-20 token.
    #[serde(default)]
    pub token: Address,
    /// The escrowed reward, in the job's currency's smallest unit (wei for ETH).
    pub reward: U256,
    /// The bond a solver posts to claim, in the job's currency.
    pub solver_bond: U256,
    /// Until when it can be claimed (unix seconds).
    pub claim_deadline: u64,
    /// Until when the claiming solver must submit.
    pub submit_deadline: u64,
    /// Seconds a result can be challenged.
    pub challenge_window: u64,
    /// The canonical spec bytes.
    pub spec: Bytes,
    /// Why the spec is not a valid job, if it is not: it does not decode, or
    /// its job hash is not the chain's `jobHash` (a non-canonical encoding).
    /// Checked once, when the book reads the job; agents leave such a job alone.
    #[serde(default)]
    pub spec_error: Option<String>,
    /// The block it was posted in.
    pub posted_block: u64,
    /// Where it stands.
    pub phase: JobPhase,
    /// The solver, once claimed.
    pub solver: Option<Address>,
    /// The result, once submitted.
    pub result: Option<JobResult>,
    /// The games opened against its result.
    pub games: Vec<u64>,
}

/// One dispute game, from its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameEntry {
    /// The game id.
    pub id: u64,
    /// The job it disputes.
    pub job_id: u64,
    /// Who opened it.
    pub challenger: Address,
    /// The first disputed checkpoint.
    pub checkpoint: u64,
    /// Whether it disputes the initial state.
    pub init: bool,
    /// The block it was opened in (the solver's reveals are searched from here).
    pub opened_block: u64,
    /// `Some(solver_won)` once decided.
    pub resolved: Option<bool>,
    /// Whether the market has paid it out.
    pub settled: bool,
    /// Whether its challenger has claimed its share of a slashed bond.
    #[serde(default)]
    pub share_claimed: bool,
}

impl GameEntry {
    /// Whether its challenger still has something to do or collect: the game
    /// is undecided, or it refuted the solver and is not paid out or its share
    /// is unclaimed. A game the solver won is over for its challenger, paid
    /// out or not.
    pub fn open_for_challenger(&self) -> bool {
        match self.resolved {
            None => true,
            Some(true) => false,
            Some(false) => !self.settled || !self.share_claimed,
        }
    }
}

/// Where an artifact is announced to be (`ArtifactPublished`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactLocation {
    /// Who announced it.
    pub publisher: Address,
    /// Its size in bytes.
    pub size: u64,
    /// Where to fetch it.
    pub uri: String,
}

/// The contracts whose events the book follows.
#[derive(Clone, Copy, Debug)]
pub struct BookSources {
    /// `JobMarket`.
    pub market: Address,
    /// `DisputeGame`.
    pub game: Address,
    /// `ArtifactRegistry`.
    pub registry: Address,
}

/// A block the book has read up to: its number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMark {
    /// The block number.
    pub number: u64,
    /// Its hash when the book read it.
    pub hash: B256,
}

/// The chain changed under the book: the block it had read up to is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reorg {
    /// The block the book had read up to.
    pub block: u64,
    /// Its hash then.
    pub was: B256,
    /// Its hash now (`None`: the chain is shorter than that now).
    pub now: Option<B256>,
}

/// What one [`JobBook::sync`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Events applied.
    pub applied: usize,
    /// Set when a reorg was found: the book was then read again from its
    /// first block, and whatever was derived from the old book may be stale.
    pub reorg: Option<Reorg>,
}

/// Every job and game the chain has told of, up to `next_block − 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobBook {
    /// The first block not yet read.
    pub next_block: u64,
    /// The block reading starts from (the deployment's): where a reorg
    /// sends the book back to.
    #[serde(default)]
    pub first_block: u64,
    /// The last block read, to notice a reorg under it.
    #[serde(default)]
    pub read_to: Option<BlockMark>,
    /// Jobs by id.
    pub jobs: BTreeMap<u64, JobEntry>,
    /// Games by id.
    pub games: BTreeMap<u64, GameEntry>,
    /// Announced artifact locations by content root.
    pub artifacts: BTreeMap<B256, Vec<ArtifactLocation>>,
}

impl JobBook {
    /// An empty book that starts reading at `from_block` (the deployment's block).
    pub fn starting_at(from_block: u64) -> Self {
        Self {
            next_block: from_block,
            first_block: from_block,
            ..Self::default()
        }
    }

    /// The book to continue from: `saved` (an agent's datadir copy) if it is
    /// one of this deployment's, else a fresh one from `deployed_at`.
    pub fn resume(saved: Option<Self>, deployed_at: u64) -> Self {
        match saved {
            Some(book) if book.next_block >= deployed_at => Self {
                first_block: deployed_at,
                ..book
            },
            _ => Self::starting_at(deployed_at),
        }
    }

    /// Reads every event from `next_block` up to `head` (inclusive), in chunks,
    /// after checking that the block it last read is still on the chain (if
    /// not, it starts again from `first_block`: see [`Synced::reorg`]). On an
    /// error the book holds whatever whole chunks it read.
    pub async fn sync<P: Provider>(
        &mut self,
        provider: &P,
        sources: &BookSources,
        head: u64,
    ) -> Result<Synced> {
        let mut synced = Synced::default();
        if let Some(mark) = self.read_to {
            let now = block_header(provider, mark.number)
                .await?
                .map(|(hash, _)| hash);
            if now != Some(mark.hash) {
                synced.reorg = Some(Reorg {
                    block: mark.number,
                    was: mark.hash,
                    now,
                });
                *self = Self::starting_at(self.first_block);
            }
        }
        if self.next_block <= head {
            // The hash of the last block is read before its logs: if the
            // chain changes in between, the next sync finds this hash gone
            // and reads again, so a book never mixes two chains unnoticed.
            let (head_hash, _) = block_header(provider, head)
                .await?
                .ok_or(Error::MissingBlock(head))?;
            while self.next_block <= head {
                let to = head.min(self.next_block + LOG_CHUNK - 1);
                let filter = Filter::new()
                    .address(vec![sources.market, sources.game, sources.registry])
                    .from_block(self.next_block)
                    .to_block(to);
                let logs = provider.get_logs(&filter).await.map_err(Error::Rpc)?;
                for log in &logs {
                    self.apply(sources, log)?;
                    synced.applied += 1;
                }
                self.next_block = to + 1;
            }
            self.read_to = Some(BlockMark {
                number: head,
                hash: head_hash,
            });
        }
        self.stamp_results(provider).await?;
        Ok(synced)
    }

    /// Fills in `submitted_at` of every result that lacks it: its log did
    /// not carry its block's timestamp, or the book was saved before it kept
    /// the time (or an earlier sync failed before stamping). Once each: a
    /// stamped result is never read again.
    async fn stamp_results<P: Provider>(&mut self, provider: &P) -> Result<()> {
        for job in self.jobs.values_mut() {
            if let Some(result) = &mut job.result
                && result.submitted_at == 0
            {
                let (_, timestamp) = block_header(provider, result.block)
                    .await?
                    .ok_or(Error::MissingBlock(result.block))?;
                result.submitted_at = timestamp;
            }
        }
        Ok(())
    }

    /// The job with id `id`.
    pub fn job(&self, id: u64) -> Option<&JobEntry> {
        self.jobs.get(&id)
    }

    /// The tokens (never ETH) of the jobs `account` took part in, as
    /// submitter, solver or challenger: the currencies it may hold credits in
    /// besides ETH, sorted, each once.
    pub fn tokens_of(&self, account: Address) -> Vec<Address> {
        let challenged: std::collections::BTreeSet<u64> = self
            .games
            .values()
            .filter(|g| g.challenger == account)
            .map(|g| g.job_id)
            .collect();
        let tokens: std::collections::BTreeSet<Address> = self
            .jobs
            .values()
            .filter(|j| j.token != crate::ETH)
            .filter(|j| {
                j.submitter == account || j.solver == Some(account) || challenged.contains(&j.id)
            })
            .map(|j| j.token)
            .collect();
        tokens.into_iter().collect()
    }

    /// The announced URIs of `root`, every publisher's, oldest first.
    pub fn uris(&self, root: &B256) -> Vec<String> {
        self.locations(root).iter().map(|l| l.uri.clone()).collect()
    }

    /// The announced locations of `root`.
    pub fn locations(&self, root: &B256) -> &[ArtifactLocation] {
        self.artifacts
            .get(root)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn apply(&mut self, sources: &BookSources, log: &Log) -> Result<()> {
        let block = log.block_number.unwrap_or(self.next_block);
        let timestamp = log.block_timestamp.unwrap_or(0);
        let address = log.address();
        let malformed =
            |e: alloy::sol_types::Error| Error::Contract(format!("undecodable event: {e}"));
        if address == sources.market {
            let event = JobMarketEvents::decode_log(&log.inner).map_err(malformed)?;
            self.apply_market(event.data, block, timestamp);
        } else if address == sources.game {
            let event = DisputeGameEvents::decode_log(&log.inner).map_err(malformed)?;
            self.apply_game(event.data, block);
        } else if address == sources.registry {
            let ArtifactRegistryEvents::ArtifactPublished(e) =
                ArtifactRegistryEvents::decode_log(&log.inner)
                    .map_err(malformed)?
                    .data;
            self.artifacts
                .entry(e.root)
                .or_default()
                .push(ArtifactLocation {
                    publisher: e.publisher,
                    size: e.size,
                    uri: e.uri,
                });
        }
        Ok(())
    }

    fn apply_market(&mut self, event: JobMarketEvents, block: u64, timestamp: u64) {
        let as_u64 = |id: U256| id.saturating_to::<u64>();
        match event {
            JobMarketEvents::JobPosted(e) => {
                let id = as_u64(e.jobId);
                self.jobs.insert(
                    id,
                    JobEntry {
                        id,
                        submitter: e.submitter,
                        job_hash: e.jobHash,
                        dataset_root: e.datasetRoot,
                        token: e.token,
                        reward: e.reward,
                        solver_bond: e.solverBond,
                        claim_deadline: e.claimDeadline,
                        submit_deadline: e.submitDeadline,
                        challenge_window: e.challengeWindow,
                        spec_error: spec_error(&e.spec, e.jobHash),
                        spec: e.spec,
                        posted_block: block,
                        phase: JobPhase::Open,
                        solver: None,
                        result: None,
                        games: Vec::new(),
                    },
                );
            }
            JobMarketEvents::JobCancelled(e) => {
                self.set_phase(as_u64(e.jobId), JobPhase::Cancelled)
            }
            JobMarketEvents::JobClaimed(e) => {
                if let Some(job) = self.jobs.get_mut(&as_u64(e.jobId)) {
                    job.phase = JobPhase::Claimed;
                    job.solver = Some(e.solver);
                }
            }
            JobMarketEvents::ResultSubmitted(e) => {
                if let Some(job) = self.jobs.get_mut(&as_u64(e.jobId)) {
                    job.phase = JobPhase::Submitted;
                    job.result = Some(JobResult {
                        trace_root: e.traceRoot,
                        final_state_root: e.finalStateRoot,
                        model_root: e.modelRoot,
                        checkpoint_roots: e.checkpointRoots,
                        block,
                        submitted_at: timestamp,
                    });
                }
            }
            JobMarketEvents::ChallengeOpened(e) => {
                let (job_id, game_id) = (as_u64(e.jobId), as_u64(e.gameId));
                if let Some(job) = self.jobs.get_mut(&job_id) {
                    job.games.push(game_id);
                }
                let game = self.games.entry(game_id).or_insert(GameEntry {
                    id: game_id,
                    job_id,
                    challenger: e.challenger,
                    checkpoint: e.checkpoint,
                    init: e.checkpoint == 0,
                    opened_block: block,
                    resolved: None,
                    settled: false,
                    share_claimed: false,
                });
                game.checkpoint = e.checkpoint;
            }
            JobMarketEvents::GameSettled(e) => {
                if let Some(game) = self.games.get_mut(&as_u64(e.gameId)) {
                    game.settled = true;
                    game.resolved = Some(e.solverWon);
                }
            }
            JobMarketEvents::ShareClaimed(e) => {
                if let Some(game) = self.games.get_mut(&as_u64(e.gameId)) {
                    game.share_claimed = true;
                }
            }
            JobMarketEvents::JobFinalized(e) => {
                self.set_phase(as_u64(e.jobId), JobPhase::Finalized)
            }
            JobMarketEvents::SolverSlashed(e) => self.set_phase(as_u64(e.jobId), JobPhase::Slashed),
            _ => {}
        }
    }

    fn apply_game(&mut self, event: DisputeGameEvents, block: u64) {
        let as_u64 = |id: U256| id.saturating_to::<u64>();
        match event {
            DisputeGameEvents::GameOpened(e) => {
                let game_id = as_u64(e.gameId);
                let game = self.games.entry(game_id).or_insert(GameEntry {
                    id: game_id,
                    job_id: as_u64(e.jobId),
                    challenger: e.challenger,
                    checkpoint: 0,
                    init: e.init,
                    opened_block: block,
                    resolved: None,
                    settled: false,
                    share_claimed: false,
                });
                game.init = e.init;
            }
            DisputeGameEvents::GameResolved(e) => {
                if let Some(game) = self.games.get_mut(&as_u64(e.gameId)) {
                    game.resolved = Some(e.solverWon);
                }
            }
            _ => {}
        }
    }

    fn set_phase(&mut self, id: u64, phase: JobPhase) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.phase = phase;
        }
    }
}

/// Why `spec` is not the valid job whose hash is `job_hash`, if it is not.
fn spec_error(spec: &[u8], job_hash: B256) -> Option<String> {
    match vtrain_proof_of_learning::JobSpec::from_canonical_bytes(spec) {
        Err(e) => Some(format!("the spec does not decode: {e}")),
        Ok(spec) if spec.job_hash().0 != job_hash.0 => {
            Some("the spec's job hash is not the chain's jobHash".into())
        }
        Ok(_) => None,
    }
}

/// Block `number`'s hash and timestamp, `None` if the chain has no such block.
async fn block_header<P: Provider>(provider: &P, number: u64) -> Result<Option<(B256, u64)>> {
    let block = provider
        .get_block_by_number(number.into())
        .await
        .map_err(Error::Rpc)?;
    Ok(block.map(|b| (b.header.hash, b.header.timestamp)))
}

/// The registry key under which the solver of job `job_id` announces where its
/// training progress can be followed. Anyone could announce under it, so
/// readers only trust an announcement whose publisher is the job's solver.
pub fn progress_key(job_id: u64) -> B256 {
    B256::from(
        vtrain_proof_of_learning::hash::keccak(&[b"vtrain.progress.v1", &job_id.to_be_bytes()]).0,
    )
}

#[cfg(test)]
mod phase_tests {
    use super::JobPhase;

    #[test]
    fn a_phase_is_named_by_its_status_on_chain() {
        let phases = [
            JobPhase::Open,
            JobPhase::Claimed,
            JobPhase::Submitted,
            JobPhase::Finalized,
            JobPhase::Slashed,
            JobPhase::Cancelled,
        ];
        let names: Vec<&str> = phases.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "open",
                "claimed",
                "submitted",
                "finalized",
                "slashed",
                "cancelled"
            ]
        );
        let codes: Vec<u8> = phases.iter().map(|p| p.status()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
    }
}
