#![doc = include_str!("../README.md")]

mod artifacts;
mod datadir;
mod error;
mod fetch;

pub use artifacts::{
    ArtifactKey, ArtifactStore, decode_dataset, decode_model, decode_state, encode_model,
    model_root, read_model,
};
pub use datadir::Datadir;
pub use error::{Error, Result};
pub use fetch::{
    JobInputs, MAX_ARTIFACT_BYTES, fetch, fetch_dataset, fetch_job_inputs, fetch_model,
};
