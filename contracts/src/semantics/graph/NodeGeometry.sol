// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DenseOps} from "../ops/DenseOps.sol";
import {ImagePrograms} from "../ops/ImagePrograms.sol";
import {GraphPlan as P} from "./GraphPlan.sol";
import {GraphSpecCodec as G} from "./GraphSpecCodec.sol";
import {Shapes} from "./Shapes.sol";

/// @title NodeGeometry
/// @notice What a node's element programs need to know of its layer: the dimensions of a
///         dense node, the geometry of an image node, and the longest program of any node
///         (the cost model, Rust `Op::max_program_len`).
library NodeGeometry {
    /// @notice Whether `op`'s programs are {ImagePrograms}' (the image ops and dropout).
    function isImage(uint8 op) internal pure returns (bool) {
        return op >= P.OP_CONV && op < P.OP_LN_STATS;
    }

    /// @notice Whether `op`'s programs are {NormPrograms}' (layer norm, GELU, clipping).
    function isNorm(uint8 op) internal pure returns (bool) {
        return op >= P.OP_LN_STATS && op < P.OP_ADD;
    }

    /// @notice Whether `op`'s programs are {AttentionPrograms}' (the transformer's).
    function isAttention(uint8 op) internal pure returns (bool) {
        return op >= P.OP_ADD;
    }

    /// @notice The geometry word of a transformer node ({AttentionPrograms}): attention ops
    ///         `B | T << 32 | H << 64 | d << 96`, embedding ops `B | T << 32 | V << 64 | D << 96`
    ///         (a residual add reads none).
    function attention(G.Model memory m, P.Node memory nd) internal pure returns (uint256) {
        G.Layer memory layer = m.layers[nd.layer];
        uint256 t = Shapes.dim(layer.inShape, 0);
        // below 2^32 each: no overflow
        if (layer.kind == G.EMBEDDING) return m.batch | t << 32 | m.classes << 64 | layer.a << 96;
        if (layer.kind != G.ATTENTION) return 0;
        return m.batch | t << 32 | layer.a << 64 | (Shapes.dim(layer.inShape, 1) / layer.a) << 96;
    }

    /// @notice The geometry of a layer-norm node (see {NormPrograms}): the row width `D`, the
    ///         rows `R` over the batch and the bits of `ε` (zero for GELU, whose programs read
    ///         none of them).
    function norm(G.Model memory m, P.Node memory nd)
        internal
        pure
        returns (uint256 d, uint256 rows, uint32 eps)
    {
        uint8 op = nd.op;
        // gradient clipping: a sum's gradient length and whether it continues another (1);
        // the scale's max norm
        if (op == P.OP_GRAD_SQUARE_SUM) {
            return (Shapes.elements(P.paramShape(m, nd.param)), 0, nd.param > 0 ? 1 : 0);
        }
        if (op == P.OP_CLIP_SCALE) return (0, 0, m.maxNorm);
        G.Layer memory layer = m.layers[nd.layer];
        if (layer.kind != G.LAYER_NORM || op == P.OP_CLIP_GRAD) return (0, 0, 0);
        // below 2^32 each: no overflow
        return (layer.b, m.batch * layer.c, uint32(layer.a));
    }

    /// @notice The dimensions of a dense node (see {DenseOps}).
    function dims(G.Model memory m, P.Node memory nd) internal pure returns (DenseOps.Dims memory d) {
        // below 2^32 each, products of a validated spec's below 2^31: no overflow
        unchecked {
            uint8 op = nd.op;
            d.rows = m.batch;
            if (op == P.OP_GATHER) {
                // the x row (or a language model's targets, from column `param`) of each
                // dataset row; a label
                bool features = nd.inputs[0] >> 32 == P.REF_FEATURES;
                (d.k, d.n) = features ? (m.inputLen, m.features | nd.param << 32) : (1, 1);
            } else if (op == P.OP_LOG_SOFTMAX || op == P.OP_XENT_GRAD) {
                // a row per sample, or per position of a language model's sequences
                (d.rows, d.n) = (m.batch * (m.nextToken ? m.inputLen : 1), m.classes);
            } else if (
                op == P.OP_LINEAR || op == P.OP_WEIGHT_GRAD || op == P.OP_INPUT_GRAD || op == P.OP_BIAS_GRAD
            ) {
                // on the last dimension, every other one a row; attention's projections W → W
                G.Layer memory layer = m.layers[nd.layer];
                uint256 k = Shapes.last(layer.inShape);
                (d.rows, d.k) = (m.batch * (Shapes.elements(layer.inShape) / k), k);
                d.n = layer.kind == G.ATTENTION ? k : layer.a;
            }
        }
    }

    /// @notice The geometry of an image node's layer (only the batch for dropout).
    function geometry(G.Model memory m, P.Node memory nd)
        internal
        pure
        returns (ImagePrograms.Geometry memory)
    {
        return geometryOf(m.layers[nd.layer], m.batch);
    }

    /// @notice The geometry of image layer `layer` over a batch of `batch` (only the batch for
    ///         dropout).
    function geometryOf(G.Layer memory layer, uint256 batch)
        internal
        pure
        returns (ImagePrograms.Geometry memory g)
    {
        g.batch = batch;
        if (layer.kind == G.DROPOUT) return g;
        (g.c, g.h, g.w) =
        (Shapes.dim(layer.inShape, 0), Shapes.dim(layer.inShape, 1), Shapes.dim(layer.inShape, 2));
        (g.co, g.oh, g.ow) =
        (Shapes.dim(layer.outShape, 0), Shapes.dim(layer.outShape, 1), Shapes.dim(layer.outShape, 2));
        if (layer.kind == G.CONV2D) {
            (g.k, g.s, g.p) = (layer.b, layer.c, layer.d);
        } else {
            (g.k, g.s) = (layer.a, layer.b);
        }
    }

    /// @notice An upper bound on the micro-steps of any element of node `nd` (Rust
    ///         `Op::max_program_len`).
    function maxLength(G.Model memory m, P.Node memory nd) internal pure returns (uint256) {
        uint8 op = nd.op;
        if (isAttention(op)) return _attentionMaxLength(op, attention(m, nd));
        if (isNorm(op)) {
            (uint256 width, uint256 rows,) = norm(m, nd);
            if (op == P.OP_LN_STATS) return 3 * width + 5;
            if (op == P.OP_LN) return 3;
            if (op == P.OP_LN_INPUT_GRAD) return 5 * width + 9;
            if (op == P.OP_LN_WEIGHT_GRAD) return 3 * rows;
            if (op == P.OP_LN_BIAS_GRAD) return rows;
            if (op == P.OP_GRAD_SQUARE_SUM) return width;
            if (op == P.OP_CLIP_SCALE) return 4;
            if (op == P.OP_CLIP_GRAD) return 1;
            return op == P.OP_GELU ? 21 : 29;
        }
        if (!isImage(op)) {
            DenseOps.Dims memory d = dims(m, nd);
            if (op == P.OP_SCHEDULE) return 64;
            if (op == P.OP_GATHER || op == P.OP_RELU || op == P.OP_RELU_GRAD || op == P.OP_SGD_WEIGHT) {
                return 1;
            }
            if (op == P.OP_LINEAR) return d.k;
            if (op == P.OP_LOG_SOFTMAX) return 18 * d.n + 20;
            if (op == P.OP_XENT_GRAD) return 18;
            if (op == P.OP_WEIGHT_GRAD || op == P.OP_BIAS_GRAD) return d.rows;
            if (op == P.OP_INPUT_GRAD) return d.n;
            if (op == P.OP_SGD_VELOCITY) return 2;
            if (op == P.OP_ADAM_M) return 3;
            if (op == P.OP_ADAM_V) return 4;
            return 7;
        }
        if (op == P.OP_DROPOUT || op == P.OP_DROPOUT_GRAD) return 3;
        ImagePrograms.Geometry memory g = geometry(m, nd);
        uint256 windows = ((g.k + g.s - 1) / g.s) ** 2;
        if (op == P.OP_CONV) return g.c * g.k * g.k;
        if (op == P.OP_CONV_WEIGHT_GRAD || op == P.OP_CONV_BIAS_GRAD) return g.batch * g.oh * g.ow;
        if (op == P.OP_CONV_INPUT_GRAD) return g.k * g.k * (g.co + 1);
        if (op == P.OP_MAXPOOL || op == P.OP_AVGPOOL) return g.k * g.k;
        if (op == P.OP_MAXPOOL_GRAD) return windows * (2 * g.k * g.k + 2);
        return windows + 1; // OP_AVGPOOL_GRAD
    }

    /// @dev {maxLength} of a transformer node with geometry word `g` (B, T, H or V, d or D).
    function _attentionMaxLength(uint8 op, uint256 g) private pure returns (uint256) {
        (uint256 b, uint256 t, uint256 h, uint256 d) =
            (g & 0xFFFFFFFF, (g >> 32) & 0xFFFFFFFF, (g >> 64) & 0xFFFFFFFF, (g >> 96) & 0xFFFFFFFF);
        if (op == P.OP_ADD || op == P.OP_ATTN_SOFTMAX_GRAD) return op == P.OP_ADD ? 1 : 3;
        if (op == P.OP_EMBED) return 2 * h + 1;
        if (op == P.OP_EMBED_GRAD) return 2 * b * t;
        if (op == P.OP_POSITION_GRAD) return b;
        if (op == P.OP_ATTN_SCORES || op == P.OP_ATTN_PROBS_GRAD) return d + 1;
        if (op == P.OP_ATTN_STATS) return 20 * t;
        if (op == P.OP_ATTN_SOFTMAX) return 20;
        return t; // context, value, dot, query and key gradients
    }
}
