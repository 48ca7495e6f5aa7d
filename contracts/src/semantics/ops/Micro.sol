// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../interfaces/IStepSemantics.sol";

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

    function ins(
        uint8 opcode,
        IStepSemantics.Operand memory a,
        IStepSemantics.Operand memory b,
        IStepSemantics.Operand memory c3,
        IStepSemantics.Operand memory d
    ) internal pure returns (IStepSemantics.Instruction memory i) {
        i.opcode = opcode;
        i.operands[0] = a;
        i.operands[1] = b;
        i.operands[2] = c3;
        i.operands[3] = d;
    }

    /// @notice A one- or two-operand instruction.
    function ins2(uint8 opcode, IStepSemantics.Operand memory a, IStepSemantics.Operand memory b)
        internal
        pure
        returns (IStepSemantics.Instruction memory)
    {
        return ins(opcode, a, b, none(), none());
    }

    /// @notice A three-operand instruction (fma).
    function ins3(
        uint8 opcode,
        IStepSemantics.Operand memory a,
        IStepSemantics.Operand memory b,
        IStepSemantics.Operand memory c3
    ) internal pure returns (IStepSemantics.Instruction memory) {
        return ins(opcode, a, b, c3, none());
    }

    /// @notice The element is `a` itself (a program without primitives).
    function copy(IStepSemantics.Operand memory a) internal pure returns (IStepSemantics.Instruction memory) {
        return ins(COPY, a, none(), none(), none());
    }

    function input(uint256 slot, uint256 index) internal pure returns (IStepSemantics.Operand memory) {
        return IStepSemantics.Operand(IStepSemantics.OperandKind.Input, uint8(slot), uint64(index), 0);
    }

    function step(uint256 index) internal pure returns (IStepSemantics.Operand memory) {
        return IStepSemantics.Operand(IStepSemantics.OperandKind.Step, 0, uint64(index), 0);
    }

    function c(uint32 bits) internal pure returns (IStepSemantics.Operand memory) {
        return IStepSemantics.Operand(IStepSemantics.OperandKind.Const, 0, 0, bits);
    }

    function none() internal pure returns (IStepSemantics.Operand memory) {}

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
