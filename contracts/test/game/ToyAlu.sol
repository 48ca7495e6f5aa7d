// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IFp32Alu} from "../../src/interfaces/IFp32Alu.sol";

/// @notice A test-only "alphabet" ALU: wrapping integer arithmetic on the raw words. It lets
///         the dispute game be tested independently of fp32 (as Optimism tests its game with
///         an AlphabetVM). Deployments never use it.
library ToyMath {
    error ToyOpcode(uint8 opcode);

    function exec(uint8 opcode, uint32 a, uint32 b, uint32 c, uint32 d) internal pure returns (uint32) {
        unchecked {
            if (opcode == 1) return a + b;
            if (opcode == 2) return a - b;
            if (opcode == 3) return a * b;
            if (opcode == 5) return a * b + c;
            if (opcode == 9) return a > b ? c : d;
        }
        revert ToyOpcode(opcode);
    }
}

contract ToyAlu is IFp32Alu {
    function execute(uint8 opcode, uint32 a, uint32 b, uint32 c, uint32 d) external pure returns (uint32) {
        return ToyMath.exec(opcode, a, b, c, d);
    }
}
