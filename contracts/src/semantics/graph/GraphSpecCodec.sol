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
    uint8 internal constant EMBEDDING = 11;
    uint8 internal constant ATTENTION = 12;
    /// @dev A residual block's tag, and the entry that opens it in the flattened layer list
    ///      (Rust `Role::ResidualOpen`); {RESIDUAL_CLOSE} ends it (`Role::ResidualClose`, its
    ///      `a` the index of the open entry). Not a tag: the spec never holds 14.
    uint8 internal constant RESIDUAL = 13;
    uint8 internal constant RESIDUAL_CLOSE = 14;

    /// @dev Layer kinds as bit masks (`1 << kind`) by what follows the tag: one u32, a
    ///      pooling's two, nothing.
    // forge-lint: disable-start(incorrect-shift) -- bit masks: the literal 1 is meant
    uint256 internal constant ONE_FIELD =
        1 << LINEAR | 1 << DROPOUT | 1 << LAYER_NORM | 1 << EMBEDDING | 1 << ATTENTION;
    uint256 internal constant POOLING = 1 << MAXPOOL2D | 1 << AVGPOOL2D;
    uint256 internal constant NO_FIELDS = 1 << FLATTEN | 1 << RELU | 1 << GELU;
    // forge-lint: disable-end(incorrect-shift)

    /// @notice The most layers of a graph, the most dimensions of a per-sample shape, the
    ///         largest kernel, stride or padding, the most values of one sample's activation.
    uint256 internal constant MAX_LAYERS = 64;
    uint256 internal constant MAX_RANK = 4;
    uint256 internal constant MAX_KERNEL = 16;
    uint256 internal constant MAX_SAMPLE_ELEMENTS = 1 << 24;
    /// @notice The most parameter tensors (each draws S_0 from its own PRNG stream).
    uint256 internal constant MAX_PARAM_TENSORS = 256;
    /// @dev No parameters.
    uint256 internal constant NONE = type(uint256).max;

    /// @dev One entry of the flattened layer list (a residual block is its open entry, its
    ///      layers, its close entry) with its shapes. `a..d` by kind: linear `out`; conv2d
    ///      `out_channels, kernel, stride, padding`; pooling `kernel, stride` (resolved);
    ///      reshape its packed shape in `a`; dropout the bits of `p`; layer_norm the bits of `ε`
    ///      in `a`, then (once inferred) the row width `D` (the last dimension) in `b` and the
    ///      rows of one sample in `c`; embedding `dim`; causal_self_attention `heads`; a
    ///      residual block's close entry the index of its open entry.
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
        Layer[] layers; // flattened: a residual block is its open entry, its layers, its close
        bool tooManyLayers; // more than MAX_LAYERS entries once flattened (not stored)
        bool nextToken; // loss 2: next-token cross-entropy at every position
        uint256 inputLen; // the values of one sample's input (the x row)
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
    ///         u32 dim…, u32 #layers, layer…, u8 loss` with loss 1 (softmax cross-entropy) or 2
    ///         (next token), a residual block `u8 13, u32 #layers, layer…`), the optimizer,
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
            m.inputLen = 1;
            for (uint256 i; i < input.length; ++i) {
                m.inputLen *= input[i]; // at most MAX_RANK factors below 2^32
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
        // The flattened list, room for MAX_LAYERS entries: more decode (as in Rust) but are
        // not stored, and {validate} refuses them.
        Layer[] memory layers;
        uint256 room = MAX_LAYERS;
        assembly ("memory-safe") {
            layers := mload(0x40)
            mstore(layers, room)
            mstore(0x40, add(layers, mul(0x20, add(room, 1))))
        }
        uint256 n;
        // Offsets stay below the calldata's length plus a few bytes, counts below 2^13: no
        // overflow.
        unchecked {
            for (uint256 i; i < count; ++i) {
                if (_u8(spec, o) != RESIDUAL) {
                    (o, n) = _layer(spec, o, m, layers, n);
                    continue;
                }
                uint256 inner = _u32(spec, o + 1);
                if (inner > MAX_LAYERS) revert UnsupportedSpec(o + 1);
                o += 5;
                uint256 open = n;
                n = _store(m, layers, n, RESIDUAL, 0);
                for (uint256 j; j < inner; ++j) {
                    (o, n) = _layer(spec, o, m, layers, n);
                }
                n = _store(m, layers, n, RESIDUAL_CLOSE, open);
            }
        }
        if (n > MAX_LAYERS) {
            m.tooManyLayers = true;
            n = MAX_LAYERS;
        }
        assembly ("memory-safe") {
            mstore(layers, n)
        }
        m.layers = layers;
        uint256 loss = _u8(spec, o);
        if (loss == 2) m.nextToken = true;
        else if (loss != 1) revert UnsupportedSpec(o); // 1: softmax cross-entropy
        return (o + 1, input);
    }

    /// @dev Entry `n` of the flattened list (when there is room), and the next `n`.
    function _store(Model memory m, Layer[] memory layers, uint256 n, uint8 kind, uint256 a)
        private
        pure
        returns (uint256)
    {
        if (n < MAX_LAYERS) {
            layers[n] = Layer(kind, a, 0, 0, 0, 0, 0, 0);
        } else {
            m.tooManyLayers = true;
        }
        unchecked {
            return n + 1;
        }
    }

    /// @dev One layer that is not a residual block (inside a block, another block does not
    ///      decode) at offset `o`, stored as entry `n`.
    function _layer(bytes calldata spec, uint256 o, Model memory m, Layer[] memory layers, uint256 n)
        private
        pure
        returns (uint256, uint256)
    {
        // Offsets stay below the calldata's length plus a few bytes: no overflow.
        unchecked {
            uint8 kind = uint8(_u8(spec, o));
            Layer memory l = Layer(kind, 0, 0, 0, 0, 0, 0, 0);
            ++o;
            // forge-lint: disable-next-line(incorrect-shift) -- a bit mask: the literal 1 is meant
            uint256 bit = 1 << kind; // kinds by bit masks: one test per branch
            if (bit & ONE_FIELD != 0) {
                l.a = _u32(spec, o); // linear `out`, dropout `p`, layer_norm `ε`, `dim`, `heads`
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
                revert UnsupportedSpec(o - 1); // unknown, or a residual block inside another
            }
            if (n < MAX_LAYERS) layers[n] = l;
            else m.tooManyLayers = true;
            return (o, n + 1);
        }
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
            if (m.tooManyLayers) revert UnsupportedSpec(0);
            uint256[] memory paramShapes = new uint256[](8 * layers);
            uint256 params = 0;
            for (uint256 i; i < layers; ++i) {
                Layer memory l = m.layers[i];
                l.inShape = shape;
                l.firstParam = NONE;
                uint8 kind = l.kind;
                if (kind == LINEAR) {
                    uint256 width = l.a;
                    if (shape & 0xFF == 0) revert UnsupportedSpec(0);
                    paramShapes[params] = Shapes.two(width, Shapes.last(shape));
                    paramShapes[params + 1] = Shapes.one(width);
                    l.firstParam = params;
                    params += 2;
                    shape = Shapes.withLast(shape, width);
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
                } else if (kind == EMBEDDING) {
                    // token table [V, D], position table [T, D]
                    uint256 t = Shapes.dim(shape, 0);
                    paramShapes[params] = Shapes.two(m.classes, l.a);
                    paramShapes[params + 1] = Shapes.two(t, l.a);
                    l.firstParam = params;
                    params += 2;
                    shape = Shapes.two(t, l.a);
                } else if (kind == ATTENTION) {
                    params = _projections(paramShapes, params, Shapes.last(shape));
                    l.firstParam = params - 8;
                } // relu, dropout, gelu, a residual block's ends: the shape passes through
                l.outShape = shape;
            }
            m.paramShapes = paramShapes;
            m.params = params;
        }
    }

    /// @dev An attention layer's eight parameters from `params` on: the query, key, value and
    ///      output projections' `[W, W]` weight and `[W]` bias each. Returns the next index.
    function _projections(uint256[] memory paramShapes, uint256 params, uint256 width)
        private
        pure
        returns (uint256)
    {
        unchecked {
            for (uint256 j; j < 4; ++j) {
                paramShapes[params + 2 * j] = Shapes.two(width, width);
                paramShapes[params + 2 * j + 1] = Shapes.one(width);
            }
            return params + 8;
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
        for (uint256 i; i < input.length; ++i) {
            if (input[i] == 0) revert SpecRules.InvalidSpec("model.input");
        }
        // a language model reads the first T of each row's T + 1 tokens (features ≥ 1 here)
        if (m.inputLen != (m.nextToken ? m.features - 1 : m.features)) {
            revert SpecRules.InvalidSpec("model.input");
        }
        if (m.layers.length == 0 || m.tooManyLayers) revert SpecRules.InvalidSpec("model.layers");
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

    /// @dev Infers each layer's shapes and parameter indices (Rust `ModelPlan` through
    ///      `ModelSpec::plan`, and `check_programs`), refusing what they refuse ({_inferLoaded}
    ///      is the unchecked twin for a validated spec). Returns the total number of parameters.
    function _infer(Model memory m, uint256[] memory input) private pure returns (uint256 total) {
        uint256 shape = Shapes.pack(input);
        uint256 params = 0;
        uint256 layers = m.layers.length;
        uint256[] memory paramShapes = new uint256[](8 * layers);
        m.paramShapes = paramShapes;
        for (uint256 i; i < layers; ++i) {
            Layer memory l = m.layers[i];
            l.inShape = shape;
            l.firstParam = NONE;
            uint256 weights = 0;
            if (l.kind == RESIDUAL) {
                // an empty block
                if (m.layers[i + 1].kind == RESIDUAL_CLOSE) revert SpecRules.InvalidSpec("model.layers");
            } else if (l.kind == RESIDUAL_CLOSE) {
                // the add needs the block's input shape
                if (shape != m.layers[l.a].inShape) revert SpecRules.InvalidSpec("model.layers");
            } else {
                if (l.kind == EMBEDDING && i != 0) revert SpecRules.InvalidSpec("model.layers");
                (shape, weights) = _layerOut(l, shape, m.classes);
            }
            if (weights > 0) {
                l.firstParam = params;
                uint256 width = l.kind == LAYER_NORM ? l.b : l.a;
                // At most 64 layers of at most 2^32 · 17 · 17 weights each: no overflow.
                unchecked {
                    if (l.kind == ATTENTION) {
                        params = _projections(paramShapes, params, Shapes.last(shape)) - 2;
                    } else if (l.kind == LINEAR) {
                        paramShapes[params] = Shapes.two(width, Shapes.last(l.inShape));
                    } else if (l.kind == CONV2D) {
                        paramShapes[params] =
                            4 | width << 8 | Shapes.dim(l.inShape, 0) << 40 | l.b << 72 | l.b << 104;
                    } else if (l.kind == EMBEDDING) {
                        paramShapes[params] = Shapes.two(m.classes, width);
                        width = Shapes.two(Shapes.dim(l.inShape, 0), width); // the position table
                    } else {
                        paramShapes[params] = Shapes.one(width); // γ
                    }
                    if (l.kind != ATTENTION) {
                        paramShapes[params + 1] = l.kind == EMBEDDING ? width : Shapes.one(width);
                    }
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
        uint256 expected = m.nextToken ? Shapes.two(m.inputLen, m.classes) : Shapes.one(m.classes);
        if (shape != expected) revert SpecRules.InvalidSpec("model.layers");
        if (params == 0) revert SpecRules.InvalidSpec("model.layers");
        _checkPrograms(m);
    }

    /// @dev Rust `check_programs`: at most MAX_PARAM_TENSORS parameters (each its own PRNG
    ///      stream); every program below 2^32 steps: a linear layer's weight gradient sums one
    ///      step per row it sees, a conv2d's batch × output positions, an embedding's table
    ///      gradient 2 per token of the batch, a layer norm's γ gradient 3 per row.
    function _checkPrograms(Model memory m) private pure {
        if (m.params > MAX_PARAM_TENSORS) revert SpecRules.InvalidSpec("model.layers");
        for (uint256 i; i < m.layers.length; ++i) {
            Layer memory l = m.layers[i];
            uint256 inputs = Shapes.elements(l.inShape);
            bool over = l.kind == LINEAR && m.batch * (inputs / Shapes.last(l.inShape)) >= 1 << 31;
            over = over || l.kind == CONV2D
                && m.batch * Shapes.dim(l.outShape, 1) * Shapes.dim(l.outShape, 2) >= 1 << 31;
            over = over || l.kind == EMBEDDING && m.batch * inputs >= 1 << 31;
            over = over || l.kind == LAYER_NORM && m.batch * l.c >= 1 << 29;
            if (over) revert SpecRules.InvalidSpec("model.layers");
        }
    }

    /// @dev One layer's output shape and parameter count (weights and biases).
    function _layerOut(Layer memory l, uint256 input, uint256 classes)
        private
        pure
        returns (uint256, uint256)
    {
        uint8 kind = l.kind;
        if (kind == LINEAR) {
            // on the last dimension: every other one is a row of its own
            SpecRules.checkRange("model.layers", l.a, 1, SpecRules.MAX_WIDTH);
            unchecked {
                return (Shapes.withLast(input, l.a), (Shapes.last(input) + 1) * l.a); // u32 factors
            }
        }
        if (kind == EMBEDDING) {
            // [T] token ids → [T, D]; tables [V, D] and [T, D]
            if (Shapes.rank(input) != 1) revert SpecRules.InvalidSpec("model.layers");
            SpecRules.checkRange("model.layers", l.a, 1, SpecRules.MAX_WIDTH);
            uint256 t = Shapes.dim(input, 0);
            return (Shapes.two(t, l.a), (classes + t) * l.a);
        }
        if (kind == ATTENTION) {
            // [T, W] → [T, W]; four projections [W, W] and [W]; at most 2^24 scores a sample
            if (Shapes.rank(input) != 2) revert SpecRules.InvalidSpec("model.layers");
            SpecRules.checkRange("model.layers", l.a, 1, SpecRules.MAX_WIDTH);
            (uint256 t, uint256 w) = (Shapes.dim(input, 0), Shapes.dim(input, 1));
            if (w % l.a != 0 || l.a * t * t > MAX_SAMPLE_ELEMENTS) {
                revert SpecRules.InvalidSpec("model.layers");
            }
            return (input, 4 * (w + 1) * w);
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
