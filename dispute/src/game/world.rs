//! One party's view of the training run a game is about: for the disputed
//! transition (the initial state, or one step t → t+1), every tensor the step
//! reads and produces, their commitments, and any element's micro-trace.
//!
//! The list numbering is the game's (`IStepSemantics.Source`): produced
//! lists 0 intermediates, 1 new optimizer, 2 new weights; read lists 3 old
//! optimizer, 4 old weights; 5 and 6 the dataset's features and labels.

use vtrain_proof_of_learning::commit::{bind_shape, merkle_root, tensor_leaves};
use vtrain_proof_of_learning::repops::{ElementTrace, Op};
use vtrain_proof_of_learning::train::{StepGraph, TensorRef};
use vtrain_proof_of_learning::{Hash32, State, Trainer};

use super::tamper::Tamper;

/// Produced list: the step's intermediates, in op order.
pub const INTERMEDIATES: u8 = 0;
/// Produced list: S_{t+1}'s optimizer moments.
pub const NEW_OPTIMIZER: u8 = 1;
/// Produced list: S_{t+1}'s parameters.
pub const NEW_WEIGHTS: u8 = 2;
/// Read list: S_t's optimizer moments.
pub const OLD_OPTIMIZER: u8 = 3;
/// Read list: S_t's parameters.
pub const OLD_WEIGHTS: u8 = 4;
/// The dataset's features `[n, d]`.
pub const DATASET_FEATURES: u8 = 5;
/// The dataset's labels `[n]`.
pub const DATASET_LABELS: u8 = 6;

/// A tensor with its leaf hashes (its commitment, computed once).
#[derive(Clone, Debug)]
pub struct Tensor {
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<f32>,
    /// The hashes of its 1 KiB leaves.
    pub leaves: Vec<Hash32>,
}

impl Tensor {
    /// Commits to `values` of `shape`.
    pub fn new(shape: Vec<usize>, values: Vec<f32>) -> Self {
        let leaves = tensor_leaves(&values);
        Self {
            shape,
            values,
            leaves,
        }
    }

    /// The Merkle root inside the tensor root.
    pub fn merkle(&self) -> Hash32 {
        merkle_root(&self.leaves)
    }

    /// The tensor root (shape-bound).
    pub fn root(&self) -> Hash32 {
        bind_shape(&self.shape, &self.merkle())
    }
}

/// Every tensor of one transition.
pub struct Transition {
    /// Whether this is the transition nothing → S_0.
    pub init: bool,
    /// The step t (0 for the initial state).
    pub step: u32,
    /// Lists 0–4 (see the module docs).
    pub lists: [Vec<Tensor>; 5],
    /// S_0's weights are a loaded model's (a fine-tuning job): `revealStep`
    /// binds them to the spec's model root and takes them out of the dispute.
    pub weights_bound: bool,
    graph: Option<StepGraph>,
    /// Where each graph node's output lives: (list, index).
    location: Vec<(u8, usize)>,
}

impl Transition {
    /// The initial state's transition, corrupted by `tamper` if it applies
    /// to S_0: its lists 1 and 2 are S_0.
    pub fn initial(trainer: &Trainer, tamper: Option<&Tamper>) -> (Self, State) {
        let mut s0 = trainer.initial_state();
        if let Some(tamper) = tamper {
            tamper.apply_to_initial(&mut s0);
        }
        let mut lists: [Vec<Tensor>; 5] = Default::default();
        lists[NEW_OPTIMIZER as usize] = tensors(&trainer.moment_shapes(), &s0.moments);
        lists[NEW_WEIGHTS as usize] = tensors(trainer.param_shapes(), &s0.params);
        let transition = Self {
            init: true,
            step: 0,
            lists,
            weights_bound: matches!(trainer.spec().initial_model_root(), Ok(Some(_))),
            graph: None,
            location: Vec::new(),
        };
        (transition, s0)
    }

    /// Step `state.step` from `state`, corrupted by `tamper` if it applies;
    /// returns the transition and S_{t+1}.
    pub fn step(trainer: &Trainer, state: &State, tamper: Option<&Tamper>) -> (Self, State) {
        let graph = trainer.graph(state.step);
        let outputs = match tamper.filter(|t| t.in_step(state.step)) {
            Some(tamper) => tamper.execute(trainer, &graph, state),
            None => trainer.execute(&graph, state),
        };
        let mut location = vec![(INTERMEDIATES, 0); graph.nodes.len()];
        let mut lists: [Vec<Tensor>; 5] = Default::default();
        for (i, node) in graph.nodes.iter().enumerate() {
            if graph.new_params.contains(&i) || graph.new_moments.contains(&i) {
                continue;
            }
            location[i] = (INTERMEDIATES, lists[0].len());
            lists[0].push(Tensor::new(node.shape.clone(), outputs[i].clone()));
        }
        for (list, nodes) in [
            (NEW_OPTIMIZER, &graph.new_moments),
            (NEW_WEIGHTS, &graph.new_params),
        ] {
            for &i in nodes {
                location[i] = (list, lists[list as usize].len());
                lists[list as usize].push(Tensor::new(
                    graph.nodes[i].shape.clone(),
                    outputs[i].clone(),
                ));
            }
        }
        lists[OLD_OPTIMIZER as usize] = tensors(&trainer.moment_shapes(), &state.moments);
        lists[OLD_WEIGHTS as usize] = tensors(trainer.param_shapes(), &state.params);
        let next = trainer.next_state(&graph, state, outputs);
        let transition = Self {
            init: false,
            step: state.step,
            lists,
            weights_bound: false,
            graph: Some(graph),
            location,
        };
        (transition, next)
    }

    /// The tensor at (`list`, `index`).
    pub fn tensor(&self, list: u8, index: usize) -> Option<&Tensor> {
        self.lists.get(list as usize)?.get(index)
    }

    /// The disputable sizes of the three produced lists, as `revealStep`
    /// stores them in the step commitment: a fine-tuning job's S_0 weights
    /// count 0 (bound to the model root, not disputable).
    pub fn counts(&self) -> [u32; 3] {
        std::array::from_fn(|list| {
            if list == NEW_WEIGHTS as usize && self.weights_bound {
                0
            } else {
                self.lists[list].len() as u32
            }
        })
    }

    /// The Merkle roots of lists 0–4, as `revealStep` takes them (zero for an
    /// empty list).
    pub fn list_merkles(&self) -> [Hash32; 5] {
        std::array::from_fn(|list| {
            let roots = self.list_roots(list as u8);
            if roots.is_empty() {
                Hash32([0; 32])
            } else {
                merkle_root(&roots)
            }
        })
    }

    /// The tensor roots of one list: the leaves of its Merkle tree.
    pub fn list_roots(&self, list: u8) -> Vec<Hash32> {
        self.lists
            .get(list as usize)
            .map(|tensors| tensors.iter().map(Tensor::root).collect())
            .unwrap_or_default()
    }

    /// Where input `slot` of the op producing (`list`, `index`) comes from:
    /// (source list, index in it).
    pub fn input_source(&self, list: u8, index: usize, slot: u8) -> Option<(u8, usize)> {
        let node = self.node_of(list, index)?;
        let graph = self.graph.as_ref()?;
        Some(match *graph.nodes[node].inputs.get(slot as usize)? {
            TensorRef::DataFeatures => (DATASET_FEATURES, 0),
            TensorRef::DataLabels => (DATASET_LABELS, 0),
            TensorRef::Param(i) => (OLD_WEIGHTS, i),
            TensorRef::Moment(i) => (OLD_OPTIMIZER, i),
            TensorRef::Node(i) => self.location[i],
        })
    }

    /// The op producing (`list`, `index`), `None` for the initial state.
    pub fn op_of(&self, list: u8, index: usize) -> Option<&Op> {
        let node = self.node_of(list, index)?;
        Some(&self.graph.as_ref()?.nodes[node].op)
    }

    fn node_of(&self, list: u8, index: usize) -> Option<usize> {
        self.location.iter().position(|&loc| loc == (list, index))
    }

    /// The micro-trace of element `element` of (`list`, `index`), as the
    /// reference evaluator records it from this transition's own inputs.
    pub fn micro_trace(
        &self,
        trainer: &Trainer,
        list: u8,
        index: usize,
        element: usize,
    ) -> Option<ElementTrace> {
        if self.init {
            return match list {
                NEW_WEIGHTS => trainer.init_element_trace(index, element).ok(),
                NEW_OPTIMIZER => Some(ElementTrace::default()),
                _ => None,
            };
        }
        let node = self.node_of(list, index)?;
        let graph = self.graph.as_ref()?;
        let dataset = trainer.dataset();
        let inputs: Vec<&[f32]> = graph.nodes[node]
            .inputs
            .iter()
            .map(|r| match *r {
                TensorRef::DataFeatures => dataset.x.as_slice(),
                TensorRef::DataLabels => dataset.y.as_slice(),
                TensorRef::Param(i) => self.lists[OLD_WEIGHTS as usize][i].values.as_slice(),
                TensorRef::Moment(i) => self.lists[OLD_OPTIMIZER as usize][i].values.as_slice(),
                TensorRef::Node(i) => {
                    let (l, j) = self.location[i];
                    self.lists[l as usize][j].values.as_slice()
                }
            })
            .collect();
        Some(graph.nodes[node].op.reference_element(&inputs, element))
    }
}

fn tensors(shapes: &[Vec<usize>], values: &[Vec<f32>]) -> Vec<Tensor> {
    shapes
        .iter()
        .zip(values)
        .map(|(shape, v)| Tensor::new(shape.clone(), v.clone()))
        .collect()
}

/// The results x_0 … x_{n−2} of a micro-trace: what the solver commits to.
pub fn micro_prefix(trace: &ElementTrace) -> Vec<f32> {
    let n = trace.steps.len();
    trace.steps[..n.saturating_sub(1)]
        .iter()
        .map(|step| f32::from_bits(step.result))
        .collect()
}
