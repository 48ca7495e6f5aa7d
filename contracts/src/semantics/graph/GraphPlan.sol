// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphSpecCodec as G} from "./GraphSpecCodec.sol";
import {Shapes} from "./Shapes.sol";

/// @title GraphPlan
/// @notice The op list of one training step of a layer graph, node by node, as the Rust
///         `train::planned_step_graph` builds it (`docs/repops.md` § 6): `0` schedule, `1` x,
///         `2` y, the forward nodes, `log_softmax`, `xent_grad`, the backward nodes (layers
///         in reverse, down to the first with parameters), then per parameter the optimizer
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
        uint256 layers = m.layers.length;
        uint256 firstTrained = layers;
        count = 5; // schedule, x, y, log_softmax, xent_grad
        for (uint256 l; l < layers; ++l) {
            uint8 kind = m.layers[l].kind;
            if (kind == G.FLATTEN || kind == G.RESHAPE) continue;
            if ((kind == G.LINEAR || kind == G.CONV2D) && firstTrained == layers) firstTrained = l;
            ++count; // the forward node
        }
        for (uint256 l = firstTrained; l < layers; ++l) {
            uint8 kind = m.layers[l].kind;
            if (kind == G.LINEAR || kind == G.CONV2D) count += l > firstTrained ? 3 : 2;
            else if (kind != G.FLATTEN && kind != G.RESHAPE) ++count;
        }
    }

    /// @notice The step's nodes for model `m`.
    /// @dev    Written for gas: it runs on every call of the one-step proof. Node words go
    ///         straight into one array (at most 5 + 4 per layer: a forward node and up to three
    ///         backward ones), indices stay below 2^16, so nothing can overflow.
    function build(G.Model memory m) internal pure returns (Plan memory p) {
        unchecked {
            uint256 layers = m.layers.length;
            uint256[] memory nodes = new uint256[](5 + 4 * layers);
            uint256[] memory grads = new uint256[](m.params);
            uint256[] memory layerIn = new uint256[](layers);
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
                uint256 word;
                if (kind == G.LINEAR || kind == G.CONV2D) {
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
                } else if (kind == G.MAXPOOL2D || kind == G.AVGPOOL2D) {
                    word = _word(kind == G.MAXPOOL2D ? OP_MAXPOOL : OP_AVGPOOL, l, 1, current);
                } else if (kind == G.DROPOUT) {
                    word = _word(OP_DROPOUT, l, 1, current);
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
                if (kind == G.LINEAR || kind == G.CONV2D) {
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
                } // flatten, reshape: the gradient passes through
            }
            p.nodes = nodes;
            p.inter = n;
            p.grads = grads;
            (p.params, p.adam) = (m.params, m.adam);
            p.count = n + m.params * (m.adam ? 3 : 2);
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
        uint256 i = p.inter + j;
        uint256 q = j / (p.adam ? 3 : 2);
        uint256 r = j % (p.adam ? 3 : 2);
        uint256 head = ref(REF_NODE, 0) | ref(REF_PARAM, q) << 40;
        uint256 moments = head | p.grads[q] << 80 | ref(REF_MOMENT, q) << 120;
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

    /// @notice Node `i`, unpacked.
    function node(Plan memory p, uint256 i) internal pure returns (Node memory nd) {
        uint256 word = i < p.inter ? p.nodes[i] : _optimizer(p, i - p.inter);
        nd.op = uint8(word);
        nd.layer = (word >> 8) & 0xFF;
        nd.param = (word >> 16) & 0xFF;
        nd.arity = (word >> 24) & 0xFF;
        for (uint256 s; s < nd.arity; ++s) {
            nd.inputs[s] = (word >> (32 + 40 * s)) & 0xFFFFFFFFFF;
        }
    }

    /// @notice The shape of parameter `q` (a weight's, then its bias).
    function paramShape(G.Model memory m, uint256 q) internal pure returns (uint256) {
        return m.paramShapes[q];
    }

    /// @notice The output shape of node `i`, read without unpacking its inputs.
    function shapeAt(G.Model memory m, Plan memory p, uint256 i) internal pure returns (uint256) {
        uint256 word = i < p.inter ? p.nodes[i] : _optimizer(p, i - p.inter);
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
        if (op == OP_SCHEDULE) return Shapes.one(4);
        if (op == OP_GATHER) {
            return input0 >> 32 == REF_FEATURES ? Shapes.two(m.batch, m.features) : Shapes.one(m.batch);
        }
        if (op == OP_LOG_SOFTMAX || op == OP_XENT_GRAD) return Shapes.two(m.batch, m.classes);
        if (op >= OP_SGD_VELOCITY && op <= OP_ADAM_WEIGHT) return paramShape(m, param);
        G.Layer memory layer = m.layers[layer_];
        if (op == OP_WEIGHT_GRAD || op == OP_CONV_WEIGHT_GRAD) return paramShape(m, layer.firstParam);
        if (op == OP_BIAS_GRAD || op == OP_CONV_BIAS_GRAD) return Shapes.one(layer.a);
        if (
            op == OP_INPUT_GRAD || op == OP_CONV_INPUT_GRAD || op == OP_RELU_GRAD || op == OP_MAXPOOL_GRAD
                || op == OP_AVGPOOL_GRAD || op == OP_DROPOUT_GRAD
        ) return Shapes.prepend(m.batch, layer.inShape);
        return Shapes.prepend(m.batch, layer.outShape); // a forward node
    }
}
