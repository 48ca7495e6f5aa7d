// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Micro
/// @notice The vocabulary of element programs (`docs/repops.md` §1): the primitive opcodes,
///         the f32 constants the programs use, and builders of instructions and operands,
///         shared by every op library of the graph semantics.
library Micro {
    uint8 internal constant COPY = 0;
    uint8 internal constant ADD = 1;
    uint8 internal constant SUB = 2;
    uint8 internal constant MUL = 3;
    uint8 internal constant DIV = 4;
    uint8 internal constant FMA = 5;
    uint8 internal constant SQRT = 6;
    uint8 internal constant MAX = 7;
    uint8 internal constant MIN = 8;
    uint8 internal constant SEL_GT = 9;
    uint8 internal constant SEL_EQ = 10;
    uint8 internal constant LDEXP = 11;
    uint8 internal constant GETEXP = 12;

    uint32 internal constant F_ZERO = 0x00000000;
    uint32 internal constant F_HALF = 0x3F000000;
    uint32 internal constant F_ONE = 0x3F800000;
    uint32 internal constant F_TWO = 0x40000000;
    uint32 internal constant F_MINUS_ONE = 0xBF800000;

    /// @dev Instructions and operands are words in the layout of `StepWords` (the opcode in
    ///      bits 0–7, operand i in the 62 bits from `8 + 62·i`; an operand's kind in bits 0–1,
    ///      its slot in bits 2–5, its payload in bits 6–61). Words, not structs: building,
    ///      passing and returning the struct cost the one-step proof ~10k gas
    ///      (docs/benchmarks.md § Dispute game gas).
    uint256 private constant KIND_INPUT = 1;
    uint256 private constant KIND_STEP = 2;
    uint256 private constant KIND_CONST = 3;
    /// @dev Indices must stay below 2^56 (a tensor has at most 2^40 elements), as
    ///      `StepWords.MAX_INDEX`.
    uint256 private constant MAX_INDEX = 1 << 56;

    /// @notice Element or micro-step index {input} or {step} cannot pack.
    error IndexTooLarge(uint256 index);

    function ins(uint8 opcode, uint256 a, uint256 b, uint256 c3, uint256 d) internal pure returns (uint256) {
        return uint256(opcode) | a << 8 | b << 70 | c3 << 132 | d << 194;
    }

    /// @notice A one- or two-operand instruction.
    function ins2(uint8 opcode, uint256 a, uint256 b) internal pure returns (uint256) {
        return uint256(opcode) | a << 8 | b << 70;
    }

    /// @notice A three-operand instruction (fma).
    function ins3(uint8 opcode, uint256 a, uint256 b, uint256 c3) internal pure returns (uint256) {
        return uint256(opcode) | a << 8 | b << 70 | c3 << 132;
    }

    /// @notice The element is `a` itself (a program without primitives).
    function copy(uint256 a) internal pure returns (uint256) {
        return uint256(COPY) | a << 8;
    }

    function input(uint256 slot, uint256 index) internal pure returns (uint256) {
        if (index >= MAX_INDEX) revert IndexTooLarge(index);
        return KIND_INPUT | slot << 2 | index << 6;
    }

    function step(uint256 index) internal pure returns (uint256) {
        if (index >= MAX_INDEX) revert IndexTooLarge(index);
        return KIND_STEP | index << 6;
    }

    function c(uint32 bits) internal pure returns (uint256) {
        return KIND_CONST | uint256(bits) << 6;
    }

    function none() internal pure returns (uint256) {
        return 0;
    }

    /// @notice An unsigned integer as f32 bits, rounded to nearest, ties to even (exact below
    ///         2^24, which every count, index and step the programs use is).
    function f32(uint256 v) internal pure returns (uint32) {
        if (v == 0) return 0;
        uint256 top = msb(v);
        if (top > 127) return 0x7F800000;
        uint256 mant;
        if (top <= 23) {
            mant = v << (23 - top);
        } else {
            uint256 shift = top - 23;
            mant = v >> shift;
            uint256 rest = v & (2 ** shift - 1);
            uint256 halfway = 2 ** (shift - 1);
            if (rest > halfway || (rest == halfway && mant & 1 == 1)) ++mant;
            if (mant == 2 ** 24) {
                mant >>= 1;
                ++top;
                if (top > 127) return 0x7F800000;
            }
        }
        return uint32((top + 127) << 23 | (mant & 0x7FFFFF));
    }

    /// @notice `uniform01`: the top 24 bits of a draw times 2^−24, exact in f32, as bits.
    function uniform01(uint64 draw) internal pure returns (uint32) {
        uint256 v = draw >> 40;
        if (v == 0) return 0;
        uint256 top = msb(v); // 0..23
        // v · 2^−24 = 1.f · 2^(top − 24): biased exponent top + 103
        return uint32((top + 103) << 23 | ((v << (23 - top)) & 0x7FFFFF));
    }

    /// @notice The index of the highest set bit of `v` > 0.
    function msb(uint256 v) internal pure returns (uint256 r) {
        while (v > 1) {
            v >>= 1;
            ++r;
        }
    }
}
