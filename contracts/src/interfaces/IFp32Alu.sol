// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IFp32Alu
/// @notice Executes one repops primitive on raw IEEE-754 binary32 bit patterns.
///         Opcodes and semantics are `docs/repops.md` §1: 1 add, 2 sub, 3 mul, 4 div,
///         5 fma, 6 sqrt, 7 max, 8 min, 9 sel_gt, 10 sel_eq, 11 ldexp, 12 getexp.
///         Operands an opcode does not read are ignored. Every NaN result is the
///         canonical NaN 0x7FC00000.
/// @dev    The dispute game calls this once, at the very last step of a dispute.
///         Implementations must be pure and must revert on an unknown opcode.
interface IFp32Alu {
    /// @notice The result of `opcode` applied to `a, b, c, d`.
    function execute(uint8 opcode, uint32 a, uint32 b, uint32 c, uint32 d) external pure returns (uint32);
}
