//! The AVX-512 registers: sixteen f32 lanes each. Every function is
//! `#[inline(always)]` and only reachable through [`Avx512`], which only the
//! `*_avx512` builds make: there the intrinsics are single instructions.
//! Compares give mask registers, and a select is a masked blend.

use super::{Program1, Program2};
use crate::repops::Fp;
use crate::repops::prim::{CANONICAL_NAN, Opcode};
use std::arch::x86_64::*;

/// f32 lanes per AVX-512 register.
pub(super) const LANES: usize = 16;

/// The register.
type Reg = __m512;

register_fp!(Avx512, "AVX-512F (and the AVX2 and FMA of its level)");

// SAFETY (every `unsafe` block below): AVX-512F by `Avx512::new`'s contract;
// `load` and `store` are given `LANES` valid values.

#[inline(always)]
unsafe fn load(p: *const f32) -> Reg {
    unsafe { _mm512_loadu_ps(p) }
}

#[inline(always)]
unsafe fn store(p: *mut f32, v: Reg) {
    unsafe { _mm512_storeu_ps(p, v) }
}

#[inline(always)]
fn zero() -> Reg {
    unsafe { _mm512_setzero_ps() }
}

#[inline(always)]
fn splat(value: f32) -> Reg {
    unsafe { _mm512_set1_ps(value) }
}

#[inline(always)]
fn first(v: Reg) -> f32 {
    unsafe { _mm512_cvtss_f32(v) }
}

/// The IEEE operations, each lane rounded once (not yet canonicalised).
#[inline(always)]
fn add(a: Reg, b: Reg) -> Reg {
    unsafe { _mm512_add_ps(a, b) }
}

#[inline(always)]
fn sub(a: Reg, b: Reg) -> Reg {
    unsafe { _mm512_sub_ps(a, b) }
}

#[inline(always)]
fn mul(a: Reg, b: Reg) -> Reg {
    unsafe { _mm512_mul_ps(a, b) }
}

#[inline(always)]
fn div(a: Reg, b: Reg) -> Reg {
    unsafe { _mm512_div_ps(a, b) }
}

#[inline(always)]
fn fma(a: Reg, b: Reg, c: Reg) -> Reg {
    unsafe { _mm512_fmadd_ps(a, b, c) }
}

#[inline(always)]
fn sqrt(a: Reg) -> Reg {
    unsafe { _mm512_sqrt_ps(a) }
}

/// Ordered compares (false where either side is NaN), as lane masks.
#[inline(always)]
fn gt(a: Reg, b: Reg) -> __mmask16 {
    unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b) }
}

#[inline(always)]
fn lt(a: Reg, b: Reg) -> __mmask16 {
    unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
}

#[inline(always)]
fn eq(a: Reg, b: Reg) -> __mmask16 {
    unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b) }
}

/// `prim::getexp`: vgetexpps is it exactly (floor(log2 |a|), also for
/// subnormals as there is no DAZ, −∞ for ±0, +∞ for ±∞, NaN for NaN).
#[inline(always)]
fn getexp(a: Reg) -> Reg {
    canon(unsafe { _mm512_getexp_ps(a) })
}

/// NaN lanes replaced by the canonical NaN (`prim::canon`), on the bits (see
/// the AVX2 `canon`).
#[inline(always)]
pub(in crate::kernels) fn canon(x: __m512) -> __m512 {
    unsafe {
        let bits = _mm512_castps_si512(x);
        let magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7FFF_FFFF));
        let nan = _mm512_cmpgt_epi32_mask(magnitude, _mm512_set1_epi32(0x7F80_0000));
        _mm512_castsi512_ps(_mm512_mask_blend_epi32(
            nan,
            bits,
            _mm512_set1_epi32(CANONICAL_NAN as i32),
        ))
    }
}

/// `if mask { t } else { f }` lane by lane.
#[inline(always)]
fn select(mask: __mmask16, t: __m512, f: __m512) -> __m512 {
    unsafe { _mm512_mask_blend_ps(mask, f, t) }
}

/// `prim::ldexp`, as the AVX2 one: `k` truncated and clamped to [−512, 512]
/// (NaN as 0), `2^k` built in f64 from its exponent field, `a · 2^k` exact in
/// f64 and rounded once to f32, eight lanes of f64 at a time.
#[inline(always)]
fn ldexp(a: __m512, k: __m512) -> __m512 {
    unsafe {
        let clamped = _mm512_min_ps(
            _mm512_max_ps(k, _mm512_set1_ps(-512.0)),
            _mm512_set1_ps(512.0),
        );
        let truncated = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(clamped);
        let k = select(
            _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(k, k),
            _mm512_setzero_ps(),
            truncated,
        );
        let half = |k: __m256, a: __m256| {
            let biased = _mm512_add_pd(
                _mm512_cvtps_pd(k),
                _mm512_set1_pd(1023.0 + 4_503_599_627_370_496.0),
            );
            let scale = _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_castpd_si512(biased)));
            _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(a), scale))
        };
        let high = |v: __m512| _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        let low = half(_mm512_castps512_ps256(k), _mm512_castps512_ps256(a));
        let high = half(high(k), high(a));
        let joined = _mm512_insertf64x4::<1>(
            _mm512_castpd256_pd512(_mm256_castps_pd(low)),
            _mm256_castps_pd(high),
        );
        canon(_mm512_castpd_ps(joined))
    }
}
