// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Fp32} from "../../src/fp32/Fp32.sol";
import {Fp32Alu} from "../../src/fp32/Fp32Alu.sol";

/// @notice Named hard cases of every primitive (expected bits from the Rust reference,
///         `repops::prim`), checked through both the {Fp32} library and {Fp32Alu.execute}, plus
///         algebraic identities that must hold bit for bit. Needs no vector file; the exhaustive
///         differential run is Fp32Diff.t.sol (scripts/fp32-diff.sh).
contract Fp32_Test is Test {
    uint32 internal constant NEG_ZERO = 0x80000000;
    uint32 internal constant ONE = 0x3F800000;

    Fp32Alu internal alu;

    function setUp() public {
        alu = new Fp32Alu();
    }

    /// @dev Ties around 1 and 2^24, overflow at the largest finite, zero signs, subnormal boundaries, NaNs.
    function test_addSub_hardCases() public view {
        _binary(1, 0x3F800000, 0x33800000, 0x3F800000, "add: 1 + 2^-24 ties to even (1)");
        _binary(1, 0x3F800001, 0x33800000, 0x3F800002, "add: (1 + 2^-23) + 2^-24 ties to even (up)");
        _binary(1, 0x3F800000, 0x33800001, 0x3F800001, "add: just above the tie rounds up");
        _binary(1, 0x3F800000, 0x337FFFFF, 0x3F800000, "add: just below the tie rounds down");
        _binary(2, 0x3F800000, 0x33000000, 0x3F800000, "sub: 1 - 2^-25 ties to even (1)");
        _binary(2, 0x3F800000, 0x33800000, 0x3F7FFFFF, "sub: 1 - 2^-24 exact");
        _binary(1, 0x4B800000, 0x3F800000, 0x4B800000, "add: 2^24 + 1 ties to even (2^24)");
        _binary(1, 0x4B800000, 0x40400000, 0x4B800002, "add: 2^24 + 3 ties to even (2^24 + 4)");
        _binary(1, 0x7F7FFFFF, 0x73000000, 0x7F800000, "add: max + half ulp ties to even: inf");
        _binary(1, 0x7F7FFFFF, 0x72FFFFFF, 0x7F7FFFFF, "add: max + just under half ulp: max");
        _binary(1, 0x7F7FFFFF, 0x7F7FFFFF, 0x7F800000, "add: max + max: inf");
        _binary(1, 0xFF7FFFFF, 0xFF7FFFFF, 0xFF800000, "add: -max - max: -inf");
        _binary(2, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, "sub: max - (-max): inf");
        _binary(1, 0x3FC00000, 0xBFC00000, 0x00000000, "add: x + (-x) = +0");
        _binary(1, 0xBFC00000, 0x3FC00000, 0x00000000, "add: -x + x = +0");
        _binary(2, 0xBFC00000, 0xBFC00000, 0x00000000, "sub: -x - (-x) = +0");
        _binary(1, 0x80000000, 0x80000000, 0x80000000, "add: -0 + -0 = -0");
        _binary(1, 0x80000000, 0x00000000, 0x00000000, "add: -0 + +0 = +0");
        _binary(1, 0x00000000, 0x80000000, 0x00000000, "add: +0 + -0 = +0");
        _binary(2, 0x00000000, 0x00000000, 0x00000000, "sub: +0 - +0 = +0");
        _binary(2, 0x80000000, 0x00000000, 0x80000000, "sub: -0 - +0 = -0");
        _binary(2, 0x80000000, 0x80000000, 0x00000000, "sub: -0 - -0 = +0");
        _binary(1, 0x00000001, 0x80000001, 0x00000000, "add: subnormal cancellation = +0");
        _binary(1, 0x80000000, 0x00000001, 0x00000001, "add: -0 + min subnormal");
        _binary(1, 0xBF800000, 0x80000000, 0xBF800000, "add: -1 + -0 = -1");
        _binary(1, 0x7F800000, 0xFF800000, 0x7FC00000, "add: inf - inf = NaN");
        _binary(2, 0x7F800000, 0x7F800000, 0x7FC00000, "sub: inf - inf = NaN");
        _binary(1, 0x7F800000, 0x7F800000, 0x7F800000, "add: inf + inf = inf");
        _binary(1, 0xFF800000, 0x7F7FFFFF, 0xFF800000, "add: -inf + max = -inf");
        _binary(1, 0x7FA00001, 0x3F800000, 0x7FC00000, "add: signalling NaN: canonical");
        _binary(1, 0x3F800000, 0xFFC00000, 0x7FC00000, "add: negative NaN: canonical");
        _binary(2, 0x00800000, 0x00000001, 0x007FFFFF, "sub: min normal - min subnormal = max subnormal");
        _binary(1, 0x007FFFFF, 0x00000001, 0x00800000, "add: max subnormal + min subnormal = min normal");
        _binary(1, 0x00400000, 0x00400000, 0x00800000, "add: 2^-127 + 2^-127 = min normal");
        _binary(2, 0x00800001, 0x00800000, 0x00000001, "sub: adjacent normals: min subnormal");
    }

    /// @dev Gradual underflow and its ties (0x00800000 / 2 and neighbours), underflow to signed
    ///      zero, overflow.
    function test_mul_hardCases() public view {
        _binary(3, 0x00800000, 0x3F000000, 0x00400000, "mul: min normal / 2 exact");
        _binary(3, 0x00800001, 0x3F000000, 0x00400000, "mul: (min normal + ulp) / 2 ties to even");
        _binary(3, 0x00800003, 0x3F000000, 0x00400002, "mul: ties to even, up");
        _binary(3, 0x00000001, 0x3F000000, 0x00000000, "mul: min subnormal / 2 ties to +0");
        _binary(3, 0x80000001, 0x3F000000, 0x80000000, "mul: -min subnormal / 2 ties to -0");
        _binary(3, 0x00000003, 0x3F000000, 0x00000002, "mul: 3 * 2^-150 ties to 2 * 2^-149");
        _binary(3, 0x00000001, 0x3F400000, 0x00000001, "mul: 0.75 of min subnormal rounds up");
        _binary(
            3, 0x007FFFFF, 0x3F800001, 0x00800000, "mul: max subnormal * (1 + 2^-23) rounds to min normal"
        );
        _binary(3, 0x1F800000, 0x1F800000, 0x00200000, "mul: 2^-64 * 2^-64 = 2^-128 subnormal");
        _binary(3, 0x1A000000, 0x1A000000, 0x00000000, "mul: 2^-75 * 2^-75 = 2^-150 ties to +0");
        _binary(3, 0x1A000001, 0x1A000000, 0x00000001, "mul: just above 2^-150 rounds to min subnormal");
        _binary(3, 0x5F800000, 0x5F800000, 0x7F800000, "mul: 2^64 * 2^64 = inf");
        _binary(3, 0x3F800001, 0x3F7FFFFF, 0x3F800000, "mul: just below a tie");
        _binary(3, 0x7F800000, 0x00000000, 0x7FC00000, "mul: inf * 0 = NaN");
        _binary(3, 0xFF800000, 0xC0000000, 0x7F800000, "mul: -inf * -2 = inf");
        _binary(3, 0x80000000, 0x40A00000, 0x80000000, "mul: -0 * 5 = -0");
        _binary(3, 0x80000000, 0x80000000, 0x00000000, "mul: -0 * -0 = +0");
        _binary(3, 0x00000001, 0x00000001, 0x00000000, "mul: min subnormal squared = +0");
        _binary(3, 0x80000001, 0x00000001, 0x80000000, "mul: -min subnormal * min subnormal = -0");
    }

    /// @dev Correct rounding, exact quotients, subnormal ties, signed zeros and infinities, invalid
    ///      operations.
    function test_div_hardCases() public view {
        _binary(4, 0x3F800000, 0x40400000, 0x3EAAAAAB, "div: 1/3");
        _binary(4, 0x40000000, 0x40400000, 0x3F2AAAAB, "div: 2/3");
        _binary(4, 0x40C00000, 0x40400000, 0x40000000, "div: 6/3 exact");
        _binary(4, 0x4B7FFFFF, 0x4B7FFFFF, 0x3F800000, "div: x/x = 1");
        _binary(4, 0x3F800000, 0x00000000, 0x7F800000, "div: 1/+0 = inf");
        _binary(4, 0xBF800000, 0x00000000, 0xFF800000, "div: -1/+0 = -inf");
        _binary(4, 0x3F800000, 0x80000000, 0xFF800000, "div: 1/-0 = -inf");
        _binary(4, 0x00000000, 0x00000000, 0x7FC00000, "div: 0/0 = NaN");
        _binary(4, 0x7F800000, 0xFF800000, 0x7FC00000, "div: inf/-inf = NaN");
        _binary(4, 0x3F800000, 0x7F800000, 0x00000000, "div: 1/inf = +0");
        _binary(4, 0xBF800000, 0x7F800000, 0x80000000, "div: -1/inf = -0");
        _binary(4, 0x7F800000, 0x00000000, 0x7F800000, "div: inf/0 = inf");
        _binary(4, 0x00000003, 0x40000000, 0x00000002, "div: 3 * 2^-149 / 2 ties to 2 * 2^-149");
        _binary(4, 0x00000005, 0x40000000, 0x00000002, "div: 5 * 2^-149 / 2 ties to 2 * 2^-149");
        _binary(4, 0x00000001, 0x40000000, 0x00000000, "div: min subnormal / 2 ties to +0");
        _binary(4, 0x00000001, 0x3F7FFFFF, 0x00000001, "div: min subnormal / (1 - 2^-24)");
        _binary(4, 0x7F7FFFFF, 0x3F000000, 0x7F800000, "div: max / 0.5 = inf");
        _binary(4, 0x3F800000, 0x7F7FFFFF, 0x00200000, "div: 1/max subnormal result");
        _binary(4, 0x00800000, 0x40000000, 0x00400000, "div: min normal / 2");
        _binary(4, 0x7F7FFFFF, 0x00000001, 0x7F800000, "div: max / min subnormal = inf");
        _binary(4, 0x00000001, 0x7F7FFFFF, 0x00000000, "div: min subnormal / max = +0");
    }

    /// @dev Residuals fma(a, b, -round(a*b)), single rounding of ties, sticky addends, no
    ///      intermediate overflow, exact-zero signs.
    function test_fma_hardCases() public view {
        _fma(0x3F800001, 0x3F7FFFFE, 0xBF800000, 0xA8800000, "fma: (1+2^-23)(1-2^-23) - 1 = -2^-46");
        _fma(0x3F800001, 0x3F800001, 0xBF800002, 0x28800000, "fma: a*a - round(a*a) = 2^-46");
        _fma(0x3FB504F3, 0x3FB504F3, 0xC0000000, 0xB39302AE, "fma: sqrt2 * sqrt2 - 2 residual");
        _fma(0x3DCCCCCD, 0x41200000, 0xBF800000, 0x32800000, "fma: 0.1f * 10 - 1 residual");
        _fma(0x40400000, 0x3EAAAAAB, 0x00000000, 0x3F800000, "fma: 3 * (1/3)f + 0 rounds down to 1");
        _fma(0x40400000, 0x3EAAAAAB, 0x33000000, 0x3F800000, "fma: 3 * (1/3)f + 2^-25 ties to even (1)");
        _fma(0x40400000, 0x3EAAAAAB, 0x33000001, 0x3F800001, "fma: just above the tie rounds up");
        _fma(0x3F800000, 0x3F800000, 0x33800000, 0x3F800000, "fma: 1 + 2^-24 ties to even");
        _fma(0x3F800000, 0x3F800000, 0x21800000, 0x3F800000, "fma: 1 + 2^-60 = 1 (sticky)");
        _fma(0x3F800001, 0x3F800000, 0xA1800000, 0x3F800001, "fma: (1 + 2^-23) - 2^-60 (sticky, borrow)");
        _fma(0x3F800000, 0x33800000, 0x3F800000, 0x3F800000, "fma: 1 * 2^-24 + 1 ties to even");
        _fma(0x21800000, 0x21800000, 0x3F800000, 0x3F800000, "fma: tiny product + 1 = 1");
        _fma(0x21800000, 0xA1800000, 0x3F800000, 0x3F800000, "fma: 1 - tiny product = 1");
        _fma(
            0x7F7FFFFF,
            0x40000000,
            0xFF7FFFFF,
            0x7F7FFFFF,
            "fma: 2 max - max = max (no intermediate overflow)"
        );
        _fma(0x7F7FFFFF, 0x40000000, 0x00000000, 0x7F800000, "fma: 2 max + 0 = inf");
        _fma(0x7F7FFFFF, 0x7F7FFFFF, 0xFF800000, 0xFF800000, "fma: max * max - inf = -inf");
        _fma(0x00000001, 0x00000001, 0x00000001, 0x00000001, "fma: min subnormal^2 + min subnormal");
        _fma(0x00000001, 0x80000001, 0x00000001, 0x00000001, "fma: min subnormal - min subnormal^2");
        _fma(0x00000001, 0x3F000000, 0x00000001, 0x00000002, "fma: 2^-150 + 2^-149 = 1.5 * 2^-149 ties to 2");
        _fma(0x40000000, 0x40400000, 0xC0C00000, 0x00000000, "fma: 2*3 - 6 = +0");
        _fma(0xC0000000, 0x40400000, 0x40C00000, 0x00000000, "fma: -2*3 + 6 = +0");
        _fma(0x00000000, 0xBF800000, 0x00000000, 0x00000000, "fma: -0 + +0 = +0");
        _fma(0x80000000, 0x3F800000, 0x80000000, 0x80000000, "fma: -0 + -0 = -0");
        _fma(0x00000000, 0x00000000, 0x80000000, 0x00000000, "fma: +0 + -0 = +0");
        _fma(0x80000000, 0x80000000, 0x80000000, 0x00000000, "fma: (-0)(-0) + -0 = +0");
        _fma(0x80000000, 0x00000000, 0x80000000, 0x80000000, "fma: (-0)(+0) + -0 = -0");
        _fma(0x00000001, 0x80000001, 0x00000000, 0x80000000, "fma: underflowing negative product + 0 = -0");
        _fma(0x00000001, 0x00000001, 0x80000000, 0x00000000, "fma: underflowing positive product - 0 = +0");
        _fma(0x80000000, 0x3F800000, 0x3FC00000, 0x3FC00000, "fma: -0 * 1 + 1.5 = 1.5");
        _fma(0x3F800000, 0x3F800000, 0x80000000, 0x3F800000, "fma: 1 * 1 - 0 = 1");
        _fma(0x7F800000, 0x00000000, 0x3F800000, 0x7FC00000, "fma: inf * 0 + 1 = NaN");
        _fma(0x00000000, 0xFF800000, 0x7FC00001, 0x7FC00000, "fma: 0 * -inf + NaN = NaN");
        _fma(0x7F800000, 0x3F800000, 0xFF800000, 0x7FC00000, "fma: inf - inf = NaN");
        _fma(0x7F800000, 0xBF800000, 0xFF800000, 0xFF800000, "fma: -inf - inf = -inf");
        _fma(0x3F800000, 0x3F800000, 0x7F800000, 0x7F800000, "fma: 1 + inf = inf");
        _fma(0x3F800000, 0x7FBFFFFF, 0x3F800000, 0x7FC00000, "fma: signalling NaN = canonical");
    }

    /// @dev Exact roots, subnormals, -0, negatives.
    function test_sqrt_hardCases() public view {
        _unary(6, 0x40000000, 0x3FB504F3, "sqrt: 2");
        _unary(6, 0x40800000, 0x40000000, "sqrt: 4 exact");
        _unary(6, 0x3F800001, 0x3F800000, "sqrt: 1 + 2^-23");
        _unary(6, 0x3F7FFFFF, 0x3F7FFFFF, "sqrt: 1 - 2^-24");
        _unary(6, 0x00000001, 0x1A3504F3, "sqrt: min subnormal");
        _unary(6, 0x00000004, 0x1AB504F3, "sqrt: 2^-147 (odd exponent)");
        _unary(6, 0x00000002, 0x1A800000, "sqrt: 2^-148 = (2^-74)^2 exact");
        _unary(6, 0x3F800000, 0x3F800000, "sqrt: 1 exact");
        _unary(6, 0x4C800000, 0x46000000, "sqrt: 2^26 exact");
        _unary(6, 0x007FFFFF, 0x1FFFFFFF, "sqrt: max subnormal");
        _unary(6, 0x7F7FFFFF, 0x5F7FFFFF, "sqrt: max");
        _unary(6, 0x00000000, 0x00000000, "sqrt: +0");
        _unary(6, 0x80000000, 0x80000000, "sqrt: -0 = -0");
        _unary(6, 0xBF800000, 0x7FC00000, "sqrt: -1 = NaN");
        _unary(6, 0x80000001, 0x7FC00000, "sqrt: -min subnormal = NaN");
        _unary(6, 0xFF800000, 0x7FC00000, "sqrt: -inf = NaN");
        _unary(6, 0x7F800000, 0x7F800000, "sqrt: inf");
        _unary(6, 0x7F800001, 0x7FC00000, "sqrt: signalling NaN = canonical");
    }

    /// @dev Equal values keep a (-0 vs +0), NaN in a propagates, NaN in b is ignored.
    function test_maxMin_hardCases() public view {
        _binary(7, 0x80000000, 0x00000000, 0x80000000, "max: (-0, +0) keeps a = -0");
        _binary(7, 0x00000000, 0x80000000, 0x00000000, "max: (+0, -0) keeps a = +0");
        _binary(8, 0x80000000, 0x00000000, 0x80000000, "min: (-0, +0) keeps a = -0");
        _binary(8, 0x00000000, 0x80000000, 0x00000000, "min: (+0, -0) keeps a = +0");
        _binary(7, 0x7FC00001, 0x3F800000, 0x7FC00000, "max: NaN in a propagates (canonical)");
        _binary(7, 0x3F800000, 0x7FC00001, 0x3F800000, "max: NaN in b is ignored");
        _binary(8, 0xFFC00001, 0x3F800000, 0x7FC00000, "min: NaN in a propagates (canonical)");
        _binary(8, 0x3F800000, 0xFFC00001, 0x3F800000, "min: NaN in b is ignored");
        _binary(7, 0x7FA00000, 0xFFFFFFFF, 0x7FC00000, "max: two NaNs: canonical");
        _binary(7, 0xFF800000, 0x7F800000, 0x7F800000, "max: (-inf, inf) = inf");
        _binary(8, 0xFF800000, 0x7F800000, 0xFF800000, "min: (-inf, inf) = -inf");
        _binary(7, 0x3F800000, 0x40000000, 0x40000000, "max: (1, 2) = 2");
        _binary(8, 0x3F800000, 0x40000000, 0x3F800000, "min: (1, 2) = 1");
        _binary(7, 0xBF800000, 0xC0000000, 0xBF800000, "max: (-1, -2) = -1");
        _binary(8, 0xBF800000, 0xC0000000, 0xC0000000, "min: (-1, -2) = -2");
        _binary(7, 0x80000001, 0x00000000, 0x00000000, "max: (-min subnormal, +0) = +0");
    }

    /// @dev Ordered comparisons (NaN is false, -0 == +0) and canonicalisation of the selected value.
    function test_selects_hardCases() public view {
        _select(9, 0x3F800000, 0x00000000, 0x40A00000, 0x40C00000, 0x40A00000, "selGt: 1 > 0");
        _select(9, 0x00000000, 0x00000000, 0x40A00000, 0x40C00000, 0x40C00000, "selGt: 0 > 0 false");
        _select(9, 0x00000000, 0x80000000, 0x40A00000, 0x40C00000, 0x40C00000, "selGt: +0 > -0 false");
        _select(9, 0x7FC00000, 0x00000000, 0x40A00000, 0x40C00000, 0x40C00000, "selGt: NaN > 0 false");
        _select(9, 0x3F800000, 0xFFC00000, 0x40A00000, 0x40C00000, 0x40C00000, "selGt: 1 > NaN false");
        _select(9, 0xBF800000, 0xC0000000, 0x40A00000, 0x40C00000, 0x40A00000, "selGt: -1 > -2");
        _select(9, 0xC0000000, 0xBF800000, 0x40A00000, 0x40C00000, 0x40C00000, "selGt: -2 > -1 false");
        _select(
            9,
            0x00000001,
            0x80000001,
            0x40A00000,
            0x40C00000,
            0x40A00000,
            "selGt: min subnormal > -min subnormal"
        );
        _select(9, 0x7F800000, 0x7F7FFFFF, 0x40A00000, 0x40C00000, 0x40A00000, "selGt: inf > max");
        _select(
            9,
            0x3F800000,
            0x00000000,
            0x7FA00001,
            0x40C00000,
            0x7FC00000,
            "selGt: selected NaN is canonicalised"
        );
        _select(
            9, 0x00000000, 0x3F800000, 0x7FA00001, 0x3F800000, 0x3F800000, "selGt: unselected NaN is ignored"
        );
        _select(10, 0x00000000, 0x80000000, 0x40A00000, 0x40C00000, 0x40A00000, "selEq: +0 == -0");
        _select(10, 0x7FC00000, 0x7FC00000, 0x40A00000, 0x40C00000, 0x40C00000, "selEq: NaN == NaN false");
        _select(10, 0x3F800000, 0x3F800000, 0x40A00000, 0xFFC00001, 0x40A00000, "selEq: 1 == 1");
        _select(
            10,
            0x3F800000,
            0x40000000,
            0x40A00000,
            0xFFC00001,
            0x7FC00000,
            "selEq: selected NaN is canonicalised"
        );
        _select(10, 0x7F800000, 0x7F800000, 0x40A00000, 0x40C00000, 0x40A00000, "selEq: inf == inf");
        _select(
            10,
            0x00000001,
            0x80000001,
            0x40A00000,
            0x40C00000,
            0x40C00000,
            "selEq: subnormal == -subnormal false"
        );
        _select(
            10, 0x3F800000, 0x3F800001, 0x40A00000, 0x40C00000, 0x40C00000, "selEq: adjacent values differ"
        );
    }

    /// @dev Subnormal ties, overflow, and k truncated toward zero, clamped, NaN as 0.
    function test_ldexp_hardCases() public view {
        _binary(11, 0x3F800000, 0xC3150000, 0x00000001, "ldexp: 2^-149 = min subnormal");
        _binary(11, 0x3F800000, 0xC3160000, 0x00000000, "ldexp: 2^-150 ties to +0");
        _binary(11, 0x3FC00000, 0xC3160000, 0x00000001, "ldexp: 1.5 * 2^-150 rounds up");
        _binary(11, 0x3FC00000, 0xC3150000, 0x00000002, "ldexp: 1.5 * 2^-149 ties to even (2)");
        _binary(11, 0x40400000, 0xC3170000, 0x00000001, "ldexp: 3 * 2^-151 rounds to min subnormal");
        _binary(11, 0x3F800000, 0x43000000, 0x7F800000, "ldexp: 2^128 = inf");
        _binary(11, 0x3F800000, 0x42FE0000, 0x7F000000, "ldexp: 2^127");
        _binary(11, 0x00000001, 0x438A0000, 0x7F000000, "ldexp: min subnormal * 2^276 = 2^127");
        _binary(11, 0x00000001, 0x44000000, 0x7F800000, "ldexp: min subnormal * 2^512 = inf");
        _binary(11, 0x7F7FFFFF, 0xC4000000, 0x00000000, "ldexp: max * 2^-512 = +0");
        _binary(11, 0x7F7FFFFF, 0xC3800000, 0x00200000, "ldexp: max * 2^-256 subnormal");
        _binary(11, 0x3F800000, 0x7FC00000, 0x3F800000, "ldexp: NaN k counts as 0");
        _binary(11, 0x3F800000, 0xFFFFFFFF, 0x3F800000, "ldexp: negative NaN k counts as 0");
        _binary(11, 0x3F800000, 0x7F800000, 0x7F800000, "ldexp: k = inf clamps to 512");
        _binary(11, 0x3F800000, 0xFF800000, 0x00000000, "ldexp: k = -inf clamps to -512");
        _binary(11, 0xBF800000, 0xFF800000, 0x80000000, "ldexp: -1 * 2^-512 = -0");
        _binary(11, 0x40400000, 0x4039999A, 0x41400000, "ldexp: k = 2.9 truncates to 2");
        _binary(11, 0x40400000, 0xC039999A, 0x3F400000, "ldexp: k = -2.9 truncates to -2");
        _binary(11, 0x40400000, 0x3F7FBE77, 0x40400000, "ldexp: k = 0.999 truncates to 0");
        _binary(11, 0x40400000, 0xBF000000, 0x40400000, "ldexp: k = -0.5 truncates to 0");
        _binary(11, 0x40400000, 0x00000001, 0x40400000, "ldexp: subnormal k is 0");
        _binary(11, 0x1F800000, 0x433EB333, 0x7E800000, "ldexp: k = 190.7 truncates to 190");
        _binary(11, 0x3F800000, 0x501502F9, 0x7F800000, "ldexp: k = 1e10 clamps");
        _binary(11, 0x7FC00001, 0x3F800000, 0x7FC00000, "ldexp: NaN a = canonical");
        _binary(11, 0x7F800000, 0xC47A0000, 0x7F800000, "ldexp: inf stays inf");
        _binary(11, 0x80000000, 0x40A00000, 0x80000000, "ldexp: -0 stays -0");
        _binary(11, 0x00400001, 0x3F800000, 0x00800002, "ldexp: subnormal * 2 exact");
        _binary(11, 0x00400001, 0xBF800000, 0x00200000, "ldexp: subnormal / 2 ties to even");
    }

    /// @dev Exact exponents of subnormals and extremes, zeros, infinities, NaN.
    function test_getexp_hardCases() public view {
        _unary(12, 0x3F800000, 0x00000000, "getexp: 1");
        _unary(12, 0xC1400000, 0x40400000, "getexp: -12");
        _unary(12, 0x3F400000, 0xBF800000, "getexp: 0.75");
        _unary(12, 0x00000001, 0xC3150000, "getexp: min subnormal = -149");
        _unary(12, 0x007FFFFF, 0xC2FE0000, "getexp: max subnormal = -127");
        _unary(12, 0x00800000, 0xC2FC0000, "getexp: min normal = -126");
        _unary(12, 0x7F7FFFFF, 0x42FE0000, "getexp: max = 127");
        _unary(12, 0x00000000, 0xFF800000, "getexp: +0 = -inf");
        _unary(12, 0x80000000, 0xFF800000, "getexp: -0 = -inf");
        _unary(12, 0x7F800000, 0x7F800000, "getexp: inf = inf");
        _unary(12, 0xFF800000, 0x7F800000, "getexp: -inf = inf");
        _unary(12, 0xFFC00001, 0x7FC00000, "getexp: NaN = canonical");
    }

    function test_execute_unknownOpcode_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(Fp32Alu.UnknownOpcode.selector, uint8(0)));
        alu.execute(0, ONE, ONE, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(Fp32Alu.UnknownOpcode.selector, uint8(13)));
        alu.execute(13, ONE, ONE, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(Fp32Alu.UnknownOpcode.selector, uint8(255)));
        alu.execute(255, ONE, ONE, ONE, ONE);
    }

    /// @dev Operands an opcode does not read do not matter.
    function testFuzz_execute_ignoresUnusedOperands(uint32 a, uint32 b, uint32 c, uint32 d, uint32 junk)
        public
        view
    {
        assertEq(alu.execute(6, a, junk, c, d), alu.execute(6, a, 0, 0, 0), "sqrt");
        assertEq(alu.execute(12, a, b, junk, d), alu.execute(12, a, 0, 0, 0), "getexp");
        assertEq(alu.execute(1, a, b, junk, d), alu.execute(1, a, b, 0, 0), "add");
        assertEq(alu.execute(11, a, b, c, junk), alu.execute(11, a, b, 0, 0), "ldexp");
        assertEq(alu.execute(5, a, b, c, junk), Fp32.fma(a, b, c), "fma");
    }

    /// @dev a - b is exactly a + (-b); add and mul commute.
    function testFuzz_subAddMul_identities(uint32 a, uint32 b) public pure {
        assertEq(Fp32.sub(a, b), Fp32.add(a, b ^ 0x80000000), "sub");
        assertEq(Fp32.add(a, b), Fp32.add(b, a), "add commutes");
        assertEq(Fp32.mul(a, b), Fp32.mul(b, a), "mul commutes");
    }

    /// @dev fma(a, b, -0) rounds the exact product once, exactly like mul (zero signs included);
    ///      fma(a, 1, c) is add(a, c).
    function testFuzz_fma_degeneratesToMulAndAdd(uint32 a, uint32 b) public pure {
        assertEq(Fp32.fma(a, b, NEG_ZERO), Fp32.mul(a, b), "fma(a, b, -0) = a * b");
        assertEq(Fp32.fma(a, ONE, b), Fp32.add(a, b), "fma(a, 1, c) = a + c");
        assertEq(Fp32.fma(a, b, 0), Fp32.fma(b, a, 0), "fma commutes in a, b");
    }

    /// @dev max is the select it is defined as; ldexp by 0 is the identity (up to NaN canonicalisation).
    function testFuzz_maxMinLdexp_identities(uint32 a, uint32 b) public pure {
        assertEq(Fp32.max(a, b), Fp32.selGt(b, a, b, a), "max = selGt(b, a, b, a)");
        assertEq(Fp32.min(a, b), Fp32.selGt(a, b, b, a), "min = selGt(a, b, b, a)");
        assertEq(Fp32.ldexp(a, 0), Fp32.canon(a), "ldexp(a, 0)");
        assertEq(Fp32.ldexp(a, NEG_ZERO), Fp32.canon(a), "ldexp(a, -0)");
    }

    /// @dev Every NaN result is the canonical NaN, whatever the NaN operand's payload or sign.
    function testFuzz_nanResults_areCanonical(uint32 payload, uint32 x) public view {
        uint32 nan = 0x7F800000 | (payload & 0x807FFFFF);
        if (nan & 0x7FFFFF == 0) nan |= 1;
        for (uint8 op = 1; op <= 6; ++op) {
            assertEq(alu.execute(op, nan, x, x, x), Fp32.CANONICAL_NAN, "NaN in a");
            if (op != 6) assertEq(alu.execute(op, x, nan, x, x), Fp32.CANONICAL_NAN, "NaN in b");
        }
        assertEq(Fp32.fma(x, x, nan), Fp32.CANONICAL_NAN, "fma: NaN in c");
        assertEq(Fp32.max(nan, x), Fp32.CANONICAL_NAN, "max");
        assertEq(Fp32.min(nan, x), Fp32.CANONICAL_NAN, "min");
        assertEq(Fp32.selGt(x, x, nan, nan), Fp32.CANONICAL_NAN, "selGt");
        assertEq(Fp32.selEq(x, x, nan, nan), Fp32.CANONICAL_NAN, "selEq");
        assertEq(Fp32.ldexp(nan, x), Fp32.CANONICAL_NAN, "ldexp");
        assertEq(Fp32.getexp(nan), Fp32.CANONICAL_NAN, "getexp");
    }

    function _unary(uint8 opcode, uint32 a, uint32 want, string memory label) private view {
        _expect(opcode, a, 0, 0, 0, want, label);
    }

    function _binary(uint8 opcode, uint32 a, uint32 b, uint32 want, string memory label) private view {
        _expect(opcode, a, b, 0, 0, want, label);
    }

    function _fma(uint32 a, uint32 b, uint32 c, uint32 want, string memory label) private view {
        _expect(5, a, b, c, 0, want, label);
    }

    function _select(uint8 opcode, uint32 a, uint32 b, uint32 c, uint32 d, uint32 want, string memory label)
        private
        view
    {
        _expect(opcode, a, b, c, d, want, label);
    }

    /// @dev Checks `opcode` on (a, b, c, d) through the library and the deployed ALU.
    function _expect(uint8 opcode, uint32 a, uint32 b, uint32 c, uint32 d, uint32 want, string memory label)
        private
        view
    {
        assertEq(_library(opcode, a, b, c, d), want, label);
        assertEq(alu.execute(opcode, a, b, c, d), want, label);
    }

    function _library(uint8 op, uint32 a, uint32 b, uint32 c, uint32 d) private pure returns (uint32) {
        if (op == 1) return Fp32.add(a, b);
        if (op == 2) return Fp32.sub(a, b);
        if (op == 3) return Fp32.mul(a, b);
        if (op == 4) return Fp32.div(a, b);
        if (op == 5) return Fp32.fma(a, b, c);
        if (op == 6) return Fp32.sqrt(a);
        if (op == 7) return Fp32.max(a, b);
        if (op == 8) return Fp32.min(a, b);
        if (op == 9) return Fp32.selGt(a, b, c, d);
        if (op == 10) return Fp32.selEq(a, b, c, d);
        if (op == 11) return Fp32.ldexp(a, b);
        return Fp32.getexp(a);
    }
}
