//! The fp32 primitive operations every repop is made of, and their exact
//! semantics. Normative text: `docs/repops.md` § Primitives.
//!
//! Every primitive is IEEE-754 binary32 with round-to-nearest-even, and returns
//! the canonical quiet NaN [`CANONICAL_NAN`] whenever its result is a NaN, so
//! results never depend on a platform's NaN payloads. Comparisons are ordered
//! (a NaN compares false), and `max`/`min` are defined as compare-selects with
//! the data operand first, so they propagate a NaN in `a`.

/// The one NaN bit pattern vtrain ever stores, hashes or returns.
pub const CANONICAL_NAN: u32 = 0x7FC0_0000;

/// Replaces any NaN by the canonical NaN.
#[inline(always)]
pub fn canon(x: f32) -> f32 {
    // On the bits, not `if x.is_nan() { NaN } else { x }`: LLVM (and so
    // rustc) treats a NaN's payload as unspecified and may fold that select
    // into `x`, leaving the payload the hardware made (seen: `sqrt` of a
    // negative subnormal kept 0xFFC00000 where the select was inlined).
    // Integer compares and selects keep their bits.
    let bits = x.to_bits();
    f32::from_bits(if bits & 0x7FFF_FFFF > 0x7F80_0000 {
        CANONICAL_NAN
    } else {
        bits
    })
}

/// A primitive operation: the unit the on-chain ALU executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// `a + b`.
    Add = 1,
    /// `a - b`.
    Sub = 2,
    /// `a · b`.
    Mul = 3,
    /// `a / b`.
    Div = 4,
    /// `a · b + c`, rounded once.
    Fma = 5,
    /// IEEE square root of `a`.
    Sqrt = 6,
    /// `b > a ? b : a`.
    Max = 7,
    /// `b < a ? b : a`.
    Min = 8,
    /// `a > b ? c : d`.
    SelGt = 9,
    /// `a == b ? c : d`.
    SelEq = 10,
    /// `a · 2^k` rounded once, with `k = b` truncated to an integer and
    /// clamped to [-512, 512] (NaN counts as 0).
    Ldexp = 11,
    /// `floor(log2 |a|)` as an f32: the unbiased exponent of `a`'s leading bit,
    /// also for subnormals; −∞ for ±0, +∞ for ±∞, NaN for NaN.
    Getexp = 12,
}

impl Opcode {
    /// Every primitive, in opcode order.
    pub const ALL: [Self; 12] = [
        Self::Add,
        Self::Sub,
        Self::Mul,
        Self::Div,
        Self::Fma,
        Self::Sqrt,
        Self::Max,
        Self::Min,
        Self::SelGt,
        Self::SelEq,
        Self::Ldexp,
        Self::Getexp,
    ];

    /// How many operands the primitive reads.
    pub const fn arity(self) -> usize {
        match self {
            Self::Sqrt | Self::Getexp => 1,
            Self::Fma => 3,
            Self::SelGt | Self::SelEq => 4,
            _ => 2,
        }
    }

    /// Evaluates the primitive on `operands` (only the first [`Self::arity`]
    /// are read).
    #[inline(always)]
    pub fn eval(self, operands: [f32; 4]) -> f32 {
        let [a, b, c, d] = operands;
        match self {
            Self::Add => add(a, b),
            Self::Sub => sub(a, b),
            Self::Mul => mul(a, b),
            Self::Div => div(a, b),
            Self::Fma => fma(a, b, c),
            Self::Sqrt => sqrt(a),
            Self::Max => max(a, b),
            Self::Min => min(a, b),
            Self::SelGt => sel_gt(a, b, c, d),
            Self::SelEq => sel_eq(a, b, c, d),
            Self::Ldexp => ldexp(a, b),
            Self::Getexp => getexp(a),
        }
    }
}

/// `a + b`.
#[inline(always)]
pub fn add(a: f32, b: f32) -> f32 {
    canon(a + b)
}

/// `a - b`.
#[inline(always)]
pub fn sub(a: f32, b: f32) -> f32 {
    canon(a - b)
}

/// `a · b`.
#[inline(always)]
pub fn mul(a: f32, b: f32) -> f32 {
    canon(a * b)
}

/// `a / b`.
#[inline(always)]
pub fn div(a: f32, b: f32) -> f32 {
    canon(a / b)
}

/// `a · b + c` with a single rounding. `f32::mul_add` is correctly rounded on
/// every target: a hardware FMA where the target feature is enabled, libm's
/// correctly rounded `fmaf` otherwise.
#[inline(always)]
pub fn fma(a: f32, b: f32, c: f32) -> f32 {
    canon(a.mul_add(b, c))
}

/// IEEE square root (correctly rounded on every target).
#[inline(always)]
pub fn sqrt(a: f32) -> f32 {
    canon(a.sqrt())
}

/// `b > a ? b : a`.
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    if b > a { b } else { canon(a) }
}

/// `b < a ? b : a`.
#[inline(always)]
pub fn min(a: f32, b: f32) -> f32 {
    if b < a { b } else { canon(a) }
}

/// `a > b ? c : d`.
#[inline(always)]
pub fn sel_gt(a: f32, b: f32, c: f32, d: f32) -> f32 {
    canon(if a > b { c } else { d })
}

/// `a == b ? c : d`.
#[inline(always)]
pub fn sel_eq(a: f32, b: f32, c: f32, d: f32) -> f32 {
    canon(if a == b { c } else { d })
}

/// `a · 2^k` rounded once (see [`Opcode::Ldexp`]). In f64, `a · 2^k` is exact
/// for every f32 `a` and |k| ≤ 512, so the one rounding is the cast to f32.
///
/// `k` is truncated toward zero and clamped to `[−512, 512]` (NaN counts as
/// 0), as `(k as i32).clamp(−512, 512)` would, but with float operations
/// only, so that loops of it vectorise: adding `1023 + 2^52` to the integer
/// `k` in f64 leaves `1023 + k` in the low mantissa bits, which the shift
/// moves into the exponent field of `2^k`.
#[inline(always)]
pub fn ldexp(a: f32, k: f32) -> f32 {
    let k = if k.is_nan() {
        0.0
    } else {
        k.clamp(-512.0, 512.0).trunc()
    };
    // 2^k for k in [-512, 512] is a normal f64: build it from its exponent.
    let biased = f64::from(k) + (1023.0 + 4_503_599_627_370_496.0);
    let scale = f64::from_bits(biased.to_bits() << 52);
    canon((f64::from(a) * scale) as f32)
}

/// `floor(log2 |a|)` (see [`Opcode::Getexp`]).
#[inline(always)]
pub fn getexp(a: f32) -> f32 {
    if a.is_nan() {
        return f32::from_bits(CANONICAL_NAN);
    }
    if a.is_infinite() {
        return f32::INFINITY;
    }
    if a == 0.0 {
        return f32::NEG_INFINITY;
    }
    // Every f32 is a normal f64, whose exponent field gives floor(log2 |a|).
    let bits = f64::from(a).abs().to_bits();
    ((bits >> 52) as i32 - 1023) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_results_are_canonical() {
        let weird_nan = f32::from_bits(0x7FA0_0001);
        for opcode in [
            Opcode::Add,
            Opcode::Sub,
            Opcode::Mul,
            Opcode::Div,
            Opcode::Fma,
        ] {
            let result = opcode.eval([weird_nan, 1.0, 1.0, 0.0]);
            assert_eq!(result.to_bits(), CANONICAL_NAN, "{opcode:?}");
        }
        assert_eq!(sqrt(-1.0).to_bits(), CANONICAL_NAN);
        assert_eq!(max(weird_nan, 1.0).to_bits(), CANONICAL_NAN);
        assert_eq!(max(1.0, weird_nan), 1.0);
        assert_eq!(div(0.0, 0.0).to_bits(), CANONICAL_NAN);
    }

    #[test]
    fn nans_made_at_run_time_are_canonical() {
        use std::hint::black_box;
        for bits in [0xFFC0_0000, 0x7FA0_0001, 0xFFFF_FFFF, 0x7F80_0001] {
            assert_eq!(
                canon(black_box(f32::from_bits(bits))).to_bits(),
                CANONICAL_NAN
            );
        }
        // x86's sqrt of a negative number is 0xFFC00000; the select that
        // canonicalises it was once folded away by LLVM (see `canon`).
        let negative_subnormal = black_box(f32::from_bits(0x8000_0001));
        assert_eq!(sqrt(negative_subnormal).to_bits(), CANONICAL_NAN);
        assert_eq!(
            Opcode::Sqrt
                .eval([negative_subnormal, 0.0, 0.0, 0.0])
                .to_bits(),
            CANONICAL_NAN
        );
        for bits in [0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x8000_0000] {
            assert_eq!(canon(black_box(f32::from_bits(bits))).to_bits(), bits);
        }
    }

    #[test]
    fn max_min_and_selects_follow_the_definition() {
        assert_eq!(
            max(-0.0, 0.0).to_bits(),
            (-0.0f32).to_bits(),
            "equal: keep a"
        );
        assert_eq!(max(1.0, 2.0), 2.0);
        assert_eq!(min(1.0, 2.0), 1.0);
        assert_eq!(sel_gt(1.0, 0.0, 5.0, 6.0), 5.0);
        assert_eq!(sel_gt(0.0, 0.0, 5.0, 6.0), 6.0);
        assert_eq!(sel_eq(3.0, 3.0, 5.0, 6.0), 5.0);
    }

    #[test]
    fn fma_rounds_once() {
        // (1 + 2^-23)(1 - 2^-23) = 1 - 2^-46: a separate mul rounds to 1.
        let a = 1.0 + f32::EPSILON;
        let b = 1.0 - f32::EPSILON;
        assert_eq!(fma(a, b, -1.0), -(2f32.powi(-46)));
        assert_eq!(add(mul(a, b), -1.0), 0.0);
    }

    #[test]
    fn ldexp_and_getexp_are_exact() {
        assert_eq!(ldexp(1.5, 3.0), 12.0);
        assert_eq!(ldexp(1.0, -149.0).to_bits(), 1, "smallest subnormal");
        assert_eq!(ldexp(1.0, -151.0), 0.0, "rounds to zero");
        assert_eq!(ldexp(1.0, 128.0), f32::INFINITY);
        assert_eq!(ldexp(3.0, f32::NAN), 3.0);
        assert_eq!(getexp(1.0), 0.0);
        assert_eq!(getexp(-12.0), 3.0);
        assert_eq!(getexp(0.75), -1.0);
        assert_eq!(getexp(f32::from_bits(1)), -149.0);
        assert_eq!(getexp(0.0), f32::NEG_INFINITY);
        assert_eq!(getexp(f32::MAX), 127.0);
    }

    /// The float-only `ldexp` equals the integer formulation for every kind
    /// of `k`: NaN, infinities, ±0, fractions (truncated toward zero), the
    /// clamp's edges and far beyond them.
    #[test]
    fn ldexp_matches_the_integer_formulation() {
        fn reference(a: f32, k: f32) -> f32 {
            let k = (k as i32).clamp(-512, 512);
            let scale = f64::from_bits(((1023 + k) as u64) << 52);
            canon((f64::from(a) * scale) as f32)
        }
        let mut ks = vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.999_999_9,
            -0.999_999_9,
            511.9,
            -511.9,
            512.0,
            -512.0,
            512.5,
            -513.0,
            2_147_483_648.0,
            -2_147_483_648.0,
            1e30,
            -1e30,
            1e-45,
            -1e-45,
        ];
        ks.extend((-700..=700).map(|k| k as f32));
        ks.extend((-2000..2000).map(|k| k as f32 * 0.37));
        let a_values = [
            1.0f32,
            -1.5,
            3.4e38,
            -3.4e38,
            1e-45,
            1.17e-38,
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NAN,
            0.333_333_34,
            12_582_912.0,
        ];
        for &k in &ks {
            for &a in &a_values {
                assert_eq!(
                    ldexp(a, k).to_bits(),
                    reference(a, k).to_bits(),
                    "ldexp({a:e}, {k:e})"
                );
            }
        }
    }
}
