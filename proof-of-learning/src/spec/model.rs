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

fn invalid(reason: String) -> Error {
    Error::InvalidSpec {
        field: "model.layers",
        reason,
    }
}

/// The number of values of `shape`, saturating: a spec may name dimensions
/// whose product overflows, and must be refused, never wrapped into range.
fn elements(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

fn show(shape: &[usize]) -> String {
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
        if elements != features as usize {
            return Err(Error::InvalidSpec {
                field: "model.input",
                reason: format!(
                    "{} holds {elements} values, the dataset has {features} features",
                    show(&input)
                ),
            });
        }
        if layers.is_empty() || layers.len() > MAX_LAYERS {
            return Err(invalid(format!(
                "a graph has 1 to {MAX_LAYERS} layers, got {}",
                layers.len()
            )));
        }
        let mut plans = Vec::with_capacity(layers.len());
        let mut param_shapes = Vec::new();
        let mut param_inits = Vec::new();
        let mut shape = input.clone();
        for (index, layer) in layers.into_iter().enumerate() {
            let here = |what: String| invalid(format!("layer {index} ({}): {what}", layer.kind()));
            let (output, params) = infer(&layer, &shape).map_err(here)?;
            let first_param = (!params.is_empty()).then_some(param_shapes.len());
            param_inits.extend(param_init(&layer, &params));
            param_shapes.extend(params);
            plans.push(LayerPlan {
                layer,
                input: std::mem::replace(&mut shape, output.clone()),
                output,
                first_param,
            });
        }
        if shape != [classes as usize] {
            return Err(invalid(format!(
                "the last layer gives {} per sample, the loss needs [{classes}] (one logit per class)",
                show(&shape)
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

fn check_dim(name: &str, value: u32, min: u32, max: u32) -> std::result::Result<usize, String> {
    if (min..=max).contains(&value) {
        Ok(value as usize)
    } else {
        Err(format!("{name} must be in {min}..={max}, got {value}"))
    }
}

/// The per-sample `[c, h, w]` of an image layer's input.
fn image(shape: &[usize]) -> std::result::Result<(usize, usize, usize), String> {
    match *shape {
        [c, h, w] => Ok((c, h, w)),
        _ => Err(format!(
            "needs a [channels, height, width] input, got {}",
            show(shape)
        )),
    }
}

/// How each of a layer's parameter tensors (`params`, its shapes) is drawn.
fn param_init(layer: &Layer, params: &[Vec<usize>]) -> Vec<ParamInit> {
    match layer {
        Layer::LayerNorm { .. } => vec![ParamInit::Constant(1.0), ParamInit::Constant(0.0)],
        _ => {
            // A weight's fan-in is one output row; its bias uses the weight's.
            let fan_in = params
                .first()
                .map(|weight| weight[1..].iter().product())
                .unwrap_or(1);
            params
                .iter()
                .map(|_| ParamInit::Uniform { fan_in })
                .collect()
        }
    }
}

/// A layer's output shape and parameter shapes, from its input shape.
fn infer(
    layer: &Layer,
    input: &[usize],
) -> std::result::Result<(Vec<usize>, Vec<Vec<usize>>), String> {
    let width_max = super::MAX_WIDTH;
    let (output, params) = match *layer {
        Layer::Linear { out } => {
            let [k] = *input else {
                return Err(format!(
                    "needs a flat input, got {}: add a flatten layer before it",
                    show(input)
                ));
            };
            let out = check_dim("out", out, 1, width_max)?;
            (vec![out], vec![vec![out, k], vec![out]])
        }
        Layer::Conv2d {
            out_channels,
            kernel,
            stride,
            padding,
        } => {
            let (c, h, w) = image(input)?;
            let c_out = check_dim("out_channels", out_channels, 1, width_max)?;
            let kernel = check_dim("kernel", kernel, 1, MAX_KERNEL)?;
            let stride = check_dim("stride", stride, 1, MAX_KERNEL)?;
            let padding = check_dim("padding", padding, 0, MAX_KERNEL)?;
            if padding >= kernel {
                return Err(format!(
                    "padding {padding} must be below the kernel {kernel}"
                ));
            }
            if h + 2 * padding < kernel || w + 2 * padding < kernel {
                return Err(format!(
                    "kernel {kernel} is larger than the padded input {}×{}",
                    h + 2 * padding,
                    w + 2 * padding
                ));
            }
            let g = ConvGeometry {
                batch: 1,
                c_in: c,
                h,
                w,
                c_out,
                kernel,
                stride,
                padding,
            };
            (
                vec![c_out, g.oh(), g.ow()],
                vec![vec![c_out, c, kernel, kernel], vec![c_out]],
            )
        }
        Layer::Maxpool2d { kernel, stride } | Layer::Avgpool2d { kernel, stride } => {
            let (c, h, w) = image(input)?;
            let kernel = check_dim("kernel", kernel, 1, MAX_KERNEL)?;
            let stride = check_dim("stride", stride.unwrap_or(kernel as u32), 1, MAX_KERNEL)?;
            if h < kernel || w < kernel {
                return Err(format!("kernel {kernel} is larger than the input {h}×{w}"));
            }
            let g = PoolGeometry {
                batch: 1,
                channels: c,
                h,
                w,
                kernel,
                stride,
            };
            (vec![c, g.oh(), g.ow()], vec![])
        }
        Layer::Flatten {} => (vec![elements(input)], vec![]),
        Layer::Reshape { ref shape } => {
            if shape.is_empty() || shape.len() > MAX_RANK || shape.contains(&0) {
                return Err(format!(
                    "shape must have 1 to {MAX_RANK} non-zero dimensions, got {shape:?}"
                ));
            }
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            let (from, to) = (elements(input), elements(&shape));
            if from != to {
                return Err(format!(
                    "{} holds {to} values, the input {} holds {from}",
                    show(&shape),
                    show(input)
                ));
            }
            (shape, vec![])
        }
        Layer::Relu {} | Layer::Gelu {} => (input.to_vec(), vec![]),
        Layer::LayerNorm { eps } => {
            if !(eps.is_finite() && eps > 0.0) {
                return Err(format!("eps must be a finite number above 0, got {eps}"));
            }
            let width = input[input.len() - 1];
            (input.to_vec(), vec![vec![width], vec![width]])
        }
        Layer::Dropout { p } => {
            if !(p.is_finite() && (0.0..1.0).contains(&p)) {
                return Err(format!("p must be in [0, 1), got {p}"));
            }
            (input.to_vec(), vec![])
        }
    };
    let elements = elements(&output);
    if elements > MAX_SAMPLE_ELEMENTS {
        return Err(format!(
            "its output {} holds {elements} values per sample, above the limit of {MAX_SAMPLE_ELEMENTS}",
            show(&output)
        ));
    }
    Ok((output, params))
}

impl LayerPlan {
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
