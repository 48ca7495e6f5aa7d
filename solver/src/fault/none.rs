//! `Fault` in a build without the `faults` feature: a type with no values,
//! whose parser refuses every name. The signatures are those of `modes.rs`.

use std::str::FromStr;

use vtrain_dispute::game::Tamper;
use vtrain_proof_of_learning::{JobSpec, Kernels, Trainer};
use vtrain_store::JobInputs;

/// A dishonest behaviour: none exists in this build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {}

impl FromStr for Fault {
    type Err = String;

    fn from_str(_text: &str) -> Result<Self, Self::Err> {
        Err(
            "fault modes are for tests, and this build has none (it was built without \
             the `faults` feature)"
                .into(),
        )
    }
}

impl Fault {
    /// The corruption of the trajectory.
    pub fn tamper(self) -> Option<Tamper> {
        match self {}
    }

    /// The trainer the dishonest solver runs.
    pub fn trainer(
        self,
        _spec: &JobSpec,
        _inputs: JobInputs,
        _kernels: Kernels,
    ) -> vtrain_proof_of_learning::Result<Trainer> {
        match self {}
    }

    /// Whether the checkpoint at `step` is withheld.
    pub fn withholds(self, _step: u32) -> bool {
        match self {}
    }

    /// Whether the solver moves in disputes at all.
    pub fn answers_disputes(self) -> bool {
        match self {}
    }
}
