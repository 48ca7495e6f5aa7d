// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../interfaces/IStepSemantics.sol";
import {SplitMix64} from "../../lib/SplitMix64.sol";
import {GraphSpecCodec as G} from "../graph/GraphSpecCodec.sol";
import {GraphPlan as P} from "../graph/GraphPlan.sol";
import {DataOrder} from "./DataOrder.sol";
import {Micro} from "./Micro.sol";
import {ScheduleOps} from "./ScheduleOps.sol";
import {SoftmaxOps} from "./SoftmaxOps.sol";

/// @title DenseOps
/// @notice The element programs of every op of an MLP step (`docs/repops.md` §4–§6; Rust
///         `repops::Op::element`): schedule, gather, linear and its gradients, relu,
///         log-softmax, the loss gradient and the optimizers; and the initial state.
/// @dev    {DensePrograms} runs them, a contract of its own, except the matrix products
///         ({product}: linear and its weight and input gradients), which {GraphSemantics} runs
///         inline: their one-step proofs are the dearest of the dense ops (each proves two
///         1 KiB operand leaves and one of its micro-trace), so they pay no call
///         (`docs/benchmarks.md` § The op-family contracts). `rows, k, n` are the node's
///         dimensions: linear `B, K, N`; weight and input gradients `B, K, O` (n holds O); bias
///         gradient `B, -, O` (`B` the rows: the batch times every dimension but the
///         last); log-softmax and the loss gradient `B, -, C` (a language model's `B` the
///         batch times its positions); gather `B, len, width | start << 32` (the values of
///         one sample it reads, from column `start` of a dataset row of `width`).
library DenseOps {
    struct Dims {
        uint256 rows;
        uint256 k;
        uint256 n;
    }

    /// @notice What the programs read of the job ({GraphSpecCodec.Model}): the data order's
    ///         seed and counts, the schedule and the optimizer. f32 fields hold their bits.
    struct Job {
        uint64 seed;
        uint256 steps;
        uint256 batch;
        uint256 samples;
        uint256 holdout;
        uint8 schedule; // 1 constant, 2 linear warm-up/decay, 3 step, 4 linear warm-up/cosine
        uint32 lr;
        uint256 warmup;
        uint256 every;
        uint32 gamma;
        uint32 momentum;
        uint32 beta1;
        uint32 beta2;
        uint32 eps;
        uint32 weightDecay;
    }

    uint64 internal constant PURPOSE_INIT = 0x100;

    /// @notice Model `m`'s {Job}, packed in two words for the call to {DensePrograms}:
    ///         `seed | steps << 64 | batch << 96 | samples << 128 | holdout << 160 |
    ///         warmup << 192 | every << 224` and `schedule | lr << 8 | gamma << 40 |
    ///         momentum << 72 | beta1 << 104 | beta2 << 136 | eps << 168 | weightDecay << 200`
    ///         (the seed below 2^64, every other field below 2^32: u32 fields of the spec).
    function pack(G.Model memory m) internal pure returns (uint256, uint256) {
        return (
            uint256(m.seed) | m.steps << 64 | m.batch << 96 | m.samples << 128 | m.holdout << 160 | m.warmup
                << 192 | m.every << 224,
            uint256(m.schedule) | uint256(m.lr) << 8 | uint256(m.gamma) << 40 | uint256(m.momentum) << 72
                | uint256(m.beta1) << 104 | uint256(m.beta2) << 136 | uint256(m.eps) << 168
                | uint256(m.weightDecay) << 200
        );
    }

    /// @notice The {Job} that {pack} packed into `a` and `b`.
    function unpack(uint256 a, uint256 b) internal pure returns (Job memory j) {
        (j.seed, j.steps, j.batch, j.samples) =
        (uint64(a), uint32(a >> 64), uint32(a >> 96), uint32(a >> 128));
        (j.holdout, j.warmup, j.every) = (uint32(a >> 160), uint32(a >> 192), uint32(a >> 224));
        (j.schedule, j.lr, j.gamma, j.momentum) = (uint8(b), uint32(b >> 8), uint32(b >> 40), uint32(b >> 72));
        (j.beta1, j.beta2, j.eps, j.weightDecay) =
        (uint32(b >> 104), uint32(b >> 136), uint32(b >> 168), uint32(b >> 200));
    }

    /// @notice The number of micro-steps of element `e` of a node with op `op` at step `t`.
    function length(Job memory m, uint8 op, Dims memory d, uint256 t, uint256 e)
        internal
        pure
        returns (uint256)
    {
        if (op == P.OP_SCHEDULE) return ScheduleOps.programLength(m, t, e);
        if (op == P.OP_GATHER) return 0;
        if (isProduct(op)) return productLength(op, d);
        if (op == P.OP_RELU || op == P.OP_RELU_GRAD || op == P.OP_SGD_WEIGHT) return 1;
        if (op == P.OP_LOG_SOFTMAX) return 18 * d.n + 20;
        if (op == P.OP_XENT_GRAD) return SoftmaxOps.EXP_STEPS + 3;
        if (op == P.OP_BIAS_GRAD) return d.rows;
        if (op == P.OP_SGD_VELOCITY) return 2;
        if (op == P.OP_ADAM_M) return 3;
        if (op == P.OP_ADAM_V) return 4;
        return 7; // OP_ADAM_WEIGHT
    }

    /// @notice Micro-step `k` of element `e` (in range; a program without steps answers its
    ///         COPY for k = 0).
    function instruction(Job memory m, uint8 op, Dims memory d, uint256 t, uint256 e, uint256 k)
        internal
        pure
        returns (uint256)
    {
        if (op == P.OP_SCHEDULE) {
            ScheduleOps.Emitter memory em = ScheduleOps.emitter(k);
            uint256 value = ScheduleOps.schedule(m, t, e, em);
            if (em.count == 0) return Micro.copy(value);
            return em.found;
        }
        if (op == P.OP_GATHER) {
            // `len` values of each batch row's dataset row of `width`, from column `start`
            (uint256 len, uint256 width, uint256 start) = (d.k, d.n & 0xFFFFFFFF, d.n >> 32);
            uint256 row = DataOrder.batchRow(m, t * m.batch + e / len);
            return Micro.copy(Micro.input(0, row * width + start + e % len));
        }
        if (isProduct(op)) return product(op, d, e, k);
        if (op == P.OP_RELU) {
            return Micro.ins(
                Micro.SEL_GT,
                Micro.input(0, e),
                Micro.c(Micro.F_ZERO),
                Micro.input(0, e),
                Micro.c(Micro.F_ZERO)
            );
        }
        if (op == P.OP_LOG_SOFTMAX) return SoftmaxOps.logSoftmax(d.n, e, k);
        if (op == P.OP_XENT_GRAD) return _xentGrad(d, e, k);
        if (op >= P.OP_SGD_VELOCITY) return _optimizer(m, op, e, k);
        if (op == P.OP_BIAS_GRAD) {
            uint256 zeroOrPrevious = k == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(k - 1);
            return Micro.ins2(Micro.ADD, zeroOrPrevious, Micro.input(0, k * d.n + e));
        }
        // OP_RELU_GRAD
        return Micro.ins(
            Micro.SEL_GT, Micro.input(0, e), Micro.c(Micro.F_ZERO), Micro.input(1, e), Micro.c(Micro.F_ZERO)
        );
    }

    /// @notice Whether `op` is a matrix product: linear, its weight gradient or its input
    ///         gradient (one fma per step, two tensor operands and the accumulator).
    function isProduct(uint8 op) internal pure returns (bool) {
        return op == P.OP_LINEAR || op == P.OP_WEIGHT_GRAD || op == P.OP_INPUT_GRAD;
    }

    /// @notice The number of micro-steps of every element of a matrix product node: the
    ///         length of its dot products.
    function productLength(uint8 op, Dims memory d) internal pure returns (uint256) {
        if (op == P.OP_LINEAR) return d.k;
        return op == P.OP_WEIGHT_GRAD ? d.rows : d.n;
    }

    /// @notice Micro-step `k` of element `e` of a matrix product node.
    function product(uint8 op, Dims memory d, uint256 e, uint256 k) internal pure returns (uint256) {
        if (op == P.OP_LINEAR) {
            // acc = b[j]; acc = fma(A[i, kk], W[j, kk], acc) for kk ascending
            uint256 j = e % d.n;
            uint256 acc = k == 0 ? Micro.input(2, j) : Micro.step(k - 1);
            return
                // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
                Micro.ins3(Micro.FMA, Micro.input(0, (e / d.n) * d.k + k), Micro.input(1, j * d.k + k), acc);
        }
        uint256 zeroOrPrevious = k == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(k - 1);
        if (op == P.OP_WEIGHT_GRAD) {
            // acc = 0; acc = fma(dZ[i, o], A[i, kk], acc) for i ascending
            return Micro.ins3(
                Micro.FMA,
                Micro.input(0, k * d.n + e / d.k),
                Micro.input(1, k * d.k + e % d.k),
                zeroOrPrevious
            );
        }
        // OP_INPUT_GRAD: acc = 0; acc = fma(dZ[i, o], W[o, kk], acc) for o ascending
        return Micro.ins3(
            Micro.FMA,
            // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
            Micro.input(0, (e / d.k) * d.n + k),
            Micro.input(1, k * d.k + e % d.k),
            zeroOrPrevious
        );
    }

    /// @dev exp(LS[e]); sel_eq(y[i], j, 1, 0); sub; div by the batch.
    function _xentGrad(Dims memory d, uint256 e, uint256 k) private pure returns (uint256) {
        uint256 steps = SoftmaxOps.EXP_STEPS;
        if (k < steps) return SoftmaxOps.exp(k, Micro.input(0, e), 0);
        if (k == steps) {
            return Micro.ins(
                Micro.SEL_EQ,
                Micro.input(1, e / d.n),
                Micro.c(Micro.f32(e % d.n)),
                Micro.c(Micro.F_ONE),
                Micro.c(Micro.F_ZERO)
            );
        }
        if (k == steps + 1) return Micro.ins2(Micro.SUB, Micro.step(steps - 1), Micro.step(steps));
        return Micro.ins2(Micro.DIV, Micro.step(steps + 1), Micro.c(Micro.f32(d.rows)));
    }

    function _optimizer(Job memory m, uint8 op, uint256 e, uint256 k) private pure returns (uint256) {
        if (op == P.OP_SGD_VELOCITY) {
            // g' = fma(λ, w, g); v' = fma(μ, v, g')
            if (k == 0) {
                return Micro.ins3(Micro.FMA, Micro.c(m.weightDecay), Micro.input(1, e), Micro.input(2, e));
            }
            return Micro.ins3(Micro.FMA, Micro.c(m.momentum), Micro.input(3, e), Micro.step(0));
        }
        if (op == P.OP_SGD_WEIGHT) {
            return Micro.ins3(Micro.FMA, Micro.input(0, 1), Micro.input(2, e), Micro.input(1, e));
        }
        if (op == P.OP_ADAM_M) {
            // c1 = sub(1, β1); m' = fma(β1, m, mul(c1, g))
            if (k == 0) return Micro.ins2(Micro.SUB, Micro.c(Micro.F_ONE), Micro.c(m.beta1));
            if (k == 1) return Micro.ins2(Micro.MUL, Micro.step(0), Micro.input(2, e));
            return Micro.ins3(Micro.FMA, Micro.c(m.beta1), Micro.input(3, e), Micro.step(1));
        }
        if (op == P.OP_ADAM_V) {
            // c2 = sub(1, β2); v' = fma(β2, v, mul(c2, mul(g, g)))
            if (k == 0) return Micro.ins2(Micro.SUB, Micro.c(Micro.F_ONE), Micro.c(m.beta2));
            if (k == 1) return Micro.ins2(Micro.MUL, Micro.input(2, e), Micro.input(2, e));
            if (k == 2) return Micro.ins2(Micro.MUL, Micro.step(0), Micro.step(1));
            return Micro.ins3(Micro.FMA, Micro.c(m.beta2), Micro.input(4, e), Micro.step(2));
        }
        // OP_ADAM_WEIGHT: mh = m'/sched[2]; vh = v'/sched[3]; u = mh/(sqrt(vh) + ε);
        // u = fma(λ, w, u); w' = fma(sched[1], u, w)
        if (k == 0) return Micro.ins2(Micro.DIV, Micro.input(2, e), Micro.input(0, 2));
        if (k == 1) return Micro.ins2(Micro.DIV, Micro.input(3, e), Micro.input(0, 3));
        if (k == 2) return Micro.ins2(Micro.SQRT, Micro.step(1), Micro.none());
        if (k == 3) return Micro.ins2(Micro.ADD, Micro.step(2), Micro.c(m.eps));
        if (k == 4) return Micro.ins2(Micro.DIV, Micro.step(0), Micro.step(3));
        if (k == 5) return Micro.ins3(Micro.FMA, Micro.c(m.weightDecay), Micro.input(1, e), Micro.step(4));
        return Micro.ins3(Micro.FMA, Micro.input(0, 1), Micro.step(5), Micro.input(1, e));
    }

    /// @notice Micro-step `k` (< 4) of element `e` of parameter `q` of S_0, drawn from `seed`,
    ///         whose fan-in is `fanIn`: `sqrt(fan_in); div(1, ·); fma(u, 2, −1); mul(·, bound)`.
    function initInstruction(uint64 seed, uint256 fanIn, uint256 q, uint256 e, uint256 k)
        internal
        pure
        returns (uint256)
    {
        if (k == 0) return Micro.ins2(Micro.SQRT, Micro.c(Micro.f32(fanIn)), Micro.none());
        if (k == 1) return Micro.ins2(Micro.DIV, Micro.c(Micro.F_ONE), Micro.step(0));
        if (k == 2) {
            uint64 key = SplitMix64.deriveKey(seed, PURPOSE_INIT + uint64(q));
            uint32 u = Micro.uniform01(SplitMix64.draw(key, uint64(e)));
            return Micro.ins3(Micro.FMA, Micro.c(u), Micro.c(Micro.F_TWO), Micro.c(Micro.F_MINUS_ONE));
        }
        return Micro.ins2(Micro.MUL, Micro.step(2), Micro.step(1));
    }
}
