//! The job spec: what a submitter asks to be trained, written in TOML, with its
//! validation, canonical byte encoding and `job_hash`.

mod encode;
mod infer;
mod model;
mod validate;

pub use model::{
    Activation, ConvGeometry, Layer, LayerPlan, Loss, MAX_KERNEL, MAX_LAYERS, MAX_RANK,
    MAX_SAMPLE_ELEMENTS, ModelPlan, ModelSpec, ParamInit, PoolGeometry, Role,
};

pub use validate::{
    MAX_BATCH, MAX_CHECKPOINTS, MAX_HIDDEN_LAYERS, MAX_PARAM_TENSORS, MAX_PARAMS, MAX_STEPS,
    MAX_WIDTH,
};

use crate::error::{Error, Result};
use crate::hash::Hash32;
use crate::repops::LrSchedule;
use serde::{Deserialize, Serialize};

/// A training job, exactly as committed on chain by its [`JobSpec::job_hash`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The repops version the job must be trained under.
    pub repops_version: u32,
    /// The seed of every random choice (initial weights, shuffling, split).
    pub seed: u64,
    /// Total optimizer steps T.
    pub steps: u32,
    /// Steps between committed checkpoints, k (must divide T).
    pub checkpoint_interval: u32,
    /// Samples per step.
    pub batch_size: u32,
    /// The training data.
    pub dataset: DatasetSpec,
    /// The model.
    pub model: ModelSpec,
    /// The optimizer.
    pub optimizer: OptimizerSpec,
    /// The learning-rate schedule (default: constant).
    #[serde(default = "constant_schedule")]
    pub schedule: LrSchedule,
    /// Where the initial weights come from (default: drawn from the seed).
    #[serde(default, skip_serializing_if = "InitSpec::is_seed")]
    pub init: InitSpec,
    /// Clips the gradients to this global norm before the optimizer, as
    /// PyTorch's `clip_grad_norm_` (`docs/repops.md` § Gradient clipping);
    /// none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f32>,
}

/// Where S₀'s weights come from. Moments always start at zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum InitSpec {
    /// PyTorch-style uniform weights drawn from the job seed
    /// (`docs/repops.md` § The initial state).
    #[default]
    Seed,
    /// Fine-tuning: the weights of the model with this model root (`0x…`, the
    /// tensor-list root of the weights, as `JobMarket` commits a finished
    /// job's `modelRoot`): an earlier job's model, or safetensors the
    /// submitter publishes. Its tensors must have the shapes of this job's
    /// parameters.
    Model {
        /// The model root.
        root: String,
    },
}

impl InitSpec {
    /// Whether S₀ is drawn from the seed.
    pub fn is_seed(&self) -> bool {
        matches!(self, Self::Seed)
    }
}

fn constant_schedule() -> LrSchedule {
    LrSchedule::Constant
}

/// The dataset a job trains on, by content root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// The file format the data is published in.
    pub format: DatasetFormat,
    /// The dataset's content root (`0x…`, 32 bytes): see `docs/commitments.md`.
    pub root: String,
    /// Number of samples.
    pub samples: u32,
    /// Features per sample.
    pub features: u32,
    /// Number of classes.
    pub classes: u32,
    /// Samples held out for testing (never trained on).
    pub holdout: u32,
}

/// How a dataset is published. The root covers the canonical tensors, not the
/// file bytes, so the same data in any format has the same root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetFormat {
    /// CSV (optionally gzip-compressed): the features, then an integer label.
    Csv,
    /// safetensors with an f32 `features [n, d]` and an integer `labels [n]`.
    Safetensors,
    /// A byte-level text file (optionally gzip-compressed) cut into windows
    /// of `features` tokens, each labelled with its last token
    /// (`docs/commitments.md` § Text datasets). Every token must be below
    /// `classes`, the model's vocabulary.
    Text,
}

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// SGD with (heavy-ball) momentum and L2 weight decay.
    Sgd {
        /// Base learning rate.
        learning_rate: f32,
        /// Momentum μ in [0, 1).
        #[serde(default)]
        momentum: f32,
        /// Weight decay λ ≥ 0.
        #[serde(default)]
        weight_decay: f32,
    },
    /// AdamW (decoupled weight decay).
    Adamw {
        /// Base learning rate.
        learning_rate: f32,
        /// β₁ in [0, 1).
        #[serde(default = "default_beta1")]
        beta1: f32,
        /// β₂ in [0, 1).
        #[serde(default = "default_beta2")]
        beta2: f32,
        /// ε > 0.
        #[serde(default = "default_eps")]
        eps: f32,
        /// Decoupled weight decay λ ≥ 0.
        #[serde(default)]
        weight_decay: f32,
    },
}

fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_eps() -> f32 {
    1e-8
}

impl OptimizerSpec {
    /// The base learning rate.
    pub fn learning_rate(&self) -> f32 {
        match *self {
            Self::Sgd { learning_rate, .. } | Self::Adamw { learning_rate, .. } => learning_rate,
        }
    }

    /// Optimizer state tensors per parameter (velocity; or first and second moments).
    pub fn moments_per_param(&self) -> usize {
        match self {
            Self::Sgd { .. } => 1,
            Self::Adamw { .. } => 2,
        }
    }
}

impl JobSpec {
    /// Parses and validates a TOML spec.
    pub fn from_toml(text: &str) -> Result<Self> {
        let spec: Self =
            toml::from_str(text).map_err(|error| Error::SpecParse(error.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The dataset root as a hash (validated by [`JobSpec::validate`]).
    pub fn dataset_root(&self) -> Result<Hash32> {
        Hash32::from_hex(&self.dataset.root).ok_or_else(|| Error::InvalidSpec {
            field: "dataset.root",
            reason: format!("{:?} is not 32 bytes of 0x-prefixed hex", self.dataset.root),
        })
    }

    /// The model root S₀'s weights are loaded from, `None` when they are drawn
    /// from the seed (validated by [`JobSpec::validate`]).
    pub fn initial_model_root(&self) -> Result<Option<Hash32>> {
        match &self.init {
            InitSpec::Seed => Ok(None),
            InitSpec::Model { root } => Hash32::from_hex(root)
                .filter(|hash| *hash != Hash32::default())
                .map(Some)
                .ok_or_else(|| Error::InvalidSpec {
                    field: "init.root",
                    reason: format!("{root:?} is not a nonzero 32-byte hex root (0x…)"),
                }),
        }
    }

    /// The model with every shape inferred (see [`ModelSpec::plan`]).
    pub fn model_plan(&self) -> Result<ModelPlan> {
        self.model.plan(self.dataset.features, self.dataset.classes)
    }

    /// Shapes of the parameter tensors, in state order: each parametrised
    /// layer's weight, then its bias (`W₁ [out,in], b₁ [out], W₂, b₂, …` for
    /// an MLP). Empty for a spec whose model does not plan (one that
    /// [`JobSpec::validate`] refuses).
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        self.model_plan()
            .map(|plan| plan.param_shapes)
            .unwrap_or_default()
    }

    /// Total number of trainable parameters.
    pub fn param_count(&self) -> usize {
        self.param_shapes()
            .iter()
            .map(|shape| shape.iter().product::<usize>())
            .sum()
    }

    /// The step cost model of the market (`docs/dispute-game.md` § Clocks): an
    /// upper bound on the fp32 primitives of one training step.
    ///
    /// For an `mlp`, per sample, three fmas per weight (forward, weight
    /// gradient, input gradient), four ops per unit (bias, ReLU and their
    /// gradients) and 40 per class (the log-softmax and the loss gradient);
    /// per parameter, 16 for the optimizer. Twin of `MlpSpecCodec.stepOps`.
    /// For a graph, the sum over the step's nodes of their element count times
    /// their longest micro-program ([`crate::train::step_ops`]).
    ///
    /// `JobMarket.postJob` refuses a job whose one-game replay,
    /// `2 × (k + 1) × step_ops`, exceeds its clock extension times its replay rate.
    pub fn step_ops(&self) -> u128 {
        let ModelSpec::Mlp { hidden, .. } = &self.model else {
            return crate::train::step_ops(self);
        };
        let widths: Vec<u128> = std::iter::once(self.dataset.features)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(self.dataset.classes))
            .map(u128::from)
            .collect();
        let (mut weights, mut units) = (0u128, 0u128);
        for pair in widths.windows(2) {
            weights += pair[0] * pair[1];
            units += pair[1];
        }
        let classes = u128::from(self.dataset.classes);
        u128::from(self.batch_size) * (3 * weights + 4 * units + 40 * classes)
            + 16 * self.param_count() as u128
    }

    /// Number of committed checkpoints: T/k + 1 (steps 0, k, …, T).
    pub fn num_checkpoints(&self) -> u32 {
        self.steps / self.checkpoint_interval + 1
    }

    /// Training samples: all but the held-out ones.
    pub fn train_samples(&self) -> u32 {
        self.dataset.samples - self.dataset.holdout
    }
}
