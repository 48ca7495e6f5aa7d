// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title JobSpecCodec
/// @notice Reads the fixed-offset header of a canonical job spec (`docs/commitments.md`
///         § Job hash): `u32 repops_version, u64 seed, u32 steps, u32 checkpoint_interval,
///         u32 batch_size, bytes32 dataset_root, u8 format, u32 samples, features, classes,
///         holdout, …`. The model and optimizer parts are read by the step semantics.
library JobSpecCodec {
    /// @notice The repops version this deployment settles.
    uint32 internal constant REPOPS_VERSION = 1;
    /// @notice Offset of the model section.
    uint256 internal constant MODEL_OFFSET = 73;

    /// @notice The header fields the market and the game need.
    struct Header {
        uint32 repopsVersion;
        uint64 seed;
        uint32 steps;
        uint32 interval;
        uint32 batch;
        bytes32 datasetRoot;
        uint32 samples;
        uint32 features;
        uint32 classes;
        uint32 holdout;
    }

    /// @notice The spec is shorter than its header.
    error SpecTooShort(uint256 length);

    /// @notice Big-endian unsigned integer of `size` bytes at `offset`.
    function readUint(bytes calldata spec, uint256 offset, uint256 size)
        internal
        pure
        returns (uint256 value)
    {
        if (spec.length < offset + size || size > 32) {
            revert SpecTooShort(spec.length);
        }
        // One calldata word, left-aligned, shifted down: no per-byte loop.
        value = uint256(bytes32(spec[offset:offset + size])) >> (256 - 8 * size);
    }

    /// @notice Decodes the header.
    function header(bytes calldata spec) internal pure returns (Header memory h) {
        if (spec.length < MODEL_OFFSET) revert SpecTooShort(spec.length);
        h.repopsVersion = uint32(readUint(spec, 0, 4));
        h.seed = uint64(readUint(spec, 4, 8));
        h.steps = uint32(readUint(spec, 12, 4));
        h.interval = uint32(readUint(spec, 16, 4));
        h.batch = uint32(readUint(spec, 20, 4));
        h.datasetRoot = bytes32(spec[24:56]);
        h.samples = uint32(readUint(spec, 57, 4));
        h.features = uint32(readUint(spec, 61, 4));
        h.classes = uint32(readUint(spec, 65, 4));
        h.holdout = uint32(readUint(spec, 69, 4));
    }
}
