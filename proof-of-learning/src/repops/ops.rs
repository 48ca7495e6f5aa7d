//! Every repop, and the micro-program of each of its output elements.
//! Normative text: `docs/repops.md` § Operators.
//!
//! Matrices are row-major. An op reads its inputs in the order listed on its
//! variant (that order is the `slot` of [`super::program::Operand::Input`]).

use super::attention::{self, AttentionGeometry, EmbeddingGeometry};
use super::clip;
use super::norm::{self, NormGeometry};
use super::program::{ElementTrace, Fp, Recorder};
use super::{conv, math};
use crate::spec::{ConvGeometry, PoolGeometry};
use serde::{Deserialize, Serialize};

/// The learning-rate schedule: a pure function of the step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// `lr` at every step.
    Constant,
    /// Linear warm-up over `warmup_steps`, then linear decay to 0 at the last step.
    LinearWarmupDecay {
        /// Steps of warm-up (may be 0).
        warmup_steps: u32,
    },
    /// Linear warm-up over `warmup_steps`, then a cosine decay towards 0
    /// (`docs/repops.md` § 5, the cosine as a program of primitives).
    LinearWarmupCosine {
        /// Steps of warm-up (may be 0).
        warmup_steps: u32,
    },
    /// `lr · gamma^⌊t / every⌋`.
    Step {
        /// Steps between decays.
        every: u32,
        /// Decay factor.
        gamma: f32,
    },
}

/// One repop call, with every shape and constant its micro-programs need.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// The step's scalars `[lr_t, −lr_t, 1 − β₁^(t+1), 1 − β₂^(t+1)]`. No inputs.
    Schedule {
        /// The step t (0-based).
        step: u32,
        /// Total steps T.
        total_steps: u32,
        /// Base learning rate.
        lr: f32,
        /// The schedule.
        schedule: LrSchedule,
        /// Adam's β₁ (0 for SGD).
        beta1: f32,
        /// Adam's β₂ (0 for SGD).
        beta2: f32,
    },
    /// Columns `start .. start + len` of row `rows[i]` of the dataset: no
    /// arithmetic. Input: the dataset tensor `[n, width]`.
    Gather {
        /// For each output row, the dataset row it copies.
        rows: Vec<u32>,
        /// The dataset's row width.
        width: usize,
        /// The first column copied.
        start: usize,
        /// The columns copied per row.
        len: usize,
    },
    /// `Z[i,j] = b[j] + Σ_k A[i,k]·W[j,k]`. Inputs: A `[m,k]`, W `[n,k]`, b `[n]`.
    Linear {
        /// Rows (the batch).
        m: usize,
        /// Reduction length (input features).
        k: usize,
        /// Outputs per row.
        n: usize,
    },
    /// `max(z, 0)` as `z > 0 ? z : +0`. Input: Z.
    Relu,
    /// Row-wise log-softmax. Input: Z `[rows, classes]`.
    LogSoftmax {
        /// Rows.
        rows: usize,
        /// Classes.
        classes: usize,
    },
    /// Gradient of the mean cross-entropy w.r.t. the logits:
    /// `(exp(LS[i,j]) − [y_i = j]) / rows`. Inputs: LS `[rows, classes]`, y `[rows]`.
    XentGrad {
        /// Rows (the batch).
        rows: usize,
        /// Classes.
        classes: usize,
    },
    /// `dW[o,k] = Σ_i dZ[i,o]·A[i,k]`. Inputs: dZ `[m,o]`, A `[m,k]`.
    WeightGrad {
        /// Rows (the batch; the reduction).
        m: usize,
        /// Outputs of the layer.
        o: usize,
        /// Inputs of the layer.
        k: usize,
    },
    /// `dA[i,k] = Σ_o dZ[i,o]·W[o,k]`. Inputs: dZ `[m,o]`, W `[o,k]`.
    InputGrad {
        /// Rows (the batch).
        m: usize,
        /// Outputs of the layer (the reduction).
        o: usize,
        /// Inputs of the layer.
        k: usize,
    },
    /// `db[o] = Σ_i dZ[i,o]`. Input: dZ `[m,o]`.
    BiasGrad {
        /// Rows (the reduction).
        m: usize,
        /// Outputs.
        o: usize,
    },
    /// `Z > 0 ? dA : +0`. Inputs: Z, dA.
    ReluGrad,
    /// SGD with momentum, the new velocity `v' = μ·v + (g + λ·w)`.
    /// Inputs: schedule, w, g, v.
    SgdVelocity {
        /// Momentum μ.
        momentum: f32,
        /// Weight decay λ.
        weight_decay: f32,
    },
    /// SGD with momentum, the new weight `w' = w − lr_t·v'`, reading the new
    /// velocity the step already produced. Inputs: schedule, w, v'.
    SgdWeight,
    /// AdamW's first moment `m' = β₁·m + (1−β₁)·g`. Inputs: schedule, w, g, m, v.
    AdamFirstMoment(AdamParams),
    /// AdamW's second moment `v' = β₂·v + (1−β₂)·g²`. Inputs: schedule, w, g, m, v.
    AdamSecondMoment(AdamParams),
    /// AdamW's new weight, reading the new moments the step already produced.
    /// Inputs: schedule, w, m', v'.
    AdamWeight(AdamParams),
    /// 2-D convolution (`conv::conv2d`). Inputs: X `[b,c_in,h,w]`, W, b.
    Conv2d(ConvGeometry),
    /// Its weight gradient (`conv::conv2d_weight_grad`). Inputs: dZ, X.
    Conv2dWeightGrad(ConvGeometry),
    /// Its input gradient (`conv::conv2d_input_grad`). Inputs: dZ, W.
    Conv2dInputGrad(ConvGeometry),
    /// Its bias gradient (`conv::conv2d_bias_grad`). Input: dZ.
    Conv2dBiasGrad(ConvGeometry),
    /// Max pooling (`conv::maxpool2d`). Input: X.
    MaxPool2d(PoolGeometry),
    /// Its input gradient (`conv::maxpool2d_grad`). Inputs: X, dY.
    MaxPool2dGrad(PoolGeometry),
    /// Average pooling (`conv::avgpool2d`). Input: X.
    AvgPool2d(PoolGeometry),
    /// Its input gradient (`conv::avgpool2d_grad`). Input: dY.
    AvgPool2dGrad(PoolGeometry),
    /// Inverted dropout: `keep(e) ? mul(x, div(1, sub(1, p))) : +0`. Input: X.
    Dropout(DropoutMask),
    /// Its gradient, the same mask on dY. Input: dY.
    DropoutGrad(DropoutMask),
    /// A layer norm's row statistics `S [rows, 2]`: the mean and the
    /// reciprocal standard deviation of each row (`norm::stats`). Input: X.
    LayerNormStats(NormGeometry),
    /// The layer norm `fma(x̂, γ, β)` (`norm::forward`). Inputs: X, S, γ, β.
    LayerNorm(NormGeometry),
    /// Its input gradient (`norm::input_grad`). Inputs: X, S, γ, dY.
    LayerNormInputGrad(NormGeometry),
    /// Its gain gradient (`norm::weight_grad`). Inputs: X, S, dY.
    LayerNormWeightGrad(NormGeometry),
    /// GELU, tanh form (`norm::gelu`). Input: X.
    Gelu,
    /// Its gradient (`norm::gelu_grad`). Inputs: X, dY.
    GeluGrad,
    /// The running sum of squares of the gradients, one parameter further
    /// (`clip::square_sum`): a `[1]` tensor. Inputs: the previous sum (when
    /// `chained`), the gradient.
    GradSquareSum {
        /// The gradient's elements.
        len: usize,
        /// Whether it continues an earlier parameter's sum.
        chained: bool,
    },
    /// The clipping scale `min(max_norm / (‖g‖ + 1e-6), 1)` (`clip::scale`):
    /// a `[1]` tensor. Input: the sum of squares.
    ClipScale {
        /// The largest gradient norm kept.
        max_norm: f32,
    },
    /// A clipped gradient `g·c` (`clip::clip`). Inputs: g, the scale.
    ClipGrad,
    /// `add(A, B)` element by element (`attention::add`): a residual
    /// connection, or two gradients that meet. Inputs: A, B.
    Add,
    /// Token plus position embedding (`attention::embed`). Inputs: the
    /// tokens `[B, T]`, the token table, the position table.
    Embed(EmbeddingGeometry),
    /// The token table's gradient (`attention::embed_grad`). Inputs: the tokens, dY.
    EmbedGrad(EmbeddingGeometry),
    /// Causal attention scores (`attention::scores`). Inputs: Q, K.
    AttnScores(AttentionGeometry),
    /// Their softmax statistics `[B, H, T, 2]` (`attention::softmax_stats`). Input: S.
    AttnSoftmaxStats(AttentionGeometry),
    /// The attention probabilities (`attention::softmax`). Inputs: S, the statistics.
    AttnSoftmax(AttentionGeometry),
    /// The attention output per head (`attention::context`). Inputs: P, V.
    AttnContext(AttentionGeometry),
    /// The probabilities' gradient (`attention::probs_grad`). Inputs: dO, V.
    AttnProbsGrad(AttentionGeometry),
    /// The values' gradient (`attention::value_grad`). Inputs: P, dO.
    AttnValueGrad(AttentionGeometry),
    /// The softmax-gradient row dot `[B, H, T]` (`attention::softmax_dot`). Inputs: P, dP.
    AttnSoftmaxDot(AttentionGeometry),
    /// The scores' gradient (`attention::softmax_grad`). Inputs: P, dP, the dot.
    AttnSoftmaxGrad(AttentionGeometry),
    /// The queries' gradient (`attention::query_grad`). Inputs: dS, K.
    AttnQueryGrad(AttentionGeometry),
    /// The keys' gradient (`attention::key_grad`). Inputs: dS, Q.
    AttnKeyGrad(AttentionGeometry),
}

/// The dropout mask of one layer at one step: element `e` is kept when
/// `uniform01(key, e) ≥ p`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutMask {
    /// `draw(derive_key(seed, DROPOUT + layer), step)`.
    pub key: u64,
    /// The drop probability.
    pub p: f32,
}

impl DropoutMask {
    /// The mask of graph layer `layer` at step `step` of a job seeded `seed`.
    pub fn new(seed: u64, layer: usize, step: u32, p: f32) -> Self {
        use crate::prng::{derive_key, draw, purpose};
        Self {
            key: draw(
                derive_key(seed, purpose::DROPOUT + layer as u64),
                u64::from(step),
            ),
            p,
        }
    }

    /// Whether element `e` is kept.
    pub fn keeps(&self, e: usize) -> bool {
        crate::prng::uniform01(self.key, e as u64) >= self.p
    }

    /// `keep(e) ? mul(v, div(1, sub(1, p))) : +0` for the value at input 0.
    #[inline(always)]
    fn apply<F: Fp>(&self, fp: &mut F, inputs: &[&[f32]], e: usize) -> F::V {
        if !self.keeps(e) {
            return fp.constant(0.0);
        }
        let value = load(fp, inputs, 0, e);
        let one = fp.constant(1.0);
        let p = fp.constant(self.p);
        let kept = fp.sub(one, p);
        let scale = fp.div(one, kept);
        fp.mul(value, scale)
    }
}

/// AdamW's hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    /// Decoupled weight decay λ.
    pub weight_decay: f32,
}

/// Reads input `slot` element `index` as a program value.
#[inline(always)]
fn load<F: Fp>(fp: &mut F, inputs: &[&[f32]], slot: u8, index: usize) -> F::V {
    fp.input(slot, index, inputs[slot as usize][index])
}

/// `base^n` by binary exponentiation over the bits of `n`, least significant
/// first: `result ← result·base` on a set bit, then `base ← base²` while
/// bits remain.
#[inline(always)]
pub fn powi<F: Fp>(fp: &mut F, base: F::V, mut n: u32) -> F::V {
    let mut result = fp.constant(1.0);
    let mut base = base;
    while n > 0 {
        if n & 1 == 1 {
            result = fp.mul(result, base);
        }
        n >>= 1;
        if n > 0 {
            base = fp.mul(base, base);
        }
    }
    result
}

impl Op {
    /// The op's variant name (`Conv2dWeightGrad`, …), for messages.
    pub fn name(&self) -> String {
        let debug = format!("{self:?}");
        debug
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// How many inputs the op reads.
    pub fn arity(&self) -> usize {
        match self {
            Self::Schedule { .. } => 0,
            Self::Gather { .. }
            | Self::Relu
            | Self::LogSoftmax { .. }
            | Self::BiasGrad { .. }
            | Self::Conv2dBiasGrad(_)
            | Self::MaxPool2d(_)
            | Self::AvgPool2d(_)
            | Self::AvgPool2dGrad(_)
            | Self::Dropout(_)
            | Self::DropoutGrad(_)
            | Self::LayerNormStats(_)
            | Self::Gelu
            | Self::ClipScale { .. }
            | Self::GradSquareSum { chained: false, .. } => 1,
            Self::GradSquareSum { chained: true, .. } | Self::ClipGrad => 2,
            Self::AttnSoftmaxStats(_) => 1,
            Self::Add
            | Self::EmbedGrad(_)
            | Self::AttnScores(_)
            | Self::AttnSoftmax(_)
            | Self::AttnContext(_)
            | Self::AttnProbsGrad(_)
            | Self::AttnValueGrad(_)
            | Self::AttnSoftmaxDot(_)
            | Self::AttnQueryGrad(_)
            | Self::AttnKeyGrad(_) => 2,
            Self::Embed(_) | Self::AttnSoftmaxGrad(_) => 3,
            Self::XentGrad { .. }
            | Self::WeightGrad { .. }
            | Self::InputGrad { .. }
            | Self::ReluGrad
            | Self::Conv2dWeightGrad(_)
            | Self::Conv2dInputGrad(_)
            | Self::MaxPool2dGrad(_)
            | Self::GeluGrad => 2,
            Self::Linear { .. } | Self::Conv2d(_) | Self::LayerNormWeightGrad(_) => 3,
            Self::LayerNorm(_) | Self::LayerNormInputGrad(_) => 4,
            Self::SgdWeight => 3,
            Self::SgdVelocity { .. } | Self::AdamWeight(_) => 4,
            Self::AdamFirstMoment(_) | Self::AdamSecondMoment(_) => 5,
        }
    }

    /// An upper bound on the micro-steps of any one output element (the
    /// cost model of [`crate::spec::JobSpec::step_ops`]).
    pub fn max_program_len(&self) -> u64 {
        let windows = |kernel: usize, stride: usize| kernel.div_ceil(stride).pow(2) as u64;
        match *self {
            Self::Schedule { .. } => 64,
            Self::Gather { .. } | Self::Relu | Self::ReluGrad | Self::SgdWeight => 1,
            Self::Linear { k, .. } => k as u64,
            Self::LogSoftmax { classes, .. } => 18 * classes as u64 + 20,
            Self::XentGrad { .. } => 18,
            Self::WeightGrad { m, .. } | Self::BiasGrad { m, .. } => m as u64,
            Self::InputGrad { o, .. } => o as u64,
            Self::SgdVelocity { .. } => 2,
            Self::AdamFirstMoment(_) => 3,
            Self::AdamSecondMoment(_) => 4,
            Self::AdamWeight(_) => 7,
            Self::Conv2d(g) => g.patch() as u64,
            Self::Conv2dWeightGrad(g) | Self::Conv2dBiasGrad(g) => {
                (g.batch * g.oh() * g.ow()) as u64
            }
            Self::Conv2dInputGrad(g) => (g.kernel * g.kernel * (g.c_out + 1)) as u64,
            Self::MaxPool2d(g) => (g.kernel * g.kernel) as u64,
            Self::MaxPool2dGrad(g) => {
                windows(g.kernel, g.stride) * (2 * (g.kernel * g.kernel) as u64 + 2)
            }
            Self::AvgPool2d(g) => (g.kernel * g.kernel) as u64,
            Self::AvgPool2dGrad(g) => windows(g.kernel, g.stride) + 1,
            Self::Dropout(_) | Self::DropoutGrad(_) => 3,
            Self::LayerNormStats(g) => 3 * g.width as u64 + 5,
            Self::LayerNorm(_) => 3,
            Self::LayerNormInputGrad(g) => 5 * g.width as u64 + 9,
            Self::LayerNormWeightGrad(g) => 3 * g.rows as u64,
            Self::Gelu => 21,
            Self::GeluGrad => 29,
            Self::GradSquareSum { len, .. } => len as u64,
            Self::ClipScale { .. } => 4,
            Self::ClipGrad | Self::Add => 1,
            Self::Embed(g) => 2 * g.vocab as u64 + 1,
            Self::EmbedGrad(g) => 2 * (g.batch * g.seq) as u64,
            Self::AttnScores(g) | Self::AttnProbsGrad(g) => g.head_dim as u64 + 1,
            Self::AttnSoftmaxStats(g) => 20 * g.seq as u64,
            Self::AttnSoftmax(_) => 20,
            Self::AttnContext(g)
            | Self::AttnValueGrad(g)
            | Self::AttnSoftmaxDot(g)
            | Self::AttnQueryGrad(g)
            | Self::AttnKeyGrad(g) => g.seq as u64,
            Self::AttnSoftmaxGrad(_) => 3,
        }
    }

    /// The reference evaluator: output element `e` computed literally from the
    /// normative definition, with its full micro-trace.
    pub fn reference_element(&self, inputs: &[&[f32]], e: usize) -> ElementTrace {
        let mut recorder = Recorder::default();
        let value = self.element(&mut recorder, inputs, e);
        recorder.finish(value)
    }

    /// The micro-program of output element `e`, run on `fp`.
    #[inline(always)]
    pub fn element<F: Fp>(&self, fp: &mut F, inputs: &[&[f32]], e: usize) -> F::V {
        match *self {
            Self::Schedule { .. } => self.schedule_element(fp, e),
            Self::Gather {
                ref rows,
                width,
                start,
                len,
            } => {
                let (i, d) = (e / len, e % len);
                load(fp, inputs, 0, rows[i] as usize * width + start + d)
            }
            Self::Linear { k, n, .. } => {
                let (i, j) = (e / n, e % n);
                let mut acc = load(fp, inputs, 2, j);
                for kk in 0..k {
                    let a = load(fp, inputs, 0, i * k + kk);
                    let w = load(fp, inputs, 1, j * k + kk);
                    acc = fp.fma(a, w, acc);
                }
                acc
            }
            Self::Relu => {
                let z = load(fp, inputs, 0, e);
                let zero = fp.constant(0.0);
                fp.sel_gt(z, zero, z, zero)
            }
            Self::LogSoftmax { classes, .. } => {
                let row = e / classes * classes;
                let (max, log_sum) = log_softmax_row(fp, inputs, row, classes);
                let z = load(fp, inputs, 0, e);
                let shifted = fp.sub(z, max);
                fp.sub(shifted, log_sum)
            }
            Self::XentGrad { rows, classes } => {
                let (i, j) = (e / classes, e % classes);
                let ls = load(fp, inputs, 0, e);
                let p = math::exp(fp, ls);
                let label = load(fp, inputs, 1, i);
                let class = fp.constant(j as f32);
                let one = fp.constant(1.0);
                let zero = fp.constant(0.0);
                let target = fp.sel_eq(label, class, one, zero);
                let diff = fp.sub(p, target);
                let batch = fp.constant(rows as f32);
                fp.div(diff, batch)
            }
            Self::WeightGrad { m, o, k } => {
                let (oo, kk) = (e / k, e % k);
                let mut acc = fp.constant(0.0);
                for i in 0..m {
                    let dz = load(fp, inputs, 0, i * o + oo);
                    let a = load(fp, inputs, 1, i * k + kk);
                    acc = fp.fma(dz, a, acc);
                }
                acc
            }
            Self::InputGrad { o, k, .. } => {
                let (i, kk) = (e / k, e % k);
                let mut acc = fp.constant(0.0);
                for oo in 0..o {
                    let dz = load(fp, inputs, 0, i * o + oo);
                    let w = load(fp, inputs, 1, oo * k + kk);
                    acc = fp.fma(dz, w, acc);
                }
                acc
            }
            Self::BiasGrad { m, o } => {
                let mut acc = fp.constant(0.0);
                for i in 0..m {
                    let dz = load(fp, inputs, 0, i * o + e);
                    acc = fp.add(acc, dz);
                }
                acc
            }
            Self::ReluGrad => {
                let z = load(fp, inputs, 0, e);
                let da = load(fp, inputs, 1, e);
                let zero = fp.constant(0.0);
                fp.sel_gt(z, zero, da, zero)
            }
            Self::SgdVelocity {
                momentum,
                weight_decay,
            } => sgd_velocity(fp, inputs, e, momentum, weight_decay),
            Self::SgdWeight => {
                let neg_lr = load(fp, inputs, 0, 1);
                let v = load(fp, inputs, 2, e);
                let w = load(fp, inputs, 1, e);
                fp.fma(neg_lr, v, w)
            }
            Self::Conv2d(ref g) => conv::conv2d(fp, inputs, g, e),
            Self::Conv2dWeightGrad(ref g) => conv::conv2d_weight_grad(fp, inputs, g, e),
            Self::Conv2dInputGrad(ref g) => conv::conv2d_input_grad(fp, inputs, g, e),
            Self::Conv2dBiasGrad(ref g) => conv::conv2d_bias_grad(fp, inputs, g, e),
            Self::MaxPool2d(ref g) => conv::maxpool2d(fp, inputs, g, e),
            Self::MaxPool2dGrad(ref g) => conv::maxpool2d_grad(fp, inputs, g, e),
            Self::AvgPool2d(ref g) => conv::avgpool2d(fp, inputs, g, e),
            Self::AvgPool2dGrad(ref g) => conv::avgpool2d_grad(fp, inputs, g, e),
            Self::Dropout(ref mask) | Self::DropoutGrad(ref mask) => mask.apply(fp, inputs, e),
            Self::LayerNormStats(ref g) => norm::stats(fp, inputs, g, e),
            Self::LayerNorm(ref g) => norm::forward(fp, inputs, g, e),
            Self::LayerNormInputGrad(ref g) => norm::input_grad(fp, inputs, g, e),
            Self::LayerNormWeightGrad(ref g) => norm::weight_grad(fp, inputs, g, e),
            Self::Gelu => norm::gelu(fp, inputs, e),
            Self::GeluGrad => norm::gelu_grad(fp, inputs, e),
            Self::GradSquareSum { len, chained } => clip::square_sum(fp, inputs, len, chained),
            Self::ClipScale { max_norm } => clip::scale(fp, inputs, max_norm),
            Self::ClipGrad => clip::clip(fp, inputs, e),
            Self::Add => attention::add(fp, inputs, e),
            Self::Embed(ref g) => attention::embed(fp, inputs, g, e),
            Self::EmbedGrad(ref g) => attention::embed_grad(fp, inputs, g, e),
            Self::AttnScores(ref g) => attention::scores(fp, inputs, g, e),
            Self::AttnSoftmaxStats(ref g) => attention::softmax_stats(fp, inputs, g, e),
            Self::AttnSoftmax(ref g) => attention::softmax(fp, inputs, g, e),
            Self::AttnContext(ref g) => attention::context(fp, inputs, g, e),
            Self::AttnProbsGrad(ref g) => attention::probs_grad(fp, inputs, g, e),
            Self::AttnValueGrad(ref g) => attention::value_grad(fp, inputs, g, e),
            Self::AttnSoftmaxDot(ref g) => attention::softmax_dot(fp, inputs, g, e),
            Self::AttnSoftmaxGrad(ref g) => attention::softmax_grad(fp, inputs, g, e),
            Self::AttnQueryGrad(ref g) => attention::query_grad(fp, inputs, g, e),
            Self::AttnKeyGrad(ref g) => attention::key_grad(fp, inputs, g, e),
            Self::AdamFirstMoment(params) => adam_first_moment(fp, inputs, e, params),
            Self::AdamSecondMoment(params) => adam_second_moment(fp, inputs, e, params),
            Self::AdamWeight(params) => {
                let m = load(fp, inputs, 2, e);
                let v = load(fp, inputs, 3, e);
                let bc1 = load(fp, inputs, 0, 2);
                let bc2 = load(fp, inputs, 0, 3);
                let m_hat = fp.div(m, bc1);
                let v_hat = fp.div(v, bc2);
                let root = fp.sqrt(v_hat);
                let eps = fp.constant(params.eps);
                let denominator = fp.add(root, eps);
                let update = fp.div(m_hat, denominator);
                let w = load(fp, inputs, 1, e);
                let decay = fp.constant(params.weight_decay);
                let update = fp.fma(decay, w, update);
                let neg_lr = load(fp, inputs, 0, 1);
                fp.fma(neg_lr, update, w)
            }
        }
    }

    fn schedule_element<F: Fp>(&self, fp: &mut F, e: usize) -> F::V {
        let Self::Schedule {
            step,
            total_steps,
            lr,
            schedule,
            beta1,
            beta2,
        } = *self
        else {
            unreachable!("schedule_element is only called on Op::Schedule")
        };
        let lr_t = |fp: &mut F| {
            let lr = fp.constant(lr);
            match schedule {
                LrSchedule::Constant => lr,
                LrSchedule::LinearWarmupDecay { warmup_steps }
                | LrSchedule::LinearWarmupCosine { warmup_steps }
                    if step < warmup_steps =>
                {
                    let done = fp.constant((step + 1) as f32);
                    let scaled = fp.mul(lr, done);
                    let warmup = fp.constant(warmup_steps as f32);
                    fp.div(scaled, warmup)
                }
                LrSchedule::LinearWarmupDecay { warmup_steps } => {
                    let left = fp.constant((total_steps - step) as f32);
                    let scaled = fp.mul(lr, left);
                    let span = fp.constant((total_steps - warmup_steps) as f32);
                    fp.div(scaled, span)
                }
                LrSchedule::LinearWarmupCosine { warmup_steps } => {
                    let done = fp.constant((step - warmup_steps) as f32);
                    let span = fp.constant((total_steps - warmup_steps) as f32);
                    let progress = fp.div(done, span);
                    let half = cosine_half(fp, progress);
                    fp.mul(lr, half)
                }
                LrSchedule::Step { every, gamma } => {
                    let gamma = fp.constant(gamma);
                    let factor = powi(fp, gamma, step / every);
                    fp.mul(lr, factor)
                }
            }
        };
        let bias_correction = |fp: &mut F, beta: f32| {
            let beta = fp.constant(beta);
            let power = powi(fp, beta, step + 1);
            let one = fp.constant(1.0);
            fp.sub(one, power)
        };
        match e {
            0 => lr_t(fp),
            1 => {
                let lr = lr_t(fp);
                let minus_one = fp.constant(-1.0);
                fp.mul(lr, minus_one)
            }
            2 => bias_correction(fp, beta1),
            _ => bias_correction(fp, beta2),
        }
    }
}

/// The odd Taylor coefficients of `sin x / x`, `(−1)^i / (2i+1)!` for
/// `i = 6, 5, …, 1`, as f32 bits (Horner order).
const SIN_COEFFICIENTS: [u32; 6] = [
    0x2F30_9231,
    0xB2D7_322B,
    0x3638_EF1D,
    0xB950_0D01,
    0x3C08_8889,
    0xBE2A_AAAB,
];
/// π as f32.
const PI_BITS: u32 = 0x4049_0FDB;

/// `0.5·(1 + cos(π·p))` for `p` in `[0, 1]`, 10 primitives
/// (`docs/repops.md` § 5): with `x = π·(p − ½)`, `cos(π·p) = −sin x`, and
/// `sin x = x·(1 + x²·(c₃ + x²·(c₅ + … + x²·c₁₃)))` for `|x| ≤ π/2`.
#[inline(always)]
fn cosine_half<F: Fp>(fp: &mut F, progress: F::V) -> F::V {
    let half = fp.constant(0.5);
    let centred = fp.sub(progress, half);
    let pi = fp.constant(f32::from_bits(PI_BITS));
    let x = fp.mul(centred, pi);
    let x2 = fp.mul(x, x);
    let mut poly = fp.constant(f32::from_bits(SIN_COEFFICIENTS[0]));
    for &c in &SIN_COEFFICIENTS[1..] {
        let c = fp.constant(f32::from_bits(c));
        poly = fp.fma(poly, x2, c);
    }
    let one = fp.constant(1.0);
    poly = fp.fma(poly, x2, one);
    let sine = fp.mul(x, poly);
    let minus_half = fp.constant(-0.5);
    fp.fma(sine, minus_half, half)
}

/// The row's maximum and the log of its sum of shifted exponentials. The
/// fast log-softmax kernel calls this once per row and shares the result
/// between the row's elements.
#[inline(always)]
pub(crate) fn log_softmax_row<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    row: usize,
    classes: usize,
) -> (F::V, F::V) {
    let mut max = load(fp, inputs, 0, row);
    for c in 1..classes {
        let z = load(fp, inputs, 0, row + c);
        max = fp.max(max, z);
    }
    let mut sum = None;
    for c in 0..classes {
        let z = load(fp, inputs, 0, row + c);
        let shifted = fp.sub(z, max);
        let term = math::exp(fp, shifted);
        sum = Some(match sum {
            None => term,
            Some(acc) => fp.add(acc, term),
        });
    }
    let sum = sum.unwrap_or(max);
    (max, math::log(fp, sum))
}

#[inline(always)]
fn sgd_velocity<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    e: usize,
    momentum: f32,
    weight_decay: f32,
) -> F::V {
    let w = load(fp, inputs, 1, e);
    let g = load(fp, inputs, 2, e);
    let v = load(fp, inputs, 3, e);
    let decay = fp.constant(weight_decay);
    let g = fp.fma(decay, w, g);
    let momentum = fp.constant(momentum);
    fp.fma(momentum, v, g)
}

#[inline(always)]
fn adam_first_moment<F: Fp>(fp: &mut F, inputs: &[&[f32]], e: usize, params: AdamParams) -> F::V {
    let g = load(fp, inputs, 2, e);
    let m = load(fp, inputs, 3, e);
    let one = fp.constant(1.0);
    let beta1 = fp.constant(params.beta1);
    let c1 = fp.sub(one, beta1);
    let scaled = fp.mul(c1, g);
    fp.fma(beta1, m, scaled)
}

#[inline(always)]
fn adam_second_moment<F: Fp>(fp: &mut F, inputs: &[&[f32]], e: usize, params: AdamParams) -> F::V {
    let g = load(fp, inputs, 2, e);
    let v = load(fp, inputs, 4, e);
    let one = fp.constant(1.0);
    let beta2 = fp.constant(params.beta2);
    let c2 = fp.sub(one, beta2);
    let squared = fp.mul(g, g);
    let scaled = fp.mul(c2, squared);
    fp.fma(beta2, v, scaled)
}
