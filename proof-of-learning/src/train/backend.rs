//! The seam between the trainer and where its steps run: the CPU kernels
//! (the default, [`Trainer::step`]) or a device such as a GPU (the
//! `vtrain-cuda` crate), which must produce the same bits. Checkpoints and
//! commitments stay with the trainer: a backend only turns S_t into
//! S_{t+count}.

use super::{State, Trainer};
use crate::error::Result;

/// Runs steps of a trainer's job somewhere other than the CPU kernels.
pub trait StepBackend: Send + Sync + std::fmt::Debug {
    /// The device, for logs and errors (e.g. `cuda:0 (NVIDIA H200)`).
    fn describe(&self) -> String;

    /// Steps `state.step .. state.step + count` of `trainer`'s job: S_{t+count}
    /// and each step's batch loss. Every step must give the bits of
    /// [`Trainer::step`].
    fn run(&self, trainer: &Trainer, state: State, count: u32) -> Result<(State, Vec<f32>)>;
}
