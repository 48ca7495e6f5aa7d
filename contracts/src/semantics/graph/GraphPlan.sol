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

    /// @dev Ops as bit masks (`1 << op`), by the shape of their output: a parameter's
    ///      (the optimizer's), a weight's, a bias's, the layer's input (per sample, batched).
    // forge-lint: disable-start(incorrect-shift) -- bit masks: the literal 1 is meant
    uint256 private constant OPTIMIZER_OPS = 1 << OP_SGD_VELOCITY | 1 << OP_SGD_WEIGHT | 1 << OP_ADAM_M | 1
        << OP_ADAM_V | 1 << OP_ADAM_WEIGHT | 1 << OP_CLIP_GRAD;
    uint256 private constant SCALARS = 1 << OP_GRAD_SQUARE_SUM | 1 << OP_CLIP_SCALE;
    uint256 private constant WEIGHT_GRADS =
        1 << OP_WEIGHT_GRAD | 1 << OP_CONV_WEIGHT_GRAD | 1 << OP_LN_WEIGHT_GRAD;
    uint256 private constant BIAS_GRADS = 1 << OP_BIAS_GRAD | 1 << OP_CONV_BIAS_GRAD | 1 << OP_LN_BIAS_GRAD;
    uint256 private constant INPUT_SHAPED = 1 << OP_INPUT_GRAD | 1 << OP_CONV_INPUT_GRAD | 1 << OP_RELU_GRAD
        | 1 << OP_MAXPOOL_GRAD | 1 << OP_AVGPOOL_GRAD | 1 << OP_DROPOUT_GRAD | 1 << OP_LN_INPUT_GRAD | 1
        << OP_GELU_GRAD;
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

    /// @notice How many intermediates a step of model `m` produces ({build}'s `inter`),
    ///      counted without building the nodes.
    function intermediates(G.Model memory m) internal pure returns (uint256 count) {
        // node, layer and parameter indices stay below 2^16, dimensions below 2^32: nothing overflows
        unchecked {
            uint256 layers = m.layers.length;
            uint256 firstTrained = layers;
            count = 5; // schedule, x, y, log_softmax, xent_grad
            for (uint256 l; l < layers; ++l) {
                G.Layer memory layer = m.layers[l];
                uint8 kind = layer.kind;
                if (kind == G.FLATTEN || kind == G.RESHAPE) continue;
                if (layer.firstParam != G.NONE && firstTrained == layers) firstTrained = l;
                count += kind == G.LAYER_NORM ? 2 : 1; // the forward nodes
            }
            for (uint256 l = firstTrained; l < layers; ++l) {
                G.Layer memory layer = m.layers[l];
                if (layer.firstParam != G.NONE) count += l > firstTrained ? 3 : 2;
                else if (layer.kind != G.FLATTEN && layer.kind != G.RESHAPE) ++count;
            }
            if (m.clip) count += 2 * m.params + 1;
        }
    }

    /// @notice The step's nodes for model `m`.
    /// @dev    Written for gas: it runs on every call of the one-step proof. Node words go
    ///         straight into one array (at most 5, then 2 per layer and 3 more per layer with
    ///         parameters: up to two forward nodes and three backward ones), indices stay
    ///         below 2^16, so nothing can overflow.
    function build(G.Model memory m) internal pure returns (Plan memory p) {
        unchecked {
            uint256 layers = m.layers.length;
            uint256[] memory nodes = new uint256[](5 + 2 * layers + (3 * m.params) / 2);
            uint256[] memory grads = new uint256[](m.params);
            uint256[] memory layerIn = new uint256[](layers); // each layer's input node
            _put(nodes, 0, OP_SCHEDULE);
            _put(nodes, 1, _word(OP_GATHER, 0, 1, ref(REF_FEATURES, 0)));
            _put(nodes, 2, _word(OP_GATHER, 0, 1, ref(REF_LABELS, 0)));
            uint256 n = 3;
            uint256 current = 1;
            uint256 firstTrained = layers;
            for (uint256 l; l < layers; ++l) {
                G.Layer memory layer = m.layers[l];
                layerIn[l] = current;
                uint8 kind = layer.kind;
                // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                uint256 bit = 1 << kind;
                uint256 word;
                // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                if (bit & (1 << G.LINEAR | 1 << G.CONV2D) != 0) {
                    if (firstTrained == layers) firstTrained = l;
                    uint256 w = layer.firstParam;
                    word = _word(
                        kind == G.LINEAR ? OP_LINEAR : OP_CONV,
                        l,
                        3,
                        _three(current, ref(REF_PARAM, w), ref(REF_PARAM, w + 1))
                    );
                } else if (kind == G.RELU) {
                    word = _word(OP_RELU, l, 1, current);
                } else if (bit & G.POOLING != 0) {
                    word = _word(kind == G.MAXPOOL2D ? OP_MAXPOOL : OP_AVGPOOL, l, 1, current);
                } else if (kind == G.DROPOUT) {
                    word = _word(OP_DROPOUT, l, 1, current);
                } else if (kind == G.LAYER_NORM) {
                    // S = layer_norm_stats(X), then Y = layer_norm(X, S, γ, β): S is Y − 1
                    if (firstTrained == layers) firstTrained = l;
                    uint256 w = layer.firstParam;
                    uint256 head = l << 8 | current << 32;
                    _put(nodes, n, head | OP_LN_STATS | 1 << 24);
                    word = head | OP_LN | 4 << 24 | n << 72 | ref(REF_PARAM, w) << 112 | ref(REF_PARAM, w + 1)
                        << 152;
                    ++n;
                } else if (kind == G.GELU) {
                    word = OP_GELU | l << 8 | 1 << 24 | current << 32;
                } else {
                    continue; // flatten, reshape: no node
                }
                _put(nodes, n, word);
                current = n++;
            }
            uint256 logSoftmax = n;
            _put(nodes, n++, _word(OP_LOG_SOFTMAX, 0, 1, current));
            uint256 grad = n;
            _put(nodes, n++, _word(OP_XENT_GRAD, 0, 2, _two(logSoftmax, ref(REF_NODE, 2))));
            for (uint256 l = layers; l > firstTrained;) {
                --l;
                G.Layer memory layer = m.layers[l];
                uint8 kind = layer.kind;
                uint256 input = layerIn[l];
                // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                if ((1 << kind) & (1 << G.LINEAR | 1 << G.CONV2D) != 0) {
                    bool conv = kind == G.CONV2D;
                    uint256 w = layer.firstParam;
                    grads[w] = n;
                    _put(
                        nodes,
                        n++,
                        _word(conv ? OP_CONV_WEIGHT_GRAD : OP_WEIGHT_GRAD, l, 2, _two(grad, input))
                    );
                    grads[w + 1] = n;
                    _put(nodes, n++, _word(conv ? OP_CONV_BIAS_GRAD : OP_BIAS_GRAD, l, 1, grad));
                    if (l > firstTrained) {
                        uint256 op = conv ? OP_CONV_INPUT_GRAD : OP_INPUT_GRAD;
                        _put(nodes, n, _word(op, l, 2, _two(grad, ref(REF_PARAM, w))));
                        grad = n++;
                    }
                } else if (kind == G.RELU) {
                    _put(nodes, n, _word(OP_RELU_GRAD, l, 2, _two(input, grad)));
                    grad = n++;
                } else if (kind == G.MAXPOOL2D) {
                    _put(nodes, n, _word(OP_MAXPOOL_GRAD, l, 2, _two(input, grad)));
                    grad = n++;
                } else if (kind == G.AVGPOOL2D) {
                    _put(nodes, n, _word(OP_AVGPOOL_GRAD, l, 1, grad));
                    grad = n++;
                } else if (kind == G.DROPOUT) {
                    _put(nodes, n, _word(OP_DROPOUT_GRAD, l, 1, grad));
                    grad = n++;
                } else if (kind == G.LAYER_NORM) {
                    // its statistics precede its output Y, which the next layer reads (flatten
                    // and reshape pass it on), or the log-softmax
                    uint256 stats = (l + 1 < layers ? layerIn[l + 1] : current) - 1;
                    uint256 w = layer.firstParam;
                    (grads[w], grads[w + 1]) = (n, n + 1);
                    (n, grad) =
                        _normBackward(nodes, n, l | w << 8, input | stats << 16, grad, l > firstTrained);
                } else if (kind == G.GELU) {
                    _put(nodes, n, OP_GELU_GRAD | l << 8 | 2 << 24 | input << 32 | grad << 72);
                    grad = n++;
                } // flatten, reshape: the gradient passes through
            }
            p.nodes = nodes;
            (p.body, p.clip) = (n, m.clip);
            if (m.clip) n += 2 * m.params + 1; // the clipping block, a formula (see {_clipNode})
            p.inter = n;
            p.grads = grads;
            (p.params, p.adam) = (m.params, m.adam);
            p.count = n + m.params * (m.adam ? 3 : 2);
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
            _put(nodes, n, head | OP_LN_WEIGHT_GRAD | 3 << 24 | grad << 112);
            _put(nodes, n + 1, OP_LN_BIAS_GRAD | (lw & 0xFF) << 8 | 1 << 24 | grad << 32);
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
                return input0 >> 32 == REF_FEATURES ? Shapes.two(m.batch, m.features) : Shapes.one(m.batch);
            }
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            uint256 bit = 1 << op; // ops by bit masks: one test per shape rule
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            if (bit & (1 << OP_LOG_SOFTMAX | 1 << OP_XENT_GRAD) != 0) return Shapes.two(m.batch, m.classes);
            if (bit & OPTIMIZER_OPS != 0) return paramShape(m, param);
            if (bit & SCALARS != 0) return Shapes.one(1);
            G.Layer memory layer = m.layers[layer_];
            if (bit & WEIGHT_GRADS != 0) return paramShape(m, layer.firstParam);
            if (bit & BIAS_GRADS != 0) return Shapes.one(op == OP_LN_BIAS_GRAD ? layer.b : layer.a);
            if (bit & INPUT_SHAPED != 0) return Shapes.prepend(m.batch, layer.inShape);
            // the row statistics: [R, 2], R = batch × rows per sample (u32 factors)
            if (op == OP_LN_STATS) return Shapes.two(m.batch * layer.c, 2);
            return Shapes.prepend(m.batch, layer.outShape); // a forward node
        }
    }
}
