// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../interfaces/IStepSemantics.sol";
import {DenseOps} from "./DenseOps.sol";
import {Micro} from "./Micro.sol";

/// @title ScheduleOps
/// @notice The element programs of the `schedule` op (`docs/repops.md` §5, Rust
///         `Op::schedule_element`): lr_t, −lr_t and the bias corrections, recorded through an
///         emitter that keeps the one micro-step asked for.
library ScheduleOps {
    /// @notice The number of micro-steps of schedule element `e` at step `t`.
    function programLength(DenseOps.Job memory s, uint256 t, uint256 e) internal pure returns (uint256) {
        Emitter memory em = emitter(type(uint256).max);
        schedule(s, t, e, em); // only the count of recorded micro-steps is wanted here
        return em.count;
    }

    /// @dev Records the program of a schedule element, keeping micro-step `target`.
    struct Emitter {
        uint256 target;
        uint256 count;
        uint256 found;
    }

    /// @dev The schedule op's element `e` at step `t` (`Op::schedule_element`), emitted into
    ///      `em`; returns the operand holding the element.
    function schedule(DenseOps.Job memory s, uint256 t, uint256 e, Emitter memory em)
        internal
        pure
        returns (uint256)
    {
        if (e == 0) return lrT(s, t, em);
        if (e == 1) return record(em, Micro.MUL, lrT(s, t, em), Micro.c(Micro.F_MINUS_ONE), Micro.none());
        // 1 − β^(t+1)
        uint256 power = powi(em, Micro.c(e == 2 ? s.beta1 : s.beta2), t + 1);
        return record(em, Micro.SUB, Micro.c(Micro.F_ONE), power, Micro.none());
    }

    /// @dev The Taylor coefficients of `sin x / x` (repops §5, Rust `SIN_COEFFICIENTS`):
    ///      1/13!, −1/11!, 1/9!, −1/7!, 1/5!, −1/3!; π; −0.5.
    uint32 internal constant S13 = 0x2F309231;
    uint32 internal constant S11 = 0xB2D7322B;
    uint32 internal constant S9 = 0x3638EF1D;
    uint32 internal constant S7 = 0xB9500D01;
    uint32 internal constant S5 = 0x3C088889;
    uint32 internal constant S3 = 0xBE2AAAAB;
    uint32 internal constant PI = 0x40490FDB;
    uint32 internal constant F_MINUS_HALF = 0xBF000000;

    /// @dev lr_t (repops §5): 1 constant, 2 linear warm-up and decay, 3 step, 4 linear
    ///      warm-up and cosine decay.
    function lrT(DenseOps.Job memory s, uint256 t, Emitter memory em) private pure returns (uint256) {
        if (s.schedule == 1) return Micro.c(s.lr);
        if (s.schedule == 2 || s.schedule == 4) {
            uint256 scaled;
            if (t < s.warmup) {
                scaled = record(em, Micro.MUL, Micro.c(s.lr), Micro.c(Micro.f32(t + 1)), Micro.none());
                return record(em, Micro.DIV, scaled, Micro.c(Micro.f32(s.warmup)), Micro.none());
            }
            if (s.schedule == 4) return cosine(s, t, em);
            scaled = record(em, Micro.MUL, Micro.c(s.lr), Micro.c(Micro.f32(s.steps - t)), Micro.none());
            return record(em, Micro.DIV, scaled, Micro.c(Micro.f32(s.steps - s.warmup)), Micro.none());
        }
        uint256 factor = powi(em, Micro.c(s.gamma), t / s.every);
        return record(em, Micro.MUL, Micro.c(s.lr), factor, Micro.none());
    }

    /// @dev The cosine decay after the warm-up (Rust `cosine_half`): `p = (t − W)/(T − W)`,
    ///      `x = π·(p − ½)`, `sin x` by Horner in `x²`, `h = 0.5 − 0.5·sin x`, `lr·h`.
    function cosine(DenseOps.Job memory s, uint256 t, Emitter memory em) private pure returns (uint256) {
        uint256 p = record(
            em,
            Micro.DIV,
            Micro.c(Micro.f32(t - s.warmup)),
            Micro.c(Micro.f32(s.steps - s.warmup)),
            Micro.none()
        );
        uint256 centred = record(em, Micro.SUB, p, Micro.c(Micro.F_HALF), Micro.none());
        uint256 x = record(em, Micro.MUL, centred, Micro.c(PI), Micro.none());
        uint256 x2 = record(em, Micro.MUL, x, x, Micro.none());
        uint256 poly = record(em, Micro.FMA, Micro.c(S13), x2, Micro.c(S11));
        poly = record(em, Micro.FMA, poly, x2, Micro.c(S9));
        poly = record(em, Micro.FMA, poly, x2, Micro.c(S7));
        poly = record(em, Micro.FMA, poly, x2, Micro.c(S5));
        poly = record(em, Micro.FMA, poly, x2, Micro.c(S3));
        poly = record(em, Micro.FMA, poly, x2, Micro.c(Micro.F_ONE));
        uint256 sine = record(em, Micro.MUL, x, poly, Micro.none());
        uint256 half = record(em, Micro.FMA, sine, Micro.c(F_MINUS_HALF), Micro.c(Micro.F_HALF));
        return record(em, Micro.MUL, Micro.c(s.lr), half, Micro.none());
    }

    /// @dev `base^n` by binary exponentiation (`ops::powi`).
    function powi(Emitter memory em, uint256 base, uint256 n) internal pure returns (uint256) {
        uint256 result = Micro.c(Micro.F_ONE);
        while (n > 0) {
            if (n & 1 == 1) result = record(em, Micro.MUL, result, base, Micro.none());
            n >>= 1;
            if (n > 0) base = record(em, Micro.MUL, base, base, Micro.none());
        }
        return result;
    }

    /// @dev An emitter that keeps micro-step `target`.
    function emitter(uint256 target) internal pure returns (Emitter memory em) {
        em.target = target;
    }

    /// @dev Appends one micro-step to `em` (keeping it if it is the target) and returns its
    ///      result as an operand.
    function record(Emitter memory em, uint8 opcode, uint256 a, uint256 b, uint256 c)
        private
        pure
        returns (uint256)
    {
        if (em.count == em.target) {
            em.found = Micro.ins(opcode, a, b, c, Micro.none());
        }
        return Micro.step(em.count++);
    }
}
