//! Checkpoints on disk: `step-<t>.safetensors` (tensors `param.<i>` and
//! `moment.<i>`, canonical little-endian f32) plus `step-<t>.json` (job hash,
//! step, data cursor, state root). Both are written atomically. Loading
//! recomputes the state root from the tensors and refuses any difference, so a
//! flipped bit, a truncated file or a checkpoint of another job is an error.

use crate::error::{Error, Result};
use crate::hash::Hash32;
use crate::train::{State, Trainer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

// The f32 safetensors codec, shared with canonical datasets (`crate::tensors`).
pub use crate::tensors::{encode_f32_tensors, read_f32_tensor};

/// The metadata file next to a checkpoint's tensors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// The job the state belongs to.
    pub job_hash: String,
    /// The step t of the state.
    pub step: u32,
    /// Samples consumed before step t.
    pub data_cursor: u64,
    /// The state root, as committed in the trace.
    pub state_root: String,
}

/// The tensor file of the checkpoint at `step` in `dir`.
pub fn tensors_path(dir: &Path, step: u32) -> PathBuf {
    dir.join(format!("step-{step:08}.safetensors"))
}

/// The metadata file of the checkpoint at `step` in `dir`.
pub fn meta_path(dir: &Path, step: u32) -> PathBuf {
    dir.join(format!("step-{step:08}.json"))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Writes `bytes` to `path` atomically and durably (`crate::durable`).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::durable::write_atomic(path, bytes, crate::durable::Access::Private)
        .map_err(io_error(path))
}

/// The safetensors bytes of `state`.
pub fn encode_state(trainer: &Trainer, state: &State) -> Result<Vec<u8>> {
    let param_shapes = trainer.param_shapes();
    let moment_shapes = trainer.moment_shapes();
    let mut named: Vec<(String, &[usize], &[f32])> = Vec::new();
    for (i, (shape, values)) in param_shapes.iter().zip(&state.params).enumerate() {
        named.push((format!("param.{i}"), shape, values));
    }
    for (i, (shape, values)) in moment_shapes.iter().zip(&state.moments).enumerate() {
        named.push((format!("moment.{i}"), shape, values));
    }
    encode_f32_tensors(&named)
}

/// Writes the checkpoint of `state` into `dir`; returns the tensor file.
pub fn save(dir: &Path, trainer: &Trainer, state: &State, state_root: &Hash32) -> Result<PathBuf> {
    let tensors = tensors_path(dir, state.step);
    write_atomic(&tensors, &encode_state(trainer, state)?)?;
    let meta = CheckpointMeta {
        job_hash: trainer.job_hash().to_hex(),
        step: state.step,
        data_cursor: trainer.order().cursor(u64::from(state.step)),
        state_root: state_root.to_hex(),
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(|error| corrupt(dir, error.to_string()))?;
    write_atomic(&meta_path(dir, state.step), &json)?;
    Ok(tensors)
}

/// Decodes safetensors bytes into a state of `trainer`'s job at `step`,
/// checking every tensor's name, dtype and shape.
pub fn decode_state(trainer: &Trainer, path: &Path, bytes: &[u8], step: u32) -> Result<State> {
    decode_tensors(
        trainer.param_shapes(),
        &trainer.moment_shapes(),
        path,
        bytes,
        step,
    )
}

/// Decodes safetensors bytes into a state at `step` whose parameters and
/// moments have the given shapes, checking every tensor's name, dtype and
/// shape.
pub fn decode_tensors(
    param_shapes: &[Vec<usize>],
    moment_shapes: &[Vec<usize>],
    path: &Path,
    bytes: &[u8],
    step: u32,
) -> Result<State> {
    let tensors = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|error| corrupt(path, format!("not a valid safetensors file ({error})")))?;
    let read = |name: String, shape: &Vec<usize>| read_f32_tensor(&tensors, path, &name, shape);
    let params = param_shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| read(format!("param.{i}"), shape))
        .collect::<Result<Vec<_>>>()?;
    let moments = moment_shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| read(format!("moment.{i}"), shape))
        .collect::<Result<Vec<_>>>()?;
    let expected_count = params.len() + moments.len();
    if tensors.len() != expected_count {
        return Err(corrupt(
            path,
            format!("{} tensors, expected {expected_count}", tensors.len()),
        ));
    }
    Ok(State {
        step,
        params,
        moments,
    })
}

/// Loads the checkpoint at `step` from `dir` and verifies it: the metadata
/// names this job and step, and the tensors hash to its state root. With
/// `expected_root`, the root must also equal that committed value.
pub fn load(
    dir: &Path,
    trainer: &Trainer,
    step: u32,
    expected_root: Option<&Hash32>,
) -> Result<State> {
    let meta_file = meta_path(dir, step);
    let meta_bytes = std::fs::read(&meta_file).map_err(io_error(&meta_file))?;
    let meta: CheckpointMeta = serde_json::from_slice(&meta_bytes)
        .map_err(|error| corrupt(&meta_file, format!("bad metadata: {error}")))?;
    if meta.job_hash != trainer.job_hash().to_hex() || meta.step != step {
        return Err(corrupt(
            &meta_file,
            format!(
                "belongs to job {} step {}, not job {} step {step}",
                meta.job_hash,
                meta.step,
                trainer.job_hash()
            ),
        ));
    }
    let committed = Hash32::from_hex(&meta.state_root)
        .ok_or_else(|| corrupt(&meta_file, "state_root is not a hash"))?;
    let tensors_file = tensors_path(dir, step);
    let bytes = std::fs::read(&tensors_file).map_err(io_error(&tensors_file))?;
    let state = decode_state(trainer, &tensors_file, &bytes, step)?;
    let actual = trainer.state_root(&state);
    let expected = expected_root.copied().unwrap_or(committed);
    if actual != expected || actual != committed {
        return Err(Error::CheckpointRootMismatch {
            path: tensors_file,
            expected,
            actual,
        });
    }
    Ok(state)
}
