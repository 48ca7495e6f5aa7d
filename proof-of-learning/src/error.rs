//! The one error type of `vtrain-proof-of-learning`.

use crate::hash::Hash32;
use crate::kernels::Level;
use std::path::PathBuf;

/// Everything that can go wrong in the ML core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job spec is not valid TOML of the expected shape.
    #[error("job spec does not parse: {0}")]
    SpecParse(String),
    /// The job spec parses but is not a job vtrain can run.
    #[error("invalid job spec: {field}: {reason}")]
    InvalidSpec {
        /// The offending field, as written in the TOML.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The dataset file could not be read or parsed.
    #[error("dataset {path}: {reason}")]
    Dataset {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The dataset's content root differs from the one the job committed to.
    #[error("dataset root mismatch: the job expects {expected}, the data has {actual}")]
    DatasetRootMismatch {
        /// The root in the job spec.
        expected: Hash32,
        /// The root of the data at hand.
        actual: Hash32,
    },
    /// The dataset does not fit the job spec.
    #[error("dataset does not fit the job: {0}")]
    DatasetShape(String),
    /// A checkpoint could not be read, is corrupt, or fails its hash check.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint's recomputed state root differs from the committed one.
    #[error("checkpoint {path}: state root {actual} does not match the committed {expected}")]
    CheckpointRootMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The committed root.
        expected: Hash32,
        /// The root of the tensors on disk.
        actual: Hash32,
    },
    /// An I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A kernel level this CPU cannot run.
    #[error("this CPU does not support the {0} kernels")]
    UnsupportedLevel(Level),
    /// The worker pool could not be built.
    #[error("cannot start the kernel thread pool: {0}")]
    ThreadPool(String),
    /// The job fine-tunes a model (`init.from = "model"`) and the trainer was
    /// not given its weights.
    #[error("the job starts from the model {0}: load its weights first")]
    InitialModelMissing(Hash32),
    /// Weights given as a job's initial model are not that model.
    #[error("initial model: {0}")]
    InitialModel(String),
    /// A request outside the job (a step or checkpoint index past the end).
    #[error("out of range: {0}")]
    OutOfRange(String),

    /// The step backend (a GPU) failed or cannot run the job.
    #[error("{backend}: {reason}")]
    Backend {
        /// The backend, e.g. `cuda:0`.
        backend: String,
        /// What went wrong.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
