// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../src/interfaces/IStepSemantics.sol";
import {Commitments} from "../../src/lib/Commitments.sol";
import {SplitMix64} from "../../src/lib/SplitMix64.sol";
import {ToyMath} from "./ToyAlu.sol";
import {ToyProgram} from "./ToyProgram.sol";

/// @notice A whole toy training run as one party believes it: every tensor of every
///         transition, the state roots, and the commitments the game asks for. A `Lie`
///         adds 1 to one micro-step result; the run then continues honestly from there,
///         exactly like a solver that cheated once (or a challenger that believes it did).
abstract contract ToyWorld {
    struct Lie {
        bool active;
        uint32 transition; // 0: the initial state; t + 1: step t
        uint8 list;
        uint32 index;
        uint64 element;
        uint32 microStep;
    }

    /// @notice One transition's produced tensors, by list.
    struct Transition {
        uint32[][] inter;
        uint32[][] opt;
        uint32[][] w;
    }

    struct World {
        Transition[] transitions; // [0] builds S_0; [t + 1] is step t, building S_{t+1}
        bytes32[] stateRoots; // S_0 … S_T
        uint32[] features;
        uint32[] labels;
        Lie lie;
    }

    uint32 internal constant STEPS = 4;
    uint32 internal constant INTERVAL = 2;
    uint32 internal constant BATCH = 2;
    uint64 internal constant SEED = 7;

    // ------------------------------------------------------------------ the job

    function toyFeatures() internal pure returns (uint32[] memory f) {
        f = new uint32[](12);
        for (uint256 i; i < 12; ++i) {
            f[i] = uint32(1000 * i + 7);
        }
    }

    function toyLabels() internal pure returns (uint32[] memory l) {
        l = new uint32[](4);
        l[1] = 1;
        l[3] = 1;
    }

    function toyDatasetRoot() internal pure returns (bytes32) {
        return Commitments.datasetRoot(
            4,
            3,
            2,
            Commitments.tensorRoot(_shape(4, 3), tensorMerkle(toyFeatures())),
            Commitments.tensorRoot(_shape(4, 0), tensorMerkle(toyLabels()))
        );
    }

    /// @notice A spec with a valid header (the toy model ignores the rest).
    function toySpec() internal pure returns (bytes memory) {
        return abi.encodePacked(
            uint32(1),
            SEED,
            STEPS,
            INTERVAL,
            BATCH,
            toyDatasetRoot(),
            uint8(1),
            uint32(4),
            uint32(3),
            uint32(2),
            uint32(0),
            uint8(0xEE) // "toy model"
        );
    }

    function toyJobHash() internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("vtrain.job.v1", toySpec()));
    }

    function toyRngKey() internal pure returns (uint64) {
        return SplitMix64.deriveKey(SEED, SplitMix64.SHUFFLE);
    }

    // ------------------------------------------------------------------ running

    function build(Lie memory lie) internal pure returns (World memory w) {
        w.features = toyFeatures();
        w.labels = toyLabels();
        w.lie = lie;
        w.transitions = new Transition[](STEPS + 1);
        w.stateRoots = new bytes32[](STEPS + 1);
        for (uint32 s; s <= STEPS; ++s) {
            Transition memory tr = w.transitions[s];
            bool init = s == 0;
            (uint32 nI, uint32 nO, uint32 nW) = ToyProgram.counts(init);
            tr.inter = new uint32[][](nI);
            tr.opt = new uint32[][](nO);
            tr.w = new uint32[][](nW);
            for (uint8 list; list < 3; ++list) {
                uint32 n = list == 0 ? nI : (list == 1 ? nO : nW);
                for (uint32 i; i < n; ++i) {
                    uint32[] memory values = _computeTensor(w, s, list, i);
                    if (list == 0) tr.inter[i] = values;
                    else if (list == 1) tr.opt[i] = values;
                    else tr.w[i] = values;
                }
            }
            w.stateRoots[s] = Commitments.stateRoot(
                toyJobHash(), s, uint64(s) * BATCH, toyRngKey(), weightsRoot(w, s), optimizerRoot(w, s)
            );
        }
    }

    function tensorId(uint32 transition, uint8 list, uint32 index)
        internal
        pure
        returns (IStepSemantics.TensorId memory)
    {
        return IStepSemantics.TensorId({
            step: transition == 0 ? 0 : transition - 1, init: transition == 0, list: list, index: index
        });
    }

    function _computeTensor(World memory w, uint32 s, uint8 list, uint32 index)
        private
        pure
        returns (uint32[] memory values)
    {
        IStepSemantics.TensorId memory id = tensorId(s, list, index);
        uint256 length = Commitments.lengthOf(ToyProgram.shapeOf(id));
        values = new uint32[](length);
        for (uint64 e; e < length; ++e) {
            uint256 fmp;
            assembly ("memory-safe") {
                fmp := mload(0x40)
            }
            (uint32 v,) = evaluate(w, s, id, e);
            // Nothing allocated while evaluating one element outlives it.
            assembly ("memory-safe") {
                mstore(0x40, fmp)
            }
            values[e] = v;
        }
    }

    /// @notice Runs element `e`'s micro-program; returns the element and x_0 … x_{n−1}.
    function evaluate(World memory w, uint32 s, IStepSemantics.TensorId memory id, uint64 e)
        internal
        pure
        returns (uint32 value, uint32[] memory trace)
    {
        uint32 n = ToyProgram.programLength(id, e);
        uint32 steps = n == 0 ? 1 : n;
        trace = new uint32[](steps);
        for (uint32 k; k < steps; ++k) {
            IStepSemantics.Instruction memory ins = ToyProgram.instruction(id, e, k);
            uint32[4] memory ops;
            for (uint256 i; i < 4; ++i) {
                ops[i] = _operand(w, s, id, ins.operands[i], trace);
            }
            uint32 x = ins.opcode == 0 ? ops[0] : ToyMath.exec(ins.opcode, ops[0], ops[1], ops[2], ops[3]);
            Lie memory lie = w.lie;
            if (
                lie.active && lie.transition == s && lie.list == id.list && lie.index == id.index
                    && lie.element == e && lie.microStep == k
            ) {
                unchecked {
                    x += 1;
                }
            }
            trace[k] = x;
        }
        value = trace[steps - 1];
    }

    function _operand(
        World memory w,
        uint32 s,
        IStepSemantics.TensorId memory id,
        IStepSemantics.Operand memory op,
        uint32[] memory trace
    ) private pure returns (uint32) {
        if (op.kind == IStepSemantics.OperandKind.None) return 0;
        if (op.kind == IStepSemantics.OperandKind.Const) return op.bits;
        if (op.kind == IStepSemantics.OperandKind.Step) return trace[op.index];
        return inputTensor(w, s, id, op.slot)[op.index];
    }

    /// @notice The values of input `slot` of the op producing `id` in transition `s`.
    function inputTensor(World memory w, uint32 s, IStepSemantics.TensorId memory id, uint8 slot)
        internal
        pure
        returns (uint32[] memory)
    {
        IStepSemantics.TensorSource memory src = ToyProgram.inputOf(id, slot);
        return sourceTensors(w, s, src.source)[src.index];
    }

    /// @notice The tensors of one source list as seen from transition `s`.
    function sourceTensors(World memory w, uint32 s, IStepSemantics.Source source)
        internal
        pure
        returns (uint32[][] memory list)
    {
        Transition memory cur = w.transitions[s];
        if (source == IStepSemantics.Source.Intermediates) return cur.inter;
        if (source == IStepSemantics.Source.NewOptimizer) return cur.opt;
        if (source == IStepSemantics.Source.NewWeights) return cur.w;
        if (source == IStepSemantics.Source.OldOptimizer) return w.transitions[s - 1].opt;
        if (source == IStepSemantics.Source.OldWeights) return w.transitions[s - 1].w;
        list = new uint32[][](1);
        list[0] = source == IStepSemantics.Source.DatasetFeatures ? w.features : w.labels;
    }

    function produced(World memory w, uint32 s, uint8 list) internal pure returns (uint32[][] memory) {
        return sourceTensors(w, s, IStepSemantics.Source(list));
    }

    // ------------------------------------------------------------------ commitments

    /// @notice The weights list root of S_s (the model root, for s = T).
    function weightsRoot(World memory w, uint32 s) internal pure returns (bytes32) {
        uint32[][] memory tensors = w.transitions[s].w;
        return Commitments.listRoot(tensors.length, listMerkle(tensors, s, 2));
    }

    /// @notice The optimizer list root of S_s.
    function optimizerRoot(World memory w, uint32 s) internal pure returns (bytes32) {
        uint32[][] memory tensors = w.transitions[s].opt;
        return Commitments.listRoot(tensors.length, listMerkle(tensors, s, 1));
    }

    /// @notice The state roots of checkpoints 0, k, …, T out of every step's.
    function checkpointRoots(bytes32[] memory stateRoots) internal pure returns (bytes32[] memory roots) {
        uint256 count = STEPS / INTERVAL + 1;
        roots = new bytes32[](count);
        for (uint256 c; c < count; ++c) {
            roots[c] = stateRoots[c * INTERVAL];
        }
    }

    function checkpointRoots(World memory w) internal pure returns (bytes32[] memory) {
        return checkpointRoots(w.stateRoots);
    }

    function traceLeaves(bytes32[] memory roots) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](roots.length);
        for (uint256 i; i < roots.length; ++i) {
            leaves[i] = Commitments.traceLeaf(i, roots[i]);
        }
    }

    function traceRootOf(bytes32[] memory roots) internal pure returns (bytes32) {
        bytes32[] memory leaves = traceLeaves(roots);
        return Commitments.traceRoot(roots.length, subtree(leaves, Commitments.depthOf(leaves.length), 0));
    }

    function leafBytes(uint32[] memory values, uint256 leaf) internal pure returns (bytes memory out) {
        return leafBytesOf(values, leaf, Commitments.LEAF_VALUES);
    }

    /// @notice A 128-byte micro-trace leaf (32 values).
    function microLeafBytes(uint32[] memory values, uint256 leaf) internal pure returns (bytes memory) {
        return leafBytesOf(values, leaf, Commitments.MICRO_LEAF_VALUES);
    }

    function leafBytesOf(uint32[] memory values, uint256 leaf, uint256 width)
        internal
        pure
        returns (bytes memory out)
    {
        out = new bytes(4 * width);
        for (uint256 i; i < width; ++i) {
            uint256 at = leaf * width + i;
            if (at >= values.length) break;
            uint32 v = values[at];
            out[4 * i] = bytes1(uint8(v));
            out[4 * i + 1] = bytes1(uint8(v >> 8));
            out[4 * i + 2] = bytes1(uint8(v >> 16));
            out[4 * i + 3] = bytes1(uint8(v >> 24));
        }
    }

    function leafHashes(uint32[] memory values) internal pure returns (bytes32[] memory hashes) {
        uint256 n = Commitments.leafCount(values.length);
        hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            hashes[i] = keccak256(abi.encodePacked(bytes1(0x00), leafBytes(values, i)));
        }
    }

    function microLeafHashes(uint32[] memory values) internal pure returns (bytes32[] memory hashes) {
        uint256 n = Commitments.microLeafCount(values.length);
        hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            hashes[i] = keccak256(abi.encodePacked(bytes1(0x00), microLeafBytes(values, i)));
        }
    }

    /// @notice The Merkle root over a micro-trace prefix's 32-value leaves.
    function microMerkle(uint32[] memory values) internal pure returns (bytes32) {
        return
            subtree(
                microLeafHashes(values), Commitments.depthOf(Commitments.microLeafCount(values.length)), 0
            );
    }

    function tensorMerkle(uint32[] memory values) internal pure returns (bytes32) {
        return subtree(leafHashes(values), Commitments.depthOf(Commitments.leafCount(values.length)), 0);
    }

    function tensorRootOf(uint32[] memory values, uint64[] memory shape) internal pure returns (bytes32) {
        return Commitments.tensorRoot(shape, tensorMerkle(values));
    }

    /// @notice The roots of the tensors of a list (shapes from the toy model).
    function listLeaves(uint32[][] memory tensors, uint32 s, uint8 list)
        internal
        pure
        returns (bytes32[] memory r)
    {
        r = new bytes32[](tensors.length);
        for (uint32 i; i < tensors.length; ++i) {
            r[i] = tensorRootOf(tensors[i], ToyProgram.shapeOf(tensorId(s, list, i)));
        }
    }

    function listMerkle(uint32[][] memory tensors, uint32 s, uint8 list) internal pure returns (bytes32) {
        bytes32[] memory r = listLeaves(tensors, s, list);
        return subtree(r, Commitments.depthOf(r.length), 0);
    }

    /// @notice The root of the subtree at (`depth`, `index`) over `leaves`, padded.
    function subtree(bytes32[] memory leaves, uint256 depth, uint256 index) internal pure returns (bytes32) {
        if (depth == 0) return index < leaves.length ? leaves[index] : Commitments.PAD;
        if ((index << depth) >= leaves.length) return Commitments.PAD;
        return Commitments.nodeHash(
            subtree(leaves, depth - 1, 2 * index), subtree(leaves, depth - 1, 2 * index + 1)
        );
    }

    /// @notice The sibling path of leaf `index` in a tree over `leaves`.
    function path(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        uint256 depth = Commitments.depthOf(leaves.length);
        p = new bytes32[](depth);
        for (uint256 level; level < depth; ++level) {
            p[level] = subtree(leaves, level, (index >> level) ^ 1);
        }
    }

    function _shape(uint64 a, uint64 b) internal pure returns (uint64[] memory s) {
        s = new uint64[](b == 0 ? 1 : 2);
        s[0] = a;
        if (b != 0) s[1] = b;
    }
}
