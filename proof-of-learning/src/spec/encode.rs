//! The canonical byte encoding of a job spec and its hash. Normative text:
//! `docs/commitments.md` § Job hash. Integers are big-endian, floats are their
//! f32 bits, enums a one-byte tag, lists a u32 length; fields in the fixed
//! order below, independent of how the TOML was written.

use super::{Activation, DatasetFormat, JobSpec, ModelSpec, OptimizerSpec};
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
        });
        out.u32(dataset.samples);
        out.u32(dataset.features);
        out.u32(dataset.classes);
        out.u32(dataset.holdout);

        let ModelSpec::Mlp { hidden, activation } = &self.model;
        out.u8(1); // mlp
        out.u32(hidden.len() as u32);
        for &width in hidden {
            out.u32(width);
        }
        out.u8(match activation {
            Activation::Relu => 1,
        });

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
        }
        out.0
    }

    /// `job_hash = keccak256("vtrain.job.v1" ‖ canonical bytes)`.
    pub fn job_hash(&self) -> Hash32 {
        keccak(&[tag::JOB, &self.canonical_bytes()])
    }
}
