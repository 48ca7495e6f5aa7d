// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../interfaces/IStepSemantics.sol";
import {GraphSpecCodec as G} from "../graph/GraphSpecCodec.sol";
import {Micro} from "./Micro.sol";

/// @title ScheduleOps
/// @notice The element programs of the `schedule` op (`docs/repops.md` §5, Rust
///         `Op::schedule_element`): lr_t, −lr_t and the bias corrections, recorded through an
///         emitter that keeps the one micro-step asked for.
library ScheduleOps {
    /// @notice The number of micro-steps of schedule element `e` at step `t`.
    function programLength(G.Model memory s, uint256 t, uint256 e) internal pure returns (uint256) {
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
    function schedule(G.Model memory s, uint256 t, uint256 e, Emitter memory em)
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

    /// @dev lr_t (repops §5).
    function lrT(G.Model memory s, uint256 t, Emitter memory em) private pure returns (uint256) {
        if (s.schedule == 1) return Micro.c(s.lr);
        if (s.schedule == 2) {
            uint256 scaled;
            if (t < s.warmup) {
                scaled = record(em, Micro.MUL, Micro.c(s.lr), Micro.c(Micro.f32(t + 1)), Micro.none());
                return record(em, Micro.DIV, scaled, Micro.c(Micro.f32(s.warmup)), Micro.none());
            }
            scaled = record(em, Micro.MUL, Micro.c(s.lr), Micro.c(Micro.f32(s.steps - t)), Micro.none());
            return record(em, Micro.DIV, scaled, Micro.c(Micro.f32(s.steps - s.warmup)), Micro.none());
        }
        uint256 factor = powi(em, Micro.c(s.gamma), t / s.every);
        return record(em, Micro.MUL, Micro.c(s.lr), factor, Micro.none());
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
