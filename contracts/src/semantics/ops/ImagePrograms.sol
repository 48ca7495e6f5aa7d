// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../interfaces/IStepSemantics.sol";
import {SplitMix64} from "../../lib/SplitMix64.sol";
import {GraphPlan as P} from "../graph/GraphPlan.sol";
import {GraphSpecCodec as G} from "../graph/GraphSpecCodec.sol";
import {NodeGeometry} from "../graph/NodeGeometry.sol";
import {Micro} from "./Micro.sol";

/// @title ImagePrograms
/// @notice The element programs of the image ops and of dropout (`docs/repops.md` § Image
///         operators; Rust `repops/conv.rs` and `DropoutMask`), NCHW, row-major: conv2d and
///         its weight, bias and input gradients, max and average pooling and their gradients,
///         dropout and its gradient. A contract of its own, called by {GraphSemantics}, so that
///         neither stays near the code-size limit.
contract ImagePrograms {
    /// @notice The geometry of a convolution or pooling over the batch: `c, h, w` the input,
    ///         `co, oh, ow` the output (`co = c` for pooling), `k` the kernel, `s` the stride,
    ///         `p` the padding (0 for pooling).
    struct Geometry {
        uint256 batch;
        uint256 c;
        uint256 h;
        uint256 w;
        uint256 co;
        uint256 oh;
        uint256 ow;
        uint256 k;
        uint256 s;
        uint256 p;
    }

    /// @notice A dropout layer's mask at one step: element `e` is kept when
    ///         `uniform01(draw(key, e)) ≥ p` (the key: {_mask}).
    struct Mask {
        uint64 key;
        uint32 p;
    }

    /// @dev The randomness purpose of dropout masks (Rust `prng::purpose::DROPOUT`).
    uint64 internal constant PURPOSE_DROPOUT = 0x300;

    /// @notice Element `e`'s number of micro-steps and, when `k` is one of them (or 0 for a
    ///         program without steps), its micro-step `k` as an instruction word ({Micro});
    ///         otherwise 0, which the caller refuses (`k = 2^256 − 1` asks the length alone).
    ///         One call where the one-step proof needs both. `op` is a node of layer `index`,
    ///         `layer` (its shapes per sample), at step `t` of a job with batch `batch` and seed
    ///         `seed`.
    function program(
        uint8 op,
        uint256 index,
        G.Layer memory layer,
        uint256 batch,
        uint64 seed,
        uint256 t,
        uint256 e,
        uint256 k
    ) external pure returns (uint256 len, uint256 word) {
        Geometry memory g = NodeGeometry.geometryOf(layer, batch);
        Mask memory m = _mask(op, seed, index, uint32(layer.a), t);
        len = _length(op, g, m, e);
        if (k < (len == 0 ? 1 : len)) word = _instruction(op, g, m, e, k);
    }

    /// @dev The dropout mask of dropout layer `index` (its `p` in bits) at step `t`: key
    ///      `draw(derive_key(seed, 0x300 + index), t)` (empty for other ops).
    function _mask(uint8 op, uint64 seed, uint256 index, uint32 p, uint256 t)
        private
        pure
        returns (Mask memory)
    {
        if (op != P.OP_DROPOUT && op != P.OP_DROPOUT_GRAD) return Mask(0, 0);
        return
            Mask(SplitMix64.draw(SplitMix64.deriveKey(seed, PURPOSE_DROPOUT + uint64(index)), uint64(t)), p);
    }

    function _length(uint8 op, Geometry memory g, Mask memory m, uint256 e) private pure returns (uint256) {
        if (op == P.OP_CONV) return g.c * g.k * g.k;
        if (op == P.OP_CONV_WEIGHT_GRAD || op == P.OP_CONV_BIAS_GRAD) return g.batch * g.oh * g.ow;
        if (op == P.OP_CONV_INPUT_GRAD) return _taps(g, e) * (g.co + 1);
        if (op == P.OP_MAXPOOL) return g.k * g.k - 1;
        if (op == P.OP_MAXPOOL_GRAD) return _windows(g, e) * 2 * g.k * g.k;
        if (op == P.OP_AVGPOOL) return g.k * g.k;
        if (op == P.OP_AVGPOOL_GRAD) return _windows(g, e) + 1;
        return _keeps(m, e) ? 3 : 0; // dropout, dropout_grad
    }

    /// @dev Micro-step `k` of element `e` (in range; a program without steps answers its COPY
    ///      for k = 0).
    function _instruction(uint8 op, Geometry memory g, Mask memory m, uint256 e, uint256 k)
        private
        pure
        returns (uint256)
    {
        if (op == P.OP_CONV) return _conv(g, e, k);
        if (op == P.OP_CONV_WEIGHT_GRAD) return _convWeightGrad(g, e, k);
        if (op == P.OP_CONV_BIAS_GRAD) {
            uint256 positions = g.oh * g.ow;
            // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
            uint256 dz = ((k / positions) * g.co + e) * positions + k % positions;
            return Micro.ins2(Micro.ADD, _zeroOr(k), Micro.input(0, dz));
        }
        if (op == P.OP_CONV_INPUT_GRAD) return _convInputGrad(g, e, k);
        if (op == P.OP_MAXPOOL) return _maxPool(g, e, k);
        if (op == P.OP_MAXPOOL_GRAD) return _maxPoolGrad(g, e, k);
        if (op == P.OP_AVGPOOL) return _avgPool(g, e, k);
        if (op == P.OP_AVGPOOL_GRAD) return _avgPoolGrad(g, e, k);
        // dropout, dropout_grad: keep ? mul(x, div(1, sub(1, p))) : +0
        if (!_keeps(m, e)) return Micro.copy(Micro.c(Micro.F_ZERO));
        if (k == 0) return Micro.ins2(Micro.SUB, Micro.c(Micro.F_ONE), Micro.c(m.p));
        if (k == 1) return Micro.ins2(Micro.DIV, Micro.c(Micro.F_ONE), Micro.step(0));
        return Micro.ins2(Micro.MUL, Micro.input(0, e), Micro.step(1));
    }

    // ---------------------------------------------------------------- convolution

    /// @dev acc = b[co]; acc = fma(x, W[co, ci, ky, kx], acc) for (ci, ky, kx) ascending.
    function _conv(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        uint256 positions = g.oh * g.ow;
        uint256 co = (e / positions) % g.co;
        uint256 x = _convInput(g, 0, e / (positions * g.co), e % positions, k);
        uint256 acc = k == 0 ? Micro.input(2, co) : Micro.step(k - 1);
        // W[co, ci, ky, kx] with k = (ci·kernel + ky)·kernel + kx
        return Micro.ins3(Micro.FMA, x, Micro.input(1, co * g.c * g.k * g.k + k), acc);
    }

    /// @dev acc = +0; acc = fma(dZ[n, co, oy, ox], x, acc) for (n, oy, ox) ascending.
    function _convWeightGrad(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        uint256 positions = g.oh * g.ow;
        uint256 patch = g.c * g.k * g.k;
        // e = co·patch + (ci·kernel + ky)·kernel + kx; k = n·positions + position
        // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
        uint256 dz = ((k / positions) * g.co + e / patch) * positions + k % positions;
        uint256 x = _convInput(g, 1, k / positions, k % positions, e % patch);
        return Micro.ins3(Micro.FMA, Micro.input(0, dz), x, _zeroOr(k));
    }

    /// @dev The input value (input `slot`) that tap `(ci·kernel + ky)·kernel + kx` of output
    ///      position `position` of sample `n` reads, or +0 in the padding.
    function _convInput(Geometry memory g, uint256 slot, uint256 n, uint256 position, uint256 tap)
        private
        pure
        returns (uint256)
    {
        uint256 kk = g.k * g.k;
        // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
        uint256 y = (position / g.ow) * g.s + (tap % kk) / g.k;
        uint256 x = (position % g.ow) * g.s + tap % g.k;
        return _patch(g, slot, n * g.c + tap / kk, y, x);
    }

    /// @dev For each tap (ky, kx) ascending that reaches an output position: `co` fmas from +0,
    ///      then one add into the running sum (from +0).
    function _convInputGrad(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        uint256 tapBlock = k / (g.co + 1);
        uint256 j = k % (g.co + 1);
        uint256 base = tapBlock * (g.co + 1);
        if (j == g.co) {
            uint256 acc = tapBlock == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(base - 1);
            return Micro.ins2(Micro.ADD, acc, Micro.step(base + g.co - 1));
        }
        uint256 inner = j == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(base + j - 1);
        (uint256 dz, uint256 w) = _inputGradIndices(g, e, tapBlock, j);
        return Micro.ins3(Micro.FMA, Micro.input(0, dz), Micro.input(1, w), inner);
    }

    /// @dev The indices of dZ[n, j, oy, ox] and W[j, ci, ky, kx] for the `tapBlock`-th reaching
    ///      tap of input element `e` and output channel `j`.
    function _inputGradIndices(Geometry memory g, uint256 e, uint256 tapBlock, uint256 j)
        private
        pure
        returns (uint256 dz, uint256 w)
    {
        (uint256 tap, uint256 position) = _tap(g, e, tapBlock);
        // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
        dz = ((e / (g.c * g.h * g.w)) * g.co + j) * g.oh * g.ow + position;
        w = (j * g.c + (e / (g.h * g.w)) % g.c) * g.k * g.k + tap;
    }

    /// @dev The input element at padded row `y` and column `x` of channel plane `plane`
    ///      (`n·c + ci`) of input `slot`, or the constant +0 in the padding.
    function _patch(Geometry memory g, uint256 slot, uint256 plane, uint256 y, uint256 x)
        private
        pure
        returns (uint256)
    {
        if (y < g.p || x < g.p || y - g.p >= g.h || x - g.p >= g.w) return Micro.c(Micro.F_ZERO);
        return Micro.input(slot, (plane * g.h + y - g.p) * g.w + x - g.p);
    }

    /// @dev The output position tap `kk` reaches from input position `i`, if any.
    function _reached(uint256 i, uint256 kk, Geometry memory g, uint256 outputs)
        private
        pure
        returns (bool, uint256)
    {
        uint256 t = i + g.p;
        if (t < kk) return (false, 0);
        t -= kk;
        if (t % g.s != 0 || t / g.s >= outputs) return (false, 0);
        return (true, t / g.s);
    }

    /// @dev How many kernel rows (or columns) reach an output row (column) from input row
    ///      (column) `i`.
    function _reaching(uint256 i, Geometry memory g, uint256 outputs) private pure returns (uint256 count) {
        for (uint256 kk; kk < g.k; ++kk) {
            (bool reaches,) = _reached(i, kk, g, outputs);
            if (reaches) ++count;
        }
    }

    /// @dev The `index`-th kernel row (column) that reaches an output row (column) from input
    ///      row (column) `i`, and that output row (column).
    function _nthReaching(uint256 i, uint256 index, Geometry memory g, uint256 outputs)
        private
        pure
        returns (uint256, uint256)
    {
        for (uint256 kk; kk < g.k; ++kk) {
            (bool reaches, uint256 o) = _reached(i, kk, g, outputs);
            if (!reaches) continue;
            if (index == 0) return (kk, o);
            --index;
        }
        return (0, 0); // unreachable for a micro-step in range
    }

    /// @dev The number of taps of input position `e` that reach an output position: the taps
    ///      are the reaching rows × the reaching columns.
    function _taps(Geometry memory g, uint256 e) private pure returns (uint256) {
        return _reaching((e / g.w) % g.h, g, g.oh) * _reaching(e % g.w, g, g.ow);
    }

    /// @dev The `index`-th tap (ascending in (ky, kx)) of input position `e` that reaches an
    ///      output position: the tap `ky·kernel + kx` and that position `oy·ow + ox`.
    function _tap(Geometry memory g, uint256 e, uint256 index) private pure returns (uint256, uint256) {
        uint256 columns = _reaching(e % g.w, g, g.ow);
        (uint256 ky, uint256 oy) = _nthReaching((e / g.w) % g.h, index / columns, g, g.oh);
        (uint256 kx, uint256 ox) = _nthReaching(e % g.w, index % columns, g, g.ow);
        return (ky * g.k + kx, oy * g.ow + ox);
    }

    // ---------------------------------------------------------------- pooling

    /// @dev The input index of the first tap of window (oy, ox) of channel (n, c); tap `j`
    ///      (row-major) is at `base + (j / k)·w + j mod k`.
    function _windowBase(Geometry memory g, uint256 n, uint256 c, uint256 oy, uint256 ox)
        private
        pure
        returns (uint256)
    {
        return ((n * g.c + c) * g.h + oy * g.s) * g.w + ox * g.s;
    }

    function _tapOf(Geometry memory g, uint256 base, uint256 j) private pure returns (uint256) {
        // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
        return Micro.input(0, base + (j / g.k) * g.w + j % g.k);
    }

    /// @dev The first tap of the window of output element `e`.
    function _outputWindow(Geometry memory g, uint256 e) private pure returns (uint256) {
        (uint256 n, uint256 c, uint256 oy, uint256 ox) = _nchw(e, g.c, g.oh, g.ow);
        return _windowBase(g, n, c, oy, ox);
    }

    /// @dev m = x_0; m = max(m, x_j) for j = 1..k².
    function _maxPool(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        uint256 base = _outputWindow(g, e);
        if (g.k == 1) return Micro.copy(_tapOf(g, base, 0));
        uint256 best = k == 0 ? _tapOf(g, base, 0) : Micro.step(k - 1);
        return Micro.ins2(Micro.MAX, best, _tapOf(g, base, k + 1));
    }

    /// @dev acc = x_0; acc = add(acc, x_j) for j = 1..k²; div(acc, k²).
    function _avgPool(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        uint256 base = _outputWindow(g, e);
        uint256 area = g.k * g.k;
        if (k + 1 < area) {
            uint256 acc = k == 0 ? _tapOf(g, base, 0) : Micro.step(k - 1);
            return Micro.ins2(Micro.ADD, acc, _tapOf(g, base, k + 1));
        }
        uint256 sum = area == 1 ? _tapOf(g, base, 0) : Micro.step(area - 2);
        return Micro.ins2(Micro.DIV, sum, Micro.c(Micro.f32(area)));
    }

    /// @dev The windows (as output rows or columns) containing input row or column `i`.
    function _covering(uint256 i, Geometry memory g, uint256 outputs)
        private
        pure
        returns (uint256, uint256)
    {
        uint256 low = i + 1 > g.k ? i + 1 - g.k : 0;
        uint256 first = (low + g.s - 1) / g.s;
        uint256 last = i / g.s + 1;
        if (last > outputs) last = outputs;
        return (first, last > first ? last : first);
    }

    function _windows(Geometry memory g, uint256 e) private pure returns (uint256) {
        (,, uint256 iy, uint256 ix) = _nchw(e, g.c, g.h, g.w);
        (uint256 y0, uint256 y1) = _covering(iy, g, g.oh);
        (uint256 x0, uint256 x1) = _covering(ix, g, g.ow);
        return (y1 - y0) * (x1 - x0);
    }

    /// @dev The `index`-th window (ascending) containing input element `e`: the input index
    ///      of its first tap, the element's tap number in it, and the index of its output.
    function _gradWindow(Geometry memory g, uint256 e, uint256 index)
        private
        pure
        returns (uint256 first, uint256 mine, uint256 output)
    {
        (uint256 oy, uint256 ox) = _windowAt(g, e, index);
        uint256 plane = e / (g.h * g.w); // n·c + c
        first = (plane * g.h + oy * g.s) * g.w + ox * g.s;
        mine = (((e / g.w) % g.h) - oy * g.s) * g.k + e % g.w - ox * g.s;
        output = (plane * g.oh + oy) * g.ow + ox;
    }

    /// @dev The output row and column of the `index`-th window containing input element `e`.
    function _windowAt(Geometry memory g, uint256 e, uint256 index) private pure returns (uint256, uint256) {
        (uint256 y0,) = _covering((e / g.w) % g.h, g, g.oh);
        (uint256 x0, uint256 x1) = _covering(e % g.w, g, g.ow);
        return (y0 + index / (x1 - x0), x0 + index % (x1 - x0));
    }

    /// @dev Per window containing the position, ascending: the window's argmax program
    ///      (`sel_gt`, `max` per further tap), `sel_eq(idx, mine, dY, +0)`, `add`.
    function _maxPoolGrad(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        if (_windows(g, e) == 0) return Micro.copy(Micro.c(Micro.F_ZERO));
        uint256 area = g.k * g.k;
        // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
        uint256 base = (k / (2 * area)) * 2 * area;
        uint256 r = k - base;
        if (r == 2 * area - 1) {
            uint256 acc = base == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(base - 1);
            return Micro.ins2(Micro.ADD, acc, Micro.step(base + 2 * area - 2));
        }
        (uint256 first, uint256 mine, uint256 output) = _gradWindow(g, e, k / (2 * area));
        if (r == 2 * (area - 1)) {
            uint256 idx = area == 1 ? Micro.c(Micro.F_ZERO) : Micro.step(base + 2 * (area - 2));
            return Micro.ins(
                Micro.SEL_EQ, idx, Micro.c(Micro.f32(mine)), Micro.input(1, output), Micro.c(Micro.F_ZERO)
            );
        }
        uint256 j = r / 2 + 1;
        uint256 best = j == 1 ? _tapOf(g, first, 0) : Micro.step(base + 2 * (j - 2) + 1);
        if (r % 2 == 1) return Micro.ins2(Micro.MAX, best, _tapOf(g, first, j));
        uint256 previous = j == 1 ? Micro.c(Micro.F_ZERO) : Micro.step(base + 2 * (j - 2));
        return Micro.ins(Micro.SEL_GT, _tapOf(g, first, j), best, Micro.c(Micro.f32(j)), previous);
    }

    /// @dev acc = +0; acc = add(acc, dY[window]) per window containing the position,
    ///      ascending; div(acc, k²).
    function _avgPoolGrad(Geometry memory g, uint256 e, uint256 k) private pure returns (uint256) {
        if (k == _windows(g, e)) return Micro.ins2(Micro.DIV, _zeroOr(k), Micro.c(Micro.f32(g.k * g.k)));
        (,, uint256 output) = _gradWindow(g, e, k);
        return Micro.ins2(Micro.ADD, _zeroOr(k), Micro.input(0, output));
    }

    // ---------------------------------------------------------------- helpers

    function _keeps(Mask memory m, uint256 e) private pure returns (bool) {
        if (m.p == 0x80000000) return true; // −0.0: every u ≥ −0
        return Micro.uniform01(SplitMix64.draw(m.key, uint64(e))) >= m.p;
    }

    /// @dev The constant +0 before the first micro-step, else the previous micro-step.
    function _zeroOr(uint256 k) private pure returns (uint256) {
        return k == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(k - 1);
    }

    /// @dev A flat NCHW index as (n, c, y, x).
    function _nchw(uint256 e, uint256 channels, uint256 h, uint256 w)
        private
        pure
        returns (uint256, uint256, uint256, uint256)
    {
        return (e / (w * h * channels), (e / (w * h)) % channels, (e / w) % h, e % w);
    }
}
