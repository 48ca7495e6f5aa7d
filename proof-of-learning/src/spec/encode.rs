//! The canonical byte encoding of a job spec and its hash. Normative text:
//! `docs/commitments.md` § Job hash. Integers are big-endian, floats are their
//! f32 bits, enums a one-byte tag, lists a u32 length; fields in the fixed
//! order below, independent of how the TOML was written.

use super::{
    Activation, DatasetFormat, DatasetSpec, InitSpec, JobSpec, Layer, Loss, MAX_LAYERS, MAX_RANK,
    ModelSpec, OptimizerSpec,
};
use crate::error::{Error, Result};
use crate::hash::{Hash32, keccak, tag};
use crate::repops::LrSchedule;

struct Encoder(Vec<u8>);

impl Encoder {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }
    fn f32(&mut self, value: f32) {
        self.u32(value.to_bits());
    }
    fn bytes(&mut self, value: &[u8]) {
        self.0.extend_from_slice(value);
    }
    fn u32s(&mut self, values: &[u32]) {
        self.u32(values.len() as u32);
        for &value in values {
            self.u32(value);
        }
    }
    /// A layer: its one-byte kind, then its fields in declaration order. An
    /// unset pooling stride is 0 (the kernel).
    fn layer(&mut self, layer: &Layer) {
        match *layer {
            Layer::Linear { out } => {
                self.u8(1);
                self.u32(out);
            }
            Layer::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
            } => {
                self.u8(2);
                self.u32(out_channels);
                self.u32(kernel);
                self.u32(stride);
                self.u32(padding);
            }
            Layer::Maxpool2d { kernel, stride } | Layer::Avgpool2d { kernel, stride } => {
                self.u8(if matches!(layer, Layer::Maxpool2d { .. }) {
                    3
                } else {
                    4
                });
                self.u32(kernel);
                self.u32(stride.unwrap_or(0));
            }
            Layer::Flatten {} => self.u8(5),
            Layer::Reshape { ref shape } => {
                self.u8(6);
                self.u32s(shape);
            }
            Layer::Relu {} => self.u8(7),
            Layer::Dropout { p } => {
                self.u8(8);
                self.f32(p);
            }
            Layer::LayerNorm { eps } => {
                self.u8(9);
                self.f32(eps);
            }
            Layer::Gelu {} => self.u8(10),
            Layer::Embedding { dim } => {
                self.u8(11);
                self.u32(dim);
            }
            Layer::CausalSelfAttention { heads } => {
                self.u8(12);
                self.u32(heads);
            }
            Layer::Residual { ref layers } => {
                self.u8(13);
                self.u32(layers.len() as u32);
                for layer in layers {
                    self.layer(layer);
                }
            }
        }
    }
}

impl JobSpec {
    /// The canonical encoding (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Encoder(Vec::with_capacity(256));
        out.u32(self.repops_version);
        out.u64(self.seed);
        out.u32(self.steps);
        out.u32(self.checkpoint_interval);
        out.u32(self.batch_size);

        let dataset = &self.dataset;
        out.bytes(&self.dataset_root().map(|root| root.0).unwrap_or_default());
        out.u8(match dataset.format {
            DatasetFormat::Csv => 1,
            DatasetFormat::Safetensors => 2,
            DatasetFormat::Text => 3,
        });
        out.u32(dataset.samples);
        out.u32(dataset.features);
        out.u32(dataset.classes);
        out.u32(dataset.holdout);

        match &self.model {
            ModelSpec::Mlp { hidden, activation } => {
                out.u8(1);
                out.u32(hidden.len() as u32);
                for &width in hidden {
                    out.u32(width);
                }
                out.u8(match activation {
                    Activation::Relu => 1,
                });
            }
            ModelSpec::Graph {
                input,
                layers,
                loss,
            } => {
                out.u8(2);
                out.u32s(input);
                out.u32(layers.len() as u32);
                for layer in layers {
                    out.layer(layer);
                }
                out.u8(match loss {
                    Loss::SoftmaxCrossEntropy => 1,
                    Loss::NextToken => 2,
                });
            }
        }

        match self.optimizer {
            OptimizerSpec::Sgd {
                learning_rate,
                momentum,
                weight_decay,
            } => {
                out.u8(1);
                out.f32(learning_rate);
                out.f32(momentum);
                out.f32(weight_decay);
            }
            OptimizerSpec::Adamw {
                learning_rate,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                out.u8(2);
                out.f32(learning_rate);
                out.f32(beta1);
                out.f32(beta2);
                out.f32(eps);
                out.f32(weight_decay);
            }
        }

        match self.schedule {
            LrSchedule::Constant => out.u8(1),
            LrSchedule::LinearWarmupDecay { warmup_steps } => {
                out.u8(2);
                out.u32(warmup_steps);
            }
            LrSchedule::Step { every, gamma } => {
                out.u8(3);
                out.u32(every);
                out.f32(gamma);
            }
            LrSchedule::LinearWarmupCosine { warmup_steps } => {
                out.u8(4);
                out.u32(warmup_steps);
            }
        }

        // The initial weights: nothing for the seed (so every job from the
        // seed keeps the bytes and hash it had before fine-tuning existed),
        // `u8 2 ‖ bytes32 model root` for a loaded model.
        if let InitSpec::Model { root } = &self.init {
            out.u8(2);
            out.bytes(&Hash32::from_hex(root).unwrap_or_default().0);
        }
        // Gradient clipping, likewise a tail only when asked for:
        // `u8 3 ‖ f32 max_norm`, after the initial weights.
        if let Some(max_norm) = self.clip_grad_norm {
            out.u8(3);
            out.f32(max_norm);
        }
        out.0
    }

    /// `job_hash = keccak256("vtrain.job.v1" ‖ canonical bytes)`.
    pub fn job_hash(&self) -> Hash32 {
        keccak(&[tag::JOB, &self.canonical_bytes()])
    }
}

/// Reads the canonical encoding back, field by field.
struct Decoder<'a>(&'a [u8]);

impl Decoder<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| Error::SpecParse("canonical spec bytes end early".into()))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    /// A u32 list of at most `max` entries.
    fn u32s(&mut self, max: usize) -> Result<Vec<u32>> {
        let len = self.u32()?;
        if len as usize > max {
            return Err(Error::SpecParse(format!(
                "canonical spec: a list of {len} dimensions"
            )));
        }
        (0..len).map(|_| self.u32()).collect()
    }
    fn layer(&mut self) -> Result<Layer> {
        self.layer_in(false)
    }

    /// A layer, inside a residual block when `nested` (which holds no other).
    fn layer_in(&mut self, nested: bool) -> Result<Layer> {
        let stride = |value: u32| (value != 0).then_some(value);
        Ok(match self.u8()? {
            1 => Layer::Linear { out: self.u32()? },
            2 => Layer::Conv2d {
                out_channels: self.u32()?,
                kernel: self.u32()?,
                stride: self.u32()?,
                padding: self.u32()?,
            },
            3 => Layer::Maxpool2d {
                kernel: self.u32()?,
                stride: stride(self.u32()?),
            },
            4 => Layer::Avgpool2d {
                kernel: self.u32()?,
                stride: stride(self.u32()?),
            },
            5 => Layer::Flatten {},
            6 => Layer::Reshape {
                shape: self.u32s(MAX_RANK)?,
            },
            7 => Layer::Relu {},
            8 => Layer::Dropout { p: self.f32()? },
            9 => Layer::LayerNorm { eps: self.f32()? },
            10 => Layer::Gelu {},
            11 => Layer::Embedding { dim: self.u32()? },
            12 => Layer::CausalSelfAttention { heads: self.u32()? },
            13 if !nested => {
                let count = self.u32()?;
                if count as usize > MAX_LAYERS {
                    return Err(Error::SpecParse(format!(
                        "canonical spec: a residual block of {count} layers"
                    )));
                }
                Layer::Residual {
                    layers: (0..count)
                        .map(|_| self.layer_in(true))
                        .collect::<Result<Vec<_>>>()?,
                }
            }
            other => return Err(bad_tag("layer", other)),
        })
    }
}

fn bad_tag(field: &str, tag: u8) -> Error {
    Error::SpecParse(format!("canonical spec: unknown {field} tag {tag}"))
}

impl JobSpec {
    /// Decodes the canonical encoding (as posted on chain) and validates it.
    /// Only an exact canonical encoding is accepted: re-encoding the result
    /// gives back `bytes`.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self> {
        let mut d = Decoder(bytes);
        let repops_version = d.u32()?;
        let seed = d.u64()?;
        let steps = d.u32()?;
        let checkpoint_interval = d.u32()?;
        let batch_size = d.u32()?;
        let root = Hash32(d.take::<32>()?);
        let format = match d.u8()? {
            1 => DatasetFormat::Csv,
            2 => DatasetFormat::Safetensors,
            3 => DatasetFormat::Text,
            other => return Err(bad_tag("dataset format", other)),
        };
        let dataset = DatasetSpec {
            format,
            root: format!("{root}"),
            samples: d.u32()?,
            features: d.u32()?,
            classes: d.u32()?,
            holdout: d.u32()?,
        };
        let model = match d.u8()? {
            1 => {
                let layers = d.u32()?;
                if layers > super::MAX_HIDDEN_LAYERS as u32 {
                    return Err(Error::SpecParse(format!(
                        "canonical spec: {layers} hidden layers"
                    )));
                }
                let hidden = (0..layers).map(|_| d.u32()).collect::<Result<Vec<_>>>()?;
                let activation = match d.u8()? {
                    1 => Activation::Relu,
                    other => return Err(bad_tag("activation", other)),
                };
                ModelSpec::Mlp { hidden, activation }
            }
            2 => {
                let input = d.u32s(MAX_RANK)?;
                let count = d.u32()?;
                if count as usize > MAX_LAYERS {
                    return Err(Error::SpecParse(format!("canonical spec: {count} layers")));
                }
                let layers = (0..count).map(|_| d.layer()).collect::<Result<Vec<_>>>()?;
                let loss = match d.u8()? {
                    1 => Loss::SoftmaxCrossEntropy,
                    2 => Loss::NextToken,
                    other => return Err(bad_tag("loss", other)),
                };
                ModelSpec::Graph {
                    input,
                    layers,
                    loss,
                }
            }
            other => return Err(bad_tag("model", other)),
        };
        let optimizer = match d.u8()? {
            1 => OptimizerSpec::Sgd {
                learning_rate: d.f32()?,
                momentum: d.f32()?,
                weight_decay: d.f32()?,
            },
            2 => OptimizerSpec::Adamw {
                learning_rate: d.f32()?,
                beta1: d.f32()?,
                beta2: d.f32()?,
                eps: d.f32()?,
                weight_decay: d.f32()?,
            },
            other => return Err(bad_tag("optimizer", other)),
        };
        let schedule = match d.u8()? {
            1 => LrSchedule::Constant,
            2 => LrSchedule::LinearWarmupDecay {
                warmup_steps: d.u32()?,
            },
            3 => LrSchedule::Step {
                every: d.u32()?,
                gamma: d.f32()?,
            },
            4 => LrSchedule::LinearWarmupCosine {
                warmup_steps: d.u32()?,
            },
            other => return Err(bad_tag("schedule", other)),
        };
        // The optional tails, each at most once and in tag order: the
        // initial model (2), then gradient clipping (3).
        let mut init = InitSpec::Seed;
        let mut clip_grad_norm = None;
        let mut last_tag = 0;
        while !d.0.is_empty() {
            let tag = d.u8()?;
            if tag <= last_tag {
                return Err(bad_tag("tail (out of order or repeated)", tag));
            }
            last_tag = tag;
            match tag {
                2 => {
                    init = InitSpec::Model {
                        root: format!("{}", Hash32(d.take::<32>()?)),
                    }
                }
                3 => clip_grad_norm = Some(d.f32()?),
                other => return Err(bad_tag("tail", other)),
            }
        }
        let spec = Self {
            repops_version,
            seed,
            steps,
            checkpoint_interval,
            batch_size,
            dataset,
            model,
            optimizer,
            schedule,
            init,
            clip_grad_norm,
        };
        spec.validate()?;
        if spec.canonical_bytes() != bytes {
            return Err(Error::SpecParse("spec bytes are not canonical".into()));
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_decode_to_the_same_spec() {
        let text = include_str!("../../../examples/digits-mlp.toml");
        let spec = JobSpec::from_toml(text).expect("example spec");
        let bytes = spec.canonical_bytes();
        assert_eq!(
            JobSpec::from_canonical_bytes(&bytes).expect("decodes"),
            spec
        );
        assert!(JobSpec::from_canonical_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(JobSpec::from_canonical_bytes(&longer).is_err());
    }
}
