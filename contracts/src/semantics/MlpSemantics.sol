// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../interfaces/IStepSemantics.sol";
import {SplitMix64} from "../lib/SplitMix64.sol";
import {MlpSpecCodec} from "./MlpSpecCodec.sol";

/// @title MlpSemantics
/// @notice The step semantics of vtrain's MLP model (`docs/repops.md` §4–§7): what one training
///         step of an MLP job computes, as the dispute game needs to know it. Bit for bit with
///         the Rust reference engine: the node list of `proof-of-learning/src/train/graph.rs`,
///         the micro-programs `repops::Op::element` records (`repops/ops.rs`, `repops/math.rs`),
///         the batch rows of `dataset.rs` and the initial state of `Trainer::initial_state`.
/// @dev    Stateless and pure: everything is derived from the canonical spec bytes
///         (`docs/commitments.md` § Job hash), which the game has checked against the job hash.
///
///         Node numbering for an MLP with L = #hidden + 1 layers and P = 2L parameters:
///         `0` schedule, `1` x, `2` y; forward `3 + 2l` z_{l+1} (l < L) and `4 + 2l` a_{l+1}
///         (l < L − 1); `2L + 2` log_softmax, `2L + 3` dz_L; backward block b = L − 1 − l at
///         `2L + 4 + 4b`: dW_{l+1}, db_{l+1}, and for l > 0 da_l, dz_l. These `6L + 2` nodes are
///         the intermediates (list 0, in this order). Then the optimizer nodes per parameter:
///         SGD v'_p, w'_p; AdamW m'_p, v'_p, w'_p. The new optimizer list (1) is v'_0… or
///         m'_0…, v'_0…; the new weights list (2) is w'_0….
///
///         The init transition ("nothing → S_0") produces the optimizer list (all zero: a copy
///         of the constant 0) and the weights list, whose element e of parameter p is the
///         4-step program `sqrt(fan_in); div(1, ·); fma(u, 2, −1); mul(·, bound)` with
///         `u = uniform01(derive_key(seed, 0x100 + p), e)` (`docs/repops.md` § The initial state).
contract MlpSemantics is IStepSemantics {
    // ---------------------------------------------------------------- primitives (repops §1)

    uint8 internal constant COPY = 0;
    uint8 internal constant ADD = 1;
    uint8 internal constant SUB = 2;
    uint8 internal constant MUL = 3;
    uint8 internal constant DIV = 4;
    uint8 internal constant FMA = 5;
    uint8 internal constant SQRT = 6;
    uint8 internal constant MAX = 7;
    uint8 internal constant MIN = 8;
    uint8 internal constant SEL_GT = 9;
    uint8 internal constant SEL_EQ = 10;
    uint8 internal constant LDEXP = 11;
    uint8 internal constant GETEXP = 12;

    // ---------------------------------------------------------------- ops (repops §4)

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

    // Where a node input comes from (graph.rs `TensorRef`), packed as `kind << 32 | index`.
    uint256 internal constant REF_NODE = 0;
    uint256 internal constant REF_PARAM = 1;
    uint256 internal constant REF_MOMENT = 2;
    uint256 internal constant REF_FEATURES = 3;
    uint256 internal constant REF_LABELS = 4;

    uint8 internal constant LIST_INTERMEDIATES = 0;
    uint8 internal constant LIST_OPTIMIZER = 1;
    uint8 internal constant LIST_WEIGHTS = 2;

    // ---------------------------------------------------------------- f32 constants (bits)

    uint32 internal constant F_ZERO = 0x00000000;
    uint32 internal constant F_HALF = 0x3F000000;
    uint32 internal constant F_ONE = 0x3F800000;
    uint32 internal constant F_TWO = 0x40000000;
    uint32 internal constant F_MINUS_ONE = 0xBF800000;
    // exp (repops §2, `math::exp`)
    uint32 internal constant EXP_LOWER = 0xC2D00000; // -104
    uint32 internal constant EXP_UPPER = 0x42B20000; // 89
    uint32 internal constant LOG2E = 0x3FB8AA3B;
    uint32 internal constant ROUND_MAGIC = 0x4B400000; // 1.5 * 2^23
    uint32 internal constant NEG_LN2_HI = 0xBF317200;
    uint32 internal constant NEG_LN2_LO = 0xB5BFBE8E;
    uint32 internal constant LN2_HI = 0x3F317200;
    uint32 internal constant LN2_LO = 0x35BFBE8E;
    uint32 internal constant INV_5040 = 0x39500D01;
    uint32 internal constant INV_720 = 0x3AB60B61;
    uint32 internal constant INV_120 = 0x3C088889;
    uint32 internal constant INV_24 = 0x3D2AAAAB;
    uint32 internal constant INV_6 = 0x3E2AAAAB;
    // log (repops §2, `math::log`)
    uint32 internal constant SQRT2 = 0x3FB504F3;
    uint32 internal constant INV_11 = 0x3DBA2E8C;
    uint32 internal constant INV_9 = 0x3DE38E39;
    uint32 internal constant INV_7 = 0x3E124925;
    uint32 internal constant INV_5 = 0x3E4CCCCD;
    uint32 internal constant INV_3 = 0x3EAAAAAB;

    /// @dev Steps of `exp` and of `log`, as `math.rs` records them.
    uint256 internal constant EXP_STEPS = 15;
    uint256 internal constant LOG_STEPS = 20;

    // ---------------------------------------------------------------- randomness (repops §7)

    uint64 internal constant PURPOSE_INIT = 0x100;
    uint64 internal constant PURPOSE_SPLIT = 0x200;

    // ---------------------------------------------------------------- types

    /// @dev One node of the step graph: its op, the dimensions its programs need, its inputs.
    struct Node {
        uint8 op;
        uint256 rows; // batch rows (m)
        uint256 k; // reduction length or row width
        uint256 n; // outputs per row, classes, or o
        uint256 arity;
        uint256[5] inputs; // packed refs
        uint64[] shape;
    }

    /// @dev Records the program of a schedule element, keeping micro-step `target`.
    struct Emitter {
        uint256 target;
        uint256 count;
        Instruction found;
    }

    // ---------------------------------------------------------------- errors

    /// @notice Step `step` is not a step of the job (t ≥ T).
    error NoSuchStep(uint64 step);
    /// @notice The transition produces no tensor `index` in list `list`.
    error NoSuchTensor(uint8 list, uint32 index);
    /// @notice The op that produces the tensor has no input `slot`.
    error NoSuchInput(uint8 slot);
    /// @notice `element` is outside the tensor.
    error NoSuchElement(uint64 element);
    /// @notice The element's program has no micro-step `microStep`.
    error NoSuchMicroStep(uint32 microStep);

    // ---------------------------------------------------------------- IStepSemantics

    /// @inheritdoc IStepSemantics
    function validate(bytes calldata spec) external pure returns (uint256 stepOps) {
        return MlpSpecCodec.validate(spec);
    }

    /// @notice How many tensors each produced list holds: the intermediates (6L + 2 for an
    ///         L-layer MLP, none for the initial state), the new optimizer state (one or two
    ///         moments per parameter) and the new weights (2L parameters).
    /// @param spec the canonical job spec
    /// @param init whether the transition is "nothing → S_0"
    function counts(bytes calldata spec, bool init)
        external
        pure
        returns (uint32 intermediates, uint32 optimizer, uint32 weights)
    {
        MlpSpecCodec.Spec memory s = MlpSpecCodec.parse(spec);
        uint256 params = 2 * s.layers;
        intermediates = init ? 0 : uint32(6 * s.layers + 2);
        optimizer = uint32(params * (s.adam ? 2 : 1));
        weights = uint32(params);
    }

    /// @notice The shape of a produced tensor (graph.rs `Node::shape`; parameters and moments
    ///         have their parameter's shape).
    /// @param spec the canonical job spec
    /// @param id   the tensor
    function shapeOf(bytes calldata spec, TensorId calldata id) external pure returns (uint64[] memory) {
        MlpSpecCodec.Spec memory s = MlpSpecCodec.parse(spec);
        if (id.init) return _paramShape(s, _initParam(s, id));
        return _node(s, _nodeOf(s, id)).shape;
    }

    /// @notice Input `slot` of the op that produces tensor `id`: its list and position and its
    ///         shape. Reverts for the initial state (its programs read constants only) and for
    ///         a slot past the op's inputs.
    /// @param spec the canonical job spec
    /// @param id   the tensor
    /// @param slot the input slot (the operand `slot` of the element programs)
    function inputOf(bytes calldata spec, TensorId calldata id, uint8 slot)
        external
        pure
        returns (TensorSource memory)
    {
        return _inputOf(MlpSpecCodec.parse(spec), id, slot);
    }

    function _inputOf(MlpSpecCodec.Spec memory s, TensorId calldata id, uint8 slot)
        internal
        pure
        returns (TensorSource memory)
    {
        if (id.init) {
            _initParam(s, id);
            revert NoSuchInput(slot);
        }
        return _sourceOf(s, _node(s, _nodeOf(s, id)), slot);
    }

    /// @dev Input `slot` of the node `nd`.
    function _sourceOf(MlpSpecCodec.Spec memory s, Node memory nd, uint8 slot)
        internal
        pure
        returns (TensorSource memory src)
    {
        if (slot >= nd.arity) revert NoSuchInput(slot);
        uint256 ref = nd.inputs[slot];
        uint256 kind = ref >> 32;
        uint256 index = ref & 0xFFFFFFFF;
        uint256 params = 2 * s.layers;
        if (kind == REF_NODE) {
            (uint8 list, uint256 position) = _locate(s, index);
            src.source = Source(list);
            src.index = uint32(position);
            src.shape = _node(s, index).shape;
        } else if (kind == REF_PARAM) {
            src.source = Source.OldWeights;
            src.index = uint32(index);
            src.shape = _paramShape(s, index);
        } else if (kind == REF_MOMENT) {
            src.source = Source.OldOptimizer;
            src.index = uint32(index);
            src.shape = _paramShape(s, index % params);
        } else if (kind == REF_FEATURES) {
            src.source = Source.DatasetFeatures;
            src.shape = _shape2(s.samples, s.widths[0]);
        } else {
            src.source = Source.DatasetLabels;
            src.shape = _shape1(s.samples);
        }
    }

    /// @notice The number of micro-steps of element `element` of tensor `id`: 0 for a copy
    ///         (`gather`, the constant schedule's lr_t, the initial moments).
    /// @param spec    the canonical job spec
    /// @param id      the tensor
    /// @param element the flat, row-major element index
    function programLength(bytes calldata spec, TensorId calldata id, uint64 element)
        external
        pure
        returns (uint32)
    {
        MlpSpecCodec.Spec memory s = MlpSpecCodec.parse(spec);
        if (id.init) {
            uint256 p = _initParam(s, id);
            _checkElement(_paramShape(s, p), element);
            return id.list == LIST_WEIGHTS ? 4 : 0;
        }
        Node memory nd = _node(s, _nodeOf(s, id));
        _checkElement(nd.shape, element);
        return uint32(_length(s, nd, id.step, element));
    }

    /// @notice Micro-step `microStep` of element `element` of tensor `id`, exactly as the Rust
    ///         `Recorder` records it: the opcode, then one operand per primitive argument
    ///         (`Input` slot/index, `Step` index or `Const` bits), unused operands `None`.
    ///         An element without steps has one pseudo-step 0: COPY of its source.
    /// @param spec      the canonical job spec
    /// @param id        the tensor
    /// @param element   the flat, row-major element index
    /// @param microStep the micro-step (below the program length, or 0 for a copy)
    function instruction(bytes calldata spec, TensorId calldata id, uint64 element, uint32 microStep)
        external
        pure
        returns (Instruction memory)
    {
        return _instructionAt(MlpSpecCodec.parse(spec), id, element, microStep);
    }

    /// @inheritdoc IStepSemantics
    function locate(bytes calldata spec, TensorId calldata id, uint64 element, uint32 microStep)
        external
        pure
        returns (Instruction memory ins, TensorSource[4] memory inputs)
    {
        MlpSpecCodec.Spec memory s = MlpSpecCodec.parse(spec);
        ins = _instructionAt(s, id, element, microStep);
        if (id.init) return (ins, inputs); // the initial state reads no tensor
        Node memory nd = _node(s, _nodeOf(s, id));
        for (uint256 i; i < 4; ++i) {
            if (ins.operands[i].kind == OperandKind.Input) {
                inputs[i] = _sourceOf(s, nd, ins.operands[i].slot);
            }
        }
    }

    function _instructionAt(
        MlpSpecCodec.Spec memory s,
        TensorId calldata id,
        uint64 element,
        uint32 microStep
    ) internal pure returns (Instruction memory) {
        if (id.init) {
            uint256 p = _initParam(s, id);
            _checkElement(_paramShape(s, p), element);
            if (id.list == LIST_OPTIMIZER) {
                if (microStep != 0) revert NoSuchMicroStep(microStep);
                return _ins(COPY, _c(F_ZERO), _none(), _none(), _none());
            }
            if (microStep >= 4) revert NoSuchMicroStep(microStep);
            return _initInstruction(s, p, element, microStep);
        }
        Node memory nd = _node(s, _nodeOf(s, id));
        _checkElement(nd.shape, element);
        uint256 length = _length(s, nd, id.step, element);
        if (microStep >= (length == 0 ? 1 : length)) revert NoSuchMicroStep(microStep);
        return _instruction(s, nd, id.step, element, microStep);
    }

    // ---------------------------------------------------------------- the step graph

    /// @dev The node that holds produced tensor `id` of a step.
    function _nodeOf(MlpSpecCodec.Spec memory s, TensorId calldata id) internal pure returns (uint256) {
        if (id.step >= s.steps) revert NoSuchStep(id.step);
        uint256 inter = 6 * s.layers + 2;
        uint256 params = 2 * s.layers;
        uint256 index = id.index;
        if (id.list == LIST_INTERMEDIATES) {
            if (index < inter) return index;
        } else if (id.list == LIST_OPTIMIZER) {
            if (!s.adam && index < params) return inter + 2 * index;
            if (s.adam && index < 2 * params) return inter + 3 * (index % params) + index / params;
        } else if (id.list == LIST_WEIGHTS) {
            if (index < params) return inter + (s.adam ? 3 * index + 2 : 2 * index + 1);
        }
        revert NoSuchTensor(id.list, id.index);
    }

    /// @dev The produced list and position of node `i` (graph.rs: intermediates, then
    ///      `new_moments`, `new_params`).
    function _locate(MlpSpecCodec.Spec memory s, uint256 i)
        internal
        pure
        returns (uint8 list, uint256 position)
    {
        uint256 inter = 6 * s.layers + 2;
        if (i < inter) return (LIST_INTERMEDIATES, i);
        uint256 j = i - inter;
        if (!s.adam) {
            return j % 2 == 0 ? (LIST_OPTIMIZER, j / 2) : (LIST_WEIGHTS, j / 2);
        }
        uint256 p = j / 3;
        uint256 r = j % 3;
        if (r == 0) return (LIST_OPTIMIZER, p);
        if (r == 1) return (LIST_OPTIMIZER, 2 * s.layers + p);
        return (LIST_WEIGHTS, p);
    }

    /// @dev Node `i` of the step graph (see the contract docs for the numbering).
    function _node(MlpSpecCodec.Spec memory s, uint256 i) internal pure returns (Node memory nd) {
        uint256 layers = s.layers;
        uint256 batch = s.batch;
        uint256 classes = s.widths[layers];
        uint256 inter = 6 * layers + 2;
        if (i == 0) {
            nd.op = OP_SCHEDULE;
            nd.shape = _shape1(4);
        } else if (i <= 2) {
            nd.op = OP_GATHER;
            nd.rows = batch;
            nd.arity = 1;
            if (i == 1) {
                nd.k = s.widths[0];
                nd.inputs[0] = _ref(REF_FEATURES, 0);
                nd.shape = _shape2(batch, s.widths[0]);
            } else {
                nd.k = 1;
                nd.inputs[0] = _ref(REF_LABELS, 0);
                nd.shape = _shape1(batch);
            }
        } else if (i < 2 * layers + 2) {
            uint256 l = (i - 3) / 2;
            uint256 width = s.widths[l + 1];
            nd.shape = _shape2(batch, width);
            if ((i - 3) % 2 == 0) {
                nd.op = OP_LINEAR;
                (nd.rows, nd.k, nd.n) = (batch, s.widths[l], width);
                nd.arity = 3;
                nd.inputs[0] = _activation(l);
                nd.inputs[1] = _param(l, false);
                nd.inputs[2] = _param(l, true);
            } else {
                nd.op = OP_RELU;
                nd.arity = 1;
                nd.inputs[0] = _ref(REF_NODE, i - 1);
            }
        } else if (i == 2 * layers + 2) {
            nd.op = OP_LOG_SOFTMAX;
            (nd.rows, nd.n) = (batch, classes);
            nd.arity = 1;
            nd.inputs[0] = _ref(REF_NODE, 2 * layers + 1);
            nd.shape = _shape2(batch, classes);
        } else if (i == 2 * layers + 3) {
            nd.op = OP_XENT_GRAD;
            (nd.rows, nd.n) = (batch, classes);
            nd.arity = 2;
            nd.inputs[0] = _ref(REF_NODE, 2 * layers + 2);
            nd.inputs[1] = _ref(REF_NODE, 2);
            nd.shape = _shape2(batch, classes);
        } else if (i < inter) {
            uint256 b = (i - (2 * layers + 4)) / 4;
            uint256 r = (i - (2 * layers + 4)) % 4;
            uint256 l = layers - 1 - b;
            uint256 dz = _dz(layers, b);
            (uint256 k, uint256 o) = (s.widths[l], s.widths[l + 1]);
            if (r == 0) {
                nd.op = OP_WEIGHT_GRAD;
                (nd.rows, nd.n, nd.k) = (batch, o, k);
                nd.arity = 2;
                nd.inputs[0] = dz;
                nd.inputs[1] = _activation(l);
                nd.shape = _shape2(o, k);
            } else if (r == 1) {
                nd.op = OP_BIAS_GRAD;
                (nd.rows, nd.n) = (batch, o);
                nd.arity = 1;
                nd.inputs[0] = dz;
                nd.shape = _shape1(o);
            } else if (r == 2) {
                nd.op = OP_INPUT_GRAD;
                (nd.rows, nd.n, nd.k) = (batch, o, k);
                nd.arity = 2;
                nd.inputs[0] = dz;
                nd.inputs[1] = _param(l, false);
                nd.shape = _shape2(batch, k);
            } else {
                nd.op = OP_RELU_GRAD;
                nd.arity = 2;
                nd.inputs[0] = _ref(REF_NODE, 2 * l + 1); // z_l
                nd.inputs[1] = _ref(REF_NODE, i - 1); // da_l
                nd.shape = _shape2(batch, k);
            }
        } else {
            uint256 params = 2 * layers;
            uint256 j = i - inter;
            uint256 p = j / (s.adam ? 3 : 2);
            uint256 r = j % (s.adam ? 3 : 2);
            nd.shape = _paramShape(s, p);
            nd.inputs[0] = _ref(REF_NODE, 0);
            nd.inputs[1] = _ref(REF_PARAM, p);
            uint256 grad = _ref(REF_NODE, 2 * layers + 4 + 4 * (layers - 1 - p / 2) + p % 2);
            if (!s.adam) {
                if (r == 0) {
                    nd.op = OP_SGD_VELOCITY;
                    nd.arity = 4;
                    nd.inputs[2] = grad;
                    nd.inputs[3] = _ref(REF_MOMENT, p);
                } else {
                    nd.op = OP_SGD_WEIGHT;
                    nd.arity = 3;
                    nd.inputs[2] = _ref(REF_NODE, i - 1);
                }
            } else if (r < 2) {
                nd.op = r == 0 ? OP_ADAM_M : OP_ADAM_V;
                nd.arity = 5;
                nd.inputs[2] = grad;
                nd.inputs[3] = _ref(REF_MOMENT, p);
                nd.inputs[4] = _ref(REF_MOMENT, params + p);
            } else {
                nd.op = OP_ADAM_WEIGHT;
                nd.arity = 4;
                nd.inputs[2] = _ref(REF_NODE, i - 2);
                nd.inputs[3] = _ref(REF_NODE, i - 1);
            }
        }
    }

    /// @dev a_l: x for the first layer, else the node of relu(z_l).
    function _activation(uint256 l) private pure returns (uint256) {
        return l == 0 ? _ref(REF_NODE, 1) : _ref(REF_NODE, 2 * l + 2);
    }

    /// @dev W_{l+1} (parameter 2l) or b_{l+1} (parameter 2l + 1).
    function _param(uint256 l, bool bias) private pure returns (uint256) {
        return _ref(REF_PARAM, 2 * l + (bias ? 1 : 0));
    }

    /// @dev The gradient dz read by backward block b (layer L − b): dz_L, or the relu_grad
    ///      that ends block b − 1.
    function _dz(uint256 layers, uint256 b) private pure returns (uint256) {
        return _ref(REF_NODE, 2 * layers + 3 + 4 * b);
    }

    function _ref(uint256 kind, uint256 index) private pure returns (uint256) {
        return kind << 32 | index;
    }

    /// @dev Parameter p's shape: `W [out, in]` for even p, `b [out]` for odd p.
    function _paramShape(MlpSpecCodec.Spec memory s, uint256 p) internal pure returns (uint64[] memory) {
        uint256 l = p / 2;
        return p % 2 == 0 ? _shape2(s.widths[l + 1], s.widths[l]) : _shape1(s.widths[l + 1]);
    }

    /// @dev For the initial state: the parameter whose shape tensor `id` has (moment i
    ///      belongs to parameter i mod P).
    function _initParam(MlpSpecCodec.Spec memory s, TensorId calldata id) internal pure returns (uint256) {
        uint256 params = 2 * s.layers;
        if (id.list == LIST_WEIGHTS && id.index < params) return id.index;
        if (id.list == LIST_OPTIMIZER && id.index < params * (s.adam ? 2 : 1)) return id.index % params;
        revert NoSuchTensor(id.list, id.index);
    }

    function _checkElement(uint64[] memory shape, uint64 element) private pure {
        uint256 length = 1;
        for (uint256 i; i < shape.length; ++i) {
            length *= shape[i];
        }
        if (element >= length) revert NoSuchElement(element);
    }

    // ---------------------------------------------------------------- micro-programs

    /// @dev The number of micro-steps of element `e` of node `nd` at step `t`.
    function _length(MlpSpecCodec.Spec memory s, Node memory nd, uint256 t, uint256 e)
        internal
        pure
        returns (uint256)
    {
        uint8 op = nd.op;
        if (op == OP_SCHEDULE) {
            Emitter memory em = _emitter(type(uint256).max);
            _schedule(s, t, e, em);
            return em.count;
        }
        if (op == OP_GATHER) return 0;
        if (op == OP_LINEAR) return nd.k;
        if (op == OP_RELU || op == OP_RELU_GRAD || op == OP_SGD_WEIGHT) return 1;
        if (op == OP_LOG_SOFTMAX) return 18 * nd.n + 20;
        if (op == OP_XENT_GRAD) return EXP_STEPS + 3;
        if (op == OP_WEIGHT_GRAD || op == OP_BIAS_GRAD) return nd.rows;
        if (op == OP_INPUT_GRAD) return nd.n;
        if (op == OP_SGD_VELOCITY) return 2;
        if (op == OP_ADAM_M) return 3;
        if (op == OP_ADAM_V) return 4;
        return 7; // OP_ADAM_WEIGHT
    }

    /// @dev Micro-step `k` of element `e` of node `nd` at step `t` (`k` is in range; a
    ///      program without steps answers its COPY for k = 0).
    function _instruction(MlpSpecCodec.Spec memory s, Node memory nd, uint256 t, uint256 e, uint256 k)
        internal
        pure
        returns (Instruction memory)
    {
        uint8 op = nd.op;
        if (op == OP_SCHEDULE) {
            Emitter memory em = _emitter(k);
            Operand memory value = _schedule(s, t, e, em);
            if (em.count == 0) return _ins(COPY, value, _none(), _none(), _none());
            return em.found;
        }
        if (op == OP_GATHER) {
            uint256 width = nd.k;
            uint256 row = _batchRow(s, t * s.batch + e / width);
            return _ins(COPY, _in(0, row * width + e % width), _none(), _none(), _none());
        }
        if (op == OP_LINEAR) {
            // acc = b[j]; acc = fma(A[i, kk], W[j, kk], acc) for kk ascending
            uint256 j = e % nd.n;
            Operand memory acc = k == 0 ? _in(2, j) : _step(k - 1);
            return _ins(FMA, _in(0, _flat(e / nd.n, nd.k, k)), _in(1, _flat(j, nd.k, k)), acc, _none());
        }
        if (op == OP_RELU) return _ins(SEL_GT, _in(0, e), _c(F_ZERO), _in(0, e), _c(F_ZERO));
        if (op == OP_LOG_SOFTMAX) return _logSoftmax(nd.n, e, k);
        if (op == OP_XENT_GRAD) {
            // exp(LS[e]); sel_eq(y[i], j, 1, 0); sub; div by the batch
            if (k < EXP_STEPS) return _exp(k, _in(0, e), 0);
            if (k == EXP_STEPS) {
                return _ins(SEL_EQ, _in(1, e / nd.n), _c(_f32(e % nd.n)), _c(F_ONE), _c(F_ZERO));
            }
            if (k == EXP_STEPS + 1) {
                return _ins(SUB, _step(EXP_STEPS - 1), _step(EXP_STEPS), _none(), _none());
            }
            return _ins(DIV, _step(EXP_STEPS + 1), _c(_f32(nd.rows)), _none(), _none());
        }
        if (op == OP_WEIGHT_GRAD) {
            // acc = 0; acc = fma(dZ[i, o], A[i, kk], acc) for i ascending
            Operand memory acc = k == 0 ? _c(F_ZERO) : _step(k - 1);
            return _ins(FMA, _in(0, k * nd.n + e / nd.k), _in(1, k * nd.k + e % nd.k), acc, _none());
        }
        if (op == OP_INPUT_GRAD) {
            // acc = 0; acc = fma(dZ[i, o], W[o, kk], acc) for o ascending
            Operand memory acc = k == 0 ? _c(F_ZERO) : _step(k - 1);
            return _ins(FMA, _in(0, _flat(e / nd.k, nd.n, k)), _in(1, k * nd.k + e % nd.k), acc, _none());
        }
        if (op == OP_BIAS_GRAD) {
            Operand memory acc = k == 0 ? _c(F_ZERO) : _step(k - 1);
            return _ins(ADD, acc, _in(0, k * nd.n + e), _none(), _none());
        }
        if (op == OP_RELU_GRAD) return _ins(SEL_GT, _in(0, e), _c(F_ZERO), _in(1, e), _c(F_ZERO));
        if (op == OP_SGD_VELOCITY) {
            // g' = fma(λ, w, g); v' = fma(μ, v, g')
            if (k == 0) return _ins(FMA, _c(s.weightDecay), _in(1, e), _in(2, e), _none());
            return _ins(FMA, _c(s.momentum), _in(3, e), _step(0), _none());
        }
        if (op == OP_SGD_WEIGHT) return _ins(FMA, _in(0, 1), _in(2, e), _in(1, e), _none());
        if (op == OP_ADAM_M) {
            // c1 = sub(1, β1); m' = fma(β1, m, mul(c1, g))
            if (k == 0) return _ins(SUB, _c(F_ONE), _c(s.beta1), _none(), _none());
            if (k == 1) return _ins(MUL, _step(0), _in(2, e), _none(), _none());
            return _ins(FMA, _c(s.beta1), _in(3, e), _step(1), _none());
        }
        if (op == OP_ADAM_V) {
            // c2 = sub(1, β2); v' = fma(β2, v, mul(c2, mul(g, g)))
            if (k == 0) return _ins(SUB, _c(F_ONE), _c(s.beta2), _none(), _none());
            if (k == 1) return _ins(MUL, _in(2, e), _in(2, e), _none(), _none());
            if (k == 2) return _ins(MUL, _step(0), _step(1), _none(), _none());
            return _ins(FMA, _c(s.beta2), _in(4, e), _step(2), _none());
        }
        // OP_ADAM_WEIGHT: mh = m'/sched[2]; vh = v'/sched[3]; u = mh/(sqrt(vh) + ε);
        // u = fma(λ, w, u); w' = fma(sched[1], u, w)
        if (k == 0) return _ins(DIV, _in(2, e), _in(0, 2), _none(), _none());
        if (k == 1) return _ins(DIV, _in(3, e), _in(0, 3), _none(), _none());
        if (k == 2) return _ins(SQRT, _step(1), _none(), _none(), _none());
        if (k == 3) return _ins(ADD, _step(2), _c(s.eps), _none(), _none());
        if (k == 4) return _ins(DIV, _step(0), _step(3), _none(), _none());
        if (k == 5) return _ins(FMA, _c(s.weightDecay), _in(1, e), _step(4), _none());
        return _ins(FMA, _in(0, 1), _step(5), _in(1, e), _none());
    }

    /// @dev Micro-step `k` of element `e` of log_softmax over `classes` columns:
    ///      the row maximum (classes − 1 `max`), the sum of `exp(sub(z, m))` (16 steps for
    ///      the first class, 17 for each further one with its `add`), `log` of the sum, then
    ///      `sub(sub(z[e], m), log)`.
    function _logSoftmax(uint256 classes, uint256 e, uint256 k) internal pure returns (Instruction memory) {
        uint256 row = e - e % classes;
        if (k + 1 < classes) {
            return _ins(MAX, k == 0 ? _in(0, row) : _step(k - 1), _in(0, row + k + 1), _none(), _none());
        }
        Operand memory max = classes == 1 ? _in(0, row) : _step(classes - 2);
        uint256 sumStart = classes - 1;
        uint256 logStart = sumStart + (EXP_STEPS + 1) + (EXP_STEPS + 2) * (classes - 1);
        if (k < logStart) {
            uint256 r = k - sumStart;
            uint256 c;
            uint256 base;
            uint256 local;
            if (r < EXP_STEPS + 1) {
                (c, base, local) = (0, sumStart, r);
            } else {
                c = 1 + (r - (EXP_STEPS + 1)) / (EXP_STEPS + 2);
                local = (r - (EXP_STEPS + 1)) % (EXP_STEPS + 2);
                base = sumStart + (EXP_STEPS + 1) + (EXP_STEPS + 2) * (c - 1);
            }
            if (local == 0) return _ins(SUB, _in(0, row + c), max, _none(), _none());
            if (local <= EXP_STEPS) return _exp(local - 1, _step(base), base + 1);
            // the running sum: the first term, or the previous add
            Operand memory acc = c == 1 ? _step(sumStart + EXP_STEPS) : _step(base - 1);
            return _ins(ADD, acc, _step(base + EXP_STEPS), _none(), _none());
        }
        if (k < logStart + LOG_STEPS) {
            Operand memory sum = classes == 1 ? _step(sumStart + EXP_STEPS) : _step(logStart - 1);
            return _log(k - logStart, sum, logStart);
        }
        uint256 last = logStart + LOG_STEPS;
        if (k == last) return _ins(SUB, _in(0, e), max, _none(), _none());
        return _ins(SUB, _step(last), _step(last - 1), _none(), _none());
    }

    /// @dev Step `j` of `exp(x)` (`math::exp`, 15 steps) whose first step is micro-step `b`.
    function _exp(uint256 j, Operand memory x, uint256 b) internal pure returns (Instruction memory) {
        if (j == 0) return _ins(MAX, x, _c(EXP_LOWER), _none(), _none());
        if (j == 1) return _ins(MIN, _step(b), _c(EXP_UPPER), _none(), _none());
        if (j == 2) return _ins(MUL, _step(b + 1), _c(LOG2E), _none(), _none());
        if (j == 3) return _ins(ADD, _step(b + 2), _c(ROUND_MAGIC), _none(), _none());
        if (j == 4) return _ins(SUB, _step(b + 3), _c(ROUND_MAGIC), _none(), _none());
        if (j == 5) return _ins(FMA, _step(b + 4), _c(NEG_LN2_HI), _step(b + 1), _none());
        if (j == 6) return _ins(FMA, _step(b + 4), _c(NEG_LN2_LO), _step(b + 5), _none());
        if (j == 7) return _ins(FMA, _c(INV_5040), _step(b + 6), _c(INV_720), _none());
        if (j == 14) return _ins(LDEXP, _step(b + 13), _step(b + 4), _none(), _none());
        // Horner: p = fma(p, r, c) for c = 1/120, 1/24, 1/6, 1/2, 1, 1
        uint32 c;
        if (j == 8) c = INV_120;
        else if (j == 9) c = INV_24;
        else if (j == 10) c = INV_6;
        else if (j == 11) c = F_HALF;
        else c = F_ONE; // 12, 13
        return _ins(FMA, _step(b + j - 1), _step(b + 6), _c(c), _none());
    }

    /// @dev Step `j` of `log(x)` (`math::log`, 20 steps) whose first step is micro-step `b`.
    function _log(uint256 j, Operand memory x, uint256 b) internal pure returns (Instruction memory) {
        if (j == 0) return _ins(GETEXP, x, _none(), _none(), _none()); // e
        if (j == 1) return _ins(MUL, _step(b), _c(F_MINUS_ONE), _none(), _none()); // −e
        if (j == 2) return _ins(LDEXP, x, _step(b + 1), _none(), _none()); // m
        if (j == 3) return _ins(MUL, _step(b + 2), _c(F_HALF), _none(), _none()); // m/2
        if (j == 4) return _ins(ADD, _step(b), _c(F_ONE), _none(), _none()); // e + 1
        if (j == 5) return _ins(SEL_GT, _step(b + 2), _c(SQRT2), _step(b + 3), _step(b + 2));
        if (j == 6) return _ins(SEL_GT, _step(b + 2), _c(SQRT2), _step(b + 4), _step(b));
        if (j == 7) return _ins(SUB, _step(b + 5), _c(F_ONE), _none(), _none()); // f
        if (j == 8) return _ins(ADD, _step(b + 7), _c(F_TWO), _none(), _none()); // 2 + f
        if (j == 9) return _ins(DIV, _step(b + 7), _step(b + 8), _none(), _none()); // z
        if (j == 10) return _ins(MUL, _step(b + 9), _step(b + 9), _none(), _none()); // w
        if (j == 11) return _ins(FMA, _c(INV_11), _step(b + 10), _c(INV_9), _none());
        if (j <= 15) {
            uint32 c = j == 12 ? INV_7 : j == 13 ? INV_5 : j == 14 ? INV_3 : F_ONE;
            return _ins(FMA, _step(b + j - 1), _step(b + 10), _c(c), _none());
        }
        if (j == 16) return _ins(ADD, _step(b + 9), _step(b + 9), _none(), _none()); // 2z
        if (j == 17) return _ins(MUL, _step(b + 16), _step(b + 15), _none(), _none()); // ln m
        if (j == 18) return _ins(FMA, _step(b + 6), _c(LN2_LO), _step(b + 17), _none());
        return _ins(FMA, _step(b + 6), _c(LN2_HI), _step(b + 18), _none());
    }

    /// @dev The schedule op's element `e` at step `t` (`Op::schedule_element`), emitted into
    ///      `em`; returns the operand holding the element.
    function _schedule(MlpSpecCodec.Spec memory s, uint256 t, uint256 e, Emitter memory em)
        internal
        pure
        returns (Operand memory)
    {
        if (e == 0) return _lrT(s, t, em);
        if (e == 1) return _emit(em, MUL, _lrT(s, t, em), _c(F_MINUS_ONE), _none());
        // 1 − β^(t+1)
        Operand memory power = _powi(em, _c(e == 2 ? s.beta1 : s.beta2), t + 1);
        return _emit(em, SUB, _c(F_ONE), power, _none());
    }

    /// @dev lr_t (repops §5).
    function _lrT(MlpSpecCodec.Spec memory s, uint256 t, Emitter memory em)
        private
        pure
        returns (Operand memory)
    {
        if (s.schedule == 1) return _c(s.lr);
        if (s.schedule == 2) {
            Operand memory scaled;
            if (t < s.warmup) {
                scaled = _emit(em, MUL, _c(s.lr), _c(_f32(t + 1)), _none());
                return _emit(em, DIV, scaled, _c(_f32(s.warmup)), _none());
            }
            scaled = _emit(em, MUL, _c(s.lr), _c(_f32(s.steps - t)), _none());
            return _emit(em, DIV, scaled, _c(_f32(s.steps - s.warmup)), _none());
        }
        Operand memory factor = _powi(em, _c(s.gamma), t / s.every);
        return _emit(em, MUL, _c(s.lr), factor, _none());
    }

    /// @dev `base^n` by binary exponentiation (`ops::powi`).
    function _powi(Emitter memory em, Operand memory base, uint256 n) private pure returns (Operand memory) {
        Operand memory result = _c(F_ONE);
        while (n > 0) {
            if (n & 1 == 1) result = _emit(em, MUL, result, base, _none());
            n >>= 1;
            if (n > 0) base = _emit(em, MUL, base, base, _none());
        }
        return result;
    }

    /// @dev An emitter that keeps micro-step `target`.
    function _emitter(uint256 target) private pure returns (Emitter memory em) {
        em.target = target;
    }

    /// @dev Appends one micro-step to `em` (keeping it if it is the target) and returns its
    ///      result as an operand.
    function _emit(Emitter memory em, uint8 opcode, Operand memory a, Operand memory b, Operand memory c)
        private
        pure
        returns (Operand memory)
    {
        if (em.count == em.target) em.found = _ins(opcode, a, b, c, _none());
        return _step(em.count++);
    }

    /// @dev Micro-step `k` of element `e` of parameter `p` of S_0.
    function _initInstruction(MlpSpecCodec.Spec memory s, uint256 p, uint256 e, uint256 k)
        internal
        pure
        returns (Instruction memory)
    {
        if (k == 0) {
            uint256 l = p / 2; // a bias has the fan-in of its weight
            return _ins(SQRT, _c(_f32(s.widths[l])), _none(), _none(), _none());
        }
        if (k == 1) return _ins(DIV, _c(F_ONE), _step(0), _none(), _none());
        if (k == 2) {
            uint64 key = SplitMix64.deriveKey(s.seed, PURPOSE_INIT + uint64(p));
            uint32 u = _uniform01(SplitMix64.draw(key, uint64(e)));
            return _ins(FMA, _c(u), _c(F_TWO), _c(F_MINUS_ONE), _none());
        }
        return _ins(MUL, _step(2), _step(1), _none(), _none());
    }

    // ---------------------------------------------------------------- data order (repops §7)

    /// @dev The dataset row of training sample `cursor` (`DataOrder::train_row`): epoch
    ///      `cursor / n_train` reads the training set in its own permuted order, through the split.
    function _batchRow(MlpSpecCodec.Spec memory s, uint256 cursor) internal pure returns (uint256) {
        uint256 train = s.samples - s.holdout;
        uint64 epochKey =
            SplitMix64.draw(SplitMix64.deriveKey(s.seed, SplitMix64.SHUFFLE), uint64(cursor / train));
        uint256 position = _permute(epochKey, train, cursor % train);
        return _permute(SplitMix64.deriveKey(s.seed, PURPOSE_SPLIT), s.samples, position);
    }

    /// @dev `dataset::permute`: a 4-round Feistel network on the smallest even number of bits
    ///      covering n, round function `draw(key, round·2^32 + right) mod 2^half`, cycle-walking
    ///      until the image is below n.
    function _permute(uint64 key, uint256 n, uint256 index) internal pure returns (uint256 x) {
        uint256 top = (n < 2 ? 2 : n) - 1;
        uint256 bits;
        while (top > 0) {
            ++bits;
            top >>= 1;
        }
        if (bits < 2) bits = 2;
        uint256 half = (bits + 1) / 2;
        uint256 mask = 2 ** half - 1;
        x = index;
        while (true) {
            uint256 left = x >> half;
            uint256 right = x & mask;
            for (uint256 round; round < 4; ++round) {
                uint256 f = SplitMix64.draw(key, uint64(round << 32 | right)) & mask;
                (left, right) = (right, left ^ f);
            }
            x = left << half | right;
            if (x < n) return x;
        }
    }

    // ---------------------------------------------------------------- f32 bits

    /// @dev `uniform01`: the top 24 bits of a draw times 2^−24, exact in f32, as bits.
    function _uniform01(uint64 draw) internal pure returns (uint32) {
        uint256 v = draw >> 40;
        if (v == 0) return 0;
        uint256 top = _msb(v); // 0..23
        // v · 2^−24 = 1.f · 2^(top − 24): biased exponent top + 103
        return uint32((top + 103) << 23 | ((v << (23 - top)) & 0x7FFFFF));
    }

    /// @dev An unsigned integer as f32 bits, rounded to nearest, ties to even (exact below 2^24,
    ///      which every count and step the programs use is).
    function _f32(uint256 v) internal pure returns (uint32) {
        if (v == 0) return 0;
        uint256 top = _msb(v);
        if (top > 127) return 0x7F800000;
        uint256 mant;
        if (top <= 23) {
            mant = v << (23 - top);
        } else {
            uint256 shift = top - 23;
            mant = v >> shift;
            uint256 rest = v & (2 ** shift - 1);
            uint256 halfway = 2 ** (shift - 1);
            if (rest > halfway || (rest == halfway && mant & 1 == 1)) ++mant;
            if (mant == 2 ** 24) {
                mant >>= 1;
                ++top;
                if (top > 127) return 0x7F800000;
            }
        }
        return uint32((top + 127) << 23 | (mant & 0x7FFFFF));
    }

    /// @dev The index of the highest set bit of `v` > 0.
    function _msb(uint256 v) private pure returns (uint256 r) {
        while (v > 1) {
            v >>= 1;
            ++r;
        }
    }

    // ---------------------------------------------------------------- builders

    function _ins(uint8 opcode, Operand memory a, Operand memory b, Operand memory c, Operand memory d)
        private
        pure
        returns (Instruction memory ins)
    {
        ins.opcode = opcode;
        ins.operands[0] = a;
        ins.operands[1] = b;
        ins.operands[2] = c;
        ins.operands[3] = d;
    }

    /// @dev The flat index of `[row, column]` in a row-major matrix `width` wide.
    function _flat(uint256 row, uint256 width, uint256 column) private pure returns (uint256) {
        return row * width + column;
    }

    function _in(uint256 slot, uint256 index) private pure returns (Operand memory) {
        return Operand(OperandKind.Input, uint8(slot), uint64(index), 0);
    }

    function _step(uint256 index) private pure returns (Operand memory) {
        return Operand(OperandKind.Step, 0, uint64(index), 0);
    }

    function _c(uint32 bits) private pure returns (Operand memory) {
        return Operand(OperandKind.Const, 0, 0, bits);
    }

    function _none() private pure returns (Operand memory) {}

    function _shape1(uint256 a) private pure returns (uint64[] memory s) {
        s = new uint64[](1);
        s[0] = uint64(a);
    }

    function _shape2(uint256 a, uint256 b) private pure returns (uint64[] memory s) {
        s = new uint64[](2);
        s[0] = uint64(a);
        s[1] = uint64(b);
    }
}
