// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Commitments
/// @notice The byte layouts of `docs/commitments.md`, on chain. Every function here has a
///         twin in `proof-of-learning/src/commit.rs`; `test/Commitments.t.sol` checks both
///         against the same vectors (`test/vectors/commitments.json`, written by Rust).
/// @dev    Integers are big-endian (`abi.encodePacked`), tensor values little-endian f32.
library Commitments {
    /// @notice Values per tensor leaf (1 KiB).
    uint256 internal constant LEAF_VALUES = 256;
    /// @notice Bytes per tensor leaf.
    uint256 internal constant LEAF_BYTES = 1024;
    /// @notice Values per micro-trace leaf (128 bytes): a one-step proof ships one such leaf
    ///         per micro-trace operand, so it is small (`docs/commitments.md` § Micro-trace).
    uint256 internal constant MICRO_LEAF_VALUES = 32;
    /// @notice Bytes per micro-trace leaf.
    uint256 internal constant MICRO_LEAF_BYTES = 128;
    /// @notice The hash of an absent leaf or subtree: `keccak("vtrain.pad.v1")`. Never zero,
    ///         and no preimage of any other kind, so a pad can never be opened as a node.
    bytes32 internal constant PAD = keccak256("vtrain.pad.v1");

    /// @notice A proof does not have the length the tree's size implies.
    error BadProofLength(uint256 given, uint256 expected);
    /// @notice A leaf is not exactly 1 KiB (a micro-trace leaf: 128 bytes).
    error BadLeafLength(uint256 length);
    /// @notice An index lies past the end of what was committed.
    error IndexOutOfRange(uint256 index, uint256 length);

    /// @notice `keccak(0x00 ‖ 1024 bytes)`.
    function leafHash(bytes calldata values) internal pure returns (bytes32) {
        return _hashLeaf(values, LEAF_BYTES);
    }

    /// @notice `keccak(0x00 ‖ 128 bytes)`: a micro-trace leaf.
    function microLeafHash(bytes calldata values) internal pure returns (bytes32) {
        return _hashLeaf(values, MICRO_LEAF_BYTES);
    }

    /// @dev `keccak(0x00 ‖ values)` for a leaf of exactly `size` bytes, hashed straight from
    ///      a calldata copy in scratch memory past the free pointer.
    function _hashLeaf(bytes calldata values, uint256 size) private pure returns (bytes32 hash) {
        if (values.length != size) revert BadLeafLength(values.length);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 0x00)
            calldatacopy(add(ptr, 1), values.offset, size)
            hash := keccak256(ptr, add(size, 1))
        }
    }

    /// @notice `keccak(0x01 ‖ left ‖ right)`.
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 0x01)
            mstore(add(ptr, 1), left)
            mstore(add(ptr, 33), right)
            hash := keccak256(ptr, 65)
        }
    }

    /// @notice The depth of a Merkle tree over `count` leaves: ceil(log2(count)), 0 for one.
    function depthOf(uint256 count) internal pure returns (uint256 depth) {
        while ((uint256(1) << depth) < count) ++depth;
    }

    /// @notice Folds a sibling path from leaf `index` up to the Merkle root. Bit `i` of the
    ///         index says whether the node is a right child at level `i`.
    function fold(bytes32 leaf, uint256 index, bytes32[] calldata siblings)
        internal
        pure
        returns (bytes32 node)
    {
        node = leaf;
        for (uint256 i; i < siblings.length; ++i) {
            node = (index >> i) & 1 == 1 ? nodeHash(siblings[i], node) : nodeHash(node, siblings[i]);
        }
    }

    /// @notice Checks that `leaf` sits at `index` of a Merkle tree over `count` leaves with
    ///         root `root`, with a path of exactly the right length.
    function verifyLeaf(bytes32 root, uint256 count, uint256 index, bytes32 leaf, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        if (index >= count) revert IndexOutOfRange(index, count);
        uint256 depth = depthOf(count);
        if (siblings.length != depth) revert BadProofLength(siblings.length, depth);
        return fold(leaf, index, siblings) == root;
    }

    /// @notice The number of elements of a tensor of this shape.
    function lengthOf(uint64[] memory shape) internal pure returns (uint256 length) {
        length = 1;
        for (uint256 i; i < shape.length; ++i) {
            length *= shape[i];
        }
    }

    /// @notice The number of 256-value leaves of a tensor of `length` elements (one for empty).
    function leafCount(uint256 length) internal pure returns (uint256) {
        return length == 0 ? 1 : (length + LEAF_VALUES - 1) / LEAF_VALUES;
    }

    /// @notice The number of 32-value leaves of a micro-trace prefix of `length` values (one
    ///         for empty).
    function microLeafCount(uint256 length) internal pure returns (uint256) {
        return length == 0 ? 1 : (length + MICRO_LEAF_VALUES - 1) / MICRO_LEAF_VALUES;
    }

    /// @notice `keccak("vtrain.tensor.v1" ‖ u32 ndim ‖ u64 dim… ‖ merkle)`.
    function tensorRoot(uint64[] memory shape, bytes32 merkle) internal pure returns (bytes32) {
        bytes memory dims;
        for (uint256 i; i < shape.length; ++i) {
            dims = abi.encodePacked(dims, shape[i]);
        }
        return keccak256(abi.encodePacked("vtrain.tensor.v1", uint32(shape.length), dims, merkle));
    }

    /// @notice {tensorRoot} of a shape packed as in `StepWords` (rank in the low byte,
    ///         dimension i in the 32 bits from `8 + 32·i`).
    function tensorRootPacked(uint256 shape, bytes32 merkle) internal pure returns (bytes32 root) {
        uint256 rank = shape & 0xFF;
        bytes memory buffer = new bytes(16 + 4 + 8 * rank + 32);
        assembly ("memory-safe") {
            let p := add(buffer, 32)
            mstore(p, "vtrain.tensor.v1")
            mstore(add(p, 16), shl(224, rank))
            let q := add(p, 20)
            for { let i := 0 } lt(i, rank) { i := add(i, 1) } {
                mstore(add(q, mul(8, i)), shl(192, and(shr(add(8, mul(32, i)), shape), 0xFFFFFFFF)))
            }
            mstore(add(q, mul(8, rank)), merkle)
            root := keccak256(p, add(52, mul(8, rank)))
        }
    }

    /// @notice {lengthOf} of a shape packed as in {tensorRootPacked}.
    function lengthOfPacked(uint256 shape) internal pure returns (uint256 length) {
        length = 1;
        uint256 rank = shape & 0xFF;
        unchecked {
            for (uint256 i; i < rank; ++i) {
                length *= (shape >> (8 + 32 * i)) & 0xFFFFFFFF; // at most 5 factors below 2^32
            }
        }
    }

    /// @notice `keccak("vtrain.tensors.v1" ‖ u64 count ‖ merkle)`.
    function listRoot(uint256 count, bytes32 merkle) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("vtrain.tensors.v1", uint64(count), merkle));
    }

    /// @notice `keccak("vtrain.state.v1" ‖ jobHash ‖ u64 step ‖ u64 cursor ‖ u64 rngKey ‖ weights ‖ optimizer)`.
    function stateRoot(
        bytes32 job,
        uint64 step,
        uint64 cursor,
        uint64 rngKey,
        bytes32 weightsRoot,
        bytes32 optimizerRoot
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked("vtrain.state.v1", job, step, cursor, rngKey, weightsRoot, optimizerRoot)
        );
    }

    /// @notice `keccak("vtrain.trace-leaf.v1" ‖ u64 index ‖ stateRoot)`.
    function traceLeaf(uint256 index, bytes32 stateRoot_) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("vtrain.trace-leaf.v1", uint64(index), stateRoot_));
    }

    /// @notice `keccak("vtrain.trace.v1" ‖ u64 count ‖ merkle)`.
    function traceRoot(uint256 count, bytes32 merkle) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("vtrain.trace.v1", uint64(count), merkle));
    }

    /// @notice `keccak("vtrain.dataset.v1" ‖ u64 n ‖ u64 d ‖ u64 classes ‖ features ‖ labels)`.
    function datasetRoot(uint64 n, uint64 d, uint64 classes, bytes32 featuresRoot, bytes32 labelsRoot)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked("vtrain.dataset.v1", n, d, classes, featuresRoot, labelsRoot));
    }

    /// @notice `keccak("vtrain.job.v1" ‖ canonical spec)`.
    function jobHash(bytes calldata spec) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("vtrain.job.v1", spec));
    }

    /// @notice The Merkle root over `leaves`, padded to a power of two with `PAD`.
    /// @dev    Used on chain for the trace root of a submitted result (at most 1024 leaves).
    function merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) return PAD;
        while (n > 1) {
            uint256 half = (n + 1) / 2;
            for (uint256 i; i < half; ++i) {
                bytes32 left = leaves[2 * i];
                bytes32 right = 2 * i + 1 < n ? leaves[2 * i + 1] : PAD;
                leaves[i] = nodeHash(left, right);
            }
            n = half;
        }
        return leaves[0];
    }

    /// @notice Whether every byte of the leaf (of either size) from `start` on is zero.
    function zeroFrom(bytes calldata leaf, uint256 start) internal pure returns (bool) {
        uint256 size = leaf.length;
        for (uint256 at = start; at < size; at += 32) {
            uint256 word;
            assembly ("memory-safe") {
                word := calldataload(add(leaf.offset, at))
            }
            // The last word may reach past the leaf: drop those trailing bytes.
            if (at + 32 > size) word >>= 8 * (at + 32 - size);
            if (word != 0) return false;
        }
        return true;
    }

    /// @notice Value `offset` of a leaf (0..255 of a tensor leaf, 0..31 of a micro-trace
    ///         leaf), as f32 bits (stored little-endian).
    function valueAt(bytes calldata leaf, uint256 offset) internal pure returns (uint32 bits) {
        uint256 values = leaf.length / 4;
        if (offset >= values) revert IndexOutOfRange(offset, values);
        uint256 at = offset * 4;
        bits = uint32(uint8(leaf[at])) | (uint32(uint8(leaf[at + 1])) << 8)
            | (uint32(uint8(leaf[at + 2])) << 16) | (uint32(uint8(leaf[at + 3])) << 24);
    }
}
