// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphSpecCodec as G} from "./GraphSpecCodec.sol";
import {Shapes} from "./Shapes.sol";

/// @title GraphPlan
/// @notice The op list of one training step of a layer graph, node by node, as the Rust
///         `train::planned_step_graph` builds it (`docs/repops.md` § 6): `0` schedule, `1` x,
///         `2` y, the forward nodes (a layer norm's two: its row statistics, then its output;
///         causal self-attention's eight; a residual block's add at its close), `log_softmax`,
///         `xent_grad`, the backward nodes (layer entries in reverse, down to the first with
///         parameters), the gradient-clipping block, then per parameter the optimizer nodes
///         (SGD `v'`, `w'`; AdamW `m'`, `v'`, `w'`). Every node before the optimizer block is
///         an intermediate (list 0, in node order).
/// @dev    A node is one word: `op | layer << 8 | param << 16 | arity << 24`, then five input
///         references of 40 bits from bit 32, each `kind << 32 | index`. The plan holds one
///         record per layer entry, not the nodes: a node's word is computed when asked for
///         (`docs/benchmarks.md` § The transformer's dispute gas).
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

    /// @dev The node list of a step, as a formula: per layer-list entry, where its forward and
    ///      backward nodes start and what they read (see {build}); node `i`'s word is computed
    ///      when asked ({node}), so that a one-step proof pays for the layers, not for every
    ///      node of the step.
    struct Plan {
        G.Layer[] layers; // the model's (flattened) layer list
        uint256[] entries; // per entry, packed (see {build})
        uint256 count; // every node, the optimizer block included
        uint256 inter; // intermediates: the nodes before the optimizer block
        uint256 params;
        bool adam;
        bool nextToken; // the targets are tokens 1..=T of the row (a gather from column 1)
        uint256 logSoftmax; // its node; the logits are `logits`, the loss gradient the next
        uint256 logits;
        uint256 body; // the nodes before the clipping block (all without it)
        bool clip;
        // From a model image only ({entryTable}; empty when planned from the spec): node i's
        // layer entry in byte i % 32 of word i / 32, so that a node is found without a search.
        uint256[] entryOfNode;
    }

    /// @dev An entry's record in {Plan.entries}: its first forward node, count, first backward
    ///      node, count, the node it reads, the node it gives, the gradient its backward nodes
    ///      start from and, for a residual block's start, the gradient that skipped the block.
    uint256 private constant FWD_START = 0;
    uint256 private constant FWD_COUNT = 16;
    uint256 private constant BWD_START = 24;
    uint256 private constant BWD_COUNT = 40;
    uint256 private constant INPUT = 48;
    uint256 private constant OUTPUT = 64;
    uint256 private constant GRAD_IN = 80;
    uint256 private constant SKIP = 96;

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

    /// @dev `record`'s field at bit `at` (16 bits; counts are below 2^8).
    function _field(uint256 record, uint256 at) private pure returns (uint256) {
        return (record >> at) & 0xFFFF;
    }

    /// @notice The step's plan for model `m` (`train::planned_step_graph`): `0` schedule, `1` x,
    ///         `2` y, the forward nodes entry by entry, `log_softmax`, `xent_grad`, the backward
    ///         nodes (entries in reverse, down to the first with parameters), the clipping block,
    ///         the optimizer block.
    /// @dev    Written for gas: it runs on every call of the one-step proof, one pass over the
    ///         entries each way and nothing per node. Indices stay below 2^16 (at most 64
    ///         entries of at most 28 nodes, 256 parameters of at most 5), so nothing overflows.
    function build(G.Model memory m) internal pure returns (Plan memory p) {
        unchecked {
            G.Layer[] memory layers = m.layers;
            uint256 count = layers.length;
            uint256[] memory entries = new uint256[](count);
            uint256 n = 3;
            uint256 current = 1;
            uint256 firstTrained = count;
            for (uint256 l; l < count; ++l) {
                G.Layer memory layer = layers[l];
                uint256 kind = layer.kind;
                if (layer.firstParam != G.NONE && firstTrained == count) firstTrained = l;
                // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                uint256 bit = 1 << kind;
                uint256 forward =
                    bit & NODELESS != 0 ? 0 : kind == G.LAYER_NORM ? 2 : kind == G.ATTENTION ? 8 : 1;
                // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                uint256 record = n << FWD_START | forward << FWD_COUNT | current << INPUT;
                n += forward;
                if (forward > 0) current = n - 1;
                entries[l] = record | current << OUTPUT;
            }
            p.logits = current;
            p.logSoftmax = n;
            uint256 grad = n + 1;
            n += 2;
            uint256 skip = 0;
            for (uint256 l = count; l > firstTrained;) {
                --l;
                uint256 kind = layers[l].kind;
                bool below = l > firstTrained;
                uint256 backward = 0;
                uint256 record = entries[l] | n << BWD_START | grad << GRAD_IN;
                if (kind == G.RESIDUAL_CLOSE) {
                    skip = grad;
                } else if (kind == G.RESIDUAL) {
                    record |= skip << SKIP;
                    (backward, grad) = (1, n);
                } else if (kind == G.ATTENTION) {
                    backward = below ? 20 : 15;
                    if (below) grad = n + 19;
                    // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                } else if ((1 << kind) & TRAINED != 0) {
                    // linear, conv2d, layer_norm: dW, db, dX; embedding: its two tables
                    backward = below && kind != G.EMBEDDING ? 3 : 2;
                    if (backward == 3) grad = n + 2;
                    // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                } else if ((1 << kind) & NODELESS == 0) {
                    (backward, grad) = (1, n); // relu, pooling, dropout, gelu
                }
                entries[l] = record | backward << BWD_COUNT;
                n += backward;
            }
            (p.layers, p.entries, p.body, p.clip) = (layers, entries, n, m.clip);
            if (m.clip) n += 2 * m.params + 1; // the clipping block (see {_clipNode})
            p.inter = n;
            (p.params, p.adam, p.nextToken) = (m.params, m.adam, m.nextToken);
            p.count = n + m.params * (m.adam ? 3 : 2);
        }
    }

    /// @dev Entries without nodes: flatten, reshape, a residual block's start (forward).
    // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
    uint256 private constant NODELESS = 1 << G.FLATTEN | 1 << G.RESHAPE | 1 << G.RESIDUAL;
    /// @dev Entries with two parameters and their gradients.
    // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
    uint256 private constant TRAINED = 1 << G.LINEAR | 1 << G.CONV2D | 1 << G.LAYER_NORM | 1 << G.EMBEDDING;

    /// @dev Node `i`'s word: `op | layer << 8 | param << 16 | arity << 24`, then the input
    ///      references of 40 bits from bit 32.
    function _wordAt(Plan memory p, uint256 i) private pure returns (uint256) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            if (i >= p.inter) return _optimizer(p, i - p.inter);
            if (i >= p.body) return _clipNode(p, i - p.body);
            if (i < 3) {
                if (i == 0) return OP_SCHEDULE;
                if (i == 1) return _word(OP_GATHER, 0, 1, ref(REF_FEATURES, 0));
                // a language model's targets: tokens 1..=T of the row (param 1: from column 1)
                if (p.nextToken) return _word(OP_GATHER, 0, 1, ref(REF_FEATURES, 0)) | 1 << 16;
                return _word(OP_GATHER, 0, 1, ref(REF_LABELS, 0));
            }
            uint256 s = p.logSoftmax;
            if (i == s) return _word(OP_LOG_SOFTMAX, 0, 1, p.logits);
            if (i == s + 1) return _word(OP_XENT_GRAD, 0, 2, _two(s, ref(REF_NODE, 2)));
            bool backward = i > s;
            (uint256 l, uint256 k) = _entryOf(p, i, backward);
            if (backward) return _backwardWord(p, l, k);
            return _forwardWord(p, l, k);
        }
    }

    /// @notice The table of {Plan.entryOfNode}: the layer entry of every forward and backward
    ///         node (the others, below 3, the loss pair and from `body` on, are 0 and never
    ///         looked up). Computed once, for a model image.
    function entryTable(Plan memory p) internal pure returns (uint256[] memory table) {
        unchecked {
            table = new uint256[]((p.body + 31) / 32);
            uint256 s = p.logSoftmax;
            for (uint256 i = 3; i < p.body; ++i) {
                if (i == s || i == s + 1) continue;
                (uint256 l,) = _searchEntry(p.entries, i, i > s);
                table[i / 32] |= l << (8 * (i % 32));
            }
        }
    }

    /// @dev The entry whose forward (or backward) nodes hold node `i`, and `i`'s place among
    ///      them: from the table when the plan has one, by a search otherwise.
    function _entryOf(Plan memory p, uint256 i, bool backward) private pure returns (uint256, uint256) {
        unchecked {
            if (p.entryOfNode.length == 0) return _searchEntry(p.entries, i, backward);
            uint256 l = (p.entryOfNode[i / 32] >> (8 * (i % 32))) & 0xFF;
            return (l, i - _field(p.entries[l], backward ? BWD_START : FWD_START));
        }
    }

    function _searchEntry(uint256[] memory entries, uint256 i, bool backward)
        private
        pure
        returns (uint256, uint256)
    {
        unchecked {
            (uint256 at, uint256 counted) = backward ? (BWD_START, BWD_COUNT) : (FWD_START, FWD_COUNT);
            for (uint256 l; l < entries.length; ++l) {
                uint256 record = entries[l];
                uint256 start = _field(record, at);
                if (i >= start && i < start + ((record >> counted) & 0xFF)) return (l, i - start);
            }
            return (0, 0); // unreachable: every stored node belongs to an entry
        }
    }

    /// @dev Forward node `k` of entry `l`, as the Rust `forward` builds them.
    function _forwardWord(Plan memory p, uint256 l, uint256 k) private pure returns (uint256) {
        unchecked {
            G.Layer memory layer = p.layers[l];
            uint256 kind = layer.kind;
            uint256 w = layer.firstParam;
            uint256 x = _field(p.entries[l], INPUT);
            if (kind == G.RESIDUAL_CLOSE) {
                // add(the block's input, its last output)
                return _word(OP_ADD, l, 2, _two(_field(p.entries[layer.a], INPUT), x));
            }
            uint256 n = _field(p.entries[l], FWD_START);
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            if ((1 << kind) & (1 << G.LINEAR | 1 << G.CONV2D | 1 << G.EMBEDDING) != 0) {
                uint256 op = kind == G.LINEAR ? OP_LINEAR : kind == G.CONV2D ? OP_CONV : OP_EMBED;
                return _word(op, l, 3, _three(x, ref(REF_PARAM, w), ref(REF_PARAM, w + 1)));
            }
            if (kind == G.RELU) return _word(OP_RELU, l, 1, x);
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            if ((1 << kind) & G.POOLING != 0) {
                return _word(kind == G.MAXPOOL2D ? OP_MAXPOOL : OP_AVGPOOL, l, 1, x);
            }
            if (kind == G.DROPOUT) return _word(OP_DROPOUT, l, 1, x);
            if (kind == G.GELU) return _word(OP_GELU, l, 1, x);
            if (kind == G.LAYER_NORM) {
                // S = layer_norm_stats(X), then Y = layer_norm(X, S, γ, β)
                if (k == 0) return _word(OP_LN_STATS, l, 1, x);
                return _word(OP_LN, l, 4, _three(x, n, ref(REF_PARAM, w)) | ref(REF_PARAM, w + 1) << 120);
            }
            // causal self-attention: q, k, v, scores(q, k), stats(scores), probs(scores, stats),
            // context(probs, v), the output projection
            if (k < 3) {
                return
                    _word(
                        OP_LINEAR, l, 3, _three(x, ref(REF_PARAM, w + 2 * k), ref(REF_PARAM, w + 2 * k + 1))
                    );
            }
            if (k == 3) return _word(OP_ATTN_SCORES, l, 2, _two(n, n + 1));
            if (k == 4) return _word(OP_ATTN_STATS, l, 1, n + 3);
            if (k == 5) return _word(OP_ATTN_SOFTMAX, l, 2, _two(n + 3, n + 4));
            if (k == 6) return _word(OP_ATTN_CONTEXT, l, 2, _two(n + 5, n + 2));
            return _word(OP_LINEAR, l, 3, _three(n + 6, ref(REF_PARAM, w + 6), ref(REF_PARAM, w + 7)));
        }
    }

    /// @dev Backward node `k` of entry `l`, as the Rust `planned_step_graph`
    ///      builds them from the running gradient `dY`: linear and conv2d `dW(dY, X)`, `db(dY)`,
    ///      `dX(dY, W)`; layer norm `dγ(X, S, dY)`, `dβ(dY)`, `dX(X, S, γ, dY)`; embedding
    ///      `dE(tokens, dY)`, `dP(dY)`; relu, max pooling, GELU `(X, dY)`; average pooling and
    ///      dropout `(dY)`; a residual block's start `add(dY, skip)`; attention as
    ///      {_attentionBackwardWord}. A parameter's gradient names it in `param`.
    function _backwardWord(Plan memory p, uint256 l, uint256 k) private pure returns (uint256) {
        unchecked {
            G.Layer memory layer = p.layers[l];
            uint256 record = p.entries[l];
            uint256 kind = layer.kind;
            uint256 w = layer.firstParam;
            uint256 x = _field(record, INPUT);
            uint256 dy = _field(record, GRAD_IN);
            if (kind == G.ATTENTION) return _attentionBackwardWord(layer, l, record, k);
            if (kind == G.RESIDUAL) return _word(OP_ADD, l, 2, _two(dy, _field(record, SKIP)));
            if (kind == G.RELU || kind == G.MAXPOOL2D || kind == G.GELU) {
                uint256 op = kind == G.RELU ? OP_RELU_GRAD : kind == G.GELU ? OP_GELU_GRAD : OP_MAXPOOL_GRAD;
                return _word(op, l, 2, _two(x, dy));
            }
            if (kind == G.AVGPOOL2D || kind == G.DROPOUT) {
                return _word(kind == G.DROPOUT ? OP_DROPOUT_GRAD : OP_AVGPOOL_GRAD, l, 1, dy);
            }
            if (kind == G.LAYER_NORM) {
                // its statistics precede its output Y
                uint256 stats = _field(record, OUTPUT) - 1;
                if (k == 0) return _word(OP_LN_WEIGHT_GRAD, l, 3, _three(x, stats, dy)) | w << 16;
                if (k == 1) return _word(OP_LN_BIAS_GRAD, l, 1, dy) | (w + 1) << 16;
                uint256 refs = _three(x, stats, ref(REF_PARAM, w)) | dy << 120;
                return _word(OP_LN_INPUT_GRAD, l, 4, refs);
            }
            if (kind == G.EMBEDDING) {
                if (k == 0) return _word(OP_EMBED_GRAD, l, 2, _two(x, dy)) | w << 16;
                return _word(OP_POSITION_GRAD, l, 1, dy) | (w + 1) << 16;
            }
            // linear, conv2d
            bool conv = kind == G.CONV2D;
            if (k == 0) {
                return _word(conv ? OP_CONV_WEIGHT_GRAD : OP_WEIGHT_GRAD, l, 2, _two(dy, x)) | w << 16;
            }
            if (k == 1) return _word(conv ? OP_CONV_BIAS_GRAD : OP_BIAS_GRAD, l, 1, dy) | (w + 1) << 16;
            return _word(conv ? OP_CONV_INPUT_GRAD : OP_INPUT_GRAD, l, 2, _two(dy, ref(REF_PARAM, w)));
        }
    }

    /// @dev Backward node `k` of causal self-attention, as the Rust `attention_backward`, from
    ///      its first node `n`, the output's gradient `dY`, its input `x` and output `out` (q =
    ///      `out − 7`, k, v, scores, stats, probs, context = `out − 1`): `dWo(dY, context)`,
    ///      `dbo(dY)`, `dcontext(dY, Wo)`, `dprobs(dcontext, v)`, `dv(probs, dcontext)`,
    ///      `dot(probs, dprobs)`, `dscores(probs, dprobs, dot)`, `dq(dscores, k)`,
    ///      `dk(dscores, q)`, then `dW(d, x)`, `db(d)` of q, k, v and, below the first trained
    ///      layer, the input's gradient through each projection and their sum
    ///      `(dxq + dxk) + dxv`.
    function _attentionBackwardWord(G.Layer memory layer, uint256 l, uint256 record, uint256 k)
        private
        pure
        returns (uint256)
    {
        unchecked {
            uint256 w = layer.firstParam;
            uint256 n = _field(record, BWD_START);
            uint256 out = _field(record, OUTPUT);
            uint256 dy = _field(record, GRAD_IN);
            if (k == 0) return _word(OP_WEIGHT_GRAD, l, 2, _two(dy, out - 1)) | (w + 6) << 16;
            if (k == 1) return _word(OP_BIAS_GRAD, l, 1, dy) | (w + 7) << 16;
            if (k == 2) return _word(OP_INPUT_GRAD, l, 2, _two(dy, ref(REF_PARAM, w + 6)));
            uint256 probs = out - 2;
            if (k == 3) return _word(OP_ATTN_PROBS_GRAD, l, 2, _two(n + 2, out - 5));
            if (k == 4) return _word(OP_ATTN_VALUE_GRAD, l, 2, _two(probs, n + 2));
            if (k == 5) return _word(OP_ATTN_DOT, l, 2, _two(probs, n + 3));
            if (k == 6) return _word(OP_ATTN_SOFTMAX_GRAD, l, 3, _three(probs, n + 3, n + 5));
            if (k == 7) return _word(OP_ATTN_QUERY_GRAD, l, 2, _two(n + 6, out - 6));
            if (k == 8) return _word(OP_ATTN_KEY_GRAD, l, 2, _two(n + 6, out - 7));
            // the gradients of q, k, v: nodes n + 7, n + 8, n + 4
            if (k < 18) return _projectionBackwardWord(l, w, record, k);
            if (k == 18) return _word(OP_ADD, l, 2, _two(n + 15, n + 16));
            return _word(OP_ADD, l, 2, _two(n + 18, n + 17));
        }
    }

    /// @dev Backward nodes 9 to 17 of causal self-attention (first parameter `w`, record
    ///      `record`): `dW(d, x)`, `db(d)` of q, k and v, then `dX(d, W)` of each, with `d` their
    ///      outputs' gradients, nodes `n + 7`, `n + 8` and `n + 4`.
    function _projectionBackwardWord(uint256 l, uint256 w, uint256 record, uint256 k)
        private
        pure
        returns (uint256)
    {
        unchecked {
            uint256 j = k < 15 ? (k - 9) / 2 : k - 15;
            uint256 n = _field(record, BWD_START);
            uint256 d = j == 2 ? n + 4 : n + 7 + j;
            if (k >= 15) return _word(OP_INPUT_GRAD, l, 2, _two(d, ref(REF_PARAM, w + 2 * j)));
            if (k % 2 == 1) {
                return _word(OP_WEIGHT_GRAD, l, 2, _two(d, _field(record, INPUT))) | (w + 2 * j) << 16;
            }
            return _word(OP_BIAS_GRAD, l, 1, d) | (w + 2 * j + 1) << 16;
        }
    }

    /// @dev The gradient node of parameter `q`: among its entry's backward nodes (attention's
    ///      output projection's come first, then those of q, k, v after seven more).
    function _gradNode(Plan memory p, uint256 q) private pure returns (uint256) {
        unchecked {
            G.Layer[] memory layers = p.layers;
            for (uint256 l; l < layers.length; ++l) {
                uint256 w = layers[l].firstParam;
                if (w == G.NONE || q < w) continue;
                uint256 j = q - w;
                bool attention = layers[l].kind == G.ATTENTION;
                if (j >= (attention ? 8 : 2)) continue;
                uint256 start = _field(p.entries[l], BWD_START);
                if (!attention) return start + j;
                return start + (j >= 6 ? j - 6 : j + 9);
            }
            return 0; // unreachable: every parameter belongs to an entry
        }
    }

    /// @dev Node `j` of the gradient-clipping block, which follows the backward nodes
    ///      (`docs/repops.md` § Gradient clipping), packed like a stored node: for `j < P`,
    ///      `grad_square_sum` of parameter `j` (the first reads its gradient, the others the
    ///      sum before and their gradient); `j = P`, the scale; then `clip_grad(g_q, scale)`
    ///      per parameter, which the optimizer reads instead of `g_q` ({_gradOf}).
    function _clipNode(Plan memory p, uint256 j) private pure returns (uint256) {
        unchecked {
            uint256 params = p.params;
            uint256 i = p.body + j;
            if (j == 0) return OP_GRAD_SQUARE_SUM | 1 << 24 | _gradNode(p, 0) << 32;
            if (j < params) {
                return OP_GRAD_SQUARE_SUM | j << 16 | 2 << 24 | _two(i - 1, _gradNode(p, j)) << 32;
            }
            if (j == params) return OP_CLIP_SCALE | 1 << 24 | (i - 1) << 32;
            uint256 q = j - params - 1;
            return OP_CLIP_GRAD | q << 16 | 2 << 24 | _two(_gradNode(p, q), p.body + params) << 32;
        }
    }

    /// @dev The gradient the optimizer reads for parameter `q`: its clipped gradient when the
    ///      job clips, else its gradient node.
    function _gradOf(Plan memory p, uint256 q) private pure returns (uint256) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            return p.clip ? p.body + p.params + 1 + q : _gradNode(p, q);
        }
    }

    /// @dev A node word: `op | layer << 8 | arity << 24 | refs << 32`.
    function _word(uint256 op, uint256 layer, uint256 arity, uint256 refs) private pure returns (uint256) {
        return op | layer << 8 | arity << 24 | refs << 32;
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
