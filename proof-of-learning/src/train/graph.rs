//! The fixed, ordered op list of one training step. Normative text:
//! `docs/repops.md` § The step.
//!
//! Every tensor the step produces is a node, numbered in execution order. The
//! last nodes are the new parameters and optimizer moments, i.e. the contents
//! of S_{t+1}; the others are the step's intermediates. The step commitment
//! (`docs/commitments.md` § Step commitment) is the list of intermediate roots
//! in this order plus S_{t+1}'s own lists, and the dispute game descends it.

use super::attention_graph::{AttentionTensors, attention_backward, attention_forward};
use crate::error::{Error, Result};
use crate::repops::{AdamParams, DropoutMask, Op};
use crate::spec::{JobSpec, Layer, Loss, ModelPlan, OptimizerSpec, Role};

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

pub(super) struct Builder {
    pub(super) nodes: Vec<Node>,
}

impl Builder {
    pub(super) fn push(
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

/// The forward pass of a model over a gathered batch: the node of every
/// layer's output (a `flatten` or `reshape` is the node it reads, seen with
/// another shape) and of every parametrised layer's input.
struct Forward {
    /// For each layer, the tensor it reads.
    inputs: Vec<TensorRef>,
    /// For each layer norm, its row statistics (`None` for other layers).
    stats: Vec<Option<TensorRef>>,
    /// For each attention layer, the tensors its backward pass reads.
    attention: Vec<Option<AttentionTensors>>,
    /// The logits.
    logits: TensorRef,
}

/// Numbers readable names by parametrised layer (`z1`, `a1`, `dW1`, …), as
/// the MLP's nodes have always been named.
fn layer_number(plan: &ModelPlan, layer: usize) -> usize {
    plan.layers[..=layer]
        .iter()
        .filter(|l| l.first_param.is_some())
        .count()
        .max(1)
}

/// Appends the forward nodes of `plan` at `batch` samples, reading `x`.
/// `training` is the job's seed and the step when the pass trains (dropout
/// draws its masks), `None` at evaluation (dropout is the identity).
fn forward(
    b: &mut Builder,
    plan: &ModelPlan,
    batch: usize,
    x: TensorRef,
    training: Option<(u64, u32)>,
) -> Forward {
    let mut current = x;
    let mut inputs = Vec::with_capacity(plan.layers.len());
    let mut stats = vec![None; plan.layers.len()];
    let mut attention = vec![None; plan.layers.len()];
    for (index, layer) in plan.layers.iter().enumerate() {
        inputs.push(current);
        let number = layer_number(plan, index);
        let shape: Vec<usize> = std::iter::once(batch)
            .chain(layer.output.iter().copied())
            .collect();
        match layer.role {
            Role::Layer => {}
            Role::ResidualOpen => continue,
            Role::ResidualClose { open } => {
                let skip = inputs[open];
                current = b.push(format!("res{index}"), Op::Add, vec![skip, current], shape);
                continue;
            }
        }
        let params = |p: usize| vec![current, TensorRef::Param(p), TensorRef::Param(p + 1)];
        current = match (&layer.layer, layer.first_param) {
            (Layer::Linear { out }, Some(p)) => b.push(
                format!("z{number}"),
                Op::Linear {
                    m: layer.rows(batch),
                    k: layer.input[layer.input.len() - 1],
                    n: *out as usize,
                },
                params(p),
                shape,
            ),
            (Layer::Embedding { .. }, Some(p)) => {
                let Some(g) = layer.embedding(batch, plan.param_shapes[p][0]) else {
                    unreachable!("a planned embedding reads a sequence")
                };
                b.push(format!("emb{index}"), Op::Embed(g), params(p), shape)
            }
            (Layer::CausalSelfAttention { .. }, Some(p)) => {
                let Some(g) = layer.attention(batch) else {
                    unreachable!("a planned attention reads [positions, width]")
                };
                let (tensors, out) = attention_forward(b, layer, index, g, current, p, shape);
                attention[index] = Some(tensors);
                out
            }
            (Layer::Conv2d { .. }, Some(p)) => match layer.conv(batch) {
                Some(g) => b.push(format!("z{number}"), Op::Conv2d(g), params(p), shape),
                None => unreachable!("a planned conv2d has an image input"),
            },
            (Layer::Relu {}, _) => b.push(format!("a{number}"), Op::Relu, vec![current], shape),
            (Layer::Maxpool2d { .. }, _) => match layer.pool(batch) {
                Some(g) => b.push(
                    format!("pool{index}"),
                    Op::MaxPool2d(g),
                    vec![current],
                    shape,
                ),
                None => unreachable!("a planned pooling has an image input"),
            },
            (Layer::Avgpool2d { .. }, _) => match layer.pool(batch) {
                Some(g) => b.push(
                    format!("pool{index}"),
                    Op::AvgPool2d(g),
                    vec![current],
                    shape,
                ),
                None => unreachable!("a planned pooling has an image input"),
            },
            (Layer::Dropout { p }, _) => match training {
                Some((seed, step)) => b.push(
                    format!("drop{index}"),
                    Op::Dropout(DropoutMask::new(seed, index, step, *p)),
                    vec![current],
                    shape,
                ),
                None => current,
            },
            (Layer::LayerNorm { .. }, Some(p)) => {
                let Some(g) = layer.norm(batch) else {
                    unreachable!("a planned layer norm has an input")
                };
                let s = b.push(
                    format!("ln_stats{index}"),
                    Op::LayerNormStats(g),
                    vec![current],
                    vec![g.rows, 2],
                );
                stats[index] = Some(s);
                b.push(
                    format!("ln{index}"),
                    Op::LayerNorm(g),
                    vec![current, s, TensorRef::Param(p), TensorRef::Param(p + 1)],
                    shape,
                )
            }
            (Layer::Gelu {}, _) => b.push(format!("gelu{index}"), Op::Gelu, vec![current], shape),
            (Layer::Flatten {} | Layer::Reshape { .. } | Layer::Residual { .. }, _) => current,
            (
                Layer::Linear { .. }
                | Layer::Conv2d { .. }
                | Layer::LayerNorm { .. }
                | Layer::Embedding { .. }
                | Layer::CausalSelfAttention { .. },
                None,
            ) => {
                unreachable!("a planned layer of this kind has parameters")
            }
        };
    }
    Forward {
        inputs,
        stats,
        attention,
        logits: current,
    }
}

/// The `x` node: each batch row's model input, read from the dataset (a
/// language model reads the first `T` of the row's `T + 1` tokens).
fn gather_inputs(b: &mut Builder, spec: &JobSpec, plan: &ModelPlan, rows: Vec<u32>) -> TensorRef {
    let width = spec.dataset.features as usize;
    let len: usize = plan.input.iter().product();
    // `[B, len]` whatever the model's input shape: the tensor's root covers
    // this shape and the chain commits to the same; the first layer reads the
    // same row-major values with its own shape.
    let shape = vec![rows.len(), len];
    b.push(
        "x",
        Op::Gather {
            rows,
            width,
            start: 0,
            len,
        },
        vec![TensorRef::DataFeatures],
        shape,
    )
}

/// The `y` node: each batch row's targets, its label, or for a language
/// model the row's tokens `1..=T` (one target per position).
fn gather_targets(b: &mut Builder, spec: &JobSpec, plan: &ModelPlan, rows: Vec<u32>) -> TensorRef {
    let batch = rows.len();
    match plan.loss {
        Loss::SoftmaxCrossEntropy => b.push(
            "y",
            Op::Gather {
                rows,
                width: 1,
                start: 0,
                len: 1,
            },
            vec![TensorRef::DataLabels],
            vec![batch],
        ),
        Loss::NextToken => {
            let len: usize = plan.input.iter().product();
            b.push(
                "y",
                Op::Gather {
                    rows,
                    width: spec.dataset.features as usize,
                    start: 1,
                    len,
                },
                vec![TensorRef::DataFeatures],
                vec![batch, len],
            )
        }
    }
}

/// The positions one sample's loss averages over: 1, or `T` for a language model.
pub(crate) fn loss_positions(plan: &ModelPlan) -> usize {
    match plan.loss {
        Loss::SoftmaxCrossEntropy => 1,
        Loss::NextToken => plan.input.iter().product(),
    }
}

/// The evaluation graph of `spec`'s model on dataset rows `rows`: the
/// gathered features, then the forward pass; the last node is the logits.
pub fn forward_graph(spec: &JobSpec, rows: Vec<u32>) -> Result<StepGraph> {
    let plan = spec.model_plan()?;
    let batch = rows.len();
    let mut b = Builder { nodes: Vec::new() };
    let x = gather_inputs(&mut b, spec, &plan, rows);
    let forward = forward(&mut b, &plan, batch, x, None);
    if forward.logits != TensorRef::Node(b.nodes.len() - 1) {
        return Err(Error::InvalidSpec {
            field: "model.layers",
            reason: "the model's last layer computes nothing".into(),
        });
    }
    Ok(StepGraph {
        nodes: b.nodes,
        new_params: Vec::new(),
        new_moments: Vec::new(),
    })
}

/// Builds step `step`'s graph for `spec`, reading the dataset rows `batch_rows`.
pub fn step_graph(spec: &JobSpec, step: u32, batch_rows: Vec<u32>) -> Result<StepGraph> {
    Ok(planned_step_graph(
        spec,
        &spec.model_plan()?,
        step,
        batch_rows,
    ))
}

/// [`step_graph`] with the model already planned.
pub fn planned_step_graph(
    spec: &JobSpec,
    plan: &ModelPlan,
    step: u32,
    batch_rows: Vec<u32>,
) -> StepGraph {
    let batch = spec.batch_size as usize;
    let classes = spec.dataset.classes as usize;
    // The rows of the loss: one per sample, or one per position of each sequence.
    let loss_rows = batch * loss_positions(plan);
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
    let x = gather_inputs(&mut b, spec, plan, batch_rows.clone());
    let y = gather_targets(&mut b, spec, plan, batch_rows);

    let forward = forward(&mut b, plan, batch, x, Some((spec.seed, step)));
    let log_probs = b.push(
        "log_softmax",
        Op::LogSoftmax {
            rows: loss_rows,
            classes,
        },
        vec![forward.logits],
        vec![loss_rows, classes],
    );

    // Backward, layer by layer in reverse, down to the first parametrised one.
    let layers = plan.layers.len();
    let first_trained = plan
        .layers
        .iter()
        .position(|layer| layer.first_param.is_some())
        .unwrap_or(0);
    let mut grads = vec![TensorRef::Node(0); plan.param_shapes.len()];
    let mut grad = b.push(
        format!("dz{}", layer_number(plan, layers - 1)),
        Op::XentGrad {
            rows: loss_rows,
            classes,
        },
        vec![log_probs, y],
        vec![loss_rows, classes],
    );
    // Where residual blocks end, the gradient that skips the block.
    let mut skipped = Vec::new();
    for index in (first_trained..layers).rev() {
        let layer = &plan.layers[index];
        let input = forward.inputs[index];
        let number = layer_number(plan, index);
        let input_shape: Vec<usize> = std::iter::once(batch)
            .chain(layer.input.iter().copied())
            .collect();
        let below = index > first_trained;
        match layer.role {
            Role::Layer => {}
            Role::ResidualClose { .. } => {
                skipped.push(grad);
                continue;
            }
            Role::ResidualOpen => {
                if let Some(skip) = skipped.pop() {
                    grad = b.push(
                        format!("dres{index}"),
                        Op::Add,
                        vec![grad, skip],
                        input_shape,
                    );
                }
                continue;
            }
        }
        match (&layer.layer, layer.first_param) {
            (Layer::Linear { out }, Some(p)) => {
                let (m, k, o) = (
                    layer.rows(batch),
                    layer.input[layer.input.len() - 1],
                    *out as usize,
                );
                grads[p] = b.push(
                    format!("dW{number}"),
                    Op::WeightGrad { m, o, k },
                    vec![grad, input],
                    vec![o, k],
                );
                grads[p + 1] = b.push(
                    format!("db{number}"),
                    Op::BiasGrad { m, o },
                    vec![grad],
                    vec![o],
                );
                if below {
                    grad = b.push(
                        format!("da{}", number - 1),
                        Op::InputGrad { m, o, k },
                        vec![grad, TensorRef::Param(p)],
                        input_shape,
                    );
                }
            }
            (Layer::Embedding { .. }, Some(p)) => {
                let Some(g) = layer.embedding(batch, plan.param_shapes[p][0]) else {
                    unreachable!("a planned embedding reads a sequence")
                };
                grads[p] = b.push(
                    format!("dembed{index}"),
                    Op::EmbedGrad(g),
                    vec![input, grad],
                    plan.param_shapes[p].clone(),
                );
                // The position table's gradient sums the batch's rows.
                grads[p + 1] = b.push(
                    format!("dposition{index}"),
                    Op::BiasGrad {
                        m: batch,
                        o: g.seq * g.dim,
                    },
                    vec![grad],
                    plan.param_shapes[p + 1].clone(),
                );
            }
            (Layer::CausalSelfAttention { .. }, Some(p)) => {
                let (Some(g), Some(saved)) = (layer.attention(batch), forward.attention[index])
                else {
                    unreachable!("a planned attention has its forward tensors")
                };
                grad = attention_backward(
                    &mut b, layer, index, g, saved, input, p, &mut grads, grad, below,
                );
            }
            (Layer::Conv2d { .. }, Some(p)) => {
                let Some(g) = layer.conv(batch) else {
                    unreachable!("a planned conv2d has an image input")
                };
                grads[p] = b.push(
                    format!("dW{number}"),
                    Op::Conv2dWeightGrad(g),
                    vec![grad, input],
                    plan.param_shapes[p].clone(),
                );
                grads[p + 1] = b.push(
                    format!("db{number}"),
                    Op::Conv2dBiasGrad(g),
                    vec![grad],
                    vec![g.c_out],
                );
                if below {
                    grad = b.push(
                        format!("da{}", number - 1),
                        Op::Conv2dInputGrad(g),
                        vec![grad, TensorRef::Param(p)],
                        input_shape,
                    );
                }
            }
            (Layer::Relu {}, _) => {
                grad = b.push(
                    format!("dz{number}"),
                    Op::ReluGrad,
                    vec![input, grad],
                    input_shape,
                );
            }
            (Layer::Maxpool2d { .. }, _) => {
                let Some(g) = layer.pool(batch) else {
                    unreachable!("a planned pooling has an image input")
                };
                grad = b.push(
                    format!("dpool{index}"),
                    Op::MaxPool2dGrad(g),
                    vec![input, grad],
                    input_shape,
                );
            }
            (Layer::Avgpool2d { .. }, _) => {
                let Some(g) = layer.pool(batch) else {
                    unreachable!("a planned pooling has an image input")
                };
                grad = b.push(
                    format!("dpool{index}"),
                    Op::AvgPool2dGrad(g),
                    vec![grad],
                    input_shape,
                );
            }
            (Layer::Dropout { p }, _) => {
                grad = b.push(
                    format!("ddrop{index}"),
                    Op::DropoutGrad(DropoutMask::new(spec.seed, index, step, *p)),
                    vec![grad],
                    input_shape,
                );
            }
            (Layer::LayerNorm { .. }, Some(p)) => {
                let (Some(g), Some(stats)) = (layer.norm(batch), forward.stats[index]) else {
                    unreachable!("a planned layer norm has an input and stats")
                };
                grads[p] = b.push(
                    format!("dgain{index}"),
                    Op::LayerNormWeightGrad(g),
                    vec![input, stats, grad],
                    vec![g.width],
                );
                grads[p + 1] = b.push(
                    format!("dshift{index}"),
                    Op::BiasGrad {
                        m: g.rows,
                        o: g.width,
                    },
                    vec![grad],
                    vec![g.width],
                );
                if below {
                    grad = b.push(
                        format!("dln{index}"),
                        Op::LayerNormInputGrad(g),
                        vec![input, stats, TensorRef::Param(p), grad],
                        input_shape,
                    );
                }
            }
            (Layer::Gelu {}, _) => {
                grad = b.push(
                    format!("dgelu{index}"),
                    Op::GeluGrad,
                    vec![input, grad],
                    input_shape,
                );
            }
            (Layer::Flatten {} | Layer::Reshape { .. } | Layer::Residual { .. }, _) => {}
            (
                Layer::Linear { .. }
                | Layer::Conv2d { .. }
                | Layer::LayerNorm { .. }
                | Layer::Embedding { .. }
                | Layer::CausalSelfAttention { .. },
                None,
            ) => {
                unreachable!("a planned layer of this kind has parameters")
            }
        }
    }

    if let Some(max_norm) = spec.clip_grad_norm {
        clip_gradients(&mut b, plan, &mut grads, max_norm);
    }

    // Optimizer: moments first, then the weights, parameter by parameter.
    let shapes = &plan.param_shapes;
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

/// Gradient clipping by global norm (`docs/repops.md` § Gradient clipping):
/// the running sum of squares parameter by parameter in state order, the
/// scale, then each gradient times the scale, which the optimizer reads
/// instead of the gradient.
fn clip_gradients(b: &mut Builder, plan: &ModelPlan, grads: &mut [TensorRef], max_norm: f32) {
    let mut sum = None;
    for (p, shape) in plan.param_shapes.iter().enumerate() {
        let len = shape.iter().product();
        let inputs = match sum {
            Some(previous) => vec![previous, grads[p]],
            None => vec![grads[p]],
        };
        let op = Op::GradSquareSum {
            len,
            chained: sum.is_some(),
        };
        sum = Some(b.push(format!("gsq{p}"), op, inputs, vec![1]));
    }
    let Some(sum) = sum else {
        return; // a planned model has parameters
    };
    let scale = b.push("clip", Op::ClipScale { max_norm }, vec![sum], vec![1]);
    for (p, shape) in plan.param_shapes.iter().enumerate() {
        grads[p] = b.push(
            format!("g'{p}"),
            Op::ClipGrad,
            vec![grads[p], scale],
            shape.clone(),
        );
    }
}

/// The graph model's step cost (see [`JobSpec::step_ops`]): the sum over the
/// nodes of step 0 of their element count times their longest micro-program.
pub(crate) fn step_ops(spec: &JobSpec) -> u128 {
    let rows = vec![0; spec.batch_size as usize];
    step_graph(spec, 0, rows)
        .map(|graph| {
            graph
                .nodes
                .iter()
                .map(|node| node.len() as u128 * u128::from(node.op.max_program_len()))
                .sum()
        })
        .unwrap_or(u128::MAX)
}
