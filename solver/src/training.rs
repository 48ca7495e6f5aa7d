//! Training one claimed job to its result, resumable: every checkpoint is put
//! in the store before its root is recorded in the datadir, so after a
//! `kill -9` the run resumes from the last recorded checkpoint (checked against
//! its root on load) and ends with the same trace root.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use vtrain_dispute::game::{Tamper, Transition};
use vtrain_proof_of_learning::commit::trace_root;
use vtrain_proof_of_learning::{Hash32, State, Trainer};
use vtrain_store::{ArtifactStore, Datadir, model_root};

/// What the solver has done for a job, as kept in its datadir (`job-<id>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The job.
    pub job_id: u64,
    /// Its job hash: a record of another job under the same id (the chain
    /// was reorganised under it) is not this job's (zero in older records).
    #[serde(default)]
    pub job_hash: B256,
    /// The state roots of the checkpoints stored so far, 0, k, 2k, …
    pub checkpoint_roots: Vec<B256>,
    /// The training loss of every step so far (`None` where it was not computed).
    pub losses: Vec<Option<f32>>,
    /// The result, once trained.
    pub result: Option<ResultRecord>,
}

/// A finished run: what `submitResult` takes besides the checkpoint roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    /// The trace root over the checkpoint roots.
    pub trace_root: B256,
    /// The root of the final weights.
    pub model_root: B256,
    /// The root of the final optimizer state.
    pub optimizer_root: B256,
}

/// The datadir record name of job `id`.
pub fn record_name(id: u64) -> String {
    format!("job-{id}")
}

/// The training record of job `id` whose job hash is `job_hash`, if the
/// datadir has one: a record of another job under that id (one that a reorg
/// replaced) is none, and a malformed one is set aside and is none too (the
/// run starts again from S_0 and, bit-exact, commits the same roots).
pub fn load_record(
    datadir: &Datadir,
    id: u64,
    job_hash: B256,
) -> eyre::Result<Option<TrainingRecord>> {
    let record: Option<TrainingRecord> = datadir.load_or_set_aside(&record_name(id))?;
    Ok(record.filter(|r| r.job_hash == job_hash || r.job_hash.is_zero()))
}

/// Everything a run needs.
pub struct Run {
    /// The job id.
    pub job_id: u64,
    /// The trainer (dishonest ones included, for the test modes).
    pub trainer: Arc<Trainer>,
    /// A corruption of the trajectory (test modes only).
    pub tamper: Option<Tamper>,
    /// Where checkpoints and the model go.
    pub store: ArtifactStore,
    /// Where the record goes.
    pub datadir: Datadir,
    /// The step reached, for status and metrics.
    pub progress: Arc<AtomicU32>,
    /// Set to stop the run at the next step.
    pub cancel: Arc<AtomicBool>,
}

/// The most steps one call to a device runs: bounds how long a stop waits.
const DEVICE_CHUNK: u32 = 50;

fn b256(hash: &Hash32) -> B256 {
    B256::from(hash.0)
}

impl Run {
    /// Trains to the end (or resumes), blocking; returns the result.
    pub fn train(&self, runtime: &Handle) -> eyre::Result<ResultRecord> {
        let name = record_name(self.job_id);
        let job_hash = b256(&self.trainer.job_hash());
        let mut record = load_record(&self.datadir, self.job_id, job_hash)?.unwrap_or_default();
        record.job_id = self.job_id;
        record.job_hash = job_hash;
        if let Some(result) = record.result {
            return Ok(result);
        }
        let spec = self.trainer.spec();
        let k = spec.checkpoint_interval;
        let mut state = self.resume_point(runtime, &mut record);
        tracing::info!(target: "solver::train", job = self.job_id, from = state.step, steps = spec.steps, "training");
        loop {
            self.progress.store(state.step, Ordering::Relaxed);
            if state.step.is_multiple_of(k)
                && record.checkpoint_roots.len() == (state.step / k) as usize
            {
                let stored = runtime.block_on(self.store.put_state(&self.trainer, &state))?;
                // What is committed: the stored state's root, unless a
                // test-mode liar commits another.
                let root = match &self.tamper {
                    Some(tamper) => tamper.state_root(&self.trainer, &state),
                    None => stored,
                };
                record.checkpoint_roots.push(b256(&root));
                record.losses.truncate(state.step as usize);
                self.datadir.save(&name, &record)?;
                tracing::info!(
                    target: "solver::train",
                    job = self.job_id,
                    step = state.step,
                    checkpoint = state.step / k,
                    root = %root,
                    loss = record.losses.last().copied().flatten().unwrap_or(f32::NAN),
                    "checkpoint stored"
                );
            }
            if state.step == spec.steps {
                break;
            }
            if self.cancel.load(Ordering::Relaxed) {
                eyre::bail!("training of job {} was stopped", self.job_id);
            }
            let from = state.step;
            let next = match self.tamper.filter(|t| t.step() == state.step) {
                Some(tamper) => Transition::step(&self.trainer, &state, Some(&tamper)).1,
                None => match self.trainer.backend() {
                    // On a device: up to the next checkpoint (or a tampered
                    // step, or DEVICE_CHUNK steps, so a stop is prompt) in
                    // one call, the state staying on the device between.
                    Some(backend) => {
                        let mut count = (k - state.step % k).min(DEVICE_CHUNK);
                        if let Some(at) = self.tamper.map(|t| t.step()).filter(|&at| at > from) {
                            count = count.min(at - from);
                        }
                        let (next, losses) = backend.run(&self.trainer, state, count)?;
                        record.losses.extend(losses.into_iter().map(Some));
                        next
                    }
                    None => {
                        let outcome = self.trainer.step(&state)?;
                        record.losses.push(Some(outcome.loss));
                        outcome.state
                    }
                },
            };
            while record.losses.len() < next.step as usize {
                record.losses.push(None);
            }
            metrics::counter!(crate::metrics::TRAINING_STEPS)
                .increment(u64::from(next.step - from));
            state = next;
        }
        let model = model_root(self.trainer.param_shapes(), &state.params);
        runtime.block_on(
            self.store
                .put_model(self.trainer.param_shapes(), &state.params),
        )?;
        let optimizer = model_root(&self.trainer.moment_shapes(), &state.moments);
        let roots: Vec<Hash32> = record
            .checkpoint_roots
            .iter()
            .map(|r| Hash32(r.0))
            .collect();
        let result = ResultRecord {
            trace_root: b256(&trace_root(&roots)),
            model_root: b256(&model),
            optimizer_root: b256(&optimizer),
        };
        record.result = Some(result);
        self.datadir.save(&name, &record)?;
        tracing::info!(target: "solver::train", job = self.job_id, trace_root = %result.trace_root, "trained");
        Ok(result)
    }

    /// The last recorded checkpoint whose state the store still holds intact,
    /// or S_0; drops the roots after it from `record`.
    fn resume_point(&self, runtime: &Handle, record: &mut TrainingRecord) -> State {
        let k = self.trainer.spec().checkpoint_interval;
        while let Some(root) = record.checkpoint_roots.last().copied() {
            let c = record.checkpoint_roots.len() as u32 - 1;
            let root_hash = Hash32(root.0);
            match runtime.block_on(self.store.intact_state(&self.trainer, c * k, &root_hash)) {
                Ok(Some(state)) => {
                    // The state at c·k is recorded, so resume right after it.
                    let mut roots = record.checkpoint_roots.clone();
                    roots.pop();
                    record.checkpoint_roots = roots;
                    return state;
                }
                Ok(None) => {
                    tracing::warn!(target: "solver::train", job = self.job_id, checkpoint = c, "checkpoint missing from the store (or quarantined): recomputing it")
                }
                Err(e) => {
                    tracing::warn!(target: "solver::train", job = self.job_id, checkpoint = c, error = %e, "the store cannot be read: recomputing the checkpoint")
                }
            }
            record.checkpoint_roots.pop();
        }
        record.losses.clear();
        self.trainer.initial_state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_or_foreign_record_is_no_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = Datadir::open(dir.path()).expect("datadir");
        let hash = B256::repeat_byte(1);
        std::fs::write(datadir.path(&record_name(3)), b"{ half a rec").expect("write");
        assert_eq!(load_record(&datadir, 3, hash).expect("no error"), None);
        let set_aside = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
        assert!(
            set_aside,
            "the malformed record is kept aside for the operator"
        );
        let record = TrainingRecord {
            job_id: 3,
            job_hash: hash,
            ..TrainingRecord::default()
        };
        datadir.save(&record_name(3), &record).expect("save");
        assert_eq!(load_record(&datadir, 3, hash).expect("load"), Some(record));
        assert_eq!(
            load_record(&datadir, 3, B256::repeat_byte(2)).expect("load"),
            None
        );
    }
}
