//! Deliberate corruptions of a training run, for the adversarial test modes:
//! each makes a party believe (and commit to) a run that is wrong in exactly
//! one way, and the dispute game must catch every one of them.

use vtrain_proof_of_learning::train::StepGraph;
use vtrain_proof_of_learning::{Hash32, State, Trainer};

/// One lie, told at step `step` (training goes on from its consequences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tamper {
    /// The step whose output is corrupted (ignored by [`Lie::InitialMoment`]).
    pub step: u32,
    /// What is wrong.
    pub lie: Lie,
}

/// The ways a run can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// One ulp of element `element` of S_{step+1}'s parameter `param`.
    Weight {
        /// The parameter tensor (state order).
        param: usize,
        /// The element.
        element: usize,
    },
    /// The sign of element `element` of S_{step+1}'s optimizer moment tensor
    /// `moment` flipped; the weights are right. The sign, not an ulp: a
    /// moment decays, and an ulp of it is rounded away within a few steps,
    /// before any checkpoint shows it.
    Moment {
        /// The moment tensor (state order).
        moment: usize,
        /// The element.
        element: usize,
    },
    /// The sign of element `element` of graph node `node`'s output in step
    /// `step` flipped, with the rest of the step computed from it (a fault
    /// inside a kernel): the trace is wrong first at that node. The sign,
    /// not an ulp: an ulp of one element can be rounded away by the ops
    /// after it (or cut by a ReLU), and then the lie changes no state.
    Intermediate {
        /// The graph node.
        node: usize,
        /// The element of its output.
        element: usize,
    },
    /// One ulp of graph node `node`'s output element `node_element` in the
    /// committed trace only (later nodes read the right value), and one ulp
    /// of a weight so that S_{step+1} is wrong too: whatever op the node is,
    /// the game must descend to it and refute it.
    TraceAndWeight {
        /// The graph node.
        node: usize,
        /// The element of its output.
        node_element: usize,
        /// The parameter tensor.
        param: usize,
        /// Its element.
        element: usize,
    },
    /// Step `step` is skipped: its new weights and moments are its old ones.
    Skip,
    /// One ulp of element `element` of S_0's moment tensor `moment`.
    InitialMoment {
        /// The moment tensor.
        moment: usize,
        /// The element.
        element: usize,
    },
    /// One ulp of element `element` of S_0's parameter `param` (a drawn
    /// weight, or a layer norm's constant gain or shift).
    InitialWeight {
        /// The parameter tensor.
        param: usize,
        /// The element.
        element: usize,
    },
    /// Every state root after step `step` commits the wrong data cursor
    /// (one sample further); the tensors are right. The final state's root
    /// is left right: `submitResult` rebuilds it from the model and
    /// optimizer roots with the job's cursor and key, and refuses a wrong
    /// one (`FinalStateMismatch`), so a liar can only lie before it.
    DataCursor,
    /// Every state root after step `step` commits the wrong shuffle key
    /// (the final one left right, as for [`Lie::DataCursor`]).
    RngKey,
}

/// The graph node of the first layer's output (pre-activation) in any step
/// graph: nodes 0–2 are the schedule and the batch's two gathers
/// (`docs/repops.md` § 6, the step graph).
pub const FIRST_LAYER_OUTPUT: usize = 3;

impl Tamper {
    /// The lie of one flipped weight after `step` (the classic cheat).
    pub const fn weight(step: u32, param: usize, element: usize) -> Self {
        Self {
            step,
            lie: Lie::Weight { param, element },
        }
    }

    /// The step the lie is told at.
    pub const fn step(&self) -> u32 {
        self.step
    }

    /// Whether the lie changes step `step`'s computation.
    pub(crate) fn in_step(&self, step: u32) -> bool {
        self.step == step
            && !matches!(
                self.lie,
                Lie::InitialMoment { .. }
                    | Lie::InitialWeight { .. }
                    | Lie::DataCursor
                    | Lie::RngKey
            )
    }

    /// Corrupts S_0 if the lie is in it.
    pub(crate) fn apply_to_initial(&self, s0: &mut State) {
        let value = match self.lie {
            Lie::InitialMoment { moment, element } => {
                s0.moments.get_mut(moment).and_then(|m| m.get_mut(element))
            }
            Lie::InitialWeight { param, element } => {
                s0.params.get_mut(param).and_then(|p| p.get_mut(element))
            }
            _ => None,
        };
        if let Some(value) = value {
            flip(value);
        }
    }

    /// Step `state.step`'s node outputs as the liar computes them.
    pub(crate) fn execute(
        &self,
        trainer: &Trainer,
        graph: &StepGraph,
        state: &State,
    ) -> Vec<Vec<f32>> {
        let mut outputs = match self.lie {
            Lie::Intermediate { node, element } => {
                trainer.execute_with(graph, state, |i, values| {
                    if let Some(value) = values.get_mut(element).filter(|_| i == node) {
                        negate(value);
                    }
                })
            }
            _ => trainer.execute(graph, state),
        };
        let mut corrupt = |node: Option<&usize>, element: usize, how: fn(&mut f32)| {
            if let Some(value) = node.and_then(|&n| outputs.get_mut(n)?.get_mut(element)) {
                how(value);
            }
        };
        match self.lie {
            Lie::Weight { param, element } => corrupt(graph.new_params.get(param), element, flip),
            Lie::Moment { moment, element } => {
                corrupt(graph.new_moments.get(moment), element, negate);
            }
            Lie::TraceAndWeight {
                node,
                node_element,
                param,
                element,
            } => {
                corrupt(Some(&node), node_element, flip);
                corrupt(graph.new_params.get(param), element, flip);
            }
            Lie::Skip => {
                for (nodes, old) in [
                    (&graph.new_params, &state.params),
                    (&graph.new_moments, &state.moments),
                ] {
                    for (&node, values) in nodes.iter().zip(old) {
                        outputs[node].clone_from(values);
                    }
                }
            }
            Lie::Intermediate { .. }
            | Lie::InitialMoment { .. }
            | Lie::InitialWeight { .. }
            | Lie::DataCursor
            | Lie::RngKey => {}
        }
        outputs
    }

    /// The state root the liar commits to for `state`.
    pub fn state_root(&self, trainer: &Trainer, state: &State) -> Hash32 {
        let mut header = trainer.state_header(state);
        if state.step > self.step && state.step < trainer.spec().steps {
            match self.lie {
                Lie::DataCursor => header.data_cursor += 1,
                Lie::RngKey => header.rng_key ^= 1,
                _ => {}
            }
        }
        header.root()
    }
}

/// The state root `tamper`'s party commits to for `state` (the honest one
/// without a tamper).
pub fn committed_root(tamper: Option<&Tamper>, trainer: &Trainer, state: &State) -> Hash32 {
    match tamper {
        Some(tamper) => tamper.state_root(trainer, state),
        None => trainer.state_root(state),
    }
}

/// One ulp: the lowest bit flipped.
fn flip(value: &mut f32) {
    *value = f32::from_bits(value.to_bits() ^ 1);
}

/// The sign flipped.
fn negate(value: &mut f32) {
    *value = -*value;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level};

    use super::*;
    use crate::game::Trajectory;

    fn small_trainer() -> Arc<Trainer> {
        let text = include_str!("../../../examples/digits-mlp.toml");
        let mut spec = JobSpec::from_toml(text).expect("spec");
        spec.steps = 4;
        spec.checkpoint_interval = 2;
        spec.batch_size = 16;
        let kernels = Kernels::new(Level::detect(), 1).expect("kernels");
        Arc::new(Trainer::new(spec, Dataset::digits().expect("digits"), kernels).expect("trainer"))
    }

    /// Every lie the solver's test modes tell changes the committed trace
    /// from its step on (so a watchtower sees it), and only from there; the
    /// two root-only lies leave every tensor right.
    #[test]
    fn every_lie_changes_the_trace_from_its_step_on() {
        let trainer = small_trainer();
        let honest = Trajectory::new(trainer.clone(), None).checkpoint_roots();
        let lies = [
            Lie::Weight {
                param: 0,
                element: 7,
            },
            Lie::Moment {
                moment: 3,
                element: 7,
            },
            Lie::Intermediate {
                node: FIRST_LAYER_OUTPUT,
                element: 7,
            },
            Lie::Skip,
            Lie::DataCursor,
            Lie::RngKey,
        ];
        for lie in lies {
            let tamper = Tamper { step: 1, lie };
            let mut liar = Trajectory::new(trainer.clone(), Some(tamper));
            let roots = liar.checkpoint_roots();
            assert_eq!(roots[0], honest[0], "{lie:?}: S_0 is right");
            assert_ne!(roots[1], honest[1], "{lie:?}: S_2 is wrong");
            if matches!(lie, Lie::DataCursor | Lie::RngKey) {
                assert_eq!(roots[2], honest[2], "{lie:?}: the final root is right");
                let state = liar.state(2);
                assert_eq!(
                    trainer.state_root(&state),
                    honest[1],
                    "{lie:?}: tensors right"
                );
            }
        }
    }
}
