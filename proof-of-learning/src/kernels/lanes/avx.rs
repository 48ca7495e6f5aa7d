//! The AVX2+FMA registers: eight f32 lanes each. Every function is
//! `#[inline(always)]` and only reachable through [`Avx`], which only the
//! `*_avx2` builds make: there the intrinsics are single instructions.

use super::{Program1, Program2};
use crate::repops::Fp;
use crate::repops::prim::{CANONICAL_NAN, Opcode};
use std::arch::x86_64::*;

/// f32 lanes per AVX register.
pub(super) const LANES: usize = 8;

/// The register.
type Reg = __m256;

register_fp!(Avx, "AVX2 and FMA");

// SAFETY (every `unsafe` block below): AVX2 and FMA by `Avx::new`'s
// contract; `load` and `store` are given `LANES` valid values.

#[inline(always)]
unsafe fn load(p: *const f32) -> Reg {
    unsafe { _mm256_loadu_ps(p) }
}

#[inline(always)]
unsafe fn store(p: *mut f32, v: Reg) {
    unsafe { _mm256_storeu_ps(p, v) }
}

#[inline(always)]
fn zero() -> Reg {
    unsafe { _mm256_setzero_ps() }
}

#[inline(always)]
fn splat(value: f32) -> Reg {
    unsafe { _mm256_set1_ps(value) }
}

#[inline(always)]
fn first(v: Reg) -> f32 {
    unsafe { _mm256_cvtss_f32(v) }
}

/// The IEEE operations, each lane rounded once (not yet canonicalised).
#[inline(always)]
fn add(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_add_ps(a, b) }
}

#[inline(always)]
fn sub(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_sub_ps(a, b) }
}

#[inline(always)]
fn mul(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_mul_ps(a, b) }
}

#[inline(always)]
fn div(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_div_ps(a, b) }
}

#[inline(always)]
fn fma(a: Reg, b: Reg, c: Reg) -> Reg {
    unsafe { _mm256_fmadd_ps(a, b, c) }
}

#[inline(always)]
fn sqrt(a: Reg) -> Reg {
    unsafe { _mm256_sqrt_ps(a) }
}

/// Ordered compares (false where either side is NaN), as lane masks.
#[inline(always)]
fn gt(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(a, b) }
}

#[inline(always)]
fn lt(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
}

#[inline(always)]
fn eq(a: Reg, b: Reg) -> Reg {
    unsafe { _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b) }
}

/// NaN lanes replaced by the canonical NaN (`prim::canon`), on the bits: a
/// float compare-and-blend may be folded away by LLVM, which treats NaN
/// payloads as unspecified (see `prim::canon`).
#[inline(always)]
pub(in crate::kernels) fn canon(x: __m256) -> __m256 {
    unsafe {
        let bits = _mm256_castps_si256(x);
        let magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFF_FFFF));
        let nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F80_0000));
        _mm256_castsi256_ps(_mm256_blendv_epi8(
            bits,
            _mm256_set1_epi32(CANONICAL_NAN as i32),
            nan,
        ))
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
            let scale = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(biased)));
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
