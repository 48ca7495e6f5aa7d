//! Eight elements' micro-programs side by side: an [`Fp`] whose values are
//! AVX registers of [`LANES`] f32, each primitive one packed instruction (or
//! a short fixed sequence of them) that computes, lane by lane, exactly what
//! the scalar primitive of `repops::prim` computes, NaN canonicalisation
//! included.
//!
//! A program written once over [`Fp`] (`repops::exp`, `norm::gelu_of`, …)
//! therefore gives every lane its element's primitive sequence and the bits
//! [`Direct`] gives, eight elements per instruction, where the same program
//! in a loop over elements stays scalar: its chain of compare-and-blend NaN
//! canonicalisations defeats the loop vectoriser.
//!
//! Only value-level program bodies run here (a [`Program1`] or [`Program2`]):
//! their inputs come in as registers. [`Fp::input`] splats its one value, as
//! a program that loads by index has no other value to give.

use crate::repops::{Direct, Fp, exp, norm};

/// f32 lanes per AVX register.
pub(super) const LANES: usize = 8;

/// Registers a program runs on side by side in the main loop.
const UNROLL: usize = 4;

/// A value-level program of one input, written once over [`Fp`].
pub(super) trait Program1 {
    /// The program on `x`.
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V;
}

/// A value-level program of two inputs, written once over [`Fp`].
pub(super) trait Program2 {
    /// The program on `x` and `y`.
    fn run<F: Fp>(&self, fp: &mut F, x: F::V, y: F::V) -> F::V;
}

/// `exp(x)`.
pub(super) struct Exp;

impl Program1 for Exp {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
        exp(fp, x)
    }
}

/// `exp(sub(x, m))`: a softmax row's terms after its max `m`.
pub(super) struct ShiftedExp(pub(super) f32);

impl Program1 for ShiftedExp {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
        let m = fp.constant(self.0);
        let shifted = fp.sub(x, m);
        exp(fp, shifted)
    }
}

/// `gelu(x)`.
pub(super) struct Gelu;

impl Program1 for Gelu {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
        norm::gelu_of(fp, x)
    }
}

/// `gelu_grad(x, dy)`.
pub(super) struct GeluGrad;

impl Program2 for GeluGrad {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V, dy: F::V) -> F::V {
        norm::gelu_grad_of(fp, x, dy)
    }
}

/// `out[i] = f(x[i])`: on AVX registers when `wide` (which only the `*_avx2`
/// builds pass, on CPUs with AVX2 and FMA), [`UNROLL`] registers of
/// [`LANES`] elements at a time (independent chains the CPU overlaps), then
/// one register at a time, then the tail in a register padded with zeros;
/// one element at a time on [`Direct`] otherwise.
#[inline(always)]
pub(super) fn map1(wide: bool, f: &impl Program1, x: &[f32], out: &mut [f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY (every `new`): `wide` is only true in the AVX2+FMA builds,
        // run on such CPUs.
        done = avx::map1(unsafe { avx::Avx::<UNROLL>::new() }, f, x, out, 0);
        done = avx::map1(unsafe { avx::Avx::<1>::new() }, f, x, out, done);
        // The tail in one register, its unused lanes +0 (lanes never mix).
        let tail = x.len().min(out.len()) - done;
        if tail > 0 {
            let mut padded = [[0.0f32; LANES]; 2];
            padded[0][..tail].copy_from_slice(&x[done..done + tail]);
            let [x, out_padded] = &mut padded;
            avx::map1(unsafe { avx::Avx::<1>::new() }, f, x, out_padded, 0);
            out[done..done + tail].copy_from_slice(&out_padded[..tail]);
            done += tail;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide;
    for (o, &x) in out[done..].iter_mut().zip(&x[done..]) {
        *o = f.run(&mut Direct, x);
    }
}

/// `out[i] = f(x[i], y[i])`, as [`map1`].
#[inline(always)]
pub(super) fn map2(wide: bool, f: &impl Program2, x: &[f32], y: &[f32], out: &mut [f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY (every `new`): `wide` is only true in the AVX2+FMA builds,
        // run on such CPUs.
        done = avx::map2(unsafe { avx::Avx::<UNROLL>::new() }, f, x, y, out, 0);
        done = avx::map2(unsafe { avx::Avx::<1>::new() }, f, x, y, out, done);
        // The tail in one register, its unused lanes +0 (lanes never mix).
        let tail = x.len().min(y.len()).min(out.len()) - done;
        if tail > 0 {
            let mut padded = [[0.0f32; LANES]; 3];
            padded[0][..tail].copy_from_slice(&x[done..done + tail]);
            padded[1][..tail].copy_from_slice(&y[done..done + tail]);
            let [x, y, out_padded] = &mut padded;
            avx::map2(unsafe { avx::Avx::<1>::new() }, f, x, y, out_padded, 0);
            out[done..done + tail].copy_from_slice(&out_padded[..tail]);
            done += tail;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide;
    for ((o, &x), &y) in out[done..].iter_mut().zip(&x[done..]).zip(&y[done..]) {
        *o = f.run(&mut Direct, x, y);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    //! The AVX2+FMA [`Fp`]. Every method is `#[inline(always)]`: it is only
    //! ever compiled into the `*_avx2` builds, where the intrinsics are
    //! single instructions.
    use super::{LANES, Program1, Program2};
    use crate::repops::Fp;
    use crate::repops::prim::{CANONICAL_NAN, Opcode};
    use std::arch::x86_64::*;

    /// Runs programs on `K` AVX registers at once. Made only by
    /// [`Avx::new`], whose caller vouches for the CPU: no value of it exists
    /// where the instructions would fault.
    #[derive(Clone, Copy, Debug)]
    pub(in crate::kernels) struct Avx<const K: usize>(());

    impl<const K: usize> Avx<K> {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[inline(always)]
        pub(in crate::kernels) unsafe fn new() -> Self {
            Self(())
        }

        /// `K · LANES` values of `x` from `at`.
        #[inline(always)]
        pub(in crate::kernels) fn load(&self, x: &[f32], at: usize) -> [__m256; K] {
            assert!(at + K * LANES <= x.len());
            // SAFETY: in bounds (above); AVX by `new`'s contract.
            std::array::from_fn(|k| unsafe { _mm256_loadu_ps(x.as_ptr().add(at + k * LANES)) })
        }

        /// Writes `v` to `K · LANES` values of `out` from `at`.
        #[inline(always)]
        pub(in crate::kernels) fn store(&self, v: [__m256; K], out: &mut [f32], at: usize) {
            assert!(at + K * LANES <= out.len());
            for (k, v) in v.into_iter().enumerate() {
                // SAFETY: in bounds (above); AVX by `new`'s contract.
                unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(at + k * LANES), v) }
            }
        }
    }

    /// Runs `f` on `x[at..]` into `out[at..]`, `K · LANES` at a time, as far
    /// as whole blocks go; returns where it stopped.
    #[inline(always)]
    pub(in crate::kernels) fn map1<const K: usize>(
        mut fp: Avx<K>,
        f: &impl Program1,
        x: &[f32],
        out: &mut [f32],
        mut at: usize,
    ) -> usize {
        let len = x.len().min(out.len());
        while at + K * LANES <= len {
            let v = fp.load(x, at);
            let y = f.run(&mut fp, v);
            fp.store(y, out, at);
            at += K * LANES;
        }
        at
    }

    /// [`map1`] for a program of two inputs.
    #[inline(always)]
    pub(in crate::kernels) fn map2<const K: usize>(
        mut fp: Avx<K>,
        f: &impl Program2,
        x: &[f32],
        y: &[f32],
        out: &mut [f32],
        mut at: usize,
    ) -> usize {
        let len = x.len().min(y.len()).min(out.len());
        while at + K * LANES <= len {
            let (u, v) = (fp.load(x, at), fp.load(y, at));
            let z = f.run(&mut fp, u, v);
            fp.store(z, out, at);
            at += K * LANES;
        }
        at
    }

    // SAFETY (every `unsafe` block below): AVX2 and FMA by `Avx::new`'s
    // contract, and no memory is touched.

    /// NaN lanes replaced by the canonical NaN (`prim::canon`).
    #[inline(always)]
    fn canon(x: __m256) -> __m256 {
        unsafe {
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
            _mm256_blendv_ps(
                x,
                _mm256_castsi256_ps(_mm256_set1_epi32(CANONICAL_NAN as i32)),
                nan,
            )
        }
    }

    /// `if mask { t } else { f }` lane by lane.
    #[inline(always)]
    fn select(mask: __m256, t: __m256, f: __m256) -> __m256 {
        unsafe { _mm256_blendv_ps(f, t, mask) }
    }

    /// `prim::ldexp`: `k` truncated and clamped to [−512, 512] (NaN as 0),
    /// `2^k` built in f64 from its exponent field, `a · 2^k` exact in f64 and
    /// rounded once to f32 (round to nearest even, the default mode).
    #[inline(always)]
    fn ldexp(a: __m256, k: __m256) -> __m256 {
        unsafe {
            let clamped = _mm256_min_ps(
                _mm256_max_ps(k, _mm256_set1_ps(-512.0)),
                _mm256_set1_ps(512.0),
            );
            let truncated = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(clamped);
            let k = select(
                _mm256_cmp_ps::<_CMP_UNORD_Q>(k, k),
                _mm256_setzero_ps(),
                truncated,
            );
            let half = |v: __m128, a: __m128| {
                let biased = _mm256_add_pd(
                    _mm256_cvtps_pd(v),
                    _mm256_set1_pd(1023.0 + 4_503_599_627_370_496.0),
                );
                let scale =
                    _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(biased)));
                _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(a), scale))
            };
            let low = half(_mm256_castps256_ps128(k), _mm256_castps256_ps128(a));
            let high = half(_mm256_extractf128_ps::<1>(k), _mm256_extractf128_ps::<1>(a));
            canon(_mm256_set_m128(high, low))
        }
    }

    /// `prim::getexp`: the exponent field (of `|a| · 2^32` for a subnormal,
    /// minus 32), −∞ for ±0, +∞ for ±∞, the canonical NaN for a NaN.
    #[inline(always)]
    fn getexp(a: __m256) -> __m256 {
        unsafe {
            let abs = _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF)));
            let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(abs, _mm256_set1_ps(f32::MIN_POSITIVE));
            let scaled = select(
                tiny,
                _mm256_mul_ps(abs, _mm256_set1_ps(4_294_967_296.0)),
                abs,
            );
            let field = _mm256_srli_epi32::<23>(_mm256_castps_si256(scaled));
            let shift = _mm256_and_si256(_mm256_castps_si256(tiny), _mm256_set1_epi32(127 + 32));
            let shift = _mm256_or_si256(
                shift,
                _mm256_andnot_si256(_mm256_castps_si256(tiny), _mm256_set1_epi32(127)),
            );
            let e = _mm256_cvtepi32_ps(_mm256_sub_epi32(field, shift));
            let zero = _mm256_cmp_ps::<_CMP_EQ_OQ>(abs, _mm256_setzero_ps());
            let e = select(zero, _mm256_set1_ps(f32::NEG_INFINITY), e);
            let inf = _mm256_cmp_ps::<_CMP_EQ_OQ>(abs, _mm256_set1_ps(f32::INFINITY));
            canon(select(
                inf,
                _mm256_set1_ps(f32::INFINITY),
                select(_mm256_cmp_ps::<_CMP_UNORD_Q>(a, a), a, e),
            ))
        }
    }

    /// `$body` with `$x…` bound to operands 0, 1, … of each of the `K`
    /// registers in turn (a plain loop: the closures of a generic helper
    /// would not inline into the AVX build).
    macro_rules! each {
        ($operands:ident, |$($x:ident),+| $body:expr) => {{
            let mut out = [_mm256_setzero_ps(); K];
            for (k, out) in out.iter_mut().enumerate() {
                let mut slot = 0;
                $(
                    let $x = $operands[slot][k];
                    slot += 1;
                )+
                let _ = slot;
                *out = $body;
            }
            out
        }};
    }

    impl<const K: usize> Fp for Avx<K> {
        type V = [__m256; K];

        #[inline(always)]
        fn input(&mut self, _slot: u8, _index: usize, value: f32) -> [__m256; K] {
            self.constant(value)
        }

        #[inline(always)]
        fn constant(&mut self, value: f32) -> [__m256; K] {
            [unsafe { _mm256_set1_ps(value) }; K]
        }

        #[inline(always)]
        fn value(&self, v: [__m256; K]) -> f32 {
            unsafe { _mm256_cvtss_f32(v[0]) }
        }

        #[inline(always)]
        fn op(&mut self, opcode: Opcode, operands: &[[__m256; K]]) -> [__m256; K] {
            assert_eq!(operands.len(), opcode.arity());
            unsafe {
                match opcode {
                    Opcode::Add => each!(operands, |a, b| canon(_mm256_add_ps(a, b))),
                    Opcode::Sub => each!(operands, |a, b| canon(_mm256_sub_ps(a, b))),
                    Opcode::Mul => each!(operands, |a, b| canon(_mm256_mul_ps(a, b))),
                    Opcode::Div => each!(operands, |a, b| canon(_mm256_div_ps(a, b))),
                    Opcode::Fma => each!(operands, |a, b, c| canon(_mm256_fmadd_ps(a, b, c))),
                    Opcode::Sqrt => each!(operands, |a| canon(_mm256_sqrt_ps(a))),
                    // `b > a ? b : a`, `b < a ? b : a`, with `a` canonicalised.
                    Opcode::Max => each!(operands, |a, b| {
                        select(_mm256_cmp_ps::<_CMP_GT_OQ>(b, a), b, canon(a))
                    }),
                    Opcode::Min => each!(operands, |a, b| {
                        select(_mm256_cmp_ps::<_CMP_LT_OQ>(b, a), b, canon(a))
                    }),
                    Opcode::SelGt => each!(operands, |a, b, c, d| {
                        canon(select(_mm256_cmp_ps::<_CMP_GT_OQ>(a, b), c, d))
                    }),
                    Opcode::SelEq => each!(operands, |a, b, c, d| {
                        canon(select(_mm256_cmp_ps::<_CMP_EQ_OQ>(a, b), c, d))
                    }),
                    Opcode::Ldexp => each!(operands, |a, k| ldexp(a, k)),
                    Opcode::Getexp => each!(operands, |a| getexp(a)),
                }
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::repops::log;
    use crate::repops::prim::Opcode;

    fn wide() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// Values where the programs branch by select: NaNs of both signs and
    /// payloads, infinities, zeros, subnormals, the exp clamps, √2, and a
    /// sweep; 1,016 of them, so the lanes run 127 times with no tail.
    fn edges() -> Vec<f32> {
        let mut v = vec![
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7FA0_0001),
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1.1754942e-38,
            -3e-42,
            -104.0,
            -103.9,
            89.0,
            88.8,
            f32::MAX,
            f32::MIN,
            std::f32::consts::SQRT_2,
            1.0,
            -1.0,
            600.0,
            -600.0,
            512.7,
            -512.7,
        ];
        v.extend((0..992).map(|i| (i as f32 - 498.0) * 0.173));
        v
    }

    fn same(a: &[f32], b: &[f32], what: &str) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{what} element {i}: {x:e} vs {y:e}"
            );
        }
    }

    struct Log;

    impl Program1 for Log {
        fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
            log(fp, x)
        }
    }

    fn check1(f: &impl Program1, x: &[f32], what: &str) {
        let slow: Vec<f32> = x.iter().map(|&v| f.run(&mut Direct, v)).collect();
        let mut fast = vec![0.0; x.len()];
        map1(true, f, x, &mut fast);
        same(&fast, &slow, what);
    }

    #[test]
    fn programs_on_avx_registers_give_the_direct_bits() {
        if !wide() {
            return;
        }
        let x = edges();
        check1(&Exp, &x, "exp");
        check1(&ShiftedExp(1.5), &x, "exp(x − m)");
        check1(&Log, &x, "log");
        check1(&Gelu, &x, "gelu");
        let y: Vec<f32> = x.iter().rev().copied().collect();
        let slow: Vec<f32> = x
            .iter()
            .zip(&y)
            .map(|(&v, &d)| GeluGrad.run(&mut Direct, v, d))
            .collect();
        let mut fast = vec![0.0; x.len()];
        map2(true, &GeluGrad, &x, &y, &mut fast);
        same(&fast, &slow, "gelu_grad");
        // A tail shorter than the lanes runs on Direct.
        check1(&Gelu, &x[..21], "gelu (tail)");
    }

    #[test]
    fn every_primitive_on_avx_registers_is_the_scalar_primitive() {
        if !wide() {
            return;
        }
        // SAFETY: checked above.
        let mut fp = unsafe { avx::Avx::<1>::new() };
        let x = edges();
        for opcode in Opcode::ALL {
            // Operand k of lane i is x[start + 7k + i]: every pairing of
            // edge values meets somewhere in the sweep of `start`.
            for start in 0..x.len() - 4 * LANES - 21 {
                let operand = |k: usize| &x[start + 7 * k..start + 7 * k + LANES];
                let regs = [0, 1, 2, 3].map(|k| fp.load(operand(k), 0));
                let mut got = [0.0f32; LANES];
                let result = fp.op(opcode, &regs[..opcode.arity()]);
                fp.store(result, &mut got, 0);
                for (i, value) in got.iter().enumerate() {
                    let want = opcode.eval([0, 1, 2, 3].map(|k| operand(k)[i]));
                    assert_eq!(
                        value.to_bits(),
                        want.to_bits(),
                        "{opcode:?} lane {i} at {start}"
                    );
                }
            }
        }
    }
}
