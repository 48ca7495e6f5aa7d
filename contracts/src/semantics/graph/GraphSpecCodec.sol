// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobSpecCodec} from "../../lib/JobSpecCodec.sol";
import {SpecRules} from "../../lib/SpecRules.sol";
import {Shapes} from "./Shapes.sol";

/// @title GraphSpecCodec
/// @notice Reads and checks the canonical spec of any model vtrain trains (`docs/commitments.md`
///         § Job hash, `docs/repops.md` § 6): an `mlp` (model tag 1), expanded to its layer
///         graph, or a layer graph (tag 2). The on-chain twin of the Rust
///         `JobSpec::from_canonical_bytes` (a spec that does not decode reverts with
///         `UnsupportedSpec` or `JobSpecCodec.SpecTooShort`, Rust's `SpecParse`) and of
///         `JobSpec::validate` with `ModelSpec::plan` (`SpecRules.InvalidSpec(field)`, in the
///         Rust order).
library GraphSpecCodec {
    uint8 internal constant LINEAR = 1;
    uint8 internal constant CONV2D = 2;
    uint8 internal constant MAXPOOL2D = 3;
    uint8 internal constant AVGPOOL2D = 4;
    uint8 internal constant FLATTEN = 5;
    uint8 internal constant RESHAPE = 6;
    uint8 internal constant RELU = 7;
    uint8 internal constant DROPOUT = 8;
    uint8 internal constant LAYER_NORM = 9;
    uint8 internal constant GELU = 10;

    /// @dev Layer kinds as bit masks (`1 << kind`) by what follows the tag: one u32, a
    ///      pooling's two, nothing.
    // forge-lint: disable-start(incorrect-shift) -- bit masks: the literal 1 is meant
    uint256 internal constant ONE_FIELD = 1 << LINEAR | 1 << DROPOUT | 1 << LAYER_NORM;
    uint256 internal constant POOLING = 1 << MAXPOOL2D | 1 << AVGPOOL2D;
    uint256 internal constant NO_FIELDS = 1 << FLATTEN | 1 << RELU | 1 << GELU;
    // forge-lint: disable-end(incorrect-shift)

    /// @notice The most layers of a graph, the most dimensions of a per-sample shape, the
    ///         largest kernel, stride or padding, the most values of one sample's activation.
    uint256 internal constant MAX_LAYERS = 64;
    uint256 internal constant MAX_RANK = 4;
    uint256 internal constant MAX_KERNEL = 16;
    uint256 internal constant MAX_SAMPLE_ELEMENTS = 1 << 24;
    /// @dev No parameters.
    uint256 internal constant NONE = type(uint256).max;

    /// @dev One layer with its shapes. `a..d` by kind: linear `out`; conv2d `out_channels,
    ///      kernel, stride, padding`; pooling `kernel, stride` (resolved); reshape its packed
    ///      shape in `a`; dropout the bits of `p`; layer_norm the bits of `ε` in `a`, then (once
    ///      inferred) the row width `D` (the last dimension) in `b` and the rows of one sample
    ///      in `c`.
    struct Layer {
        uint8 kind;
        uint256 a;
        uint256 b;
        uint256 c;
        uint256 d;
        uint256 inShape; // packed per-sample shape (Shapes)
        uint256 outShape;
        uint256 firstParam; // NONE without parameters
    }

    /// @dev The decoded spec. f32 fields hold their bit patterns.
    struct Model {
        uint64 seed;
        uint256 steps;
        uint256 batch;
        uint256 samples;
        uint256 holdout;
        uint256 features;
        uint256 classes;
        bool mlp;
        uint256[] hidden; // mlp only, for its own checks and cost model
        Layer[] layers;
        uint256 params; // parameter tensors
        uint256[] paramShapes; // packed (Shapes), weight then bias per parametrised layer
        bool adam;
        uint32 lr;
        uint32 momentum;
        uint32 beta1;
        uint32 beta2;
        uint32 eps;
        uint32 weightDecay;
        uint8 schedule; // 1 constant, 2 linear warm-up/decay, 3 step, 4 linear warm-up/cosine
        uint256 warmup;
        uint256 every;
        uint32 gamma;
        bool loadsModel; // S_0's weights are a model's (fine-tuning), not drawn from the seed
        bytes32 initialModel; // that model's root
        bool clip; // the gradients are clipped to the global norm `maxNorm`
        uint32 maxNorm;
    }

    /// @notice The spec's model, optimizer or schedule section is not one this semantics
    ///         reads (unknown tag, bad length); `offset` is where decoding stopped.
    error UnsupportedSpec(uint256 offset);

    /// @dev Offset of the dataset format tag in the header: 1 csv, 2 safetensors, 3 text.
    uint256 internal constant FORMAT_OFFSET = 56;

    /// @notice Decodes the canonical spec (Rust `JobSpec::from_canonical_bytes`): the header,
    ///         the model (`u8 1, u32 #hidden, u32 width…, u8 1 (relu)` or `u8 2, u32 rank,
    ///         u32 dim…, u32 #layers, layer…, u8 1 (softmax cross-entropy)`), the optimizer,
    ///         the schedule, the initial weights (nothing when drawn from the seed, `u8 2,
    ///         bytes32 model root` when loaded) and gradient clipping (nothing, or `u8 3, f32
    ///         max_norm`), which must end the spec. Layer shapes are
    ///         inferred only by {plan} (decoding alone checks no bound but the list lengths).
    function parse(bytes calldata spec) internal pure returns (Model memory m, uint256[] memory input) {
        // offsets below the calldata's length plus a few bytes, counts below their bounds: no overflow
        unchecked {
            // The fixed-offset header (JobSpecCodec), read straight from calldata.
            if (spec.length < JobSpecCodec.MODEL_OFFSET) revert JobSpecCodec.SpecTooShort(spec.length);
            uint256 format = _u8(spec, FORMAT_OFFSET);
            if (format == 0 || format > 3) revert UnsupportedSpec(FORMAT_OFFSET);
            m.seed = uint64(_read(spec, 4, 8));
            (m.steps, m.batch) = (_read(spec, 12, 4), _read(spec, 20, 4));
            (m.samples, m.features, m.classes, m.holdout) =
            (_read(spec, 57, 4), _read(spec, 61, 4), _read(spec, 65, 4), _read(spec, 69, 4));
            uint256 o = JobSpecCodec.MODEL_OFFSET;
            uint256 model = _u8(spec, o);
            if (model == 1) {
                (o, input) = _parseMlp(spec, m, o + 1);
            } else if (model == 2) {
                (o, input) = _parseGraph(spec, m, o + 1);
            } else {
                revert UnsupportedSpec(o);
            }
            o = _parseOptimizer(spec, m, o);
            // The optional tails, each at most once and in tag order: `u8 2, bytes32 model root`
            // (fine-tuning), then `u8 3, f32 max_norm` (gradient clipping).
            if (o < spec.length && _u8(spec, o) == 2) {
                if (spec.length < o + 33) revert UnsupportedSpec(o);
                m.loadsModel = true;
                m.initialModel = bytes32(spec[o + 1:o + 33]);
                o += 33;
            }
            if (o < spec.length && _u8(spec, o) == 3) {
                m.clip = true;
                m.maxNorm = uint32(_u32(spec, o + 1));
                o += 5;
            }
            if (spec.length != o) revert UnsupportedSpec(o);
        }
    }

    function _parseMlp(bytes calldata spec, Model memory m, uint256 o)
        private
        pure
        returns (uint256, uint256[] memory input)
    {
        // offsets below the calldata's length plus a few bytes, counts below their bounds: no overflow
        unchecked {
            uint256 hidden = _u32(spec, o);
            if (hidden > SpecRules.MAX_HIDDEN_LAYERS) revert UnsupportedSpec(o);
            o += 4;
            m.mlp = true;
            m.hidden = new uint256[](hidden);
            m.layers = new Layer[](2 * hidden + 1);
            for (uint256 i; i < hidden; ++i) {
                m.hidden[i] = _u32(spec, o);
                o += 4;
                m.layers[2 * i].kind = LINEAR;
                m.layers[2 * i].a = m.hidden[i];
                m.layers[2 * i + 1].kind = RELU;
            }
            m.layers[2 * hidden].kind = LINEAR;
            m.layers[2 * hidden].a = m.classes;
            if (_u8(spec, o) != 1) revert UnsupportedSpec(o); // relu
            input = new uint256[](1);
            input[0] = m.features;
            return (o + 1, input);
        }
    }

    function _parseGraph(bytes calldata spec, Model memory m, uint256 o)
        private
        pure
        returns (uint256, uint256[] memory input)
    {
        (o, input) = _dims(spec, o);
        uint256 count = _u32(spec, o);
        if (count > MAX_LAYERS) revert UnsupportedSpec(o);
        o += 4;
        m.layers = new Layer[](count);
        // Offsets stay below the calldata's length plus a few bytes: no overflow.
        unchecked {
            for (uint256 i; i < count; ++i) {
                Layer memory l = m.layers[i];
                uint8 kind = uint8(_u8(spec, o));
                l.kind = kind;
                ++o;
                // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                uint256 bit = 1 << kind; // kinds by bit masks: one test per branch
                if (bit & ONE_FIELD != 0) {
                    l.a = _u32(spec, o); // linear `out`, dropout `p`, layer_norm `ε`
                    o += 4;
                } else if (kind == CONV2D) {
                    if (spec.length < o + 16) revert UnsupportedSpec(o);
                    (l.a, l.b, l.c, l.d) =
                    (_read(spec, o, 4), _read(spec, o + 4, 4), _read(spec, o + 8, 4), _read(spec, o + 12, 4));
                    o += 16;
                } else if (bit & POOLING != 0) {
                    if (spec.length < o + 8) revert UnsupportedSpec(o);
                    (l.a, l.b) = (_read(spec, o, 4), _read(spec, o + 4, 4));
                    if (l.b == 0) l.b = l.a; // an unset stride is the kernel
                    o += 8;
                } else if (kind == RESHAPE) {
                    uint256[] memory dims;
                    (o, dims) = _dims(spec, o);
                    l.a = Shapes.pack(dims);
                    l.b = dims.length;
                } else if (bit & NO_FIELDS == 0) {
                    revert UnsupportedSpec(o - 1);
                }
            }
        }
        if (_u8(spec, o) != 1) revert UnsupportedSpec(o); // softmax cross-entropy
        return (o + 1, input);
    }

    /// @dev `u32 n` (at most MAX_RANK), then n × u32.
    function _dims(bytes calldata spec, uint256 o) private pure returns (uint256, uint256[] memory dims) {
        // offsets below the calldata's length plus a few bytes, counts below their bounds: no overflow
        unchecked {
            uint256 n = _u32(spec, o);
            if (n > MAX_RANK) revert UnsupportedSpec(o);
            dims = new uint256[](n);
            for (uint256 i; i < n; ++i) {
                dims[i] = _u32(spec, o + 4 + 4 * i);
            }
            return (o + 4 + 4 * n, dims);
        }
    }

    function _parseOptimizer(bytes calldata spec, Model memory m, uint256 o) private pure returns (uint256) {
        // offsets below the calldata's length plus a few bytes, counts below their bounds: no overflow
        unchecked {
            uint256 optimizer = _u8(spec, o);
            if (optimizer == 1) {
                m.lr = uint32(_u32(spec, o + 1));
                m.momentum = uint32(_u32(spec, o + 5));
                m.weightDecay = uint32(_u32(spec, o + 9));
                o += 13;
            } else if (optimizer == 2) {
                m.adam = true;
                m.lr = uint32(_u32(spec, o + 1));
                m.beta1 = uint32(_u32(spec, o + 5));
                m.beta2 = uint32(_u32(spec, o + 9));
                m.eps = uint32(_u32(spec, o + 13));
                m.weightDecay = uint32(_u32(spec, o + 17));
                o += 21;
            } else {
                revert UnsupportedSpec(o);
            }
            uint256 schedule = _u8(spec, o);
            m.schedule = uint8(schedule);
            if (schedule == 1) return o + 1;
            if (schedule == 2 || schedule == 4) {
                m.warmup = _u32(spec, o + 1);
                return o + 5;
            }
            if (schedule == 3) {
                m.every = _u32(spec, o + 1);
                m.gamma = uint32(_u32(spec, o + 5));
                return o + 9;
            }
            revert UnsupportedSpec(o);
        }
    }

    /// @notice Decodes the spec and infers every layer's shapes without checking them: what
    ///         the semantics needs for a spec `postJob` has validated.
    function load(bytes calldata spec) internal pure returns (Model memory m) {
        uint256[] memory input;
        (m, input) = parse(spec);
        _inferLoaded(m, Shapes.pack(input));
    }

    /// @dev {_infer} without the checks, for a spec `postJob` has validated: what every call
    ///      of the one-step proof pays, so written for gas. Every dimension is below 2^32 and a
    ///      kernel at most 16, so nothing overflows; the one underflow and the division an
    ///      invalid spec could reach are guarded (`UnsupportedSpec(0)`).
    function _inferLoaded(Model memory m, uint256 shape) private pure {
        unchecked {
            uint256 layers = m.layers.length;
            uint256[] memory paramShapes = new uint256[](2 * layers);
            uint256 params = 0;
            for (uint256 i; i < layers; ++i) {
                Layer memory l = m.layers[i];
                l.inShape = shape;
                l.firstParam = NONE;
                uint8 kind = l.kind;
                if (kind == LINEAR) {
                    uint256 width = l.a;
                    paramShapes[params] = Shapes.two(width, (shape >> 8) & 0xFFFFFFFF);
                    paramShapes[params + 1] = Shapes.one(width);
                    l.firstParam = params;
                    params += 2;
                    shape = Shapes.one(width);
                    // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
                } else if ((1 << kind) & (POOLING | 1 << CONV2D) != 0) {
                    uint256 c = (shape >> 8) & 0xFFFFFFFF;
                    uint256 h = (shape >> 40) & 0xFFFFFFFF;
                    uint256 w = (shape >> 72) & 0xFFFFFFFF;
                    bool conv = kind == CONV2D;
                    (uint256 k, uint256 s, uint256 p) = conv ? (l.b, l.c, l.d) : (l.a, l.b, 0);
                    if ((shape & 0xFF) != 3 || s == 0 || h + 2 * p < k || w + 2 * p < k) {
                        revert UnsupportedSpec(0);
                    }
                    uint256 oh = (h + 2 * p - k) / s + 1;
                    uint256 ow = (w + 2 * p - k) / s + 1;
                    if (conv) {
                        paramShapes[params] = 4 | l.a << 8 | c << 40 | k << 72 | k << 104;
                        paramShapes[params + 1] = Shapes.one(l.a);
                        l.firstParam = params;
                        params += 2;
                        c = l.a;
                    }
                    shape = Shapes.three(c, oh, ow);
                } else if (kind == FLATTEN) {
                    shape = Shapes.one(Shapes.elements(shape));
                } else if (kind == RESHAPE) {
                    shape = l.a;
                } else if (kind == LAYER_NORM) {
                    (l.b, l.c) = _rows(shape);
                    paramShapes[params] = Shapes.one(l.b);
                    paramShapes[params + 1] = Shapes.one(l.b);
                    l.firstParam = params;
                    params += 2;
                } // relu, dropout, gelu: the shape passes through
                l.outShape = shape;
            }
            m.paramShapes = paramShapes;
            m.params = params;
        }
    }

    /// @notice Checks every bound of the Rust `JobSpec::validate`, in its order.
    function validate(bytes calldata spec) internal pure returns (Model memory m) {
        uint256[] memory input;
        (m, input) = parse(spec);
        SpecRules.checkHeader(JobSpecCodec.header(spec));
        for (uint256 i; i < m.hidden.length; ++i) {
            SpecRules.checkRange("model.hidden", m.hidden[i], 1, SpecRules.MAX_WIDTH);
        }
        if (input.length == 0) revert SpecRules.InvalidSpec("model.input");
        uint256 elements = 1;
        for (uint256 i; i < input.length; ++i) {
            if (input[i] == 0) revert SpecRules.InvalidSpec("model.input");
            elements *= input[i];
        }
        if (elements != m.features) revert SpecRules.InvalidSpec("model.input");
        if (m.layers.length == 0) revert SpecRules.InvalidSpec("model.layers");
        uint256 total = _infer(m, input);
        if (total > SpecRules.MAX_PARAMS) revert SpecRules.InvalidSpec("model");
        SpecRules.checkPositive("optimizer.learning_rate", m.lr);
        if (m.adam) {
            SpecRules.checkUnitInterval("optimizer.beta1", m.beta1);
            SpecRules.checkUnitInterval("optimizer.beta2", m.beta2);
            SpecRules.checkPositive("optimizer.eps", m.eps);
        } else {
            SpecRules.checkUnitInterval("optimizer.momentum", m.momentum);
        }
        SpecRules.checkNonNegative("optimizer.weight_decay", m.weightDecay);
        if (m.schedule == 2 || m.schedule == 4) {
            if (m.warmup >= m.steps) revert SpecRules.InvalidSpec("schedule.warmup_steps");
        } else if (m.schedule == 3) {
            SpecRules.checkRange("schedule.every", m.every, 1, m.steps);
            SpecRules.checkPositive("schedule.gamma", m.gamma);
        }
        if (m.clip) SpecRules.checkPositive("clip_grad_norm", m.maxNorm);
        if (m.loadsModel && m.initialModel == bytes32(0)) revert SpecRules.InvalidSpec("init.root");
    }

    /// @dev Infers each layer's shapes and parameter indices (Rust `ModelSpec::plan` and
    ///      `check_programs`), refusing what the plan refuses ({_inferLoaded} is the unchecked
    ///      twin for a validated spec). Returns the total number of parameters.
    function _infer(Model memory m, uint256[] memory input) private pure returns (uint256 total) {
        uint256 shape = Shapes.pack(input);
        uint256 params = 0;
        uint256 layers = m.layers.length;
        uint256[] memory paramShapes = new uint256[](2 * layers);
        m.paramShapes = paramShapes;
        for (uint256 i; i < layers; ++i) {
            Layer memory l = m.layers[i];
            l.inShape = shape;
            l.firstParam = NONE;
            uint256 weights;
            (shape, weights) = _layerOut(l, shape);
            if (weights > 0) {
                l.firstParam = params;
                uint256 width = l.kind == LAYER_NORM ? l.b : l.a;
                // At most 64 layers of at most 2^32 · 17 · 17 weights each: no overflow.
                unchecked {
                    if (l.kind == LINEAR) {
                        paramShapes[params] = Shapes.two(width, Shapes.dim(l.inShape, 0));
                    } else if (l.kind == CONV2D) {
                        paramShapes[params] =
                            4 | width << 8 | Shapes.dim(l.inShape, 0) << 40 | l.b << 72 | l.b << 104;
                    } else {
                        paramShapes[params] = Shapes.one(width); // γ
                    }
                    paramShapes[params + 1] = Shapes.one(width);
                    params += 2;
                    total += weights;
                }
            }
            if (Shapes.elements(shape) > MAX_SAMPLE_ELEMENTS) {
                revert SpecRules.InvalidSpec("model.layers");
            }
            l.outShape = shape;
        }
        m.params = params;
        if (Shapes.rank(shape) != 1 || Shapes.dim(shape, 0) != m.classes) {
            revert SpecRules.InvalidSpec("model.layers");
        }
        if (params == 0) revert SpecRules.InvalidSpec("model.layers");
        // Rust `check_programs`: a conv2d's weight gradient sums batch × output positions, a
        // layer norm's γ gradient 3 steps per row (R = batch × rows per sample).
        for (uint256 i; i < m.layers.length; ++i) {
            Layer memory l = m.layers[i];
            if (
                l.kind == CONV2D && m.batch * Shapes.dim(l.outShape, 1) * Shapes.dim(l.outShape, 2) >= 1 << 31
            ) {
                revert SpecRules.InvalidSpec("model.layers");
            }
            if (l.kind == LAYER_NORM && m.batch * l.c >= 1 << 29) {
                revert SpecRules.InvalidSpec("model.layers");
            }
        }
    }

    /// @dev One layer's output shape and parameter count (weights and biases).
    function _layerOut(Layer memory l, uint256 input) private pure returns (uint256, uint256) {
        uint8 kind = l.kind;
        if (kind == LINEAR) {
            if (Shapes.rank(input) != 1) revert SpecRules.InvalidSpec("model.layers");
            SpecRules.checkRange("model.layers", l.a, 1, SpecRules.MAX_WIDTH);
            unchecked {
                return (Shapes.one(l.a), (Shapes.dim(input, 0) + 1) * l.a); // u32 factors
            }
        }
        if (kind == RELU || kind == DROPOUT || kind == GELU) {
            if (kind == DROPOUT) SpecRules.checkUnitInterval("model.layers", uint32(l.a));
            return (input, 0);
        }
        if (kind == LAYER_NORM) {
            SpecRules.checkPositive("model.layers", uint32(l.a));
            (l.b, l.c) = _rows(input);
            return (input, 2 * l.b); // γ and β, D each
        }
        if (kind == CONV2D) {
            (uint256 c, uint256 h, uint256 w) = _image(input);
            SpecRules.checkRange("model.layers", l.a, 1, SpecRules.MAX_WIDTH);
            SpecRules.checkRange("model.layers", l.b, 1, MAX_KERNEL);
            SpecRules.checkRange("model.layers", l.c, 1, MAX_KERNEL);
            SpecRules.checkRange("model.layers", l.d, 0, MAX_KERNEL);
            if (l.d >= l.b || h + 2 * l.d < l.b || w + 2 * l.d < l.b) {
                revert SpecRules.InvalidSpec("model.layers");
            }
            uint256 oh = (h + 2 * l.d - l.b) / l.c + 1;
            uint256 ow = (w + 2 * l.d - l.b) / l.c + 1;
            return (Shapes.three(l.a, oh, ow), (c * l.b * l.b + 1) * l.a);
        }
        if (kind == MAXPOOL2D || kind == AVGPOOL2D) {
            (uint256 c, uint256 h, uint256 w) = _image(input);
            SpecRules.checkRange("model.layers", l.a, 1, MAX_KERNEL);
            SpecRules.checkRange("model.layers", l.b, 1, MAX_KERNEL);
            if (h < l.a || w < l.a) revert SpecRules.InvalidSpec("model.layers");
            return (Shapes.three(c, (h - l.a) / l.b + 1, (w - l.a) / l.b + 1), 0);
        }
        if (kind == FLATTEN) return (Shapes.one(Shapes.elements(input)), 0);
        if (kind == RESHAPE) {
            if (l.b == 0) revert SpecRules.InvalidSpec("model.layers");
            for (uint256 i; i < l.b; ++i) {
                if (Shapes.dim(l.a, i) == 0) revert SpecRules.InvalidSpec("model.layers");
            }
            if (Shapes.elements(l.a) != Shapes.elements(input)) {
                revert SpecRules.InvalidSpec("model.layers");
            }
            return (l.a, 0);
        }
        return (input, 0); // unreachable: every kind is handled above
    }

    /// @dev A layer norm's view of its per-sample input: rows of `D` values, `D` the last
    ///      dimension (rank ≥ 1 for any shape inference reaches). Returns `D` and the rows.
    function _rows(uint256 shape) private pure returns (uint256 d, uint256 rows) {
        unchecked {
            d = Shapes.dim(shape, Shapes.rank(shape) - 1);
            rows = Shapes.elements(shape) / d; // every dimension of an inferred shape is > 0
        }
    }

    function _image(uint256 shape) private pure returns (uint256, uint256, uint256) {
        if (Shapes.rank(shape) != 3) revert SpecRules.InvalidSpec("model.layers");
        return (Shapes.dim(shape, 0), Shapes.dim(shape, 1), Shapes.dim(shape, 2));
    }

    function _u8(bytes calldata spec, uint256 offset) private pure returns (uint256) {
        if (spec.length <= offset) revert UnsupportedSpec(offset);
        return _read(spec, offset, 1);
    }

    /// @dev Offsets stay below the calldata's length plus a few bytes: no overflow.
    function _u32(bytes calldata spec, uint256 offset) private pure returns (uint256) {
        unchecked {
            if (spec.length < offset + 4) revert UnsupportedSpec(offset);
        }
        return _read(spec, offset, 4);
    }

    /// @dev The big-endian integer of `size` ≤ 32 bytes at `offset`, which the caller has
    ///      checked lies inside `spec`: one calldata word, shifted down.
    function _read(bytes calldata spec, uint256 offset, uint256 size) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(sub(256, mul(8, size)), calldataload(add(spec.offset, offset)))
        }
    }
}
