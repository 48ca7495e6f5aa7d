// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test, console} from "forge-std/Test.sol";
import {Fp32} from "../../src/fp32/Fp32.sol";
import {Fp32Alu} from "../../src/fp32/Fp32Alu.sol";

/// @notice Gas per primitive on typical operands (normal numbers of moderate magnitude), averaged
///         over `CASES` pseudo-random cases: `execute` is the cost of an external
///         `Fp32Alu.execute` call as seen by its caller (call, ABI encoding and dispatch
///         included); `library` is the internal {Fp32} call alone. Printed with `-vv`; the
///         assertions only bound the averages, so a regression shows up as a failure.
contract Fp32Gas_Test is Test {
    uint256 internal constant CASES = 512;
    /// @dev Upper bound on the average `execute` cost of any primitive.
    uint256 internal constant MAX_AVG_EXECUTE_GAS = 100000;

    Fp32Alu internal alu;

    function setUp() public {
        alu = new Fp32Alu();
    }

    function test_gas_perPrimitive() public view {
        string[13] memory names = [
            "", "add", "sub", "mul", "div", "fma", "sqrt", "max", "min", "selGt", "selEq", "ldexp", "getexp"
        ];
        alu.execute(1, 0, 0, 0, 0); // warm the ALU's account (EIP-2929)
        for (uint8 op = 1; op <= 12; ++op) {
            (uint256 avgExecute, uint256 maxExecute) = _measureExecute(op);
            uint256 avgLibrary = _measureLibrary(op);
            console.log(
                string.concat(
                    "gas ",
                    names[op],
                    ": execute avg ",
                    vm.toString(avgExecute),
                    " (max ",
                    vm.toString(maxExecute),
                    "), library avg ",
                    vm.toString(avgLibrary)
                )
            );
            assertLe(avgExecute, MAX_AVG_EXECUTE_GAS, names[op]);
        }
    }

    function _measureExecute(uint8 op) private view returns (uint256 avg, uint256 most) {
        uint256 total;
        Fp32Alu target = alu; // read the storage slot outside the measured window
        for (uint256 i = 0; i < CASES; ++i) {
            (uint32 a, uint32 b, uint32 c, uint32 d) = _operands(op, i);
            uint256 before = gasleft();
            target.execute(op, a, b, c, d);
            uint256 used = before - gasleft();
            total += used;
            if (used > most) most = used;
        }
        avg = total / CASES;
    }

    function _measureLibrary(uint8 op) private view returns (uint256 avg) {
        uint256 total;
        for (uint256 i = 0; i < CASES; ++i) {
            (uint32 a, uint32 b, uint32 c, uint32 d) = _operands(op, i);
            total += _libraryGas(op, a, b, c, d);
        }
        avg = total / CASES;
    }

    /// @dev The gas of the library call for `op` alone (the dispatch is outside the window; the
    ///      window's own `gasleft` bookkeeping, a handful of gas, is included).
    function _libraryGas(uint8 op, uint32 a, uint32 b, uint32 c, uint32 d) private view returns (uint256) {
        uint256 g;
        uint32 r;
        if (op == 1) {
            g = gasleft();
            r = Fp32.add(a, b);
        } else if (op == 2) {
            g = gasleft();
            r = Fp32.sub(a, b);
        } else if (op == 3) {
            g = gasleft();
            r = Fp32.mul(a, b);
        } else if (op == 4) {
            g = gasleft();
            r = Fp32.div(a, b);
        } else if (op == 5) {
            g = gasleft();
            r = Fp32.fma(a, b, c);
        } else if (op == 6) {
            g = gasleft();
            r = Fp32.sqrt(a);
        } else if (op == 7) {
            g = gasleft();
            r = Fp32.max(a, b);
        } else if (op == 8) {
            g = gasleft();
            r = Fp32.min(a, b);
        } else if (op == 9) {
            g = gasleft();
            r = Fp32.selGt(a, b, c, d);
        } else if (op == 10) {
            g = gasleft();
            r = Fp32.selEq(a, b, c, d);
        } else if (op == 11) {
            g = gasleft();
            r = Fp32.ldexp(a, b);
        } else {
            g = gasleft();
            r = Fp32.getexp(a);
        }
        g -= gasleft();
        // Keep r alive so the call cannot be dropped.
        return r == type(uint32).max ? g + 1 : g;
    }

    /// @dev Case `i` of `op`: normal operands with exponents in [2^-27, 2^27] and random signs and
    ///      significands (sqrt: positive; ldexp: `k` an integer in [-20, 20]).
    function _operands(uint8 op, uint256 i) private pure returns (uint32 a, uint32 b, uint32 c, uint32 d) {
        uint256 r = uint256(keccak256(abi.encode(op, i)));
        a = _typical(r);
        b = _typical(r >> 32);
        c = _typical(r >> 64);
        d = _typical(r >> 96);
        if (op == 6) a &= 0x7FFFFFFF;
        if (op == 11) b = _smallInt(int256((r >> 128) % 41) - 20);
    }

    function _typical(uint256 r) private pure returns (uint32) {
        uint256 biased = 100 + (r >> 24) % 55;
        return uint32((r & 0x80000000) | (biased << 23) | (r & 0x7FFFFF));
    }

    /// @dev The binary32 bits of the integer `n`, |n| < 2^24.
    function _smallInt(int256 n) private pure returns (uint32) {
        if (n == 0) return 0;
        uint256 sign = n < 0 ? 0x80000000 : 0;
        uint256 m = uint256(n < 0 ? -n : n);
        uint256 l = 0;
        while (m >> (l + 1) != 0) ++l;
        return uint32(sign | ((127 + l) << 23) | ((m << (23 - l)) & 0x7FFFFF));
    }
}
