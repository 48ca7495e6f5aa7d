// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fp32} from "../../fp32/Fp32.sol";
import {GraphPlan as P} from "../graph/GraphPlan.sol";
import {Micro} from "./Micro.sol";
import {SoftmaxOps} from "./SoftmaxOps.sol";

/// @title AttentionPrograms
/// @notice The element programs of a decoder-only transformer (`docs/repops.md` § Embeddings,
///         attention and residuals; Rust `repops/attention.rs`): the token and position
///         embedding and its gradients, causal self-attention forward and backward, and the
///         residual `add`. A contract of its own, called by the graph semantics, as
///         {NormPrograms} and {ImagePrograms}; its op numbers are {GraphPlan}'s.
/// @dev    Geometry words pack four 32-bit fields. Attention ops: `B | T << 32 | H << 64 |
///         d << 96` (sequences, positions, heads, values per head; the width is `W = H·d`).
///         Embedding ops: `B | T << 32 | V << 64 | D << 96` (the vocabulary and the width).
///         Layouts: Q, K, V, O and their gradients `[B, T, W]`, head `h` at columns
///         `h·d ..`; scores, probabilities and their gradients `[B, H, T, T]`; the softmax
///         statistics `[B, H, T, 2]`; the softmax-gradient dot `[B, H, T]`. A masked score
///         (`j > i`) has no steps: it is a copy of the constant `+0`. Input slots follow the
///         Rust ops: `attn_scores(Q, K)`, `attn_softmax_stats(S)`, `attn_softmax(S, M)`,
///         `attn_context(P, V)`, `attn_probs_grad(dO, V)`, `attn_value_grad(P, dO)`,
///         `attn_softmax_dot(P, dP)`, `attn_softmax_grad(P, dP, C)`, `attn_query_grad(dS, K)`,
///         `attn_key_grad(dS, Q)`, `add(A, B)`, `embed(tok, E, P)`, `embed_grad(tok, dY)`,
///         the position gradient `(dY)`. Geometries are bounded by the spec rules (every
///         tensor below 2^40 elements, programs below 2^32 steps): nothing overflows.
contract AttentionPrograms {
    /// @dev Steps of one term of a softmax row sum: `sub`, then `exp`.
    uint256 private constant TERM = 1 + SoftmaxOps.EXP_STEPS;

    /// @dev The four fields of a geometry word.
    struct Geometry {
        uint256 b;
        uint256 t;
        uint256 h; // heads, or the vocabulary
        uint256 d; // values per head, or the embedding width
    }

    /// @notice The number of micro-steps of element `e` of op `op` on geometry `g`.
    function length(uint8 op, uint256 g, uint256 e) external pure returns (uint256) {
        return _length(op, _unpack(g), e);
    }

    /// @notice Element `e`'s number of micro-steps and its micro-step `k` as an instruction
    ///         word ({Micro}) when `k` is one of them; for a program without steps, `k = 0`
    ///         gives the copy it is. Otherwise the word is 0, which the caller refuses.
    function program(uint8 op, uint256 g, uint256 e, uint256 k)
        external
        pure
        returns (uint256 len, uint256 word)
    {
        Geometry memory q = _unpack(g);
        len = _length(op, q, e);
        if (k < len) word = _instruction(op, q, e, k);
        else if (len == 0 && k == 0) word = _copy(op, q, e);
    }

    function _unpack(uint256 g) private pure returns (Geometry memory q) {
        q.b = g & 0xFFFFFFFF;
        q.t = (g >> 32) & 0xFFFFFFFF;
        q.h = (g >> 64) & 0xFFFFFFFF;
        q.d = (g >> 96) & 0xFFFFFFFF;
    }

    // ------------------------------------------------------------------ lengths

    function _length(uint8 op, Geometry memory q, uint256 e) private pure returns (uint256) {
        unchecked {
            uint256 t = q.t;
            if (op == P.OP_ADD) return 1;
            if (op == P.OP_EMBED) return 2 * q.h + 1;
            if (op == P.OP_EMBED_GRAD) return 2 * q.b * t;
            if (op == P.OP_POSITION_GRAD) return q.b;
            if (op == P.OP_ATTN_STATS) {
                uint256 i = (e / 2) % t;
                return e % 2 == 0 ? i : i + TERM + (TERM + 1) * i;
            }
            if (op == P.OP_ATTN_DOT) return e % t + 1;
            // per score: masked (j > i) elements have no steps
            if (
                op == P.OP_ATTN_SCORES || op == P.OP_ATTN_PROBS_GRAD || op == P.OP_ATTN_SOFTMAX
                    || op == P.OP_ATTN_SOFTMAX_GRAD
            ) {
                if (e % t > (e / t) % t) return 0;
                if (op == P.OP_ATTN_SCORES) return q.d + 1;
                if (op == P.OP_ATTN_PROBS_GRAD) return q.d;
                return op == P.OP_ATTN_SOFTMAX ? TERM + 1 : 3;
            }
            // per activation element (b, i, h, c): the causal range of i
            uint256 pos = (e / (q.h * q.d)) % t;
            return op == P.OP_ATTN_CONTEXT || op == P.OP_ATTN_QUERY_GRAD ? pos + 1 : t - pos;
        }
    }

    // ------------------------------------------------------------------ programs

    /// @dev The copy a program without steps is: a masked score's `+0`, or the maximum of a
    ///      one-element row (`attn_softmax_stats` at `i = 0`), its only score.
    function _copy(uint8 op, Geometry memory q, uint256 e) private pure returns (uint256) {
        if (op == P.OP_ATTN_STATS) {
            uint256 row = e / 2;
            return Micro.copy(Micro.input(0, row * q.t));
        }
        return Micro.copy(Micro.c(Micro.F_ZERO));
    }

    /// @dev `k == 0 ? +0 : step(k − 1)`: a running sum's previous value.
    function _acc(uint256 k) private pure returns (uint256) {
        return k == 0 ? Micro.c(Micro.F_ZERO) : Micro.step(k - 1);
    }

    /// @dev The scale `div(1, sqrt(d))`, as the primitives round it.
    function _scale(uint256 d) private pure returns (uint32) {
        return Fp32.div(Micro.F_ONE, Fp32.sqrt(Micro.f32(d)));
    }

    function _instruction(uint8 op, Geometry memory q, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            if (op == P.OP_ADD) return Micro.ins2(Micro.ADD, Micro.input(0, e), Micro.input(1, e));
            if (op == P.OP_EMBED || op == P.OP_EMBED_GRAD || op == P.OP_POSITION_GRAD) {
                return _embedding(op, q, e, k);
            }
            if (op == P.OP_ATTN_STATS) return _stats(q.t, e, k);
            if (op == P.OP_ATTN_SOFTMAX) {
                // div(exp(sub(S, M[r, 0])), M[r, 1])
                uint256 row = e / q.t;
                if (k == 0) return Micro.ins2(Micro.SUB, Micro.input(0, e), Micro.input(1, 2 * row));
                if (k < TERM) return SoftmaxOps.exp(k - 1, Micro.step(0), 1);
                return Micro.ins2(Micro.DIV, Micro.step(TERM - 1), Micro.input(1, 2 * row + 1));
            }
            if (op == P.OP_ATTN_SOFTMAX_GRAD) {
                // mul(mul(P, sub(dP, C[r])), σ)
                if (k == 0) return Micro.ins2(Micro.SUB, Micro.input(1, e), Micro.input(2, e / q.t));
                if (k == 1) return Micro.ins2(Micro.MUL, Micro.input(0, e), Micro.step(0));
                return Micro.ins2(Micro.MUL, Micro.step(1), Micro.c(_scale(q.d)));
            }
            if (op == P.OP_ATTN_DOT) {
                // Σ_{j ≤ i} fma(P[r, j], dP[r, j]) from +0
                uint256 at = e * q.t + k;
                return Micro.ins3(Micro.FMA, Micro.input(0, at), Micro.input(1, at), _acc(k));
            }
            return _products(op, q, e, k);
        }
    }

    /// @dev The sums of products over a head's values or over the causal range.
    function _products(uint8 op, Geometry memory q, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            uint256 t = q.t;
            uint256 w = q.h * q.d;
            if (op == P.OP_ATTN_SCORES || op == P.OP_ATTN_PROBS_GRAD) {
                // over c: fma(L[b, i, h, c], R[b, j, h, c], acc); scores then mul(·, σ)
                if (k == q.d) return Micro.ins2(Micro.MUL, Micro.step(k - 1), Micro.c(_scale(q.d)));
                uint256 bh = e / (t * t);
                uint256 head = (bh % q.h) * q.d + k;
                uint256 b = bh / q.h;
                uint256 rows = b * t;
                uint256 left = (rows + (e / t) % t) * w + head;
                uint256 right = (rows + e % t) * w + head;
                return Micro.ins3(Micro.FMA, Micro.input(0, left), Micro.input(1, right), _acc(k));
            }
            return _causalSum(op == P.OP_ATTN_CONTEXT || op == P.OP_ATTN_QUERY_GRAD, q, e, k);
        }
    }

    /// @dev The sums over the causal range of an activation element `(b, p, h, c)`:
    ///      `forward` (context, query gradient) over `j ≤ p`, `fma(X[b, h, p, j], Y[b, j, h, c])`;
    ///      else (value, key gradient) over `i ≥ p`, `fma(X[b, h, i, p], Y[b, i, h, c])`.
    function _causalSum(bool forward, Geometry memory q, uint256 e, uint256 k)
        private
        pure
        returns (uint256)
    {
        unchecked {
            uint256 t = q.t;
            uint256 w = q.h * q.d;
            uint256 p = (e / w) % t;
            uint256 s = forward ? k : p + k;
            uint256 other;
            uint256 score;
            {
                uint256 b = e / (t * w);
                uint256 h = (e % w) / q.d;
                other = (b * t + s) * w + e % w; // Y[b, s, h, c]
                uint256 scores = (b * q.h + h) * t; // (b·H + h)·T
                score = forward ? (scores + p) * t + s : (scores + s) * t + p;
            }
            return Micro.ins3(Micro.FMA, Micro.input(0, score), Micro.input(1, other), _acc(k));
        }
    }

    /// @dev `attn_softmax_stats`: element `2r` the row maximum `m = max(m, S[r, j])` from
    ///      `S[r, 0]` for `j = 1..=i`; element `2r + 1` also the sum `exp(sub(S[r, 0], m))`,
    ///      then `add(sum, exp(sub(S[r, j], m)))` for `j = 1..=i` (as `log_softmax`'s).
    function _stats(uint256 t, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            uint256 row = e / 2;
            uint256 i = row % t;
            uint256 base = row * t;
            if (k < i) {
                return Micro.ins2(
                    Micro.MAX, k == 0 ? Micro.input(0, base) : Micro.step(k - 1), Micro.input(0, base + k + 1)
                );
            }
            uint256 max = i == 0 ? Micro.input(0, base) : Micro.step(i - 1);
            uint256 r = k - i;
            uint256 j;
            uint256 start; // the first step of term j
            uint256 local;
            if (r < TERM) {
                (j, start, local) = (0, i, r);
            } else {
                j = 1 + (r - TERM) / (TERM + 1);
                local = (r - TERM) % (TERM + 1);
                start = i + TERM + (TERM + 1) * (j - 1);
            }
            if (local == 0) return Micro.ins2(Micro.SUB, Micro.input(0, base + j), max);
            if (local < TERM) return SoftmaxOps.exp(local - 1, Micro.step(start), start + 1);
            // the running sum: the first term, or the previous add
            uint256 acc = j == 1 ? Micro.step(i + TERM - 1) : Micro.step(start - 1);
            return Micro.ins2(Micro.ADD, acc, Micro.step(start + TERM - 1));
        }
    }

    /// @dev `embed`: `acc = add(acc, sel_eq(tok, v, E[v, j], +0))` for every `v`, then
    ///      `add(acc, P[t, j])`; `embed_grad`: `acc = add(acc, sel_eq(tok[bt], v, dY[bt, j], +0))`
    ///      for every `(b, t)`; the position gradient: `acc = add(acc, dY[b, t, j])` over `b`.
    function _embedding(uint8 op, Geometry memory q, uint256 e, uint256 k) private pure returns (uint256) {
        unchecked {
            if (op == P.OP_POSITION_GRAD) {
                return Micro.ins2(Micro.ADD, _acc(k), Micro.input(0, k * q.t * q.d + e));
            }
            if (k % 2 == 1) {
                return
                    Micro.ins2(
                        Micro.ADD, k == 1 ? Micro.c(Micro.F_ZERO) : Micro.step(k - 2), Micro.step(k - 1)
                    );
            }
            if (op == P.OP_EMBED_GRAD) {
                // element (v, j), step pair k / 2 = (b, t)
                uint256 bt = k / 2;
                return _select(Micro.input(0, bt), e / q.d, Micro.input(1, bt * q.d + e % q.d));
            }
            uint256 v = k / 2;
            if (v < q.h) return _select(Micro.input(0, e / q.d), v, Micro.input(1, v * q.d + e % q.d));
            uint256 position = (e / q.d) % q.t;
            // the last step: add(acc, P[t, j])
            return Micro.ins2(Micro.ADD, Micro.step(k - 1), Micro.input(2, position * q.d + e % q.d));
        }
    }

    /// @dev `sel_eq(token, v, value, +0)`.
    function _select(uint256 token, uint256 v, uint256 value) private pure returns (uint256) {
        return Micro.ins(Micro.SEL_EQ, token, Micro.c(Micro.f32(v)), value, Micro.c(Micro.F_ZERO));
    }
}
