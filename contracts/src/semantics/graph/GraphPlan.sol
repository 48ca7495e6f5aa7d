// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphSpecCodec as G} from "./GraphSpecCodec.sol";
import {Shapes} from "./Shapes.sol";

/// @title GraphPlan
/// @notice The op list of one training step of a layer graph, node by node, as the Rust
///         `train::planned_step_graph` builds it (`docs/repops.md` § 6): `0` schedule, `1` x,
///         `2` y, the forward nodes (a layer norm's two: its row statistics, then its output),
///         `log_softmax`, `xent_grad`, the backward nodes (layers in reverse, down to the first
///         with parameters: linear, conv2d or layer_norm), then per parameter the optimizer
///         nodes (SGD `v'`, `w'`; AdamW `m'`, `v'`, `w'`). Every node before the optimizer
///         block is an intermediate (list 0, in node order).
/// @dev    A node is one word: `op | layer << 8 | param << 16 | arity << 24`, then five input
///         references of 40 bits from bit 32, each `kind << 32 | index`.
library GraphPlan {
    uint8 internal constant OP_SCHEDULE = 0;
    uint8 internal constant OP_GATHER = 1;
    uint8 internal constant OP_LINEAR = 2;
    uint8 internal constant OP_RELU = 3;
    uint8 internal constant OP_LOG_SOFTMAX = 4;
    uint8 internal constant OP_XENT_GRAD = 5;
    uint8 internal constant OP_WEIGHT_GRAD = 6;
    uint8 internal constant OP_INPUT_GRAD = 7;
    uint8 internal constant OP_BIAS_GRAD = 8;
    uint8 internal constant OP_RELU_GRAD = 9;
    uint8 internal constant OP_SGD_VELOCITY = 10;
    uint8 internal constant OP_SGD_WEIGHT = 11;
    uint8 internal constant OP_ADAM_M = 12;
    uint8 internal constant OP_ADAM_V = 13;
    uint8 internal constant OP_ADAM_WEIGHT = 14;
    uint8 internal constant OP_CONV = 15;
    uint8 internal constant OP_CONV_WEIGHT_GRAD = 16;
    uint8 internal constant OP_CONV_INPUT_GRAD = 17;
    uint8 internal constant OP_CONV_BIAS_GRAD = 18;
    uint8 internal constant OP_MAXPOOL = 19;
    uint8 internal constant OP_MAXPOOL_GRAD = 20;
    uint8 internal constant OP_AVGPOOL = 21;
    uint8 internal constant OP_AVGPOOL_GRAD = 22;
    uint8 internal constant OP_DROPOUT = 23;
    uint8 internal constant OP_DROPOUT_GRAD = 24;
    uint8 internal constant OP_LN_STATS = 25;
    uint8 internal constant OP_LN = 26;
    uint8 internal constant OP_LN_INPUT_GRAD = 27;
    uint8 internal constant OP_LN_WEIGHT_GRAD = 28;
    uint8 internal constant OP_GELU = 29;
    uint8 internal constant OP_GELU_GRAD = 30;
    /// @dev A layer norm's β gradient: Rust's `bias_grad` over the layer's `R` rows of `D`
    ///      (the program of {OP_BIAS_GRAD}), with an opcode of its own so that its dimensions
    ///      come from the layer norm's geometry.
    uint8 internal constant OP_LN_BIAS_GRAD = 31;
    /// @dev Gradient clipping (`docs/repops.md` § Gradient clipping): the running sum of
    ///      squares one parameter further, the scale, a clipped gradient.
    uint8 internal constant OP_GRAD_SQUARE_SUM = 32;
    uint8 internal constant OP_CLIP_SCALE = 33;
    uint8 internal constant OP_CLIP_GRAD = 34;
    /// @dev The transformer's ops, whose programs are {AttentionPrograms}' (same numbers): a
    ///      residual add, the embedding and its two table gradients, causal self-attention
    ///      forward and backward (its projections are {OP_LINEAR} and its gradients).
    uint8 internal constant OP_ADD = 35;
    uint8 internal constant OP_EMBED = 36;
    uint8 internal constant OP_EMBED_GRAD = 37;
    uint8 internal constant OP_POSITION_GRAD = 38;
    uint8 internal constant OP_ATTN_SCORES = 39;
    uint8 internal constant OP_ATTN_STATS = 40;
    uint8 internal constant OP_ATTN_SOFTMAX = 41;
    uint8 internal constant OP_ATTN_CONTEXT = 42;
    uint8 internal constant OP_ATTN_PROBS_GRAD = 43;
    uint8 internal constant OP_ATTN_VALUE_GRAD = 44;
    uint8 internal constant OP_ATTN_DOT = 45;
    uint8 internal constant OP_ATTN_SOFTMAX_GRAD = 46;
    uint8 internal constant OP_ATTN_QUERY_GRAD = 47;
    uint8 internal constant OP_ATTN_KEY_GRAD = 48;

    /// @dev Ops as bit masks (`1 << op`), by the shape of their output: a parameter's
    ///      (the optimizer's), a weight's, a bias's, the layer's input (per sample, batched).
    // forge-lint: disable-start(incorrect-shift) -- bit masks: the literal 1 is meant
    uint256 private constant OPTIMIZER_OPS = 1 << OP_SGD_VELOCITY | 1 << OP_SGD_WEIGHT | 1 << OP_ADAM_M | 1
        << OP_ADAM_V | 1 << OP_ADAM_WEIGHT | 1 << OP_CLIP_GRAD;
    uint256 private constant SCALARS = 1 << OP_GRAD_SQUARE_SUM | 1 << OP_CLIP_SCALE;
    /// @dev A parameter's gradient: the node's `param` is the parameter.
    uint256 private constant PARAM_GRADS = 1 << OP_WEIGHT_GRAD | 1 << OP_CONV_WEIGHT_GRAD | 1
        << OP_LN_WEIGHT_GRAD | 1 << OP_BIAS_GRAD | 1 << OP_CONV_BIAS_GRAD | 1 << OP_LN_BIAS_GRAD | 1
        << OP_EMBED_GRAD | 1 << OP_POSITION_GRAD;
    uint256 private constant INPUT_SHAPED = 1 << OP_INPUT_GRAD | 1 << OP_CONV_INPUT_GRAD | 1 << OP_RELU_GRAD
        | 1 << OP_MAXPOOL_GRAD | 1 << OP_AVGPOOL_GRAD | 1 << OP_DROPOUT_GRAD | 1 << OP_LN_INPUT_GRAD | 1
        << OP_GELU_GRAD | 1 << OP_ADD | 1 << OP_ATTN_CONTEXT | 1 << OP_ATTN_VALUE_GRAD | 1
        << OP_ATTN_QUERY_GRAD | 1 << OP_ATTN_KEY_GRAD;
    /// @dev `[B, H, T, T]`: a score, probability or their gradients.
    uint256 private constant SCORE_SHAPED =
        1 << OP_ATTN_SCORES | 1 << OP_ATTN_SOFTMAX | 1 << OP_ATTN_PROBS_GRAD | 1 << OP_ATTN_SOFTMAX_GRAD;
    // forge-lint: disable-end(incorrect-shift)

    uint256 internal constant REF_NODE = 0;
    uint256 internal constant REF_PARAM = 1;
    uint256 internal constant REF_MOMENT = 2;
    uint256 internal constant REF_FEATURES = 3;
    uint256 internal constant REF_LABELS = 4;

    /// @dev The node list of a step. The intermediates are stored; the optimizer block that
    ///      follows them is a formula of `grads` (see {node}).
    struct Plan {
        uint256[] nodes;
        uint256 count; // every node, the optimizer block included
        uint256 inter; // intermediates: the nodes before the optimizer block
        uint256[] grads; // the gradient node of each parameter
        uint256 params;
        bool adam;
        uint256 body; // the stored nodes: those before the clipping block (all without it)
        bool clip;
    }

    /// @dev One node, unpacked.
    struct Node {
        uint8 op;
        uint256 layer;
        uint256 param;
        uint256 arity;
        uint256[5] inputs;
    }

    function ref(uint256 kind, uint256 index) internal pure returns (uint256) {
        return kind << 32 | index;
    }

    function _two(uint256 a, uint256 b) private pure returns (uint256) {
        return a | b << 40;
    }

    function _three(uint256 a, uint256 b, uint256 c) private pure returns (uint256) {
        return a | b << 40 | c << 80;
    }

    /// @notice How many intermediates a step of model `m` produces ({build}'s `inter`).
    function intermediates(G.Model memory m) internal pure returns (uint256) {
        return build(m).inter;
    }

    /// @notice The step's nodes for model `m`.
    /// @dev    Written for gas: it runs on every call of the one-step proof. Node words go
    ///         straight into one array (at most 5, then 2 per layer and 4 more per parameter:
    ///         an attention layer's 8 parameters come with 28 nodes), indices stay below 2^16,
    ///         so nothing can overflow.
    function build(G.Model memory m) internal pure returns (Plan memory p) {
        unchecked {
            uint256 layers = m.layers.length;
            uint256[] memory nodes = new uint256[](5 + 2 * layers + 4 * m.params);
            uint256[] memory grads = new uint256[](m.params);
            // each layer's input node, and its output node << 32
            uint256[] memory io = new uint256[](layers);
            _put(nodes, 0, OP_SCHEDULE);
            _put(nodes, 1, _word(OP_GATHER, 0, 1, ref(REF_FEATURES, 0)));
            // a language model's targets: tokens 1..=T of the row (param 1: from column 1)
            _put(
                nodes,
                2,
                m.nextToken
                    ? _word(OP_GATHER, 0, 1, ref(REF_FEATURES, 0)) | 1 << 16
                    : _word(OP_GATHER, 0, 1, ref(REF_LABELS, 0))
            );
            uint256 n = 3;
            uint256 current = 1;
            uint256 firstTrained = layers;
            for (uint256 l; l < layers; ++l) {
                G.Layer memory layer = m.layers[l];
                uint256 input = current;
                if (layer.firstParam != G.NONE && firstTrained == layers) firstTrained = l;
                (n, current) = _forward(nodes, n, layer, l, current, io);
                io[l] = input | current << 32;
            }
            uint256 logSoftmax = n;
            _put(nodes, n++, _word(OP_LOG_SOFTMAX, 0, 1, current));
            uint256 grad = n;
            _put(nodes, n++, _word(OP_XENT_GRAD, 0, 2, _two(logSoftmax, ref(REF_NODE, 2))));
            // the backward nodes, layers in reverse down to the first with parameters
            uint256 state = n | grad << 32;
            for (uint256 l = layers; l > firstTrained;) {
                --l;
                state = _backward(nodes, grads, m.layers[l], l | io[l] << 8, state, l > firstTrained);
            }
            n = state & 0xFFFFFFFF;
            p.nodes = nodes;
            (p.body, p.clip) = (n, m.clip);
            if (m.clip) n += 2 * m.params + 1; // the clipping block, a formula (see {_clipNode})
            p.inter = n;
            p.grads = grads;
            (p.params, p.adam) = (m.params, m.adam);
            p.count = n + m.params * (m.adam ? 3 : 2);
        }
    }

    /// @dev The forward nodes of entry `l` from node `n` on, reading `current`. Returns the
    ///      next node and the entry's output.
    function _forward(
        uint256[] memory nodes,
        uint256 n,
        G.Layer memory layer,
        uint256 l,
        uint256 current,
        uint256[] memory io
    ) private pure returns (uint256, uint256) {
        unchecked {
            uint8 kind = layer.kind;
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            uint256 bit = 1 << kind;
            uint256 w = layer.firstParam;
            uint256 word;
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            if (bit & (1 << G.LINEAR | 1 << G.CONV2D | 1 << G.EMBEDDING) != 0) {
                uint256 op = kind == G.LINEAR ? OP_LINEAR : kind == G.CONV2D ? OP_CONV : OP_EMBED;
                word = _word(op, l, 3, _three(current, ref(REF_PARAM, w), ref(REF_PARAM, w + 1)));
            } else if (kind == G.RELU) {
                word = _word(OP_RELU, l, 1, current);
            } else if (bit & G.POOLING != 0) {
                word = _word(kind == G.MAXPOOL2D ? OP_MAXPOOL : OP_AVGPOOL, l, 1, current);
            } else if (kind == G.DROPOUT) {
                word = _word(OP_DROPOUT, l, 1, current);
            } else if (kind == G.LAYER_NORM) {
                // S = layer_norm_stats(X), then Y = layer_norm(X, S, γ, β): S is Y − 1
                uint256 head = l << 8 | current << 32;
                _put(nodes, n, head | OP_LN_STATS | 1 << 24);
                word = head | OP_LN | 4 << 24 | n << 72 | ref(REF_PARAM, w) << 112 | ref(REF_PARAM, w + 1)
                    << 152;
                ++n;
            } else if (kind == G.GELU) {
                word = OP_GELU | l << 8 | 1 << 24 | current << 32;
            } else if (kind == G.RESIDUAL_CLOSE) {
                // add(the block's input, its last output)
                word = _word(OP_ADD, l, 2, _two(io[layer.a] & 0xFFFFFFFF, current));
            } else if (kind == G.ATTENTION) {
                return _attentionForward(nodes, n, l, current, w);
            } else {
                return (n, current); // flatten, reshape, a block's start: no node
            }
            _put(nodes, n, word);
            return (n + 1, n);
        }
    }

    /// @dev Entry `l`'s backward nodes (`lio = l | io << 8`, `io` its input and output nodes
    ///      `x | out << 32`) from `state = n | grad << 32 | skip << 64`: the next node, the
    ///      running gradient, and the gradient that skips the residual block the loop is in.
    ///      Returns the state.
    function _backward(
        uint256[] memory nodes,
        uint256[] memory grads,
        G.Layer memory layer,
        uint256 lio,
        uint256 state,
        bool below
    ) private pure returns (uint256) {
        unchecked {
            if (layer.firstParam != G.NONE) return _trainedBackward(nodes, grads, layer, lio, state, below);
            uint256 kind = layer.kind;
            uint256 n = state & 0xFFFFFFFF;
            uint256 grad = (state >> 32) & 0xFFFFFFFF;
            // `op | layer << 8 | arity << 24 | refs << 32`
            uint256 word = (lio & 0xFF) << 8;
            if (kind == G.RELU || kind == G.MAXPOOL2D || kind == G.GELU) {
                uint256 op = kind == G.RELU ? OP_RELU_GRAD : kind == G.GELU ? OP_GELU_GRAD : OP_MAXPOOL_GRAD;
                word |= op | 2 << 24 | ((lio >> 8) & 0xFFFFFFFF) << 32 | grad << 72; // (X, dY)
            } else if (kind == G.AVGPOOL2D || kind == G.DROPOUT) {
                word |= (kind == G.DROPOUT ? OP_DROPOUT_GRAD : OP_AVGPOOL_GRAD) | 1 << 24 | grad << 32;
            } else if (kind == G.RESIDUAL_CLOSE) {
                return n | grad << 32 | grad << 64; // the gradient that skips the block
            } else if (kind == G.RESIDUAL) {
                // the block's input gets both paths: add(dY, skip)
                word |= OP_ADD | 2 << 24 | grad << 32 | (state >> 64) << 72;
            } else {
                return state; // flatten, reshape: the gradient passes through
            }
            _put(nodes, n, word);
            return (n + 1) | n << 32 | (state >> 64) << 64;
        }
    }

    /// @dev {_backward} of an entry with parameters: linear, conv2d, layer_norm, embedding,
    ///      causal_self_attention.
    function _trainedBackward(
        uint256[] memory nodes,
        uint256[] memory grads,
        G.Layer memory layer,
        uint256 lio,
        uint256 state,
        bool below
    ) private pure returns (uint256) {
        unchecked {
            uint256 n = state & 0xFFFFFFFF;
            uint256 grad = (state >> 32) & 0xFFFFFFFF;
            uint256 kind = layer.kind;
            uint256 lw = (lio & 0xFF) | layer.firstParam << 8;
            if (kind == G.LINEAR || kind == G.CONV2D) {
                (n, grad) = _productBackward(
                    nodes, grads, n, lw, (lio >> 8) & 0xFFFFFFFF, grad, below, kind == G.CONV2D
                );
            } else if (kind == G.LAYER_NORM) {
                // its statistics precede its output Y
                uint256 io = ((lio >> 8) & 0xFFFFFFFF) | ((lio >> 40) - 1) << 16;
                grads[lw >> 8] = n;
                grads[(lw >> 8) + 1] = n + 1;
                (n, grad) = _normBackward(nodes, n, lw, io, grad, below);
            } else if (kind == G.EMBEDDING) {
                // the token table's gradient (X, dY), the position table's (dY)
                uint256 w = lw >> 8;
                (grads[w], grads[w + 1]) = (n, n + 1);
                uint256 head = (lio & 0xFF) << 8;
                _put(
                    nodes,
                    n,
                    OP_EMBED_GRAD | head | w << 16 | 2 << 24 | ((lio >> 8) & 0xFFFFFFFF) << 32 | grad << 72
                );
                _put(nodes, n + 1, OP_POSITION_GRAD | head | (w + 1) << 16 | 1 << 24 | grad << 32);
                n += 2;
            } else {
                (n, grad) = _attentionBackward(nodes, grads, n, lw, lio >> 8, grad, below);
            }
            return n | grad << 32 | (state >> 64) << 64;
        }
    }

    /// @dev A linear or conv2d layer's backward nodes (entry and first parameter `lw = l | w <<
    ///      8`, input `input`) from its output's gradient `grad`: `dW`, `db` and, when `below`,
    ///      the input's gradient. Returns the next node and the running gradient.
    function _productBackward(
        uint256[] memory nodes,
        uint256[] memory grads,
        uint256 n,
        uint256 lw,
        uint256 input,
        uint256 grad,
        bool below,
        bool conv
    ) private pure returns (uint256, uint256) {
        unchecked {
            uint256 w = lw >> 8;
            (grads[w], grads[w + 1]) = (n, n + 1);
            uint256 head = (lw & 0xFF) << 8;
            // dW(dY, X), db(dY), dX(dY, W)
            uint256 word = (conv ? OP_CONV_WEIGHT_GRAD : OP_WEIGHT_GRAD) | head | w << 16 | 2 << 24;
            _put(nodes, n, word | grad << 32 | input << 72);
            _put(
                nodes,
                n + 1,
                (conv ? OP_CONV_BIAS_GRAD : OP_BIAS_GRAD) | head | (w + 1) << 16 | 1 << 24 | grad << 32
            );
            if (!below) return (n + 2, grad);
            word = (conv ? OP_CONV_INPUT_GRAD : OP_INPUT_GRAD) | head | 2 << 24 | grad << 32;
            _put(nodes, n + 2, word | ref(REF_PARAM, w) << 72);
            return (n + 3, n + 2);
        }
    }

    /// @dev Causal self-attention of entry `l` on `x`, parameters from `w`, from node `n` on:
    ///      `q, k, v` (projections), `scores(q, k)`, `stats(scores)`, `probs(scores, stats)`,
    ///      `context(probs, v)`, the output projection: eight nodes, the last its output.
    function _attentionForward(uint256[] memory nodes, uint256 n, uint256 l, uint256 x, uint256 w)
        private
        pure
        returns (uint256, uint256)
    {
        unchecked {
            for (uint256 j; j < 3; ++j) {
                uint256 q = w + 2 * j;
                _put(
                    nodes, n + j, _word(OP_LINEAR, l, 3, _three(x, ref(REF_PARAM, q), ref(REF_PARAM, q + 1)))
                );
            }
            _put(nodes, n + 3, _word(OP_ATTN_SCORES, l, 2, _two(n, n + 1)));
            _put(nodes, n + 4, _word(OP_ATTN_STATS, l, 1, n + 3));
            _put(nodes, n + 5, _word(OP_ATTN_SOFTMAX, l, 2, _two(n + 3, n + 4)));
            _put(nodes, n + 6, _word(OP_ATTN_CONTEXT, l, 2, _two(n + 5, n + 2)));
            uint256 out = _three(n + 6, ref(REF_PARAM, w + 6), ref(REF_PARAM, w + 7));
            _put(nodes, n + 7, _word(OP_LINEAR, l, 3, out));
            return (n + 8, n + 7);
        }
    }

    /// @dev The backward nodes of causal self-attention (entry and first parameter `lw = l |
    ///      w << 8`, input and output nodes `io = x | out << 32`) from the output's gradient
    ///      `grad`, as the Rust `attention_backward`: `dWo, dbo, dcontext, dprobs, dv, dot,
    ///      dscores, dq, dk`, then `dW, db` of q, k and v and, when `below`, the input's
    ///      gradient through each projection and their sum `(dxq + dxk) + dxv`. Returns the
    ///      next node and the running gradient.
    function _attentionBackward(
        uint256[] memory nodes,
        uint256[] memory grads,
        uint256 n,
        uint256 lw,
        uint256 io,
        uint256 grad,
        bool below
    ) private pure returns (uint256, uint256) {
        unchecked {
            // q = out − 7, k, v, scores, stats, probs, context = out − 1
            n = _projectionGrads(nodes, grads, n, lw + (6 << 8), grad, (io >> 32) - 1);
            uint256 d = _attentionCore(nodes, n, lw, io >> 32, grad);
            n += 7;
            for (uint256 j; j < 3; ++j) {
                uint256 dj = (d >> (32 * j)) & 0xFFFFFFFF;
                n = _projectionGrads(nodes, grads, n, lw + ((2 * j) << 8), dj, io & 0xFFFFFFFF);
            }
            if (!below) return (n, grad);
            uint256 head = (lw & 0xFF) << 8 | 2 << 24;
            for (uint256 j; j < 3; ++j) {
                uint256 refs = _two((d >> (32 * j)) & 0xFFFFFFFF, ref(REF_PARAM, (lw >> 8) + 2 * j));
                _put(nodes, n + j, OP_INPUT_GRAD | head | refs << 32);
            }
            _put(nodes, n + 3, OP_ADD | head | _two(n, n + 1) << 32);
            _put(nodes, n + 4, OP_ADD | head | _two(n + 3, n + 2) << 32);
            return (n + 5, n + 4);
        }
    }

    /// @dev The seven nodes from `n` on between the output projection's gradients and those of
    ///      q, k, v: `dcontext(dY, Wo)`, `dprobs(dcontext, v)`, `dv(probs, dcontext)`,
    ///      `dot(probs, dprobs)`, `dscores(probs, dprobs, dot)`, `dq(dscores, k)`,
    ///      `dk(dscores, q)`. Returns the nodes `dq | dk << 32 | dv << 64`.
    function _attentionCore(uint256[] memory nodes, uint256 n, uint256 lw, uint256 out, uint256 grad)
        private
        pure
        returns (uint256)
    {
        unchecked {
            uint256 two = (lw & 0xFF) << 8 | 2 << 24;
            uint256 probs = out - 2;
            _put(nodes, n, OP_INPUT_GRAD | two | _two(grad, ref(REF_PARAM, (lw >> 8) + 6)) << 32);
            _put(nodes, n + 1, OP_ATTN_PROBS_GRAD | two | _two(n, out - 5) << 32);
            _put(nodes, n + 2, OP_ATTN_VALUE_GRAD | two | _two(probs, n) << 32);
            _put(nodes, n + 3, OP_ATTN_DOT | two | _two(probs, n + 1) << 32);
            uint256 three = (lw & 0xFF) << 8 | 3 << 24;
            _put(nodes, n + 4, OP_ATTN_SOFTMAX_GRAD | three | _three(probs, n + 1, n + 3) << 32);
            _put(nodes, n + 5, OP_ATTN_QUERY_GRAD | two | _two(n + 4, out - 6) << 32);
            _put(nodes, n + 6, OP_ATTN_KEY_GRAD | two | _two(n + 4, out - 7) << 32);
            return (n + 5) | (n + 6) << 32 | (n + 2) << 64;
        }
    }

    /// @dev A projection's weight and bias gradients (entry and parameter `lq = l | q << 8`,
    ///      `q + 1` the bias) from its output's gradient `d` and its input `input`. Returns the
    ///      next node.
    function _projectionGrads(
        uint256[] memory nodes,
        uint256[] memory grads,
        uint256 n,
        uint256 lq,
        uint256 d,
        uint256 input
    ) private pure returns (uint256) {
        unchecked {
            uint256 q = lq >> 8;
            (grads[q], grads[q + 1]) = (n, n + 1);
            uint256 head = (lq & 0xFF) << 8;
            _put(nodes, n, OP_WEIGHT_GRAD | head | q << 16 | 2 << 24 | _two(d, input) << 32);
            _put(nodes, n + 1, OP_BIAS_GRAD | head | (q + 1) << 16 | 1 << 24 | d << 32);
            return n + 2;
        }
    }

    /// @dev Node `j` of the gradient-clipping block, which follows the backward nodes
    ///      (`docs/repops.md` § Gradient clipping), packed like a stored node: for `j < P`,
    ///      `grad_square_sum` of parameter `j` (the first reads its gradient, the others the
    ///      sum before and their gradient); `j = P`, the scale; then `clip_grad(g_q, scale)`
    ///      per parameter, which the optimizer reads instead of `g_q` ({_gradOf}). A formula,
    ///      not stored: the one-step proof builds the plan on every call.
    function _clipNode(Plan memory p, uint256 j) private pure returns (uint256) {
        unchecked {
            uint256 params = p.params;
            uint256 i = p.body + j;
            if (j == 0) return OP_GRAD_SQUARE_SUM | 1 << 24 | p.grads[0] << 32;
            if (j < params) return OP_GRAD_SQUARE_SUM | j << 16 | 2 << 24 | _two(i - 1, p.grads[j]) << 32;
            if (j == params) return OP_CLIP_SCALE | 1 << 24 | (i - 1) << 32;
            uint256 q = j - params - 1;
            return OP_CLIP_GRAD | q << 16 | 2 << 24 | _two(p.grads[q], p.body + params) << 32;
        }
    }

    /// @dev The gradient the optimizer reads for parameter `q`: its clipped gradient when the
    ///      job clips, else its gradient node.
    function _gradOf(Plan memory p, uint256 q) private pure returns (uint256) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            return p.clip ? p.body + p.params + 1 + q : p.grads[q];
        }
    }

    /// @dev Node `i`'s word: stored, in the clipping block, or in the optimizer block.
    function _wordAt(Plan memory p, uint256 i) private pure returns (uint256) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            if (i < p.body) return p.nodes[i];
            if (i < p.inter) return _clipNode(p, i - p.body);
            return _optimizer(p, i - p.inter);
        }
    }

    /// @dev A layer norm's backward nodes from node `n` on: `dγ = layer_norm_weight_grad(X, S,
    ///      dY)`, `dβ = bias_grad(dY)` and, unless it is the first trained layer,
    ///      `dX = layer_norm_input_grad(X, S, γ, dY)`. `lw` is the layer and its γ `<< 8`, `io`
    ///      its input X and statistics S `<< 16`. Returns the next node and the running gradient.
    function _normBackward(
        uint256[] memory nodes,
        uint256 n,
        uint256 lw,
        uint256 io,
        uint256 grad,
        bool inputGrad
    ) private pure returns (uint256, uint256) {
        unchecked {
            uint256 head = (lw & 0xFF) << 8 | _two(io & 0xFFFF, io >> 16) << 32; // layer; X, S
            uint256 w = lw >> 8;
            _put(nodes, n, head | OP_LN_WEIGHT_GRAD | w << 16 | 3 << 24 | grad << 112);
            _put(nodes, n + 1, OP_LN_BIAS_GRAD | (lw & 0xFF) << 8 | (w + 1) << 16 | 1 << 24 | grad << 32);
            n += 2;
            if (!inputGrad) return (n, grad);
            _put(nodes, n, head | OP_LN_INPUT_GRAD | 4 << 24 | ref(REF_PARAM, lw >> 8) << 112 | grad << 152);
            return (n + 1, n);
        }
    }

    /// @dev A node word: `op | layer << 8 | arity << 24 | refs << 32`.
    function _word(uint256 op, uint256 layer, uint256 arity, uint256 refs) private pure returns (uint256) {
        return op | layer << 8 | arity << 24 | refs << 32;
    }

    /// @dev `nodes[i] = word` for an `i` {build} keeps inside the allocation.
    function _put(uint256[] memory nodes, uint256 i, uint256 word) private pure {
        assembly ("memory-safe") {
            mstore(add(nodes, mul(32, add(i, 1))), word)
        }
    }

    /// @dev The optimizer node `j` of the block (SGD `v'`, `w'`; AdamW `m'`, `v'`, `w'` per
    ///      parameter), packed like a stored node.
    function _optimizer(Plan memory p, uint256 j) private pure returns (uint256) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            uint256 i = p.inter + j;
            uint256 q = j / (p.adam ? 3 : 2);
            uint256 r = j % (p.adam ? 3 : 2);
            uint256 head = ref(REF_NODE, 0) | ref(REF_PARAM, q) << 40;
            uint256 moments = head | _gradOf(p, q) << 80 | ref(REF_MOMENT, q) << 120;
            if (!p.adam) {
                if (r == 0) return OP_SGD_VELOCITY | q << 16 | 4 << 24 | moments << 32;
                return OP_SGD_WEIGHT | q << 16 | 3 << 24 | (head | ref(REF_NODE, i - 1) << 80) << 32;
            }
            if (r < 2) {
                uint256 refs = moments | ref(REF_MOMENT, p.params + q) << 160;
                return (r == 0 ? OP_ADAM_M : OP_ADAM_V) | q << 16 | 5 << 24 | refs << 32;
            }
            uint256 weight = head | ref(REF_NODE, i - 2) << 80 | ref(REF_NODE, i - 1) << 120;
            return OP_ADAM_WEIGHT | q << 16 | 4 << 24 | weight << 32;
        }
    }

    /// @notice Node `i`, unpacked.
    function node(Plan memory p, uint256 i) internal pure returns (Node memory nd) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            uint256 word = _wordAt(p, i);
            nd.op = uint8(word);
            nd.layer = (word >> 8) & 0xFF;
            nd.param = (word >> 16) & 0xFF;
            nd.arity = (word >> 24) & 0xFF;
            for (uint256 s; s < nd.arity; ++s) {
                nd.inputs[s] = (word >> (32 + 40 * s)) & 0xFFFFFFFFFF;
            }
        }
    }

    /// @notice The shape of parameter `q` (a weight's, then its bias).
    function paramShape(G.Model memory m, uint256 q) internal pure returns (uint256) {
        return m.paramShapes[q];
    }

    /// @notice The output shape of node `i`, read without unpacking its inputs.
    function shapeAt(G.Model memory m, Plan memory p, uint256 i) internal pure returns (uint256) {
        uint256 word = _wordAt(p, i);
        // a gather's shape depends on its source, its input 0
        return _shape(m, uint8(word), (word >> 8) & 0xFF, (word >> 16) & 0xFF, (word >> 32) & 0xFFFFFFFFFF);
    }

    /// @notice The output shape of node `nd` (graph.rs `Node::shape`).
    function shapeOf(G.Model memory m, Node memory nd) internal pure returns (uint256) {
        return _shape(m, nd.op, nd.layer, nd.param, nd.inputs[0]);
    }

    /// @dev The output shape of a node with opcode `op` of layer `layer` (or parameter `param`,
    ///      for the optimizer's nodes) whose first input is `input0`.
    function _shape(G.Model memory m, uint8 op, uint256 layer_, uint256 param, uint256 input0)
        private
        pure
        returns (uint256)
    {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            if (op == OP_SCHEDULE) return Shapes.one(4);
            if (op == OP_GATHER) {
                // x, or a language model's targets: [B, len]; labels: [B]
                return input0 >> 32 == REF_FEATURES ? Shapes.two(m.batch, m.inputLen) : Shapes.one(m.batch);
            }
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            uint256 bit = 1 << op; // ops by bit masks: one test per shape rule
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            if (bit & (1 << OP_LOG_SOFTMAX | 1 << OP_XENT_GRAD) != 0) {
                // a row per sample, or per position of a language model's sequences
                return Shapes.two(m.batch * (m.nextToken ? m.inputLen : 1), m.classes);
            }
            if (bit & (OPTIMIZER_OPS | PARAM_GRADS) != 0) return paramShape(m, param);
            if (bit & SCALARS != 0) return Shapes.one(1);
            G.Layer memory layer = m.layers[layer_];
            if (bit & INPUT_SHAPED != 0) return Shapes.prepend(m.batch, layer.inShape);
            // the row statistics: [R, 2], R = batch × rows per sample (u32 factors)
            if (op == OP_LN_STATS) return Shapes.two(m.batch * layer.c, 2);
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            if (bit & (SCORE_SHAPED | 1 << OP_ATTN_STATS | 1 << OP_ATTN_DOT) != 0) {
                // [B, H, T, T], the softmax statistics [B, H, T, 2], the row dot [B, H, T]
                (uint256 t, uint256 h) = (Shapes.dim(layer.inShape, 0), layer.a);
                if (bit & SCORE_SHAPED != 0) return Shapes.four(m.batch, h, t, t);
                return op == OP_ATTN_STATS ? Shapes.four(m.batch, h, t, 2) : Shapes.three(m.batch, h, t);
            }
            return Shapes.prepend(m.batch, layer.outShape); // a forward node
        }
    }
}
