// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IStepSemantics
/// @notice What one training step computes, as the dispute game needs to know it: the
///         tensors a step produces (their lists, counts and shapes), where each op's inputs
///         come from, and the operand locator of every element's micro-program
///         (`docs/repops.md` §4–§6). The game is model-agnostic; this is the model.
/// @dev    All functions are pure in spirit (what they answer depends on their arguments
///         alone; an implementation may read a cache of its own); `spec` is the canonical job
///         spec whose hash the game has already checked. The production implementation
///         mirrors `proof-of-learning/src/train/graph.rs` and `repops/ops.rs`.
interface IStepSemantics {
    /// @notice Which committed list a tensor of the step lives in. The first three are what
    ///         the step produces (the step trace), the others what it reads.
    /// @dev    The order INTERMEDIATES, OPTIMIZER, WEIGHTS is a topological order of the
    ///         step: optimizer outputs read only intermediates and the old state, weight
    ///         outputs also read the new optimizer state.
    enum Source {
        Intermediates, // 0: activations, gradients, schedule … of step t (op order)
        NewOptimizer, // 1: the optimizer list of S_{t+1}
        NewWeights, // 2: the weights list of S_{t+1}
        OldOptimizer, // 3: the optimizer list of S_t
        OldWeights, // 4: the weights list of S_t
        DatasetFeatures, // 5: the features tensor [n, d] of the dataset root
        DatasetLabels // 6: the labels tensor [n] of the dataset root
    }

    /// @notice Where an operand of a micro-step comes from.
    enum OperandKind {
        None, // unused slot
        Input, // element `index` of input tensor `slot` of the op
        Step, // the result of earlier micro-step `index`
        Const // the f32 bit pattern `bits`
    }

    /// @notice One operand reference.
    struct Operand {
        OperandKind kind;
        uint8 slot;
        uint64 index;
        uint32 bits;
    }

    /// @notice One micro-step: a primitive and its operands. Opcode 0 (COPY) means the
    ///         element is operand 0 itself (programs with no primitive, e.g. `gather`).
    struct Instruction {
        uint8 opcode;
        Operand[4] operands;
    }

    /// @notice One input tensor of an op.
    struct TensorSource {
        Source source;
        uint32 index;
        uint64[] shape;
    }

    /// @notice Identifies one produced tensor of one step.
    /// @param  step  the step t whose transition S_t → S_{t+1} is disputed
    /// @param  init  true for the transition "nothing → S_0" (the initial state)
    /// @param  list  Source.Intermediates, NewOptimizer or NewWeights
    /// @param  index the tensor's position in that list
    struct TensorId {
        uint64 step;
        bool init;
        uint8 list;
        uint32 index;
    }

    /// @notice Checks that `spec` is a job this model can run and the game can settle, with
    ///         exactly the bounds of the Rust `JobSpec::validate`; returns the cost of one
    ///         training step in fp32 primitives (the model's cost model, an upper bound).
    /// @dev    Reverts with `SpecRules.InvalidSpec(field)` for a spec out of bounds and with a
    ///         decoding error for one that does not decode.
    function validate(bytes calldata spec) external view returns (uint256 stepOps);

    /// @notice How many tensors each produced list holds.
    function counts(bytes calldata spec, bool init)
        external
        view
        returns (uint32 intermediates, uint32 optimizer, uint32 weights);

    /// @notice The weights list root S_0 must have: the model root of the model a fine-tuning
    ///         job starts from, or zero when S_0's weights are drawn from the seed (they then
    ///         have element programs, like every produced tensor).
    function initialWeights(bytes calldata spec) external view returns (bytes32);

    /// @notice The shape of a produced tensor.
    function shapeOf(bytes calldata spec, TensorId calldata id) external view returns (uint64[] memory);

    /// @notice Input `slot` of the op that produces tensor `id`.
    function inputOf(bytes calldata spec, TensorId calldata id, uint8 slot)
        external
        view
        returns (TensorSource memory);

    /// @notice The number of micro-steps of element `element` of tensor `id` (0 for a copy).
    function programLength(bytes calldata spec, TensorId calldata id, uint64 element)
        external
        view
        returns (uint32);

    /// @notice Micro-step `microStep` of element `element` of tensor `id`, together with the
    ///         input tensor of every `Input` operand (`inputs[i]` for operand i; entries of
    ///         other operands are 0). What the game's one-step proof needs, in one call, as
    ///         words (`StepWords`: the instruction word and source words), which cost the
    ///         proof far less gas than the structs.
    function locate(bytes calldata spec, TensorId calldata id, uint64 element, uint32 microStep)
        external
        view
        returns (uint256 ins, uint256[4] memory inputs);

    /// @notice Micro-step `microStep` of element `element` of tensor `id`.
    function instruction(bytes calldata spec, TensorId calldata id, uint64 element, uint32 microStep)
        external
        view
        returns (Instruction memory);
}
