//! Shape inference: each layer's output and parameter shapes from its input
//! shape, with errors that name the layer and the mismatch (`docs/repops.md`
//! § Layers).

use super::model::{
    ConvGeometry, Layer, LayerPlan, MAX_KERNEL, MAX_LAYERS, MAX_RANK, MAX_SAMPLE_ELEMENTS,
    ParamInit, PoolGeometry, Role, elements, invalid, show,
};
use crate::error::Result;

/// The layers planned so far, with their parameters.
pub(super) struct Planner {
    /// The vocabulary of an embedding: the dataset's classes.
    pub(super) vocab: usize,
    pub(super) plans: Vec<LayerPlan>,
    pub(super) param_shapes: Vec<Vec<usize>>,
    pub(super) param_inits: Vec<ParamInit>,
}

impl Planner {
    /// Plans `layers` from `shape` and gives the last one's output shape.
    /// `block` is the position of the residual block they are inside, if
    /// any: errors name a layer by its position in the spec (`2`, or `2.1`
    /// for the second layer of the block at position 2).
    pub(super) fn plan_layers(
        &mut self,
        layers: Vec<Layer>,
        mut shape: Vec<usize>,
        block: Option<usize>,
    ) -> Result<Vec<usize>> {
        for (position, layer) in layers.into_iter().enumerate() {
            let index = self.plans.len();
            let name = match block {
                Some(outer) => format!("{outer}.{position}"),
                None => position.to_string(),
            };
            let here = |what: String| invalid(format!("layer {name} ({}): {what}", layer.kind()));
            if let Layer::Residual { layers: inner } = &layer {
                if block.is_some() {
                    return Err(here("a residual block cannot hold another".into()));
                }
                if inner.is_empty() {
                    return Err(here("a residual block needs at least one layer".into()));
                }
                if self.plans.len() + inner.len() + 2 > MAX_LAYERS {
                    return Err(invalid(format!("a graph has at most {MAX_LAYERS} layers")));
                }
                let block = LayerPlan {
                    layer: layer.clone(),
                    input: shape.clone(),
                    output: shape.clone(),
                    first_param: None,
                    role: Role::ResidualOpen,
                };
                self.plans.push(block.clone());
                let output = self.plan_layers(inner.clone(), shape.clone(), Some(position))?;
                if output != shape {
                    return Err(here(format!(
                        "the block gives {} per sample, its input is {}: a residual add needs the same shape",
                        show(&output),
                        show(&shape)
                    )));
                }
                self.plans.push(LayerPlan {
                    role: Role::ResidualClose { open: index },
                    ..block
                });
                continue;
            }
            if matches!(layer, Layer::Embedding { .. }) && index != 0 {
                return Err(here(
                    "an embedding reads token ids: it must be the first layer".into(),
                ));
            }
            let (output, params) = infer(&layer, &shape, self.vocab).map_err(here)?;
            let first_param = (!params.is_empty()).then_some(self.param_shapes.len());
            self.param_inits.extend(param_init(&layer, &params));
            self.param_shapes.extend(params);
            self.plans.push(LayerPlan {
                layer,
                input: std::mem::replace(&mut shape, output.clone()),
                output,
                first_param,
                role: Role::Layer,
            });
        }
        Ok(shape)
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
    vocab: usize,
) -> std::result::Result<(Vec<usize>, Vec<Vec<usize>>), String> {
    let width_max = super::MAX_WIDTH;
    let (output, params) = match *layer {
        Layer::Linear { out } => {
            // On the last dimension: every other one is a row of its own.
            let (&k, rows) = input
                .split_last()
                .ok_or_else(|| "needs an input".to_string())?;
            let out = check_dim("out", out, 1, width_max)?;
            let output = rows.iter().copied().chain([out]).collect();
            (output, vec![vec![out, k], vec![out]])
        }
        Layer::Embedding { dim } => {
            let [seq] = *input else {
                return Err(format!(
                    "needs a [positions] input of token ids, got {}",
                    show(input)
                ));
            };
            let dim = check_dim("dim", dim, 1, width_max)?;
            (vec![seq, dim], vec![vec![vocab, dim], vec![seq, dim]])
        }
        Layer::CausalSelfAttention { heads } => {
            let [seq, width] = *input else {
                return Err(format!(
                    "needs a [positions, width] input, got {}",
                    show(input)
                ));
            };
            let heads = check_dim("heads", heads, 1, width_max)?;
            if !width.is_multiple_of(heads) {
                return Err(format!(
                    "the width {width} is not a multiple of {heads} heads"
                ));
            }
            let scores = heads.saturating_mul(seq).saturating_mul(seq);
            if scores > MAX_SAMPLE_ELEMENTS {
                return Err(format!(
                    "{heads} heads × {seq}² positions = {scores} scores per sample, above the limit of {MAX_SAMPLE_ELEMENTS}"
                ));
            }
            let projection = [vec![width, width], vec![width]];
            (
                input.to_vec(),
                projection.iter().cycle().take(8).cloned().collect(),
            )
        }
        Layer::Residual { .. } => return Err("a residual block is planned by its layers".into()),
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
