// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Fp32
/// @notice IEEE-754 binary32 arithmetic on raw `uint32` bit patterns, bit-exact with the
///         repops primitives of `docs/repops.md` §1 (reference: `proof-of-learning/src/repops/prim.rs`).
/// @dev    Every arithmetic result is correctly rounded (round to nearest, ties to even), subnormals
///         are honoured (no flush to zero) and zero signs follow IEEE 754 under round-to-nearest
///         (`x + (-x) = +0`, `(-0) + (-0) = -0`, ...). Every NaN result is the canonical NaN
///         `0x7FC00000`; input NaN payloads, quiet or signalling, never matter.
///
///         Method: a finite non-zero operand is unpacked to an integer significand `m` and an
///         exponent `e` with value `m · 2^e` (`m < 2^24`, `e >= -149`). Each operation computes its
///         exact result as such a pair in 256-bit integers (a product, an aligned sum, a quotient or
///         square root with a remainder folded into a sticky bit), and one shared routine,
///         {_round}, rounds it to binary32, including gradual underflow and overflow to infinity.
library Fp32 {
    /// @notice The one NaN bit pattern every primitive returns.
    uint32 internal constant CANONICAL_NAN = 0x7FC00000;

    /// @dev The sign bit of a binary32.
    uint256 private constant SIGN = 0x80000000;
    /// @dev Everything but the sign bit.
    uint256 private constant ABS = 0x7FFFFFFF;
    /// @dev +infinity; `abs > INF` is a NaN, `abs == INF` an infinity.
    uint256 private constant INF = 0x7F800000;
    /// @dev The hidden leading bit of a normal significand.
    uint256 private constant HIDDEN = 0x800000;
    /// @dev The 23 stored fraction bits.
    uint256 private constant FRAC = 0x7FFFFF;
    /// @dev Exponent of the least significant bit of every subnormal (and of the smallest normals).
    int256 private constant MIN_QE = -149;

    // ------------------------------------------------------------------------------------------
    // Arithmetic: add, sub, mul, div, fma, sqrt
    // ------------------------------------------------------------------------------------------

    /// @notice `a + b`, correctly rounded.
    function add(uint32 a, uint32 b) internal pure returns (uint32) {
        unchecked {
            uint256 x = a;
            uint256 y = b;
            // `abs - 1 < INF - 1` holds exactly for finite non-zero values (0 wraps around).
            if ((x & ABS) - 1 >= INF - 1 || (y & ABS) - 1 >= INF - 1) return _addSpecial(x, y);
            (uint256 mx, int256 ex) = _unpack(x);
            (uint256 my, int256 ey) = _unpack(y);
            return _sum(x & SIGN, ex, mx, y & SIGN, ey, my);
        }
    }

    /// @notice `a - b`, correctly rounded: exactly `a + (-b)` in IEEE 754, zero signs included.
    function sub(uint32 a, uint32 b) internal pure returns (uint32) {
        return add(a, b ^ uint32(SIGN));
    }

    /// @notice `a · b`, correctly rounded.
    function mul(uint32 a, uint32 b) internal pure returns (uint32) {
        unchecked {
            uint256 x = a;
            uint256 y = b;
            uint256 sign = (x ^ y) & SIGN;
            uint256 ax = x & ABS;
            uint256 ay = y & ABS;
            if (ax - 1 >= INF - 1 || ay - 1 >= INF - 1) {
                if (ax > INF || ay > INF) return CANONICAL_NAN;
                if (ax == INF || ay == INF) {
                    // inf · 0 is invalid; inf · finite non-zero is a signed infinity.
                    return (ax == 0 || ay == 0) ? CANONICAL_NAN : uint32(sign | INF);
                }
                return uint32(sign); // a zero factor, the other finite: a signed zero
            }
            (uint256 mx, int256 ex) = _unpack(x);
            (uint256 my, int256 ey) = _unpack(y);
            // The exact product: at most 48 bits, no sticky needed.
            return _round(sign, ex + ey, mx * my);
        }
    }

    /// @notice `a / b`, correctly rounded.
    function div(uint32 a, uint32 b) internal pure returns (uint32) {
        unchecked {
            uint256 x = a;
            uint256 y = b;
            uint256 sign = (x ^ y) & SIGN;
            uint256 ax = x & ABS;
            uint256 ay = y & ABS;
            if (ax - 1 >= INF - 1 || ay - 1 >= INF - 1) {
                if (ax > INF || ay > INF) return CANONICAL_NAN;
                if (ax == INF) return ay == INF ? CANONICAL_NAN : uint32(sign | INF); // inf/inf invalid
                if (ay == INF) return uint32(sign); // finite / inf = signed zero
                if (ay == 0) return ax == 0 ? CANONICAL_NAN : uint32(sign | INF); // 0/0 invalid, x/0 = inf
                return uint32(sign); // 0 / finite non-zero
            }
            (uint256 mx, int256 ex) = _unpack(x);
            (uint256 my, int256 ey) = _unpack(y);
            // Long division of the significands scaled by 2^64: since 1 <= mx and my < 2^24 the
            // quotient has at least 41 bits, far more than 24 plus a round and a sticky bit, so a
            // non-zero remainder can be folded into the quotient's least significant bit.
            uint256 n = mx << 64;
            uint256 q = n / my;
            if (q * my != n) q |= 1;
            return _round(sign, ex - ey - 64, q);
        }
    }

    /// @notice `a · b + c` with a single rounding (IEEE 754 fusedMultiplyAdd).
    /// @dev    Zero signs as IEEE 754 gives them: an exact zero result is +0, except that a zero
    ///         product plus a zero `c` is -0 when both are -0 (as in `add`); a non-zero exact
    ///         result that rounds to zero (e.g. a tiny product plus ±0) keeps its own sign.
    function fma(uint32 a, uint32 b, uint32 c) internal pure returns (uint32) {
        unchecked {
            uint256 x = a;
            uint256 y = b;
            uint256 z = c;
            uint256 sp = (x ^ y) & SIGN; // sign of the product
            uint256 ax = x & ABS;
            uint256 ay = y & ABS;
            uint256 az = z & ABS;
            if (ax - 1 >= INF - 1 || ay - 1 >= INF - 1 || az - 1 >= INF - 1) {
                return _fmaSpecial(x, y, z);
            }
            (uint256 mx, int256 ex) = _unpack(x);
            (uint256 my, int256 ey) = _unpack(y);
            (uint256 mz, int256 ez) = _unpack(z);
            // The exact product (<= 48 bits) plus the addend, rounded once.
            return _sum(sp, ex + ey, mx * my, z & SIGN, ez, mz);
        }
    }

    /// @notice IEEE square root of `a`, correctly rounded: `sqrt(-0) = -0`, negative → NaN.
    function sqrt(uint32 a) internal pure returns (uint32) {
        unchecked {
            uint256 x = a;
            if (x - 1 >= INF - 1) {
                // x is +0, +inf, a negative number or zero, or a NaN (either sign).
                if ((x & ABS) == 0 || x == INF) return a; // ±0 and +inf are their own roots
                return CANONICAL_NAN; // NaN, -inf and every negative non-zero number
            }
            (uint256 m, int256 e) = _unpack(x);
            // Scale m by 2^t so that N = m · 2^t lies in [2^76, 2^78) and e - t is even; then
            // sqrt(x) = sqrt(N) · 2^((e - t) / 2) and r = isqrt(N) lies in [2^38, 2^39): 39 bits,
            // enough for 24 bits plus round and sticky bits.
            uint256 t = 76 - _log2(m);
            if ((uint256(e) ^ t) & 1 == 1) t += 1; // parity of e - t (two's complement: ok)
            uint256 n = m << t;
            // Newton's iteration from above: x1 = (2^39 + N / 2^39) / 2, computed without a
            // division, is within 25% of sqrt(N); each step squares the relative error
            // (0.25, 0.031, 4.9e-4, 1.2e-7, 7.1e-15), so after four more steps r is
            // floor(sqrt(N)) or one more, which the last line corrects.
            uint256 r = (1 << 38) + (n >> 40);
            r = (r + n / r) >> 1;
            r = (r + n / r) >> 1;
            r = (r + n / r) >> 1;
            r = (r + n / r) >> 1;
            if (r * r > n) r -= 1;
            if (r * r != n) r |= 1; // inexact: sticky bit
            return _round(0, (e - int256(t)) / 2, r);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Comparisons and selects: max, min, selGt, selEq
    // ------------------------------------------------------------------------------------------

    /// @notice `b > a ? b : a`: a NaN in `a` propagates (as the canonical NaN), a NaN in `b` is
    ///         ignored, and equal values (`-0`, `+0` included) keep `a`.
    function max(uint32 a, uint32 b) internal pure returns (uint32) {
        return _gt(b, a) ? b : canon(a);
    }

    /// @notice `b < a ? b : a`, with the NaN and equality behaviour of {max}.
    function min(uint32 a, uint32 b) internal pure returns (uint32) {
        return _gt(a, b) ? b : canon(a);
    }

    /// @notice `a > b ? c : d` (ordered: false when `a` or `b` is a NaN); the selected value is
    ///         canonicalised.
    function selGt(uint32 a, uint32 b, uint32 c, uint32 d) internal pure returns (uint32) {
        return canon(_gt(a, b) ? c : d);
    }

    /// @notice `a == b ? c : d` (IEEE equality: `-0 == +0`, a NaN equals nothing); the selected
    ///         value is canonicalised.
    function selEq(uint32 a, uint32 b, uint32 c, uint32 d) internal pure returns (uint32) {
        return canon(_eq(a, b) ? c : d);
    }

    // ------------------------------------------------------------------------------------------
    // Exponent manipulation: ldexp, getexp
    // ------------------------------------------------------------------------------------------

    /// @notice `a · 2^n` rounded once, where `n` is `k` truncated toward zero to an integer and
    ///         clamped to [-512, 512], a NaN `k` counting as 0 (Rust's saturating `k as i32`).
    function ldexp(uint32 a, uint32 k) internal pure returns (uint32) {
        unchecked {
            uint256 x = a;
            uint256 ax = x & ABS;
            if (ax > INF) return CANONICAL_NAN;
            if (ax == 0 || ax == INF) return a; // ±0 and ±inf are unchanged
            int256 n = _truncClamp512(k);
            (uint256 m, int256 e) = _unpack(x);
            return _round(x & SIGN, e + n, m);
        }
    }

    /// @notice `floor(log2 |a|)` as a binary32 (exact, also for subnormals); `-inf` for ±0,
    ///         `+inf` for ±inf, NaN for NaN.
    function getexp(uint32 a) internal pure returns (uint32) {
        unchecked {
            uint256 ax = uint256(a) & ABS;
            if (ax > INF) return CANONICAL_NAN;
            if (ax == INF) return uint32(INF);
            if (ax == 0) return uint32(SIGN | INF);
            (uint256 m, int256 e) = _unpack(ax);
            int256 v = int256(_log2(m)) + e; // in [-149, 127]
            if (v == 0) return 0;
            // |v| < 2^8 converts exactly; _round just packs it.
            return v < 0 ? _round(SIGN, 0, uint256(-v)) : _round(0, 0, uint256(v));
        }
    }

    /// @notice `x`, or the canonical NaN if `x` is a NaN.
    function canon(uint32 x) internal pure returns (uint32) {
        return (uint256(x) & ABS) > INF ? CANONICAL_NAN : x;
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Significand and exponent of a finite non-zero `x` (the sign bit is ignored):
    ///      `|x| = m · 2^e` with `m < 2^24` and `e >= -149`. Subnormals keep `m < 2^23`.
    function _unpack(uint256 x) private pure returns (uint256 m, int256 e) {
        assembly ("memory-safe") {
            let biased := and(shr(23, x), 0xFF)
            let normal := iszero(iszero(biased))
            // Normal: hidden bit set, e = biased - 150. Subnormal: e = 1 - 150 = -149.
            m := or(and(x, FRAC), shl(23, normal))
            e := sub(add(biased, iszero(normal)), 150)
        }
    }

    /// @dev `floor(log2 x)` for `0 < x < 2^128` by binary search (no CLZ opcode before Osaka).
    function _log2(uint256 x) private pure returns (uint256 r) {
        assembly ("memory-safe") {
            // Each line tests whether the remaining value has a bit at or above 2^k and, if so,
            // adds k to r (the shift amounts accumulate in r).
            r := shl(6, gt(x, 0xFFFFFFFFFFFFFFFF))
            r := or(r, shl(5, gt(shr(r, x), 0xFFFFFFFF)))
            r := or(r, shl(4, gt(shr(r, x), 0xFFFF)))
            r := or(r, shl(3, gt(shr(r, x), 0xFF)))
            r := or(r, shl(2, gt(shr(r, x), 0xF)))
            r := or(r, shl(1, gt(shr(r, x), 0x3)))
            r := or(r, gt(shr(r, x), 0x1))
        }
    }

    /// @dev Rounds `(-1)^sign · m · 2^e` (`sign` is 0 or `SIGN`, `m > 0`, `m < 2^128`) to the
    ///      nearest binary32, ties to even, and packs it. The result keeps `sign` even when it
    ///      underflows to zero, and overflows to a signed infinity.
    ///
    ///      Sticky convention: a caller whose exact value lies strictly between `m · 2^e` and
    ///      `(m + 1) · 2^e` passes `m | 1`; this rounds identically provided at least two bits of
    ///      `m` are rounded off, which callers ensure by giving `m` at least 26 significant bits.
    function _round(uint256 sign, int256 e, uint256 m) private pure returns (uint32 r) {
        uint256 l = _log2(m);
        assembly ("memory-safe") {
            // qe: exponent of the result's least significant bit: 24 significant bits for a
            // normal result, the fixed 2^-149 quantum (MIN_QE) for a subnormal one.
            let qe := sub(add(l, e), 23)
            if slt(qe, MIN_QE) { qe := MIN_QE }
            // s = qe - e low bits of m are rounded off (none if s <= 0: then -s <= 23).
            let s := sub(qe, e)
            let q
            switch sgt(s, 0)
            case 0 { q := shl(sub(e, qe), m) }
            default {
                // Round to nearest, ties to even: add just under half a quantum, plus one more
                // when the kept part is odd, then truncate. A value below half the smallest
                // quantum (s > l + 1) gives q = 0, also for s >= 256 where the EVM's shl
                // yields 0 and shr yields 0 (m < 2^128, so nothing overflows).
                q := shr(s, add(add(m, sub(shl(sub(s, 1), 1), 1)), and(shr(s, m), 1)))
            }
            // q < 2^23 is a subnormal (qe = -149, exponent field 0); q in [2^23, 2^24] a normal
            // whose hidden bit adds one to the exponent field (qe + 149), and a rounding carry to
            // 2^24 moves into the exponent field by itself. Past the largest finite: infinity.
            let bits := add(shl(23, sub(qe, MIN_QE)), q)
            if gt(bits, INF) { bits := INF }
            r := or(bits, sign)
        }
    }

    /// @dev `(-1)^sx · mx · 2^ex + (-1)^sy · my · 2^ey`, rounded once; `mx`, `my` in (0, 2^48].
    ///      An exact zero sum is +0 (IEEE 754 round-to-nearest).
    function _sum(uint256 sx, int256 ex, uint256 mx, uint256 sy, int256 ey, uint256 my)
        private
        pure
        returns (uint32)
    {
        uint256 sign;
        int256 e;
        uint256 m;
        assembly ("memory-safe") {
            // Let X be the term whose least significant bit has the larger exponent.
            if slt(ex, ey) {
                let t := sx
                sx := sy
                sy := t
                t := ex
                ex := ey
                ey := t
                t := mx
                mx := my
                my := t
            }
            let d := sub(ex, ey)
            switch lt(d, 50)
            case 1 {
                // Align X onto Y's exponent: exact, below 2^98.
                mx := shl(d, mx)
                e := ey
            }
            default {
                // |Y| < 2^(ey + 48) <= 2^(ex - 2): Y is below every rounding boundary near X
                // (boundaries are multiples of 2^(ex - 2), or of 2^-150 for subnormal results;
                // X is a multiple of 2^ex with at least 24 bits, or itself subnormal), so any
                // value in (0, 2^(ex - 2)) with Y's sign rounds the same: use 2^(ex - 3).
                mx := shl(3, mx)
                my := 1
                e := sub(ex, 3)
            }
            switch eq(sx, sy)
            case 1 {
                sign := sx
                m := add(mx, my)
            }
            default {
                // The difference takes the sign of the larger term; an exact zero is +0.
                switch gt(mx, my)
                case 1 {
                    sign := sx
                    m := sub(mx, my)
                }
                default {
                    sign := sy
                    m := sub(my, mx)
                }
            }
        }
        return m == 0 ? 0 : _round(sign, e, m);
    }

    /// @dev `add` when an operand is zero, infinite or NaN.
    function _addSpecial(uint256 x, uint256 y) private pure returns (uint32) {
        uint256 ax = x & ABS;
        uint256 ay = y & ABS;
        if (ax > INF || ay > INF) return CANONICAL_NAN;
        if (ax == INF) return (ay == INF && x != y) ? CANONICAL_NAN : uint32(x); // inf - inf invalid
        if (ay == INF) return uint32(y);
        if (ax == 0) return ay == 0 ? uint32(x & y) : uint32(y); // -0 only if both are -0
        return uint32(x); // y is a zero
    }

    /// @dev `fma` when an operand is zero, infinite or NaN.
    function _fmaSpecial(uint256 x, uint256 y, uint256 z) private pure returns (uint32) {
        unchecked {
            uint256 ax = x & ABS;
            uint256 ay = y & ABS;
            uint256 az = z & ABS;
            uint256 sp = (x ^ y) & SIGN;
            if (ax > INF || ay > INF || az > INF) return CANONICAL_NAN;
            if (ax == INF || ay == INF) {
                if (ax == 0 || ay == 0) return CANONICAL_NAN; // inf · 0
                // The product is a signed infinity; adding the opposite infinity is invalid.
                if (az == INF && (z & SIGN) != sp) return CANONICAL_NAN;
                return uint32(sp | INF);
            }
            if (az == INF) return uint32(z); // finite product + inf
            if (ax == 0 || ay == 0) {
                // An exact zero product: the sum is c, or for c = ±0 a zero that is -0 only when
                // both the product and c are -0.
                return az == 0 ? uint32(sp & z) : uint32(z);
            }
            // c = ±0 and the product is finite non-zero: the rounded product keeps its own sign
            // even when it underflows to zero.
            (uint256 mx, int256 ex) = _unpack(x);
            (uint256 my, int256 ey) = _unpack(y);
            return _round(sp, ex + ey, mx * my);
        }
    }

    /// @dev IEEE ordered `x > y`: false if either is a NaN; `-0` and `+0` are equal.
    function _gt(uint32 x, uint32 y) private pure returns (bool r) {
        assembly ("memory-safe") {
            // Map each value to a signed integer ordered like the reals: |v| for a positive
            // value, -|v| for a negative one (both zeros map to 0). Only the low 32 bits are
            // read (ABS and SIGN masks), as a uint32's upper bits may be dirty in assembly.
            let ax := and(x, ABS)
            let ay := and(y, ABS)
            let kx := ax
            if and(x, SIGN) { kx := sub(0, ax) }
            let ky := ay
            if and(y, SIGN) { ky := sub(0, ay) }
            r := and(sgt(kx, ky), iszero(or(gt(ax, INF), gt(ay, INF))))
        }
    }

    /// @dev IEEE `x == y`: false if either is a NaN; `-0 == +0`.
    function _eq(uint32 x, uint32 y) private pure returns (bool r) {
        assembly ("memory-safe") {
            // Same bits, or both zeros; and neither a NaN. (Bits above the low 32 of a uint32
            // are not guaranteed clean inside assembly: mask before comparing.)
            let same := or(eq(and(x, 0xFFFFFFFF), and(y, 0xFFFFFFFF)), iszero(and(or(x, y), ABS)))
            r := and(same, iszero(or(gt(and(x, ABS), INF), gt(and(y, ABS), INF))))
        }
    }

    /// @dev Rust's `(k as i32).clamp(-512, 512)` for the binary32 `k`: truncation toward zero,
    ///      saturation, NaN → 0.
    function _truncClamp512(uint32 k) private pure returns (int256 n) {
        unchecked {
            uint256 ak = uint256(k) & ABS;
            if (ak > INF) return 0; // NaN
            uint256 biased = ak >> 23;
            if (biased < 127) return 0; // |k| < 1 (zeros and subnormals included)
            // |k| >= 2^9 (infinities included) clamps to 512; below, the integer part of
            // sig · 2^(biased - 150) is at most 511.
            n = biased >= 127 + 9 ? int256(512) : int256(((ak & FRAC) | HIDDEN) >> (150 - biased));
            if (uint256(k) & SIGN != 0) n = -n;
        }
    }
}
