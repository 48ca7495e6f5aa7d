//! Job spec validation: everything a solver must be able to run exactly and a
//! dispute game must be able to settle. `JobMarket.postJob` checks the same
//! bounds in the same order (`contracts/src/lib/SpecRules.sol`,
//! `contracts/src/semantics/MlpSpecCodec.sol`); both read the vectors of
//! `contracts/test/vectors/specs.json`.

use super::{JobSpec, ModelSpec, OptimizerSpec};
use crate::error::{Error, Result};
use crate::hash::Hash32;
use crate::repops::{LrSchedule, REPOPS_VERSION};

/// Steps and sample counts stay below 2^24 so that every step index and count
/// is an exact f32 (the schedule's micro-programs compute with them).
pub const MAX_STEPS: u32 = 1 << 24;
/// The widest layer (features, hidden units or classes).
pub const MAX_WIDTH: u32 = 1 << 16;
/// The deepest MLP.
pub const MAX_HIDDEN_LAYERS: usize = 16;
/// The largest model, in parameters.
pub const MAX_PARAMS: usize = 1 << 28;
/// The most parameter tensors of a model (each has its own PRNG sub-stream).
pub const MAX_PARAM_TENSORS: usize = 256;
/// The largest batch.
pub const MAX_BATCH: u32 = 1 << 16;
/// The most checkpoints a job may have: their state roots are posted on chain
/// with the result (`JobMarket.submitResult`).
pub const MAX_CHECKPOINTS: u32 = 1024;

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidSpec {
        field,
        reason: reason.into(),
    }
}

fn check_finite(field: &'static str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be a finite number, got {value}"),
        ))
    }
}

fn check_unit_interval(field: &'static str, value: f32) -> Result<()> {
    check_finite(field, value)?;
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(field, format!("must be in [0, 1), got {value}")))
    }
}

fn check_positive(field: &'static str, value: f32) -> Result<()> {
    check_finite(field, value)?;
    if value > 0.0 {
        Ok(())
    } else {
        Err(invalid(field, format!("must be > 0, got {value}")))
    }
}

fn check_non_negative(field: &'static str, value: f32) -> Result<()> {
    check_finite(field, value)?;
    if value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(field, format!("must be ≥ 0, got {value}")))
    }
}

fn check_range(field: &'static str, value: u32, min: u32, max: u32) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be in {min}..={max}, got {value}"),
        ))
    }
}

impl JobSpec {
    /// Checks every field; the first problem is returned with its field name.
    pub fn validate(&self) -> Result<()> {
        if self.repops_version != REPOPS_VERSION {
            return Err(invalid(
                "repops_version",
                format!(
                    "this build implements repops v{REPOPS_VERSION}, the job asks for v{}",
                    self.repops_version
                ),
            ));
        }
        check_range("steps", self.steps, 1, MAX_STEPS - 1)?;
        check_range(
            "checkpoint_interval",
            self.checkpoint_interval,
            1,
            self.steps,
        )?;
        if !self.steps.is_multiple_of(self.checkpoint_interval) {
            return Err(invalid(
                "checkpoint_interval",
                format!(
                    "{} does not divide steps = {}",
                    self.checkpoint_interval, self.steps
                ),
            ));
        }
        if self.num_checkpoints() > MAX_CHECKPOINTS {
            return Err(invalid(
                "checkpoint_interval",
                format!(
                    "{} checkpoints exceed the limit of {MAX_CHECKPOINTS}",
                    self.num_checkpoints()
                ),
            ));
        }

        let dataset = &self.dataset;
        match Hash32::from_hex(&dataset.root) {
            None => {
                return Err(invalid(
                    "dataset.root",
                    format!("{:?} is not 32 bytes of 0x-prefixed hex", dataset.root),
                ));
            }
            Some(root) if root == Hash32::default() => {
                return Err(invalid(
                    "dataset.root",
                    "the zero hash is not a content root",
                ));
            }
            Some(_) => {}
        }
        check_range("dataset.samples", dataset.samples, 2, MAX_STEPS - 1)?;
        check_range("dataset.features", dataset.features, 1, MAX_WIDTH)?;
        check_range("dataset.classes", dataset.classes, 2, MAX_WIDTH)?;
        if dataset.holdout >= dataset.samples {
            return Err(invalid(
                "dataset.holdout",
                format!(
                    "{} leaves no training samples out of {}",
                    dataset.holdout, dataset.samples
                ),
            ));
        }
        check_range(
            "batch_size",
            self.batch_size,
            1,
            MAX_BATCH.min(self.train_samples()),
        )?;

        if let ModelSpec::Mlp { hidden, .. } = &self.model {
            if hidden.len() > MAX_HIDDEN_LAYERS {
                return Err(invalid(
                    "model.hidden",
                    format!(
                        "at most {MAX_HIDDEN_LAYERS} hidden layers, got {}",
                        hidden.len()
                    ),
                ));
            }
            for &width in hidden {
                check_range("model.hidden", width, 1, MAX_WIDTH)?;
            }
        }
        let plan = self.model_plan()?;
        self.check_programs(&plan)?;
        let params = self.param_count();
        if params > MAX_PARAMS {
            return Err(invalid(
                "model",
                format!("{params} parameters exceed the limit of {MAX_PARAMS}"),
            ));
        }

        match self.optimizer {
            OptimizerSpec::Sgd {
                learning_rate,
                momentum,
                weight_decay,
            } => {
                check_positive("optimizer.learning_rate", learning_rate)?;
                check_unit_interval("optimizer.momentum", momentum)?;
                check_non_negative("optimizer.weight_decay", weight_decay)?;
            }
            OptimizerSpec::Adamw {
                learning_rate,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                check_positive("optimizer.learning_rate", learning_rate)?;
                check_unit_interval("optimizer.beta1", beta1)?;
                check_unit_interval("optimizer.beta2", beta2)?;
                check_positive("optimizer.eps", eps)?;
                check_non_negative("optimizer.weight_decay", weight_decay)?;
            }
        }

        match self.schedule {
            LrSchedule::Constant => {}
            LrSchedule::LinearWarmupDecay { warmup_steps }
            | LrSchedule::LinearWarmupCosine { warmup_steps } => {
                if warmup_steps >= self.steps {
                    return Err(invalid(
                        "schedule.warmup_steps",
                        format!("{warmup_steps} must be below steps = {}", self.steps),
                    ));
                }
            }
            LrSchedule::Step { every, gamma } => {
                check_range("schedule.every", every, 1, self.steps)?;
                check_positive("schedule.gamma", gamma)?;
            }
        }
        if let Some(max_norm) = self.clip_grad_norm {
            check_positive("clip_grad_norm", max_norm)?;
        }
        self.initial_model_root()?;
        Ok(())
    }

    /// Every micro-program of the step must have fewer than 2^32 steps (the
    /// game numbers them with a u32): the longest are the gradient
    /// reductions over the batch (times the output positions for a
    /// convolution).
    fn check_programs(&self, plan: &super::ModelPlan) -> Result<()> {
        let batch = self.batch_size as u64;
        // Parameter q draws its initial weights from the PRNG sub-stream
        // 0x100 + q (`docs/repops.md` § The initial state): 256 of them at
        // most, below the train/test split's 0x200.
        if plan.param_shapes.len() > MAX_PARAM_TENSORS {
            return Err(Error::InvalidSpec {
                field: "model.layers",
                reason: format!(
                    "{} parameter tensors, above the limit of {MAX_PARAM_TENSORS}",
                    plan.param_shapes.len()
                ),
            });
        }
        for (index, layer) in plan.layers.iter().enumerate() {
            // A linear layer's weight gradient sums one step per row it sees
            // (the batch times every input dimension but the last).
            if let super::Layer::Linear { .. } = layer.layer {
                let rows = layer.rows(self.batch_size as usize) as u64;
                if rows >= 1 << 31 {
                    return Err(Error::InvalidSpec {
                        field: "model.layers",
                        reason: format!(
                            "layer {index} (linear): batch × rows = {rows} is above 2^31"
                        ),
                    });
                }
            }
            if let Some(conv) = layer.conv(1) {
                let positions = (conv.oh() * conv.ow()) as u64;
                if batch * positions >= 1 << 31 {
                    return Err(Error::InvalidSpec {
                        field: "model.layers",
                        reason: format!(
                            "layer {index} (conv2d): batch × output positions = {} is above 2^31",
                            batch * positions
                        ),
                    });
                }
            }
            // An embedding's table gradient sums 2 steps per token of the batch.
            if let super::Layer::Embedding { .. } = layer.layer {
                let tokens = batch * layer.input.iter().product::<usize>() as u64;
                if tokens >= 1 << 31 {
                    return Err(Error::InvalidSpec {
                        field: "model.layers",
                        reason: format!(
                            "layer {index} (embedding): batch × positions = {tokens} is above 2^31"
                        ),
                    });
                }
            }
            // A layer norm's gain gradient sums 3 steps per normalised row.
            if let super::Layer::LayerNorm { .. } = layer.layer {
                let width = layer.input.last().copied().unwrap_or(1).max(1);
                let rows = batch * (layer.input.iter().product::<usize>() / width) as u64;
                if rows >= 1 << 29 {
                    return Err(Error::InvalidSpec {
                        field: "model.layers",
                        reason: format!(
                            "layer {index} (layer_norm): batch × normalised rows = {rows} is above 2^29"
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
