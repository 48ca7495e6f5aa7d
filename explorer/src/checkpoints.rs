//! Whether the artifact behind each committed checkpoint root is available
//! and checks out: the explorer fetches checkpoint c from the trace route the
//! job's own solver announced (`{route}/checkpoints/{c}`, as a watchtower
//! does), decodes it with the job's state layout and recomputes its state
//! root (`vtrain_proof_of_learning::train::StateLayout`: no dataset needed).
//! Locations are untrusted: http(s) only, no redirects, bounded in time and
//! size, one fetch at a time. A checkpoint that checked out is remembered (a
//! root names its bytes for good); a failure is asked again next time.

use std::path::Path;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::transports::http::reqwest;
use serde::{Deserialize, Serialize};
use vtrain_dispute::JobBook;
use vtrain_proof_of_learning::train::StateLayout;
use vtrain_proof_of_learning::{Hash32, JobSpec};

/// The longest one checkpoint's fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// The most bytes read of one checkpoint (as the agents' fetches: the
/// parameters and moments of the largest model a solver takes by default are
/// well under it).
pub const MAX_BYTES: usize = 1 << 30;

/// What the explorer found behind one checkpoint root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCheck {
    /// The checkpoint's index (0 is the initial state).
    pub index: u32,
    /// Its step.
    pub step: u32,
    /// The committed state root.
    pub root: B256,
    /// `ok` (served and its state root is the committed one), `wrong` (served,
    /// but not the committed state) or `unavailable` (no route answered with a
    /// checkpoint).
    pub status: String,
    /// Where it was read from, when it was.
    pub source: Option<String>,
    /// Why it is not `ok`.
    pub reason: Option<String>,
}

/// Why there is nothing to check.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No such job.
    #[error("no job {0}")]
    NoJob(u64),
    /// No result committed yet.
    #[error("job {0} has no result yet")]
    NoResult(u64),
    /// Past the last checkpoint.
    #[error("job {job} has {count} checkpoints; there is no checkpoint {index}")]
    NoCheckpoint {
        /// The job.
        job: u64,
        /// Its checkpoints.
        count: usize,
        /// The one asked for.
        index: u32,
    },
    /// The spec is not a valid job (nothing to decode with).
    #[error("job {0}'s spec is not a valid job")]
    BadSpec(u64),
}

/// What checking checkpoint `index` of job `id` needs: the layout, the step,
/// the committed root and the http(s) trace routes its own solver announced.
pub struct Target {
    /// The job's state layout.
    pub layout: StateLayout,
    /// The checkpoint's step.
    pub step: u32,
    /// Its committed root.
    pub root: B256,
    /// `{route}/checkpoints/{index}` for each announced route.
    pub urls: Vec<String>,
}

/// The [`Target`] of checkpoint `index` of job `id` in `book`.
pub fn target(book: &JobBook, id: u64, index: u32) -> Result<Target, CheckError> {
    let job = book.job(id).ok_or(CheckError::NoJob(id))?;
    let result = job.result.as_ref().ok_or(CheckError::NoResult(id))?;
    let root = *result
        .checkpoint_roots
        .get(index as usize)
        .ok_or(CheckError::NoCheckpoint {
            job: id,
            count: result.checkpoint_roots.len(),
            index,
        })?;
    let spec = JobSpec::from_canonical_bytes(&job.spec).map_err(|_| CheckError::BadSpec(id))?;
    let layout = StateLayout::of(&spec).map_err(|_| CheckError::BadSpec(id))?;
    let solver: Option<Address> = job.solver;
    let urls = book
        .locations(&result.trace_root)
        .iter()
        .filter(|l| Some(l.publisher) == solver)
        .map(|l| l.uri.trim_end_matches('/').to_owned())
        .filter(|uri| uri.starts_with("http://") || uri.starts_with("https://"))
        .map(|uri| format!("{uri}/checkpoints/{index}"))
        .collect();
    Ok(Target {
        layout,
        step: index.saturating_mul(spec.checkpoint_interval),
        root,
        urls,
    })
}

/// Whether `bytes` are the checkpoint at `step` whose state root is `root`:
/// `Ok` if so, else why not.
pub fn verify(layout: &StateLayout, bytes: &[u8], step: u32, root: B256) -> Result<(), String> {
    let state = layout
        .decode(Path::new("checkpoint"), bytes, step)
        .map_err(|e| format!("not a checkpoint of this job: {e}"))?;
    let actual = layout.root(&state);
    if actual != Hash32(root.0) {
        return Err(format!("its state root is {actual}, not the committed one"));
    }
    Ok(())
}

/// Fetches and verifies `target`'s checkpoint from each route in turn, with
/// `client` (no redirects); the first that checks out wins.
pub async fn check(client: &reqwest::Client, index: u32, target: &Target) -> CheckpointCheck {
    let mut found = CheckpointCheck {
        index,
        step: target.step,
        root: target.root,
        status: "unavailable".into(),
        source: None,
        reason: Some("its solver announced no trace route".into()),
    };
    for url in &target.urls {
        match crate::progress::read_bounded(client, url, FETCH_TIMEOUT, MAX_BYTES).await {
            Err(why) => found.reason = Some(format!("{url}: {why}")),
            Ok(bytes) => match verify(&target.layout, &bytes, target.step, target.root) {
                Ok(()) => {
                    return CheckpointCheck {
                        status: "ok".into(),
                        source: Some(url.clone()),
                        reason: None,
                        ..found
                    };
                }
                Err(why) => {
                    found.status = "wrong".into();
                    found.source = Some(url.clone());
                    found.reason = Some(why);
                }
            },
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtrain_proof_of_learning::{Dataset, Kernels, Level, Trainer};

    #[test]
    fn a_checkpoint_checks_out_only_at_its_own_root_and_step() {
        let spec =
            JobSpec::from_toml(include_str!("../../examples/digits-mlp.toml")).expect("spec");
        let layout = StateLayout::of(&spec).expect("layout");
        let trainer = Trainer::new(
            spec,
            Dataset::digits().expect("digits"),
            Kernels::new(Level::Scalar, 1).expect("kernels"),
        )
        .expect("trainer");
        let s0 = trainer.initial_state();
        let bytes =
            vtrain_proof_of_learning::checkpoint::encode_state(&trainer, &s0).expect("encodes");
        let root = B256::from(trainer.state_root(&s0).0);
        assert_eq!(verify(&layout, &bytes, 0, root), Ok(()));
        let at_step_one = verify(&layout, &bytes, 1, root).expect_err("another step");
        assert!(
            at_step_one.contains("not the committed one"),
            "{at_step_one}"
        );
        let garbage = verify(&layout, b"not safetensors", 0, root).expect_err("garbage");
        assert!(garbage.contains("not a checkpoint"), "{garbage}");
    }
}
