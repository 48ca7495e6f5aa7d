//! `Tamper` in a build without the `faults` feature: a type with no values.
//! No run can be corrupted, every `Option<Tamper>` is `None`, and the code of
//! the lies (`tamper.rs`) is not in the build. The signatures are those of
//! `tamper.rs`, so that the rest of the crate compiles the same either way.

use vtrain_proof_of_learning::train::StepGraph;
use vtrain_proof_of_learning::{Hash32, State, Trainer};

/// A lie: none exists in this build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {}

impl Tamper {
    /// The step the lie is told at.
    pub const fn step(&self) -> u32 {
        match *self {}
    }

    pub(crate) fn in_step(&self, _step: u32) -> bool {
        match *self {}
    }

    pub(crate) fn apply_to_initial(&self, _s0: &mut State) {
        match *self {}
    }

    pub(crate) fn execute(
        &self,
        _trainer: &Trainer,
        _graph: &StepGraph,
        _state: &State,
    ) -> Vec<Vec<f32>> {
        match *self {}
    }

    /// The state root the liar commits to.
    pub fn state_root(&self, _trainer: &Trainer, _state: &State) -> Hash32 {
        match *self {}
    }
}

/// The state root a party commits to for `state`: the honest one (no other
/// party exists in this build).
pub fn committed_root(tamper: Option<&Tamper>, trainer: &Trainer, state: &State) -> Hash32 {
    match tamper {
        Some(tamper) => match *tamper {},
        None => trainer.state_root(state),
    }
}
