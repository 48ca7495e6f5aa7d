//! Dishonest behaviours, for the end-to-end tests only (a hidden flag): each
//! makes the solver commit to a wrong trace in its own way, and each must end
//! with the solver slashed.
//!
//! | `--fault` | what the solver does |
//! |---|---|
//! | `flip-ulp@N` | flips the lowest bit of one weight after step N |
//! | `wrong-lr` | trains with twice the learning rate |
//! | `skip-step@N` | skips the update of step N |
//! | `wrong-shuffle` | reads its batches in another order |
//! | `withhold@N` | flips a weight after step N and serves no checkpoint from there on |
//! | `stop-answering@N` | flips a weight after step N and never moves in a dispute |
//! | `from-seed` | fine-tuning job: draws S₀ from the seed instead of loading the model |
//! | `flip-moment@N` | flips the sign of one optimizer moment after step N (the weights are right) |
//! | `flip-intermediate@N` | flips the sign of one element of the first layer's output in step N and trains on from it |
//! | `wrong-cursor@N` | commits state roots with the wrong data cursor after step N, up to the final one (tensors right) |
//! | `wrong-rng-key@N` | commits state roots with the wrong shuffle key after step N, up to the final one (tensors right) |

use std::str::FromStr;

use vtrain_dispute::game::tamper::FIRST_LAYER_OUTPUT;
use vtrain_dispute::game::{Lie, Tamper};
use vtrain_proof_of_learning::spec::{InitSpec, OptimizerSpec};
use vtrain_proof_of_learning::{JobSpec, Kernels, Trainer};
use vtrain_store::JobInputs;

/// A dishonest behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Flip one ulp of one weight after step N.
    FlipUlp(u32),
    /// Train with twice the learning rate.
    WrongLr,
    /// Skip the update of step N.
    SkipStep(u32),
    /// Read batches in another order.
    WrongShuffle,
    /// Flip after step N, then refuse to serve checkpoints after N.
    Withhold(u32),
    /// Flip after step N, then never move in a dispute.
    StopAnswering(u32),
    /// Ignore a fine-tuning job's initial model: draw S₀ from the seed.
    FromSeed,
    /// Flip one ulp of one optimizer moment after step N.
    FlipMoment(u32),
    /// Flip one element of the first node's output in step N, computing the
    /// rest of the step from it.
    FlipIntermediate(u32),
    /// Commit the wrong data cursor in every state root after step N.
    WrongCursor(u32),
    /// Commit the wrong shuffle key in every state root after step N.
    WrongRngKey(u32),
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, step) = match text.split_once('@') {
            Some((name, step)) => (
                name,
                Some(
                    step.parse::<u32>()
                        .map_err(|_| format!("{step:?} is not a step"))?,
                ),
            ),
            None => (text, None),
        };
        let needs_step = || step.ok_or_else(|| format!("{name} needs a step: {name}@N"));
        Ok(match name {
            "flip-ulp" => Self::FlipUlp(needs_step()?),
            "wrong-lr" => Self::WrongLr,
            "skip-step" => Self::SkipStep(needs_step()?),
            "wrong-shuffle" => Self::WrongShuffle,
            "withhold" => Self::Withhold(needs_step()?),
            "stop-answering" => Self::StopAnswering(needs_step()?),
            "from-seed" => Self::FromSeed,
            "flip-moment" => Self::FlipMoment(needs_step()?),
            "flip-intermediate" => Self::FlipIntermediate(needs_step()?),
            "wrong-cursor" => Self::WrongCursor(needs_step()?),
            "wrong-rng-key" => Self::WrongRngKey(needs_step()?),
            other => return Err(format!("unknown fault {other:?}")),
        })
    }
}

impl Fault {
    /// The corruption of the trajectory, if this fault is one.
    pub fn tamper(self) -> Option<Tamper> {
        let at = |step, lie| Some(Tamper { step, lie });
        match self {
            Self::FlipUlp(step) | Self::Withhold(step) | Self::StopAnswering(step) => {
                Some(Tamper::weight(step, 0, 7))
            }
            Self::SkipStep(step) => at(step, Lie::Skip),
            // Moment 3: the output bias's (an MLP with one hidden layer), whose
            // gradient is never zero.
            Self::FlipMoment(step) => at(
                step,
                Lie::Moment {
                    moment: 3,
                    element: 7,
                },
            ),
            Self::FlipIntermediate(step) => at(
                step,
                Lie::Intermediate {
                    node: FIRST_LAYER_OUTPUT,
                    element: 7,
                },
            ),
            Self::WrongCursor(step) => at(step, Lie::DataCursor),
            Self::WrongRngKey(step) => at(step, Lie::RngKey),
            Self::WrongLr | Self::WrongShuffle | Self::FromSeed => None,
        }
    }

    /// The trainer the dishonest solver actually runs for `spec`'s job, still
    /// committing as that job.
    pub fn trainer(
        self,
        spec: &JobSpec,
        inputs: JobInputs,
        kernels: Kernels,
    ) -> vtrain_proof_of_learning::Result<Trainer> {
        let JobInputs {
            dataset,
            initial_model,
        } = inputs;
        match self {
            Self::WrongLr => {
                let mut wrong = spec.clone();
                wrong.optimizer = match wrong.optimizer {
                    OptimizerSpec::Sgd {
                        learning_rate,
                        momentum,
                        weight_decay,
                    } => OptimizerSpec::Sgd {
                        learning_rate: learning_rate * 2.0,
                        momentum,
                        weight_decay,
                    },
                    OptimizerSpec::Adamw {
                        learning_rate,
                        beta1,
                        beta2,
                        eps,
                        weight_decay,
                    } => OptimizerSpec::Adamw {
                        learning_rate: learning_rate * 2.0,
                        beta1,
                        beta2,
                        eps,
                        weight_decay,
                    },
                };
                Ok(
                    Trainer::with_initial_model(wrong, dataset, initial_model, kernels)?
                        .committing_as(spec),
                )
            }
            Self::WrongShuffle => {
                Ok(
                    Trainer::with_initial_model(spec.clone(), dataset, initial_model, kernels)?
                        .with_shuffle_key(spec.seed ^ 0x5eed_5eed),
                )
            }
            Self::FromSeed => {
                let mut from_seed = spec.clone();
                from_seed.init = InitSpec::Seed;
                Ok(Trainer::new(from_seed, dataset, kernels)?.committing_as(spec))
            }
            _ => Trainer::with_initial_model(spec.clone(), dataset, initial_model, kernels),
        }
    }

    /// Whether the checkpoint at `step` is withheld from anyone who asks.
    pub fn withholds(self, step: u32) -> bool {
        matches!(self, Self::Withhold(n) if step > n)
    }

    /// Whether the solver moves in disputes at all.
    pub fn answers_disputes(self) -> bool {
        !matches!(self, Self::StopAnswering(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_bad_ones_are_refused() {
        assert_eq!("flip-ulp@3".parse(), Ok(Fault::FlipUlp(3)));
        assert_eq!("wrong-lr".parse(), Ok(Fault::WrongLr));
        assert!("skip-step".parse::<Fault>().is_err());
        assert!("flip-ulp@x".parse::<Fault>().is_err());
        assert!("honest".parse::<Fault>().is_err());
    }
}
