// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../interfaces/IStepSemantics.sol";
import {GraphPlan as P} from "./graph/GraphPlan.sol";
import {GraphSpecCodec as G} from "./graph/GraphSpecCodec.sol";
import {ModelImage} from "./graph/ModelImage.sol";
import {Shapes} from "./graph/Shapes.sol";
import {AttentionPrograms} from "./ops/AttentionPrograms.sol";
import {DenseOps} from "./ops/DenseOps.sol";
import {DensePrograms} from "./ops/DensePrograms.sol";
import {ImagePrograms} from "./ops/ImagePrograms.sol";
import {Micro} from "./ops/Micro.sol";
import {NormPrograms} from "./ops/NormPrograms.sol";
import {GraphSpecRules} from "./GraphSpecRules.sol";
import {NodeGeometry} from "./graph/NodeGeometry.sol";
import {StepWords} from "../lib/StepWords.sol";

/// @title GraphSemantics
/// @notice The step semantics of every model vtrain trains: a layer graph read from the spec
///         (`docs/repops.md` §4–§7), or an `mlp`, which is shorthand for one. Bit for bit with
///         the Rust reference engine: the node list of `train::planned_step_graph`
///         ({GraphPlan}), the micro-programs `repops::Op::element` records ({DenseOps},
///         {ImagePrograms}, {NormPrograms}, {AttentionPrograms}), the batch rows of `dataset.rs` and the initial
///         state of `Trainer::initial_state`.
/// @dev    One graph interpreter, the op families behind it: this contract decodes the spec,
///         plans the step and locates a tensor's node and its inputs; each op family's
///         programs live in a contract of their own ({DensePrograms}, {ImagePrograms},
///         {NormPrograms}, {AttentionPrograms}), asked for an element's program length and micro-step in one call.
///         The split keeps this contract far below the code-size limit (EIP-170: 24,576 bytes;
///         holding every dense program it came within 753 bytes of it), so that the plan can
///         grow new node kinds. The exception are the matrix products ({DenseOps.product}:
///         linear and its weight and input gradients), whose one-step proofs are the dearest
///         (`docs/benchmarks.md` § The op-family contracts): they run inline and pay no call
///         (a cold account and the call cost a proof about 4.5k gas).
///         Every answer is derived from the canonical spec bytes, which the game has checked
///         against the job hash; the one state, {imageOf}, caches that derivation per spec
///         ({compile}) and changes no answer. The init transition ("nothing → S_0") produces the
///         optimizer list (all zero: a copy of the constant 0) and the weights list, whose
///         element e of parameter q is `sqrt(fan_in); div(1, ·); fma(u, 2, −1); mul(·, bound)`
///         with `u = uniform01(derive_key(seed, 0x100 + q), e)` (a layer norm's γ is a copy of
///         the constant 1, its β of 0), unless the job fine-tunes a model: its weights list is
///         then that model's ({initialWeights}), bound by the game.
contract GraphSemantics is IStepSemantics {
    uint8 internal constant LIST_INTERMEDIATES = 0;
    uint8 internal constant LIST_OPTIMIZER = 1;
    uint8 internal constant LIST_WEIGHTS = 2;

    /// @notice The element programs of the dense ops but the matrix products, and of the
    ///         initial state's drawn weights.
    /// @dev    Immutables: a one-step proof would otherwise pay a cold storage read (2.1k gas)
    ///         for the address. The deployment check masks immutables when it compares runtime
    ///         code and checks their values through these getters
    ///         (`vtrain_dispute::deployment`).
    DensePrograms public immutable dense;
    /// @notice The element programs of the image ops and dropout (an immutable, as `dense`).
    ImagePrograms public immutable images;
    /// @notice The element programs of layer normalisation, GELU and gradient clipping (an
    ///         immutable, as `dense`).
    NormPrograms public immutable norms;
    /// @notice The element programs of the transformer's ops: the embedding, causal
    ///         self-attention and the residual add (an immutable, as `dense`).
    AttentionPrograms public immutable attention;
    /// @notice The spec bounds and the cost model.
    GraphSpecRules public immutable rules;

    /// @notice The data contract holding each compiled spec's model image ({compile}), by the
    ///         keccak of the spec's canonical bytes; zero while it is not compiled.
    /// @dev    A cache, never a source of truth: an image is only made here, from a spec this
    ///         contract has validated, and holds exactly what decoding that spec gives. A spec
    ///         without an image is decoded on every call, with the same results.
    mapping(bytes32 specHash => address image) public imageOf;

    /// @notice `spec` is compiled: its model image lives at `image`.
    event ModelCompiled(bytes32 indexed specHash, address image);

    /// @notice The image's data contract could not be created (out of gas, or too large for
    ///         EIP-170).
    error ImageNotCreated();

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

    /// @param dense_  the dense-op and initial-state programs (deployed alongside)
    /// @param images_ the image-op programs (deployed alongside)
    /// @param norms_  the layer-norm, GELU and clipping programs (deployed alongside)
    /// @param attention_ the transformer's programs (deployed alongside)
    /// @param rules_  the spec bounds and cost model (deployed alongside)
    constructor(
        DensePrograms dense_,
        ImagePrograms images_,
        NormPrograms norms_,
        AttentionPrograms attention_,
        GraphSpecRules rules_
    ) {
        dense = dense_;
        images = images_;
        norms = norms_;
        attention = attention_;
        rules = rules_;
    }

    /// @dev A produced tensor of a step, with everything its programs need.
    struct Target {
        G.Model m;
        P.Plan plan;
        P.Node nd;
        uint256 shape;
    }

    // ---------------------------------------------------------------- model images

    /// @notice Stores the decoded model and step plan of `spec` as a model image
    ///         ({ModelImage}), so that every later call on this spec, the one-step proof's
    ///         `locate` above all, reads it back instead of decoding and planning again
    ///         (`docs/dispute-game.md` § Model images). Anyone may call it, once per spec
    ///         (later calls return the image); the solver's agent does before its first move
    ///         of a game that needs the spec. Reverts for a spec {validate} refuses.
    function compile(bytes calldata spec) external returns (address image) {
        bytes32 key = keccak256(spec);
        image = imageOf[key];
        if (image != address(0)) return image;
        rules.validate(spec);
        G.Model memory m = G.load(spec);
        P.Plan memory plan = P.build(m);
        plan.entryOfNode = P.entryTable(plan);
        bytes memory code = ModelImage.creationCode(ModelImage.encode(m, plan));
        assembly ("memory-safe") {
            image := create(0, add(code, 32), mload(code))
        }
        if (image == address(0)) revert ImageNotCreated();
        imageOf[key] = image;
        emit ModelCompiled(key, image);
    }

    // ---------------------------------------------------------------- IStepSemantics

    /// @inheritdoc IStepSemantics
    function validate(bytes calldata spec) external view returns (uint256 stepOps) {
        return rules.validate(spec);
    }

    /// @notice How many tensors each produced list holds: the intermediates (none for the
    ///         initial state), the new optimizer state (one or two moments per parameter) and
    ///         the new weights.
    function counts(bytes calldata spec, bool init)
        external
        view
        returns (uint32 intermediates, uint32 optimizer, uint32 weights)
    {
        (G.Model memory m, P.Plan memory plan) = _load(spec);
        intermediates = init ? 0 : uint32(plan.inter);
        optimizer = uint32(m.params * (m.adam ? 2 : 1));
        weights = uint32(m.params);
    }

    /// @inheritdoc IStepSemantics
    function initialWeights(bytes calldata spec) external pure returns (bytes32) {
        return G.load(spec).initialModel;
    }

    /// @notice The shape of a produced tensor.
    function shapeOf(bytes calldata spec, TensorId calldata id) external view returns (uint64[] memory) {
        (G.Model memory m, P.Plan memory plan) = _load(spec);
        if (id.init) return Shapes.unpack(P.paramShape(m, _initParam(m, id)));
        return Shapes.unpack(_target(m, plan, id).shape);
    }

    /// @notice Input `slot` of the op that produces tensor `id`. Reverts for the initial state
    ///         (its programs read constants only) and for a slot past the op's inputs.
    function inputOf(bytes calldata spec, TensorId calldata id, uint8 slot)
        external
        view
        returns (TensorSource memory)
    {
        (G.Model memory m, P.Plan memory plan) = _load(spec);
        if (id.init) {
            _initParam(m, id);
            revert NoSuchInput(slot);
        }
        Target memory t = _target(m, plan, id);
        return _sourceOf(t, slot);
    }

    /// @notice The number of micro-steps of element `element` of tensor `id` (0 for a copy).
    function programLength(bytes calldata spec, TensorId calldata id, uint64 element)
        external
        view
        returns (uint32)
    {
        (G.Model memory m, P.Plan memory plan) = _load(spec);
        uint256 len;
        if (id.init) {
            (len,) = _initProgram(m, id, element, type(uint256).max);
        } else {
            Target memory t = _target(m, plan, id);
            _checkElement(t.shape, element);
            (len,) = _program(t, id.step, element, type(uint256).max);
        }
        return uint32(len);
    }

    /// @notice Micro-step `microStep` of element `element` of tensor `id`, as the Rust
    ///         `Recorder` records it. An element without steps has one pseudo-step 0: COPY.
    function instruction(bytes calldata spec, TensorId calldata id, uint64 element, uint32 microStep)
        external
        view
        returns (Instruction memory)
    {
        (G.Model memory m, P.Plan memory plan) = _load(spec);
        uint256 word;
        if (id.init) word = _initWord(m, id, element, microStep);
        else (word,) = _nodeWord(m, plan, id, element, microStep);
        return StepWords.decode(word);
    }

    /// @inheritdoc IStepSemantics
    function locate(bytes calldata spec, TensorId calldata id, uint64 element, uint32 microStep)
        external
        view
        returns (uint256 ins, uint256[4] memory inputs)
    {
        (G.Model memory m, P.Plan memory plan) = _load(spec);
        // the initial state reads no tensor
        if (id.init) return (_initWord(m, id, element, microStep), inputs);
        (uint256 word, Target memory t) = _nodeWord(m, plan, id, element, microStep);
        ins = word;
        for (uint256 i; i < 4; ++i) {
            if (StepWords.kindOf(ins, i) == OperandKind.Input) {
                inputs[i] = _sourceWord(t, StepWords.slotOf(ins, i));
            }
        }
    }

    // ---------------------------------------------------------------- tensors

    /// @dev The model and step plan of `spec`: read from its image when it is compiled,
    ///      decoded and planned otherwise.
    function _load(bytes calldata spec) internal view returns (G.Model memory m, P.Plan memory plan) {
        address image = imageOf[keccak256(spec)];
        if (image != address(0)) return ModelImage.load(image);
        // inline, not a shared helper with {compile}: a helper returning the two structs
        // would allocate and zero another pair on every decoding call (about 1.1k gas)
        m = G.load(spec);
        plan = P.build(m);
    }

    /// @dev The instruction word ({StepWords}) of micro-step `microStep` of element `element`
    ///      of the initial state's tensor `id`.
    function _initWord(G.Model memory m, TensorId calldata id, uint64 element, uint32 microStep)
        internal
        view
        returns (uint256)
    {
        (uint256 len, uint256 word) = _initProgram(m, id, element, microStep);
        _checkMicroStep(len, microStep);
        return word;
    }

    /// @dev The instruction word ({StepWords}) of micro-step `microStep` of element `element`
    ///      of a step's tensor `id`, and the tensor's target.
    function _nodeWord(
        G.Model memory m,
        P.Plan memory plan,
        TensorId calldata id,
        uint64 element,
        uint32 microStep
    ) internal view returns (uint256, Target memory) {
        Target memory t = _target(m, plan, id);
        _checkElement(t.shape, element);
        (uint256 len, uint256 word) = _program(t, id.step, element, microStep);
        _checkMicroStep(len, microStep);
        return (word, t);
    }

    /// @dev The number of micro-steps of element `e` of the initial state's tensor `id` (0
    ///      for a copy) and, when `k` is one of them (or 0 for a copy), its micro-step `k`;
    ///      otherwise 0.
    function _initProgram(G.Model memory m, TensorId calldata id, uint64 e, uint256 k)
        internal
        view
        returns (uint256 len, uint256 word)
    {
        uint256 q = _initParam(m, id);
        _checkElement(P.paramShape(m, q), e);
        if (id.list == LIST_OPTIMIZER || _isNormParam(m, q)) {
            // a moment, a layer norm's β: +0; its γ: 1
            bool gain = id.list == LIST_WEIGHTS && q % 2 == 0;
            return (0, Micro.copy(Micro.c(gain ? Micro.F_ONE : Micro.F_ZERO)));
        }
        if (k < 4) word = dense.initInstruction(m.seed, _fanIn(m, q), q, e, k);
        return (4, word);
    }

    /// @dev The number of micro-steps of element `e` of the target's node at step `step` (0 for
    ///      a copy) and, when `k` is one of them (or 0 for a copy), its micro-step `k`;
    ///      otherwise 0 (`k = 2^256 − 1` asks the length alone). Each op family's contract
    ///      answers both in one call.
    function _program(Target memory t, uint256 step, uint256 e, uint256 k)
        internal
        view
        returns (uint256 len, uint256 word)
    {
        uint8 op = t.nd.op;
        if (NodeGeometry.isAttention(op)) {
            return attention.program(op, NodeGeometry.attention(t.m, t.nd), e, k);
        }
        if (NodeGeometry.isNorm(op)) {
            (uint256 width, uint256 rows, uint32 eps) = NodeGeometry.norm(t.m, t.nd);
            return norms.program(op, width, rows, eps, e, k);
        }
        if (op >= P.OP_CONV) {
            // an image op
            uint256 index = t.nd.layer;
            return images.program(op, index, t.m.layers[index], t.m.batch, t.m.seed, step, e, k);
        }
        DenseOps.Dims memory d = NodeGeometry.dims(t.m, t.nd);
        if (DenseOps.isProduct(op)) {
            // inline: the dearest dense proofs pay no call
            len = DenseOps.productLength(op, d);
            if (k < len) word = DenseOps.product(op, d, e, k);
        } else {
            (uint256 job0, uint256 job1) = DenseOps.pack(t.m);
            (len, word) = dense.program(op, d, job0, job1, step, e, k);
        }
    }

    /// @dev The node of produced tensor `id` of a step, with the model and plan.
    function _target(G.Model memory m, P.Plan memory plan, TensorId calldata id)
        internal
        pure
        returns (Target memory)
    {
        // indices below 2^32, dimensions below 2^32 (at most seven): nothing overflows
        unchecked {
            if (id.step >= m.steps) revert NoSuchStep(id.step);
            uint256 inter = plan.inter;
            uint256 params = m.params;
            uint256 index = id.index;
            uint256 i = type(uint256).max;
            if (id.list == LIST_INTERMEDIATES) {
                if (index < inter) i = index;
            } else if (id.list == LIST_OPTIMIZER) {
                if (!m.adam && index < params) i = inter + 2 * index;
                if (m.adam && index < 2 * params) i = inter + 3 * (index % params) + index / params;
            } else if (id.list == LIST_WEIGHTS) {
                if (index < params) i = inter + (m.adam ? 3 * index + 2 : 2 * index + 1);
            }
            if (i == type(uint256).max) revert NoSuchTensor(id.list, id.index);
            P.Node memory nd = P.node(plan, i);
            return Target(m, plan, nd, P.shapeOf(m, nd));
        }
    }

    /// @dev The produced list and position of node `i`: intermediates, then the optimizer
    ///      block (SGD v', w'; AdamW m', v', w' per parameter).
    function _listOf(Target memory t, uint256 i) internal pure returns (uint8 list, uint256 position) {
        // indices below 2^32, dimensions below 2^32 (at most seven): nothing overflows
        unchecked {
            uint256 inter = t.plan.inter;
            if (i < inter) return (LIST_INTERMEDIATES, i);
            uint256 j = i - inter;
            if (!t.m.adam) return j % 2 == 0 ? (LIST_OPTIMIZER, j / 2) : (LIST_WEIGHTS, j / 2);
            uint256 q = j / 3;
            uint256 r = j % 3;
            if (r == 0) return (LIST_OPTIMIZER, q);
            if (r == 1) return (LIST_OPTIMIZER, t.m.params + q);
            return (LIST_WEIGHTS, q);
        }
    }

    /// @dev Input `slot` of the target's node.
    function _sourceOf(Target memory t, uint8 slot) internal pure returns (TensorSource memory src) {
        (uint8 list, uint256 index, uint256 shape) = StepWords.source(_sourceWord(t, slot));
        (src.source, src.index, src.shape) = (Source(list), uint32(index), Shapes.unpack(shape));
    }

    /// @dev Input `slot` of the target's node as a source word ({StepWords}).
    function _sourceWord(Target memory t, uint8 slot) internal pure returns (uint256) {
        // indices below 2^32, dimensions below 2^32 (at most seven): nothing overflows
        unchecked {
            if (slot >= t.nd.arity) revert NoSuchInput(slot);
            uint256 r = t.nd.inputs[slot];
            uint256 kind = r >> 32;
            uint256 index = r & 0xFFFFFFFF;
            if (kind == P.REF_NODE) {
                (uint8 list, uint256 position) = _listOf(t, index);
                return StepWords.sourceWord(list, position, P.shapeAt(t.m, t.plan, index));
            }
            if (kind == P.REF_PARAM) {
                return StepWords.sourceWord(uint8(Source.OldWeights), index, P.paramShape(t.m, index));
            }
            if (kind == P.REF_MOMENT) {
                return StepWords.sourceWord(
                    uint8(Source.OldOptimizer), index, P.paramShape(t.m, index % t.m.params)
                );
            }
            if (kind == P.REF_FEATURES) {
                return
                    StepWords.sourceWord(
                        uint8(Source.DatasetFeatures), 0, Shapes.two(t.m.samples, t.m.features)
                    );
            }
            return StepWords.sourceWord(uint8(Source.DatasetLabels), 0, Shapes.one(t.m.samples));
        }
    }

    /// @dev For the initial state: the parameter whose shape tensor `id` has (moment i
    ///      belongs to parameter i mod P).
    function _initParam(G.Model memory m, TensorId calldata id) internal pure returns (uint256) {
        // indices below 2^32, dimensions below 2^32 (at most seven): nothing overflows
        unchecked {
            uint256 params = m.params;
            if (id.list == LIST_WEIGHTS && id.index < params) return id.index;
            if (id.list == LIST_OPTIMIZER && id.index < params * (m.adam ? 2 : 1)) return id.index % params;
            revert NoSuchTensor(id.list, id.index);
        }
    }

    /// @dev Whether parameter `q` is a layer norm's γ or β.
    function _isNormParam(G.Model memory m, uint256 q) internal pure returns (bool) {
        // indices below 2^32, dimensions below 2^32 (at most seven): nothing overflows
        unchecked {
            uint256 first = q - q % 2;
            for (uint256 l; l < m.layers.length; ++l) {
                if (m.layers[l].firstParam == first) return m.layers[l].kind == G.LAYER_NORM;
            }
            return false;
        }
    }

    /// @dev The elements of one output row of parameter q's weight (a bias uses its weight's).
    function _fanIn(G.Model memory m, uint256 q) internal pure returns (uint256 fanIn) {
        // indices below 2^32, dimensions below 2^32 (at most seven): nothing overflows
        unchecked {
            uint256 shape = P.paramShape(m, q - q % 2);
            fanIn = 1;
            for (uint256 i = 1; i < Shapes.rank(shape); ++i) {
                fanIn *= Shapes.dim(shape, i);
            }
        }
    }

    function _checkElement(uint256 shape, uint64 element) private pure {
        if (element >= Shapes.elements(shape)) revert NoSuchElement(element);
    }

    /// @dev A program of `len` micro-steps has micro-steps `0 … len − 1`; one without steps
    ///      (a copy) has the pseudo-step 0.
    function _checkMicroStep(uint256 len, uint32 microStep) private pure {
        if (microStep >= (len == 0 ? 1 : len)) revert NoSuchMicroStep(microStep);
    }
}
