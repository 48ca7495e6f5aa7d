// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../interfaces/IStepSemantics.sol";
import {Micro} from "./Micro.sol";

/// @title SoftmaxOps
/// @notice The element programs of `log_softmax` and of the `exp` and `log` programs they
///         and `xent_grad` run (`docs/repops.md` §2, §4; Rust `repops/math.rs`, `ops.rs`).
library SoftmaxOps {
    // exp (repops §2, `math::exp`)
    uint32 internal constant EXP_LOWER = 0xC2D00000; // -104
    uint32 internal constant EXP_UPPER = 0x42B20000; // 89
    uint32 internal constant LOG2E = 0x3FB8AA3B;
    uint32 internal constant ROUND_MAGIC = 0x4B400000; // 1.5 * 2^23
    uint32 internal constant NEG_LN2_HI = 0xBF317200;
    uint32 internal constant NEG_LN2_LO = 0xB5BFBE8E;
    uint32 internal constant LN2_HI = 0x3F317200;
    uint32 internal constant LN2_LO = 0x35BFBE8E;
    uint32 internal constant INV_5040 = 0x39500D01;
    uint32 internal constant INV_720 = 0x3AB60B61;
    uint32 internal constant INV_120 = 0x3C088889;
    uint32 internal constant INV_24 = 0x3D2AAAAB;
    uint32 internal constant INV_6 = 0x3E2AAAAB;
    // log (repops §2, `math::log`)
    uint32 internal constant SQRT2 = 0x3FB504F3;
    uint32 internal constant INV_11 = 0x3DBA2E8C;
    uint32 internal constant INV_9 = 0x3DE38E39;
    uint32 internal constant INV_7 = 0x3E124925;
    uint32 internal constant INV_5 = 0x3E4CCCCD;
    uint32 internal constant INV_3 = 0x3EAAAAAB;

    /// @dev Steps of `exp` and of `log`, as `math.rs` records them.
    uint256 internal constant EXP_STEPS = 15;
    uint256 internal constant LOG_STEPS = 20;

    /// @dev Micro-step `k` of element `e` of log_softmax over `classes` columns:
    ///      the row maximum (classes − 1 `max`), the sum of `exp(sub(z, m))` (16 steps for
    ///      the first class, 17 for each further one with its `add`), `log` of the sum, then
    ///      `sub(sub(z[e], m), log)`.
    function logSoftmax(uint256 classes, uint256 e, uint256 k) internal pure returns (uint256) {
        uint256 row = e - e % classes;
        if (k + 1 < classes) {
            return Micro.ins(
                Micro.MAX,
                k == 0 ? Micro.input(0, row) : Micro.step(k - 1),
                Micro.input(0, row + k + 1),
                Micro.none(),
                Micro.none()
            );
        }
        uint256 max = classes == 1 ? Micro.input(0, row) : Micro.step(classes - 2);
        uint256 sumStart = classes - 1;
        uint256 logStart = sumStart + (EXP_STEPS + 1) + (EXP_STEPS + 2) * (classes - 1);
        if (k < logStart) {
            uint256 r = k - sumStart;
            uint256 c;
            uint256 base;
            uint256 local;
            if (r < EXP_STEPS + 1) {
                (c, base, local) = (0, sumStart, r);
            } else {
                c = 1 + (r - (EXP_STEPS + 1)) / (EXP_STEPS + 2);
                local = (r - (EXP_STEPS + 1)) % (EXP_STEPS + 2);
                base = sumStart + (EXP_STEPS + 1) + (EXP_STEPS + 2) * (c - 1);
            }
            if (local == 0) {
                return Micro.ins(Micro.SUB, Micro.input(0, row + c), max, Micro.none(), Micro.none());
            }
            if (local <= EXP_STEPS) return exp(local - 1, Micro.step(base), base + 1);
            // the running sum: the first term, or the previous add
            uint256 acc = c == 1 ? Micro.step(sumStart + EXP_STEPS) : Micro.step(base - 1);
            return Micro.ins(Micro.ADD, acc, Micro.step(base + EXP_STEPS), Micro.none(), Micro.none());
        }
        if (k < logStart + LOG_STEPS) {
            uint256 sum = classes == 1 ? Micro.step(sumStart + EXP_STEPS) : Micro.step(logStart - 1);
            return log(k - logStart, sum, logStart);
        }
        uint256 last = logStart + LOG_STEPS;
        if (k == last) return Micro.ins(Micro.SUB, Micro.input(0, e), max, Micro.none(), Micro.none());
        return Micro.ins(Micro.SUB, Micro.step(last), Micro.step(last - 1), Micro.none(), Micro.none());
    }

    /// @dev Step `j` of `exp(x)` (`math::exp`, 15 steps) whose first step is micro-step `b`.
    function exp(uint256 j, uint256 x, uint256 b) internal pure returns (uint256) {
        if (j == 0) return Micro.ins(Micro.MAX, x, Micro.c(EXP_LOWER), Micro.none(), Micro.none());
        if (j == 1) {
            return Micro.ins(Micro.MIN, Micro.step(b), Micro.c(EXP_UPPER), Micro.none(), Micro.none());
        }
        if (j == 2) {
            return Micro.ins(Micro.MUL, Micro.step(b + 1), Micro.c(LOG2E), Micro.none(), Micro.none());
        }
        if (j == 3) {
            return Micro.ins(Micro.ADD, Micro.step(b + 2), Micro.c(ROUND_MAGIC), Micro.none(), Micro.none());
        }
        if (j == 4) {
            return Micro.ins(Micro.SUB, Micro.step(b + 3), Micro.c(ROUND_MAGIC), Micro.none(), Micro.none());
        }
        if (j == 5) {
            return
                Micro.ins(Micro.FMA, Micro.step(b + 4), Micro.c(NEG_LN2_HI), Micro.step(b + 1), Micro.none());
        }
        if (j == 6) {
            return
                Micro.ins(Micro.FMA, Micro.step(b + 4), Micro.c(NEG_LN2_LO), Micro.step(b + 5), Micro.none());
        }
        if (j == 7) {
            return Micro.ins(Micro.FMA, Micro.c(INV_5040), Micro.step(b + 6), Micro.c(INV_720), Micro.none());
        }
        if (j == 14) {
            return Micro.ins(Micro.LDEXP, Micro.step(b + 13), Micro.step(b + 4), Micro.none(), Micro.none());
        }
        // Horner: p = fma(p, r, c) for c = 1/120, 1/24, 1/6, 1/2, 1, 1
        uint32 c;
        if (j == 8) c = INV_120;
        else if (j == 9) c = INV_24;
        else if (j == 10) c = INV_6;
        else if (j == 11) c = Micro.F_HALF;
        else c = Micro.F_ONE; // 12, 13
        return Micro.ins(Micro.FMA, Micro.step(b + j - 1), Micro.step(b + 6), Micro.c(c), Micro.none());
    }

    /// @dev Step `j` of `log(x)` (`math::log`, 20 steps) whose first step is micro-step `b`.
    function log(uint256 j, uint256 x, uint256 b) internal pure returns (uint256) {
        if (j == 0) return Micro.ins(Micro.GETEXP, x, Micro.none(), Micro.none(), Micro.none()); // e
        if (j == 1) {
            return Micro.ins(Micro.MUL, Micro.step(b), Micro.c(Micro.F_MINUS_ONE), Micro.none(), Micro.none()); // −e
        }
        if (j == 2) return Micro.ins(Micro.LDEXP, x, Micro.step(b + 1), Micro.none(), Micro.none()); // m
        if (j == 3) {
            return Micro.ins(Micro.MUL, Micro.step(b + 2), Micro.c(Micro.F_HALF), Micro.none(), Micro.none()); // m/2
        }
        if (j == 4) {
            return Micro.ins(Micro.ADD, Micro.step(b), Micro.c(Micro.F_ONE), Micro.none(), Micro.none()); // e + 1
        }
        if (j == 5) {
            return
                Micro.ins(
                    Micro.SEL_GT, Micro.step(b + 2), Micro.c(SQRT2), Micro.step(b + 3), Micro.step(b + 2)
                );
        }
        if (j == 6) {
            return
                Micro.ins(Micro.SEL_GT, Micro.step(b + 2), Micro.c(SQRT2), Micro.step(b + 4), Micro.step(b));
        }
        if (j == 7) {
            return Micro.ins(Micro.SUB, Micro.step(b + 5), Micro.c(Micro.F_ONE), Micro.none(), Micro.none()); // f
        }
        if (j == 8) {
            return Micro.ins(Micro.ADD, Micro.step(b + 7), Micro.c(Micro.F_TWO), Micro.none(), Micro.none()); // 2 + f
        }
        if (j == 9) {
            return Micro.ins(Micro.DIV, Micro.step(b + 7), Micro.step(b + 8), Micro.none(), Micro.none()); // z
        }
        if (j == 10) {
            return Micro.ins(Micro.MUL, Micro.step(b + 9), Micro.step(b + 9), Micro.none(), Micro.none()); // w
        }
        if (j == 11) {
            return Micro.ins(Micro.FMA, Micro.c(INV_11), Micro.step(b + 10), Micro.c(INV_9), Micro.none());
        }
        if (j <= 15) {
            uint32 c = j == 12 ? INV_7 : j == 13 ? INV_5 : j == 14 ? INV_3 : Micro.F_ONE;
            return Micro.ins(Micro.FMA, Micro.step(b + j - 1), Micro.step(b + 10), Micro.c(c), Micro.none());
        }
        if (j == 16) {
            return Micro.ins(Micro.ADD, Micro.step(b + 9), Micro.step(b + 9), Micro.none(), Micro.none()); // 2z
        }
        if (j == 17) {
            return Micro.ins(Micro.MUL, Micro.step(b + 16), Micro.step(b + 15), Micro.none(), Micro.none()); // ln m
        }
        if (j == 18) {
            return Micro.ins(Micro.FMA, Micro.step(b + 6), Micro.c(LN2_LO), Micro.step(b + 17), Micro.none());
        }
        return Micro.ins(Micro.FMA, Micro.step(b + 6), Micro.c(LN2_HI), Micro.step(b + 18), Micro.none());
    }
}
