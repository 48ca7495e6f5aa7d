// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphPlan as P} from "../graph/GraphPlan.sol";
import {Micro} from "./Micro.sol";
import {SoftmaxOps} from "./SoftmaxOps.sol";

/// @title NormPrograms
/// @notice The element programs of layer normalisation and GELU (`docs/repops.md` § Layer
///         normalisation and GELU; Rust `repops/norm.rs`): `layer_norm_stats`, `layer_norm`, its input,
///         γ and β gradients, `gelu` and `gelu_grad`; and of gradient clipping (§ Gradient
///         clipping, `repops/clip.rs`). A layer norm's input is `R` rows of `D`
///         values (the last dimension; `R` counts the batch), row `r` at `X[r·D ..]`; its
///         statistics `S [R, 2]` hold `μ_r` at `S[2r]` and `ρ_r` at `S[2r + 1]`. A contract of
///         its own, called by {GraphSemantics}, which stays under the code-size limit.
/// @dev    Input slots follow the node's inputs ({GraphPlan}): `layer_norm_stats(X)`,
///         `layer_norm(X, S, γ, β)`, `layer_norm_input_grad(X, S, γ, dY)`,
///         `layer_norm_weight_grad(X, S, dY)`, the β gradient `(dY)`, `gelu(X)`,
///         `gelu_grad(X, dY)`. Indices stay far below 2^56 (a tensor has at most 2^40
///         elements), programs below 2^32 steps: nothing overflows.
contract NormPrograms {
    /// @notice GELU's constants (tanh form): `C = 0.044715`, `3C` rounded once from the
    ///         decimal `0.134145`, `K = 2·√(2/π)` and `−K`.
    uint32 internal constant GELU_C = 0x3D372713;
    uint32 internal constant GELU_C3 = 0x3E095D4F;
    uint32 internal constant GELU_K = 0x3FCC422A;
    uint32 internal constant GELU_MINUS_K = 0xBFCC422A;
    /// @notice The `1e-6` gradient clipping adds to the norm (PyTorch's `clip_grad_norm_`).
    uint32 internal constant CLIP_EPS = 0x358637BD;

    /// @dev Steps of `gelu` before its last (`x2, x3, in, t`, exp, `d`): the prefix `gelu_grad`
    ///      shares.
    uint256 private constant GELU_PREFIX = 4 + SoftmaxOps.EXP_STEPS + 1;

    /// @notice Element `e`'s number of micro-steps and, when `k` is one of them, its
    ///         micro-step `k` as an instruction word ({Micro}); otherwise 0, which the caller
    ///         refuses (`k = 2^256 − 1` asks the length alone). One call where the one-step
    ///         proof needs both. `d` and `rows` are the layer norm's `D` and `R` (unread for
    ///         GELU), `eps` the bits of its `ε`.
    function program(uint8 op, uint256 d, uint256 rows, uint32 eps, uint256 e, uint256 k)
        external
        pure
        returns (uint256 len, uint256 word)
    {
        len = _length(op, d, rows, e);
        if (k < len) word = _instruction(op, d, eps, e, k);
    }

    function _length(uint8 op, uint256 d, uint256 rows, uint256 e) private pure returns (uint256) {
        unchecked {
            if (op == P.OP_LN_STATS) return e % 2 == 0 ? d + 1 : 3 * d + 5;
            if (op == P.OP_LN) return 3;
            if (op == P.OP_LN_INPUT_GRAD) return 5 * d + 9;
            if (op == P.OP_LN_WEIGHT_GRAD) return 3 * rows;
            if (op == P.OP_LN_BIAS_GRAD) return rows;
            if (op == P.OP_GRAD_SQUARE_SUM) return d;
            if (op == P.OP_CLIP_SCALE) return 4;
            if (op == P.OP_CLIP_GRAD) return 1;
            return op == P.OP_GELU ? GELU_PREFIX + 1 : GELU_PREFIX + 9; // 21, 29
        }
    }

    /// @dev Micro-step `k` (in range) of element `e`.
    function _instruction(uint8 op, uint256 d, uint32 eps, uint256 e, uint256 k)
        private
        pure
        returns (uint256)
    {
        unchecked {
            if (op == P.OP_LN_STATS) return _stats(d, eps, e, k);
            if (op == P.OP_LN) {
                // x̂ = mul(sub(x_j, μ), ρ); out = fma(x̂, γ[j], β[j])
                uint256 r = e / d;
                if (k == 0) return Micro.ins2(Micro.SUB, Micro.input(0, e), Micro.input(1, 2 * r));
                if (k == 1) return Micro.ins2(Micro.MUL, Micro.step(0), Micro.input(1, 2 * r + 1));
                return Micro.ins3(Micro.FMA, Micro.step(1), Micro.input(2, e % d), Micro.input(3, e % d));
            }
            if (op == P.OP_LN_INPUT_GRAD) return _inputGrad(d, e, k);
            if (op == P.OP_LN_WEIGHT_GRAD) {
                // acc = +0; per row r: x̂ = mul(sub(X[r, j], μ_r), ρ_r); acc = fma(dY[r, j], x̂, acc)
                uint256 r = k / 3;
                uint256 x = r * d + e;
                if (k % 3 == 0) return Micro.ins2(Micro.SUB, Micro.input(0, x), Micro.input(1, 2 * r));
                if (k % 3 == 1) return Micro.ins2(Micro.MUL, Micro.step(k - 1), Micro.input(1, 2 * r + 1));
                return Micro.ins3(Micro.FMA, Micro.input(2, x), Micro.step(k - 1), _zeroOr(r, k - 3));
            }
            if (op == P.OP_LN_BIAS_GRAD) {
                // acc = +0; acc = add(acc, dY[r, j]) for r ascending
                return Micro.ins2(Micro.ADD, _zeroOr(k, k - 1), Micro.input(0, k * d + e));
            }
            if (op >= P.OP_GRAD_SQUARE_SUM) return _clip(op, eps, e, k);
            return _gelu(op == P.OP_GELU_GRAD, e, k);
        }
    }

    /// @dev Gradient clipping (`docs/repops.md` § Gradient clipping; Rust `repops/clip.rs`).
    ///      `grad_square_sum` (`eps` 1 when it continues an earlier sum, read at slot 0, its
    ///      gradient then at slot 1): `acc = fma(g_k, g_k, acc)` from `prev[0]` or `+0`;
    ///      `clip_scale` (`eps` the max norm): `sqrt(s)`, `add(·, 1e-6)`, `div(max_norm, ·)`,
    ///      `min(·, 1)`; `clip_grad`: `mul(g[e], c[0])`.
    function _clip(uint8 op, uint32 eps, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            if (op == P.OP_GRAD_SQUARE_SUM) {
                uint256 g = Micro.input(eps, k);
                uint256 acc = k > 0 ? Micro.step(k - 1) : eps == 1 ? Micro.input(0, 0) : Micro.c(Micro.F_ZERO);
                return Micro.ins3(Micro.FMA, g, g, acc);
            }
            if (op == P.OP_CLIP_GRAD) return Micro.ins2(Micro.MUL, Micro.input(0, e), Micro.input(1, 0));
            if (k == 0) return Micro.ins2(Micro.SQRT, Micro.input(0, 0), Micro.none());
            if (k == 1) return Micro.ins2(Micro.ADD, Micro.step(0), Micro.c(CLIP_EPS));
            if (k == 2) return Micro.ins2(Micro.DIV, Micro.c(eps), Micro.step(1));
            return Micro.ins2(Micro.MIN, Micro.step(2), Micro.c(Micro.F_ONE));
        }
    }

    /// @dev `S[r, 0] = μ`: `acc = +0; acc = add(acc, x_j)` for j ascending, `div(acc, D)`.
    ///      `S[r, 1] = ρ`: that program, then `acc = +0; d = sub(x_j, μ); acc = fma(d, d, acc)`
    ///      for j ascending, `v = div(acc, D)`, `s = sqrt(add(v, ε))`, `div(1, s)`.
    function _stats(uint256 d, uint32 eps, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            // forge-lint: disable-next-line(divide-before-multiply) -- index arithmetic: floor is meant
            uint256 row = (e / 2) * d;
            if (k < d) return Micro.ins2(Micro.ADD, _zeroOr(k, k - 1), Micro.input(0, row + k));
            if (k == d) return Micro.ins2(Micro.DIV, Micro.step(d - 1), Micro.c(Micro.f32(d)));
            uint256 j = k - d - 1; // 2·(x_j's index) + 0 for sub, 1 for fma
            if (j < 2 * d) {
                if (j % 2 == 0) return Micro.ins2(Micro.SUB, Micro.input(0, row + j / 2), Micro.step(d));
                return Micro.ins3(Micro.FMA, Micro.step(k - 1), Micro.step(k - 1), _zeroOr(j - 1, k - 2));
            }
            uint256 v = 3 * d + 1; // the step of v
            if (k == v) return Micro.ins2(Micro.DIV, Micro.step(v - 1), Micro.c(Micro.f32(d)));
            if (k == v + 1) return Micro.ins2(Micro.ADD, Micro.step(v), Micro.c(eps));
            if (k == v + 2) return Micro.ins2(Micro.SQRT, Micro.step(v + 1), Micro.none());
            return Micro.ins2(Micro.DIV, Micro.c(Micro.F_ONE), Micro.step(v + 2));
        }
    }

    /// @dev `dX[r, i]` with `μ = S[r, 0]`, `ρ = S[r, 1]`: `a = +0; a = fma(dy_j, γ[j], a)`; `b = +0;
    ///      x̂ = mul(sub(x_j, μ), ρ); g = mul(dy_j, γ[j]); b = fma(g, x̂, b)`, each for j
    ///      ascending; `ma = div(a, D)`; `mb = div(b, D)`; `x̂ = mul(sub(x_i, μ), ρ)`;
    ///      `g = mul(dy_i, γ[i])`; `t = sub(g, ma)`; `u = mul(x̂, mb)`; `t = sub(t, u)`;
    ///      `out = mul(t, ρ)`.
    function _inputGrad(uint256 d, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            uint256 r = e / d;
            uint256 row = r * d;
            uint256 mu = Micro.input(1, 2 * r);
            uint256 rho = Micro.input(1, 2 * r + 1);
            if (k < d) {
                return Micro.ins3(Micro.FMA, Micro.input(3, row + k), Micro.input(2, k), _zeroOr(k, k - 1));
            }
            uint256 tail = 5 * d; // the first step after the two sums
            if (k < tail) {
                uint256 j = (k - d) / 4;
                uint256 s = (k - d) % 4;
                if (s == 0) return Micro.ins2(Micro.SUB, Micro.input(0, row + j), mu);
                if (s == 1) return Micro.ins2(Micro.MUL, Micro.step(k - 1), rho);
                if (s == 2) return Micro.ins2(Micro.MUL, Micro.input(3, row + j), Micro.input(2, j));
                return Micro.ins3(Micro.FMA, Micro.step(k - 1), Micro.step(k - 2), _zeroOr(j, k - 4));
            }
            uint256 t = k - tail;
            if (t == 0) return Micro.ins2(Micro.DIV, Micro.step(d - 1), Micro.c(Micro.f32(d))); // ma
            if (t == 1) return Micro.ins2(Micro.DIV, Micro.step(tail - 1), Micro.c(Micro.f32(d))); // mb
            if (t == 2) return Micro.ins2(Micro.SUB, Micro.input(0, e), mu);
            if (t == 3) return Micro.ins2(Micro.MUL, Micro.step(tail + 2), rho); // x̂
            if (t == 4) return Micro.ins2(Micro.MUL, Micro.input(3, e), Micro.input(2, e - row)); // g
            if (t == 5) return Micro.ins2(Micro.SUB, Micro.step(tail + 4), Micro.step(tail)); // g − ma
            if (t == 6) return Micro.ins2(Micro.MUL, Micro.step(tail + 3), Micro.step(tail + 1)); // u
            if (t == 7) return Micro.ins2(Micro.SUB, Micro.step(tail + 5), Micro.step(tail + 6));
            return Micro.ins2(Micro.MUL, Micro.step(tail + 7), rho);
        }
    }

    /// @dev `x2 = mul(x, x); x3 = mul(x2, x); in = fma(C, x3, x); t = mul(in, −K); e = exp(t);
    ///      d = add(e, 1)`, then `gelu`: `div(x, d)`; `gelu_grad`: `s = div(1, d); q = sub(1, s);
    ///      σ' = mul(s, q); p = fma(3C, x2, 1); k = mul(p, K); h = mul(x, k); h = mul(h, σ');
    ///      g = add(s, h); out = mul(dY[e], g)`.
    function _gelu(bool grad, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            uint256 x = Micro.input(0, e);
            uint256 one = Micro.c(Micro.F_ONE);
            if (k == 0) return Micro.ins2(Micro.MUL, x, x);
            if (k == 1) return Micro.ins2(Micro.MUL, Micro.step(0), x);
            if (k == 2) return Micro.ins3(Micro.FMA, Micro.c(GELU_C), Micro.step(1), x);
            if (k == 3) return Micro.ins2(Micro.MUL, Micro.step(2), Micro.c(GELU_MINUS_K));
            uint256 d = GELU_PREFIX - 1; // the step of d
            if (k < d) return SoftmaxOps.exp(k - 4, Micro.step(3), 4);
            if (k == d) return Micro.ins2(Micro.ADD, Micro.step(d - 1), one);
            if (!grad) return Micro.ins2(Micro.DIV, x, Micro.step(d));
            uint256 s = d + 1;
            if (k == s) return Micro.ins2(Micro.DIV, one, Micro.step(d));
            if (k == s + 1) return Micro.ins2(Micro.SUB, one, Micro.step(s));
            if (k == s + 2) return Micro.ins2(Micro.MUL, Micro.step(s), Micro.step(s + 1)); // σ'
            if (k == s + 3) return Micro.ins3(Micro.FMA, Micro.c(GELU_C3), Micro.step(0), one); // p
            if (k == s + 4) return Micro.ins2(Micro.MUL, Micro.step(s + 3), Micro.c(GELU_K)); // k
            if (k == s + 5) return Micro.ins2(Micro.MUL, x, Micro.step(s + 4)); // h
            if (k == s + 6) return Micro.ins2(Micro.MUL, Micro.step(s + 5), Micro.step(s + 2)); // h·σ'
            if (k == s + 7) return Micro.ins2(Micro.ADD, Micro.step(s), Micro.step(s + 6)); // g
            return Micro.ins2(Micro.MUL, Micro.input(1, e), Micro.step(s + 7));
        }
    }

    /// @dev The constant +0 when `first` is 0 (the first term of a sum), else micro-step
    ///      `previous` (the running sum; wrapped, and unread, for the first term).
    function _zeroOr(uint256 first, uint256 previous) private pure returns (uint256) {
        return first == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(previous);
    }
}
