//! The fixed, ordered op list of one training step. Normative text:
//! `docs/repops.md` § The step.
//!
//! Every tensor the step produces is a node, numbered in execution order. The
//! last nodes are the new parameters and optimizer moments, i.e. the contents
//! of S_{t+1}; the others are the step's intermediates. The step commitment
//! (`docs/commitments.md` § Step commitment) is the list of intermediate roots
//! in this order plus S_{t+1}'s own lists, and the dispute game descends it.

use crate::repops::{AdamParams, Op};
use crate::spec::{JobSpec, OptimizerSpec};

/// Where an op input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorRef {
    /// The dataset's features `[n, d]`.
    DataFeatures,
    /// The dataset's labels `[n]`.
    DataLabels,
    /// Parameter tensor `i` of S_t.
    Param(usize),
    /// Optimizer moment tensor `i` of S_t.
    Moment(usize),
    /// The output of an earlier node of this step.
    Node(usize),
}

/// One op call of the step.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// A readable name (`z1`, `dW2`, `v'0`…), for logs and traces.
    pub name: String,
    /// The op.
    pub op: Op,
    /// Its inputs, in the op's slot order.
    pub inputs: Vec<TensorRef>,
    /// The output shape.
    pub shape: Vec<usize>,
}

impl Node {
    /// Number of output elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The step's nodes, and which of them form S_{t+1}.
#[derive(Clone, Debug, PartialEq)]
pub struct StepGraph {
    /// Every node in execution order.
    pub nodes: Vec<Node>,
    /// For each parameter of S_{t+1}, the node holding it.
    pub new_params: Vec<usize>,
    /// For each optimizer moment of S_{t+1}, the node holding it.
    pub new_moments: Vec<usize>,
}

struct Builder {
    nodes: Vec<Node>,
}

impl Builder {
    fn push(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<TensorRef>,
        shape: Vec<usize>,
    ) -> TensorRef {
        debug_assert_eq!(op.arity(), inputs.len());
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
            shape,
        });
        TensorRef::Node(self.nodes.len() - 1)
    }
}

/// Builds step `step`'s graph for `spec`, reading the dataset rows `batch_rows`.
pub fn step_graph(spec: &JobSpec, step: u32, batch_rows: Vec<u32>) -> StepGraph {
    let widths = spec.layer_widths();
    let layers = widths.len() - 1;
    let batch = spec.batch_size as usize;
    let features = widths[0];
    let classes = widths[layers];
    let (beta1, beta2) = match spec.optimizer {
        OptimizerSpec::Sgd { .. } => (0.0, 0.0),
        OptimizerSpec::Adamw { beta1, beta2, .. } => (beta1, beta2),
    };
    let mut b = Builder { nodes: Vec::new() };

    let schedule = b.push(
        "schedule",
        Op::Schedule {
            step,
            total_steps: spec.steps,
            lr: spec.optimizer.learning_rate(),
            schedule: spec.schedule,
            beta1,
            beta2,
        },
        vec![],
        vec![4],
    );
    let x = b.push(
        "x",
        Op::Gather {
            rows: batch_rows.clone(),
            width: features,
        },
        vec![TensorRef::DataFeatures],
        vec![batch, features],
    );
    let y = b.push(
        "y",
        Op::Gather {
            rows: batch_rows,
            width: 1,
        },
        vec![TensorRef::DataLabels],
        vec![batch],
    );

    // Forward.
    let mut activations = vec![x];
    let mut pre_activations = Vec::new();
    for l in 0..layers {
        let (k, n) = (widths[l], widths[l + 1]);
        let z = b.push(
            format!("z{}", l + 1),
            Op::Linear { m: batch, k, n },
            vec![
                activations[l],
                TensorRef::Param(2 * l),
                TensorRef::Param(2 * l + 1),
            ],
            vec![batch, n],
        );
        pre_activations.push(z);
        if l + 1 < layers {
            let a = b.push(format!("a{}", l + 1), Op::Relu, vec![z], vec![batch, n]);
            activations.push(a);
        }
    }
    let logits = pre_activations[layers - 1];
    let log_probs = b.push(
        "log_softmax",
        Op::LogSoftmax {
            rows: batch,
            classes,
        },
        vec![logits],
        vec![batch, classes],
    );

    // Backward.
    let mut grads = vec![TensorRef::Node(0); 2 * layers];
    let mut dz = b.push(
        format!("dz{layers}"),
        Op::XentGrad {
            rows: batch,
            classes,
        },
        vec![log_probs, y],
        vec![batch, classes],
    );
    for l in (0..layers).rev() {
        let (k, o) = (widths[l], widths[l + 1]);
        grads[2 * l] = b.push(
            format!("dW{}", l + 1),
            Op::WeightGrad { m: batch, o, k },
            vec![dz, activations[l]],
            vec![o, k],
        );
        grads[2 * l + 1] = b.push(
            format!("db{}", l + 1),
            Op::BiasGrad { m: batch, o },
            vec![dz],
            vec![o],
        );
        if l > 0 {
            let da = b.push(
                format!("da{l}"),
                Op::InputGrad { m: batch, o, k },
                vec![dz, TensorRef::Param(2 * l)],
                vec![batch, k],
            );
            dz = b.push(
                format!("dz{l}"),
                Op::ReluGrad,
                vec![pre_activations[l - 1], da],
                vec![batch, k],
            );
        }
    }

    // Optimizer: moments first, then the weights, parameter by parameter.
    let shapes = spec.param_shapes();
    let params = shapes.len();
    let mut new_params = vec![0; params];
    let mut new_moments = vec![0; params * spec.optimizer.moments_per_param()];
    for (p, shape) in shapes.iter().enumerate() {
        let node_index = |r: TensorRef| match r {
            TensorRef::Node(i) => i,
            _ => unreachable!("optimizer outputs are nodes"),
        };
        match spec.optimizer {
            OptimizerSpec::Sgd {
                momentum,
                weight_decay,
                ..
            } => {
                let inputs = vec![
                    schedule,
                    TensorRef::Param(p),
                    grads[p],
                    TensorRef::Moment(p),
                ];
                let v = b.push(
                    format!("v'{p}"),
                    Op::SgdVelocity {
                        momentum,
                        weight_decay,
                    },
                    inputs.clone(),
                    shape.clone(),
                );
                let w = b.push(
                    format!("w'{p}"),
                    Op::SgdWeight,
                    vec![schedule, TensorRef::Param(p), v],
                    shape.clone(),
                );
                new_moments[p] = node_index(v);
                new_params[p] = node_index(w);
            }
            OptimizerSpec::Adamw {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let adam = AdamParams {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                };
                let inputs = vec![
                    schedule,
                    TensorRef::Param(p),
                    grads[p],
                    TensorRef::Moment(p),
                    TensorRef::Moment(params + p),
                ];
                let m = b.push(
                    format!("m'{p}"),
                    Op::AdamFirstMoment(adam),
                    inputs.clone(),
                    shape.clone(),
                );
                let v = b.push(
                    format!("v'{p}"),
                    Op::AdamSecondMoment(adam),
                    inputs,
                    shape.clone(),
                );
                let w = b.push(
                    format!("w'{p}"),
                    Op::AdamWeight(adam),
                    vec![schedule, TensorRef::Param(p), m, v],
                    shape.clone(),
                );
                new_moments[p] = node_index(m);
                new_moments[params + p] = node_index(v);
                new_params[p] = node_index(w);
            }
        }
    }
    StepGraph {
        nodes: b.nodes,
        new_params,
        new_moments,
    }
}
