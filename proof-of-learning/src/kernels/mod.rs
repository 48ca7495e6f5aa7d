//! Fast kernels for every repop, bit-identical to the reference evaluator at
//! every SIMD level and thread count.
//!
//! The matmul-shaped ops (`Linear`, `WeightGrad`, `InputGrad`, and the
//! convolutions through im2col/col2im in [`conv`]) run the blocked GEMM of
//! [`gemm`]; every other op runs its own micro-program with
//! [`Direct`] arithmetic, compiled once per SIMD level so `fma` is a hardware
//! instruction where the CPU has one.

mod attention;
mod conv;
mod gemm;
mod lanes;
mod layer_norm;
mod microkernel;
mod pool;
mod sequence;

use crate::repops::{AttentionGeometry, Direct, NormGeometry, Op};
use attention::attention as attention_kernel;
use gemm::{MatView, Start, gemm};
use lanes::Wide;
use layer_norm::{
    forward as layer_norm_forward, input_grad as layer_norm_input_grad, stats as layer_norm_stats,
    weight_grad as layer_norm_weight_grad,
};
use rayon::prelude::*;
use std::fmt;
use std::sync::Arc;

/// Runs the body `$name` at `$level`: its AVX-512 build `$avx512` or AVX2
/// build `$avx2` (see `avx512_variant!`, `avx2_variant!`), which run its
/// programs on vector registers, or the portable body on `Direct`.
macro_rules! at_level {
    ($level:expr, $name:path, $avx512:ident, $avx2:ident, ($($arg:expr),*)) => {
        match $level {
            // SAFETY (both): a level is only made on CPUs that have it.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { $avx512($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2Fma => unsafe { $avx2($($arg),*) },
            _ => $name($($arg,)* Wide::SCALAR),
        }
    };
}

/// A SIMD level. Every level computes the same bits; they differ in speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// Portable Rust; fma is `f32::mul_add` (a libm call without hardware FMA).
    Scalar,
    /// AVX2 with FMA3 (x86-64-v3).
    Avx2Fma,
    /// AVX-512F (x86-64-v4).
    Avx512,
}

impl Level {
    /// The fastest level this CPU supports.
    pub fn detect() -> Self {
        Self::available().into_iter().last().unwrap_or(Self::Scalar)
    }

    /// Every level this CPU supports, slowest first.
    pub fn available() -> Vec<Self> {
        [Self::Scalar, Self::Avx2Fma, Self::Avx512]
            .into_iter()
            .filter(|level| level.is_supported())
            .collect()
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scalar => "scalar",
            Self::Avx2Fma => "avx2+fma",
            Self::Avx512 => "avx512",
        })
    }
}

/// A SIMD level and a thread pool: everything that may change speed and must
/// never change bits.
#[derive(Clone)]
pub struct Kernels {
    level: Level,
    pool: Arc<rayon::ThreadPool>,
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels")
            .field("level", &self.level)
            .field("threads", &self.threads())
            .finish()
    }
}

impl Kernels {
    /// Kernels at `level` (which must be supported) on `threads` workers
    /// (0: one per core).
    pub fn new(level: Level, threads: usize) -> Result<Self, crate::Error> {
        if !level.is_supported() {
            return Err(crate::Error::UnsupportedLevel(level));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("vtrain-kernel-{i}"))
            .build()
            .map_err(|error| crate::Error::ThreadPool(error.to_string()))?;
        Ok(Self {
            level,
            pool: Arc::new(pool),
        })
    }

    /// The fastest level on every core.
    pub fn detect() -> Result<Self, crate::Error> {
        Self::new(Level::detect(), 0)
    }

    /// The SIMD level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `op` on `inputs`, writing every output element into `out`.
    pub fn run(&self, op: &Op, inputs: &[&[f32]], out: &mut [f32]) {
        match *op {
            Op::Linear { m, k, n } => {
                for row in out.chunks_exact_mut(n) {
                    row.copy_from_slice(&inputs[2][..n]);
                }
                let a = MatView {
                    data: inputs[0],
                    rs: k,
                    cs: 1,
                };
                let w = MatView {
                    data: inputs[1],
                    rs: 1,
                    cs: k,
                };
                gemm(self.level, &self.pool, (m, n, k), a, w, out, Start::FromC);
            }
            Op::WeightGrad { m, o, k } => {
                let dz_t = MatView {
                    data: inputs[0],
                    rs: 1,
                    cs: o,
                };
                let act = MatView {
                    data: inputs[1],
                    rs: k,
                    cs: 1,
                };
                gemm(
                    self.level,
                    &self.pool,
                    (o, k, m),
                    dz_t,
                    act,
                    out,
                    Start::Zero,
                );
            }
            Op::InputGrad { m, o, k } => {
                let dz = MatView {
                    data: inputs[0],
                    rs: o,
                    cs: 1,
                };
                let w = MatView {
                    data: inputs[1],
                    rs: k,
                    cs: 1,
                };
                gemm(self.level, &self.pool, (m, k, o), dz, w, out, Start::Zero);
            }
            Op::Conv2d(ref g) => conv::conv2d(self.level, &self.pool, g, inputs, out),
            Op::Conv2dWeightGrad(ref g) => {
                conv::conv2d_weight_grad(self.level, &self.pool, g, inputs, out)
            }
            Op::Conv2dInputGrad(ref g) => {
                conv::conv2d_input_grad(self.level, &self.pool, g, inputs, out)
            }
            Op::MaxPool2d(ref g) => pool::maxpool2d(&self.pool, g, inputs[0], out),
            Op::MaxPool2dGrad(ref g) => {
                pool::maxpool2d_grad(&self.pool, g, inputs[0], inputs[1], out)
            }
            Op::Conv2dBiasGrad(ref g) => pool::conv2d_bias_grad(g, inputs[0], out),
            Op::Embed(ref g) => self.in_chunks(out, ELEMENTWISE_CHUNK, |c, chunk| {
                sequence::embed(g, inputs, c * ELEMENTWISE_CHUNK, chunk)
            }),
            Op::EmbedGrad(ref g) => sequence::embed_grad(g, inputs, out),
            Op::AttnScores(ref g)
            | Op::AttnSoftmaxStats(ref g)
            | Op::AttnSoftmax(ref g)
            | Op::AttnContext(ref g)
            | Op::AttnProbsGrad(ref g)
            | Op::AttnValueGrad(ref g)
            | Op::AttnSoftmaxDot(ref g)
            | Op::AttnSoftmaxGrad(ref g)
            | Op::AttnQueryGrad(ref g)
            | Op::AttnKeyGrad(ref g) => {
                let level = self.level;
                // Whole sequences per chunk: every layout is sequence-major.
                // Split by the work (a head's t² scores), not by the output,
                // which is one or two values a row for the statistics and the
                // softmax row dot.
                let per_sequence = out.len() / g.batch.max(1);
                let work = g.batch * g.heads * g.seq * g.seq;
                self.in_chunks_if(work >= PARALLEL_MIN, out, per_sequence, |b, chunk| {
                    at_level!(
                        level,
                        attention_kernel,
                        attention_avx512,
                        attention_avx2,
                        (op, g, inputs, b, chunk)
                    )
                });
            }
            Op::BiasGrad { m, o } => {
                if self.uses_avx2() {
                    // SAFETY: uses_avx2 is only true on CPUs with AVX2 and FMA.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        bias_grad_avx2(inputs[0], m, o, out)
                    }
                } else {
                    bias_grad(inputs[0], m, o, out)
                }
            }
            Op::LogSoftmax { classes, .. } => {
                let level = self.level;
                let rows_per_chunk = (ELEMENTWISE_CHUNK / classes.max(1)).max(1);
                self.in_chunks(out, rows_per_chunk * classes.max(1), |c, chunk| {
                    let first_row = c * rows_per_chunk;
                    at_level!(
                        level,
                        log_softmax,
                        log_softmax_avx512,
                        log_softmax_avx2,
                        (inputs, classes, first_row, chunk)
                    )
                });
            }
            Op::LayerNormStats(ref g) => {
                let avx2 = self.uses_avx2();
                self.by_rows(out, g, 2, |first_row, rows| {
                    if avx2 {
                        // SAFETY: avx2 is only true on CPUs with AVX2 and FMA.
                        #[cfg(target_arch = "x86_64")]
                        unsafe {
                            layer_norm_stats_avx2(g, inputs[0], first_row, rows)
                        }
                    } else {
                        layer_norm_stats(g, inputs[0], first_row, rows)
                    }
                });
            }
            Op::LayerNorm(ref g) | Op::LayerNormInputGrad(ref g) => {
                let avx2 = self.uses_avx2();
                let forward = matches!(op, Op::LayerNorm(_));
                self.by_rows(out, g, g.width, |first_row, rows| match (avx2, forward) {
                    // SAFETY (both): avx2 is only true on CPUs with AVX2 and FMA.
                    #[cfg(target_arch = "x86_64")]
                    (true, true) => unsafe { layer_norm_forward_avx2(g, inputs, first_row, rows) },
                    #[cfg(target_arch = "x86_64")]
                    (true, false) => unsafe {
                        layer_norm_input_grad_avx2(g, inputs, first_row, rows)
                    },
                    (_, true) => layer_norm_forward(g, inputs, first_row, rows),
                    (_, false) => layer_norm_input_grad(g, inputs, first_row, rows),
                });
            }
            Op::LayerNormWeightGrad(ref g) => {
                if self.uses_avx2() {
                    // SAFETY: uses_avx2 is only true on CPUs with AVX2 and FMA.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        layer_norm_weight_grad_avx2(g, inputs, out)
                    }
                } else {
                    layer_norm_weight_grad(g, inputs, out)
                }
            }
            _ => {
                let level = self.level;
                let fill = |offset: usize, chunk: &mut [f32]| {
                    at_level!(
                        level,
                        elementwise,
                        elementwise_avx512,
                        elementwise_avx2,
                        (op, inputs, offset, chunk)
                    )
                };
                self.in_chunks(out, ELEMENTWISE_CHUNK, |c, chunk| {
                    fill(c * ELEMENTWISE_CHUNK, chunk)
                });
            }
        }
    }

    /// Runs `fill(c, chunk)` over `out` cut into chunks of `chunk_len`
    /// values (`c` the chunk's number), in parallel unless `out` is below
    /// [`PARALLEL_MIN`] values or the pool has one thread (then once, on the
    /// whole of `out`, as chunk 0). Every caller's values are independent of
    /// the cut (element-wise, or whole rows or sequences per chunk), so the
    /// bits are the same either way.
    fn in_chunks(
        &self,
        out: &mut [f32],
        chunk_len: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        self.in_chunks_if(out.len() >= PARALLEL_MIN, out, chunk_len, fill)
    }

    /// [`Self::in_chunks`], in parallel only if `large` (and the pool has
    /// more than one thread).
    fn in_chunks_if(
        &self,
        large: bool,
        out: &mut [f32],
        chunk_len: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        if !large || self.threads() == 1 {
            fill(0, out);
        } else {
            self.pool.install(|| {
                out.par_chunks_mut(chunk_len)
                    .enumerate()
                    .for_each(|(c, chunk)| fill(c, chunk));
            });
        }
    }

    /// Runs `fill(first_row, chunk)` over `out`, `per_row` values a row of
    /// `g`, in chunks of whole rows (about [`ELEMENTWISE_CHUNK`] values each).
    fn by_rows(
        &self,
        out: &mut [f32],
        g: &NormGeometry,
        per_row: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        let per_row = per_row.max(1);
        let rows_per_chunk = (ELEMENTWISE_CHUNK / g.width.max(1)).max(1);
        self.in_chunks(out, rows_per_chunk * per_row, |c, chunk| {
            fill(c * rows_per_chunk, chunk)
        });
    }

    /// Whether this level runs the AVX2+FMA builds of the element-wise bodies
    /// (where `f32::mul_add` is one hardware instruction).
    fn uses_avx2(&self) -> bool {
        cfg!(target_arch = "x86_64") && matches!(self.level, Level::Avx2Fma | Level::Avx512)
    }
}

/// `a·b + c`, one link of an accumulation chain whose end is canonicalised
/// (by [`canon`](crate::repops::canon), or by the canonicalising primitive
/// it feeds). Leaving the NaN payload of the links alone gives the same bits:
/// an fma with a NaN operand gives a NaN, so the chain ends in a NaN exactly
/// when the reference's chain of canonicalising fmas does, and equals it
/// link for link until then. It takes the compare-and-blend of each link off
/// the chain's critical path.
#[inline(always)]
pub(super) fn fma_link(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}

/// `a + b`, one link of an accumulation chain (see [`fma_link`]).
#[inline(always)]
pub(super) fn add_link(a: f32, b: f32) -> f32 {
    a + b
}

/// The values of one parallel chunk of an element-wise op: small enough that
/// a transformer's `[B·T, D]` activations (`[1024, 64]`, 65,536 values) split
/// among the threads, large enough that a chunk's work (tens of µs) dwarfs
/// handing it to a thread.
const ELEMENTWISE_CHUNK: usize = 1 << 13;

/// Below this many values an element-wise op runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 14;

/// Declares `$name_avx2`, the same body compiled with AVX2 and FMA enabled.
macro_rules! avx2_variant {
    ($name:ident, $avx2:ident, ($($arg:ident: $ty:ty),*)) => {
        /// The AVX2+FMA build of the function of the same name.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2($($arg: $ty),*) {
            $name($($arg),*)
        }
    };
    // A body that also takes `wide: Wide` (where it runs its programs,
    // `lanes`): AVX registers in this build.
    ($name:ident, $avx2:ident, ($($arg:ident: $ty:ty),*), wide) => {
        /// The AVX2+FMA build of the function of the same name, its programs
        /// on AVX registers.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2($($arg: $ty),*) {
            // SAFETY: this function's own contract.
            $name($($arg,)* unsafe { Wide::avx2() })
        }
    };
}

/// Declares `$name_avx512`, the same body compiled with AVX-512F (and AVX2
/// and FMA) enabled, its programs on AVX-512 registers.
macro_rules! avx512_variant {
    ($name:ident, $avx512:ident, ($($arg:ident: $ty:ty),*)) => {
        /// The AVX-512 build of the function of the same name, its programs
        /// on AVX-512 registers.
        ///
        /// # Safety
        /// The CPU must support AVX-512F, AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn $avx512($($arg: $ty),*) {
            // SAFETY: this function's own contract.
            $name($($arg,)* unsafe { Wide::avx512() })
        }
    };
}

avx2_variant!(elementwise, elementwise_avx2, (op: &Op, inputs: &[&[f32]], offset: usize, chunk: &mut [f32]), wide);
avx512_variant!(elementwise, elementwise_avx512, (op: &Op, inputs: &[&[f32]], offset: usize, chunk: &mut [f32]));
avx2_variant!(attention_kernel, attention_avx2, (op: &Op, g: &AttentionGeometry, inputs: &[&[f32]], first_b: usize, out: &mut [f32]), wide);
avx512_variant!(attention_kernel, attention_avx512, (op: &Op, g: &AttentionGeometry, inputs: &[&[f32]], first_b: usize, out: &mut [f32]));
avx2_variant!(bias_grad, bias_grad_avx2, (dz: &[f32], m: usize, o: usize, out: &mut [f32]));
avx2_variant!(log_softmax, log_softmax_avx2, (inputs: &[&[f32]], classes: usize, first_row: usize, out: &mut [f32]), wide);
avx512_variant!(log_softmax, log_softmax_avx512, (inputs: &[&[f32]], classes: usize, first_row: usize, out: &mut [f32]));
avx2_variant!(layer_norm_stats, layer_norm_stats_avx2, (g: &NormGeometry, x: &[f32], first_row: usize, out: &mut [f32]));
avx2_variant!(layer_norm_forward, layer_norm_forward_avx2, (g: &NormGeometry, inputs: &[&[f32]], first_row: usize, out: &mut [f32]));
avx2_variant!(layer_norm_input_grad, layer_norm_input_grad_avx2, (g: &NormGeometry, inputs: &[&[f32]], first_row: usize, out: &mut [f32]));
avx2_variant!(layer_norm_weight_grad, layer_norm_weight_grad_avx2, (g: &NormGeometry, inputs: &[&[f32]], out: &mut [f32]));

/// Every element of `chunk` (output elements `offset..offset + len`).
///
/// The hot element-wise ops run as straight loops over zipped slices, which
/// the compiler vectorises (one lane per element, so every element still sees
/// exactly its micro-program's primitive sequence); the tests hold them equal
/// to the reference bit for bit. The others run their micro-program directly.
#[inline(always)]
fn elementwise(op: &Op, inputs: &[&[f32]], offset: usize, chunk: &mut [f32], wide: Wide) {
    use crate::repops::prim::{add, div, fma, mul, sel_gt, sqrt, sub};
    let range = offset..offset + chunk.len();
    let at = |slot: usize| &inputs[slot][range.clone()];
    match *op {
        Op::Relu => {
            for (out, &z) in chunk.iter_mut().zip(at(0)) {
                *out = sel_gt(z, 0.0, z, 0.0);
            }
        }
        Op::ReluGrad => {
            for ((out, &z), &da) in chunk.iter_mut().zip(at(0)).zip(at(1)) {
                *out = sel_gt(z, 0.0, da, 0.0);
            }
        }
        Op::SgdVelocity {
            momentum,
            weight_decay,
        } => {
            for (((out, &w), &g), &v) in chunk.iter_mut().zip(at(1)).zip(at(2)).zip(at(3)) {
                *out = fma(momentum, v, fma(weight_decay, w, g));
            }
        }
        Op::SgdWeight => {
            let neg_lr = inputs[0][1];
            for ((out, &w), &v) in chunk.iter_mut().zip(at(1)).zip(at(2)) {
                *out = fma(neg_lr, v, w);
            }
        }
        Op::AdamFirstMoment(p) => {
            let c1 = sub(1.0, p.beta1);
            for ((out, &g), &m) in chunk.iter_mut().zip(at(2)).zip(at(3)) {
                *out = fma(p.beta1, m, mul(c1, g));
            }
        }
        Op::AdamSecondMoment(p) => {
            let c2 = sub(1.0, p.beta2);
            for ((out, &g), &v) in chunk.iter_mut().zip(at(2)).zip(at(4)) {
                *out = fma(p.beta2, v, mul(c2, mul(g, g)));
            }
        }
        Op::AdamWeight(p) => {
            let (neg_lr, bc1, bc2) = (inputs[0][1], inputs[0][2], inputs[0][3]);
            for (((out, &w), &m), &v) in chunk.iter_mut().zip(at(1)).zip(at(2)).zip(at(3)) {
                let update = div(div(m, bc1), add(sqrt(div(v, bc2)), p.eps));
                *out = fma(neg_lr, fma(p.weight_decay, w, update), w);
            }
        }
        // The programs of one element each, on values instead of indices, so
        // the loops vectorise.
        Op::Gelu => lanes::map1(wide, &lanes::Gelu, at(0), chunk),
        Op::GeluGrad => lanes::map2(wide, &lanes::GeluGrad, at(0), at(1), chunk),
        Op::Add => {
            for ((out, &a), &b) in chunk.iter_mut().zip(at(0)).zip(at(1)) {
                *out = add(a, b);
            }
        }
        Op::Gather {
            ref rows,
            width,
            start,
            len,
        } => {
            // No arithmetic: whole runs of each dataset row, copied.
            let (mut e, mut out) = (offset, &mut chunk[..]);
            while !out.is_empty() {
                let (i, d) = (e / len, e % len);
                let take = (len - d).min(out.len());
                let from = rows[i] as usize * width + start + d;
                out[..take].copy_from_slice(&inputs[0][from..from + take]);
                out = &mut out[take..];
                e += take;
            }
        }
        Op::XentGrad { rows, classes } => {
            use crate::repops::prim::sel_eq;
            let batch = rows as f32;
            // p = exp(ls) for the whole chunk (on vector registers where the
            // level has them), then the rest of each element's program.
            lanes::map1(wide, &lanes::Exp, at(0), chunk);
            for (i, out) in chunk.iter_mut().enumerate() {
                let e = offset + i;
                let target = sel_eq(inputs[1][e / classes], (e % classes) as f32, 1.0, 0.0);
                *out = div(sub(*out, target), batch);
            }
        }
        _ => {
            for (i, value) in chunk.iter_mut().enumerate() {
                *value = op.element(&mut Direct, inputs, offset + i);
            }
        }
    }
}

/// `db[o] = Σ_i dZ[i,o]`, row by row so the adds vectorise across `o` while
/// each column still sums in increasing `i`.
#[inline(always)]
fn bias_grad(dz: &[f32], m: usize, o: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in dz.chunks_exact(o).take(m) {
        for (acc, &value) in out.iter_mut().zip(row) {
            *acc = add_link(*acc, value);
        }
    }
    for acc in out.iter_mut() {
        *acc = crate::repops::canon(*acc);
    }
}

/// Log-softmax one row at a time (rows `first_row..`): the row's max and log-sum are computed once
/// and shared by its elements (the same primitives each element's program runs).
#[inline(always)]
fn log_softmax(inputs: &[&[f32]], classes: usize, first_row: usize, out: &mut [f32], wide: Wide) {
    use crate::repops::prim::{max, sub};
    let mut terms = vec![0.0f32; classes];
    for (i, row) in out.chunks_exact_mut(classes).enumerate() {
        let r = first_row + i;
        let z = &inputs[0][r * classes..(r + 1) * classes];
        // log_softmax_row's primitives: the max, every exp side by side, then
        // the sum in class order and its log.
        let m = z[1..].iter().fold(z[0], |m, &v| max(m, v));
        lanes::map1(wide, &lanes::ShiftedExp(m), z, &mut terms);
        let sum = terms[1..].iter().fold(terms[0], |sum, &x| add_link(sum, x));
        let log_sum = crate::repops::log(&mut Direct, sum);
        for (value, &v) in row.iter_mut().zip(z) {
            *value = sub(sub(v, m), log_sum);
        }
    }
}
