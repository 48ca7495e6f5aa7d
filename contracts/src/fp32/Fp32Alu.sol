// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IFp32Alu} from "../interfaces/IFp32Alu.sol";
import {Fp32} from "./Fp32.sol";

/// @title Fp32Alu
/// @notice The on-chain repops ALU: executes one primitive of `docs/repops.md` §1 on raw IEEE-754
///         binary32 bit patterns, bit-exact with the Rust reference (`repops::prim`).
/// @dev    Stateless; every opcode is a call into the {Fp32} library. See `docs/fp32-alu.md`.
contract Fp32Alu is IFp32Alu {
    /// @notice `opcode` is not one of 1..12.
    error UnknownOpcode(uint8 opcode);

    /// @inheritdoc IFp32Alu
    function execute(uint8 opcode, uint32 a, uint32 b, uint32 c, uint32 d) external pure returns (uint32) {
        // A small decision tree: at most five comparisons to reach any opcode.
        if (opcode <= 6) {
            if (opcode <= 3) {
                if (opcode == 1) return Fp32.add(a, b);
                if (opcode == 2) return Fp32.sub(a, b);
                if (opcode == 3) return Fp32.mul(a, b);
            } else {
                if (opcode == 5) return Fp32.fma(a, b, c);
                if (opcode == 4) return Fp32.div(a, b);
                return Fp32.sqrt(a); // 6
            }
        } else if (opcode <= 12) {
            if (opcode <= 9) {
                if (opcode == 7) return Fp32.max(a, b);
                if (opcode == 8) return Fp32.min(a, b);
                return Fp32.selGt(a, b, c, d); // 9
            } else {
                if (opcode == 10) return Fp32.selEq(a, b, c, d);
                if (opcode == 11) return Fp32.ldexp(a, b);
                return Fp32.getexp(a); // 12
            }
        }
        revert UnknownOpcode(opcode);
    }
}
