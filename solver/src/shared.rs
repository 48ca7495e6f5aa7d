//! What the chain loop shares with the HTTP server: the jobs the solver holds
//! and the status it reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use parking_lot::RwLock;

use alloy::primitives::{Address, B256};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use vtrain_dispute::game::{SharedRun, Tamper};
use vtrain_proof_of_learning::Trainer;
use vtrain_store::{ArtifactStore, Datadir};

use crate::fault::Fault;

/// A job the solver has claimed.
pub struct JobRuntime {
    /// The trainer it runs.
    pub trainer: Arc<Trainer>,
    /// Its corruption (test modes only).
    pub tamper: Option<Tamper>,
    /// The run its games replay from, shared by all of them.
    pub run: Arc<SharedRun>,
    /// The step reached.
    pub progress: Arc<AtomicU32>,
    /// The committed checkpoint roots, once submitted (or trained).
    pub checkpoint_roots: Vec<B256>,
    /// The trace root, once trained.
    pub trace_root: Option<B256>,
    /// Whether a game on its result is open (step reports are served only
    /// then: `crate::step_reports`).
    pub disputed: bool,
}

/// One job in the status report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job id.
    pub id: u64,
    /// What the solver is doing with it.
    pub activity: String,
    /// The step reached.
    pub step: u32,
    /// Total steps.
    pub steps: u32,
}

/// What `vtrain-solver status` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The solver's account.
    pub account: Address,
    /// The latest block seen.
    pub block: u64,
    /// Jobs it holds.
    pub jobs: Vec<JobStatus>,
    /// Games it is defending: (game id, job id, what it waits for).
    pub games: Vec<(u64, u64, String)>,
    /// What it can withdraw, in wei (as a decimal string).
    pub credits_wei: String,
    /// The last error, if the last tick failed.
    pub last_error: Option<String>,
}

/// State shared by the loop and the server.
pub struct Shared {
    /// The artifact store.
    pub store: ArtifactStore,
    /// A dishonest behaviour (test modes only).
    pub fault: Option<Fault>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Claimed jobs by id.
    pub jobs: RwLock<BTreeMap<u64, JobRuntime>>,
    /// The latest status.
    pub status: RwLock<StatusReport>,
    /// The solver's datadir (training records, for progress).
    pub datadir: Datadir,
    /// The guard of the step-report route.
    pub step_reports: crate::step_reports::StepReports,
    /// Where training steps run, if not the CPU kernels: a qualified GPU.
    pub backend: Option<Arc<dyn vtrain_proof_of_learning::train::StepBackend>>,
}
