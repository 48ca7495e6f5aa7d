//! The model of a job: an ordered list of layers (the `graph` form) or the
//! `mlp` shorthand, which expands to a graph of `linear` and `relu` layers.
//! [`ModelPlan`] is the graph with every shape inferred and checked, layer by
//! layer; the step graph (`train/graph.rs`) is built from it. Normative text:
//! `docs/repops.md` § Layers.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The model architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// A multi-layer perceptron: Linear layers with an activation between
    /// them, ending in softmax cross-entropy. Shorthand for the graph
    /// `linear(h₁), relu, …, linear(classes)` on a flat input.
    Mlp {
        /// Hidden layer widths, input to output.
        hidden: Vec<u32>,
        /// The activation between layers.
        #[serde(default)]
        activation: Activation,
    },
    /// A layer graph: the layers in order, from one sample's input shape to
    /// one logit per class.
    Graph {
        /// The shape of one sample, e.g. `[channels, height, width]` for
        /// images (NCHW without the batch) or `[features]`; its product is
        /// the dataset's feature count.
        input: Vec<u32>,
        /// The layers, input to output.
        layers: Vec<Layer>,
        /// The loss on the last layer's output.
        #[serde(default)]
        loss: Loss,
    },
}

/// Activation functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    #[default]
    Relu,
}

/// The loss of a graph model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// The mean over the batch of `−log softmax(logits)[label]`.
    #[default]
    SoftmaxCrossEntropy,
    /// A language model's loss: each dataset row is `T + 1` tokens, the model
    /// reads the first `T` (input `[T]`) and gives `[T, classes]` logits, and
    /// the loss is the mean over every position of every sequence of
    /// `−log softmax(logits[t])[token t + 1]`.
    NextToken,
}

/// One layer of a graph model. Shapes are per sample (the batch is the
/// leading dimension of every tensor and is not written).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layer {
    /// `y = W·x + b` on a flat input: `W [out, in]`, `b [out]`.
    Linear {
        /// Output features.
        out: u32,
    },
    /// 2-D convolution on `[c_in, h, w]` (NCHW), groups = 1, zero padding:
    /// `W [out_channels, c_in, kernel, kernel]`, `b [out_channels]`.
    Conv2d {
        /// Output channels.
        out_channels: u32,
        /// Kernel height and width.
        kernel: u32,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: u32,
        /// Zero padding on every side (default 0).
        #[serde(default)]
        padding: u32,
    },
    /// Max pooling over `kernel × kernel` windows, no padding.
    Maxpool2d {
        /// Window height and width.
        kernel: u32,
        /// Stride (default: the kernel).
        #[serde(default)]
        stride: Option<u32>,
    },
    /// Average pooling over `kernel × kernel` windows, no padding.
    Avgpool2d {
        /// Window height and width.
        kernel: u32,
        /// Stride (default: the kernel).
        #[serde(default)]
        stride: Option<u32>,
    },
    /// Flattens a sample to one dimension (no arithmetic).
    Flatten {},
    /// Reshapes a sample to `shape` with the same element count (no arithmetic).
    Reshape {
        /// The new per-sample shape.
        shape: Vec<u32>,
    },
    /// `max(x, 0)`.
    Relu {},
    /// Inverted dropout while training: each element is kept with
    /// probability 1 − p and scaled by 1 / (1 − p), or zeroed; the mask comes
    /// from the counter PRNG (`docs/repops.md` § dropout). The identity at
    /// evaluation.
    Dropout {
        /// The probability of dropping an element, in [0, 1).
        p: f32,
    },
    /// Layer normalisation over the last dimension, with a gain `γ [D]`
    /// (initially 1) and a shift `β [D]` (initially 0), as PyTorch's
    /// `LayerNorm(D)` (`docs/repops.md` § Layer normalisation and GELU).
    LayerNorm {
        /// Added to the variance before the square root (default `1e-5`).
        #[serde(default = "default_layer_norm_eps")]
        eps: f32,
    },
    /// GELU, tanh form: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    Gelu {},
    /// Token and position embeddings of a sequence of token ids `[T]`: a
    /// token table `E [classes, dim]` and a position table `P [T, dim]`,
    /// `y[t] = E[token t] + P[t]`, output `[T, dim]`. The first layer only.
    Embedding {
        /// Values per token.
        dim: u32,
    },
    /// Causal multi-head self-attention on `[T, D]` (`docs/repops.md`
    /// § Embeddings, attention and residuals): query, key, value and output
    /// projections `W [D, D]`, `b [D]` each, position `i` attending to
    /// positions `j ≤ i`, scores scaled by `1/√(D/heads)`.
    CausalSelfAttention {
        /// Heads; `D` must be a multiple.
        heads: u32,
    },
    /// A residual block `y = x + f(x)`, `f` the block's layers in order (no
    /// residual block inside), whose output has the input's shape.
    Residual {
        /// The block's layers.
        layers: Vec<Layer>,
    },
}

/// Where a planned layer stands in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A layer that computes its output from its input.
    Layer,
    /// The start of a residual block: no op; the block's input is kept for
    /// its end.
    ResidualOpen,
    /// The end of the residual block opened at layer `open`: the add of the
    /// block's input and its last layer's output.
    ResidualClose {
        /// The index of the block's `ResidualOpen`.
        open: usize,
    },
}

fn one() -> u32 {
    1
}

fn default_layer_norm_eps() -> f32 {
    1e-5
}

/// How a parameter tensor of S₀ is drawn (`docs/repops.md` § The initial state).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamInit {
    /// Uniform in `±1/√fan_in` from the seed (weights and biases of `linear`
    /// and `conv2d`), `fan_in` the elements of one row of the layer's weight.
    Uniform {
        /// The fan-in.
        fan_in: usize,
    },
    /// Every element is this constant (a layer norm's gain 1 and shift 0).
    Constant(f32),
}

impl Layer {
    /// The name the layer has in the TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Linear { .. } => "linear",
            Self::Conv2d { .. } => "conv2d",
            Self::Maxpool2d { .. } => "maxpool2d",
            Self::Avgpool2d { .. } => "avgpool2d",
            Self::Flatten {} => "flatten",
            Self::Reshape { .. } => "reshape",
            Self::Relu {} => "relu",
            Self::Dropout { .. } => "dropout",
            Self::LayerNorm { .. } => "layer_norm",
            Self::Gelu {} => "gelu",
            Self::Embedding { .. } => "embedding",
            Self::CausalSelfAttention { .. } => "causal_self_attention",
            Self::Residual { .. } => "residual",
        }
    }
}

/// The geometry of a 2-D convolution over a batch (`docs/repops.md` § conv2d).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// Samples.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl ConvGeometry {
    /// Output height.
    pub fn oh(&self) -> usize {
        (self.h + 2 * self.padding - self.kernel) / self.stride + 1
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        (self.w + 2 * self.padding - self.kernel) / self.stride + 1
    }
    /// The reduction length of one output: `c_in · kernel²`.
    pub fn patch(&self) -> usize {
        self.c_in * self.kernel * self.kernel
    }
}

/// The geometry of a 2-D pooling over a batch (`docs/repops.md` § Pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolGeometry {
    /// Samples.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height and width.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
}

impl PoolGeometry {
    /// Output height.
    pub fn oh(&self) -> usize {
        (self.h - self.kernel) / self.stride + 1
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        (self.w - self.kernel) / self.stride + 1
    }
}

/// One layer with its shapes inferred.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPlan {
    /// The layer.
    pub layer: Layer,
    /// One sample's input shape.
    pub input: Vec<usize>,
    /// One sample's output shape.
    pub output: Vec<usize>,
    /// The index of its first parameter tensor (weight, then bias), if it has any.
    pub first_param: Option<usize>,
    /// An ordinary layer, or the start or end of a residual block (whose
    /// `layer` is the block and whose input and output are the block's input).
    pub role: Role,
}

/// A model with every shape inferred and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPlan {
    /// One sample's input shape.
    pub input: Vec<usize>,
    /// The layers in order.
    pub layers: Vec<LayerPlan>,
    /// The parameter tensors in state order: each parametrised layer's
    /// weight, then its bias (a layer norm's gain, then its shift).
    pub param_shapes: Vec<Vec<usize>>,
    /// How each parameter tensor of S₀ is drawn, in the same order.
    pub param_inits: Vec<ParamInit>,
    /// The loss.
    pub loss: Loss,
}

/// The most layers a graph may have.
pub const MAX_LAYERS: usize = 64;
/// The largest kernel, stride or padding of a convolution or pooling.
pub const MAX_KERNEL: u32 = 16;
/// The most dimensions of a per-sample shape.
pub const MAX_RANK: usize = 4;
/// The most elements of one sample's activation (below 2^24, so every index
/// and count inside a sample is an exact f32).
pub const MAX_SAMPLE_ELEMENTS: usize = 1 << 24;

pub(super) fn invalid(reason: String) -> Error {
    Error::InvalidSpec {
        field: "model.layers",
        reason,
    }
}

/// The number of values of `shape`, saturating: a spec may name dimensions
/// whose product overflows, and must be refused, never wrapped into range.
pub(super) fn elements(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

pub(super) fn show(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

impl ModelSpec {
    /// Parses the contents of a `[model]` table (TOML), e.g. to put another
    /// model into a job; [`super::JobSpec::validate`] checks it against the
    /// job's dataset.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|error| Error::SpecParse(error.to_string()))
    }

    /// The model as a graph: its per-sample input shape, layers and loss.
    /// An `mlp` expands to `linear(h₁), relu, …, linear(h_n), relu, linear(classes)`.
    pub fn expand(&self, features: u32, classes: u32) -> (Vec<u32>, Vec<Layer>, Loss) {
        match self {
            Self::Mlp { hidden, activation } => {
                let mut layers = Vec::with_capacity(2 * hidden.len() + 1);
                for &width in hidden {
                    layers.push(Layer::Linear { out: width });
                    layers.push(match activation {
                        Activation::Relu => Layer::Relu {},
                    });
                }
                layers.push(Layer::Linear { out: classes });
                (vec![features], layers, Loss::SoftmaxCrossEntropy)
            }
            Self::Graph {
                input,
                layers,
                loss,
            } => (input.clone(), layers.clone(), *loss),
        }
    }

    /// Infers and checks every layer's shapes: the input must hold `features`
    /// values and the last layer must give one value per class. Errors name
    /// the layer and the mismatch.
    pub fn plan(&self, features: u32, classes: u32) -> Result<ModelPlan> {
        let (input, layers, loss) = self.expand(features, classes);
        if input.is_empty() || input.len() > MAX_RANK || input.contains(&0) {
            return Err(Error::InvalidSpec {
                field: "model.input",
                reason: format!("must have 1 to {MAX_RANK} non-zero dimensions, got {input:?}"),
            });
        }
        let input: Vec<usize> = input.iter().map(|&d| d as usize).collect();
        let elements = elements(&input);
        // A language model reads the first T of each row's T + 1 tokens.
        let read = match loss {
            Loss::SoftmaxCrossEntropy => features as usize,
            Loss::NextToken => (features as usize).saturating_sub(1),
        };
        if elements != read {
            let reason = match loss {
                Loss::SoftmaxCrossEntropy => format!(
                    "{} holds {elements} values, the dataset has {features} features",
                    show(&input)
                ),
                Loss::NextToken => format!(
                    "{} holds {elements} tokens, a next_token model reads {read} of each row's {features}",
                    show(&input)
                ),
            };
            return Err(Error::InvalidSpec {
                field: "model.input",
                reason,
            });
        }
        if layers.is_empty() || layers.len() > MAX_LAYERS {
            return Err(invalid(format!(
                "a graph has 1 to {MAX_LAYERS} layers, got {}",
                layers.len()
            )));
        }
        let mut planner = super::infer::Planner {
            vocab: classes as usize,
            plans: Vec::with_capacity(layers.len()),
            param_shapes: Vec::new(),
            param_inits: Vec::new(),
        };
        let shape = planner.plan_layers(layers, input.clone(), None)?;
        if planner.plans.len() > MAX_LAYERS {
            return Err(invalid(format!(
                "a graph has at most {MAX_LAYERS} layers (a residual block counts its layers and 2 more), got {}",
                planner.plans.len()
            )));
        }
        let super::infer::Planner {
            plans,
            param_shapes,
            param_inits,
            ..
        } = planner;
        let expected = match loss {
            Loss::SoftmaxCrossEntropy => vec![classes as usize],
            Loss::NextToken => vec![read, classes as usize],
        };
        if shape != expected {
            let at_every_position = if loss == Loss::NextToken {
                " at every position"
            } else {
                ""
            };
            let hint = if shape.len() > expected.len() {
                ": a linear layer acts on the last dimension, add a flatten layer before it to act on the whole sample"
            } else {
                ""
            };
            return Err(invalid(format!(
                "the last layer gives {} per sample, the loss needs {} (one logit per class{at_every_position}){hint}",
                show(&shape),
                show(&expected),
            )));
        }
        if param_shapes.is_empty() {
            return Err(invalid("the model has no parameters to train".into()));
        }
        Ok(ModelPlan {
            input,
            layers: plans,
            param_shapes,
            param_inits,
            loss,
        })
    }
}

impl LayerPlan {
    /// The rows a layer on the last dimension sees at `batch` samples: the
    /// batch times every input dimension but the last.
    pub fn rows(&self, batch: usize) -> usize {
        batch
            * self.input[..self.input.len().saturating_sub(1)]
                .iter()
                .product::<usize>()
    }

    /// The geometry of a `causal_self_attention` layer at `batch` samples.
    pub fn attention(&self, batch: usize) -> Option<crate::repops::AttentionGeometry> {
        let Layer::CausalSelfAttention { heads } = self.layer else {
            return None;
        };
        let [seq, width] = *self.input else {
            return None;
        };
        Some(crate::repops::AttentionGeometry {
            batch,
            seq,
            heads: heads as usize,
            head_dim: width / heads as usize,
        })
    }

    /// The geometry of an `embedding` layer at `batch` samples, with the
    /// vocabulary of its token table `[vocab, dim]`.
    pub fn embedding(
        &self,
        batch: usize,
        vocab: usize,
    ) -> Option<crate::repops::EmbeddingGeometry> {
        let Layer::Embedding { dim } = self.layer else {
            return None;
        };
        let [seq] = *self.input else {
            return None;
        };
        Some(crate::repops::EmbeddingGeometry {
            batch,
            seq,
            vocab,
            dim: dim as usize,
        })
    }

    /// The convolution geometry of a `conv2d` layer at `batch` samples.
    pub fn conv(&self, batch: usize) -> Option<ConvGeometry> {
        let Layer::Conv2d {
            out_channels,
            kernel,
            stride,
            padding,
        } = self.layer
        else {
            return None;
        };
        let [c_in, h, w] = *self.input else {
            return None;
        };
        Some(ConvGeometry {
            batch,
            c_in,
            h,
            w,
            c_out: out_channels as usize,
            kernel: kernel as usize,
            stride: stride as usize,
            padding: padding as usize,
        })
    }

    /// The geometry of a `layer_norm` layer at `batch` samples: the batch
    /// times every dimension but the last are the rows.
    pub fn norm(&self, batch: usize) -> Option<crate::repops::NormGeometry> {
        let Layer::LayerNorm { eps } = self.layer else {
            return None;
        };
        let (&width, rest) = self.input.split_last()?;
        Some(crate::repops::NormGeometry {
            rows: batch * rest.iter().product::<usize>(),
            width,
            eps,
        })
    }

    /// The pooling geometry of a pooling layer at `batch` samples.
    pub fn pool(&self, batch: usize) -> Option<PoolGeometry> {
        let (Layer::Maxpool2d { kernel, stride } | Layer::Avgpool2d { kernel, stride }) =
            self.layer
        else {
            return None;
        };
        let [channels, h, w] = *self.input else {
            return None;
        };
        Some(PoolGeometry {
            batch,
            channels,
            h,
            w,
            kernel: kernel as usize,
            stride: stride.unwrap_or(kernel) as usize,
        })
    }
}
