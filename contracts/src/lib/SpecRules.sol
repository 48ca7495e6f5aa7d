// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobSpecCodec} from "./JobSpecCodec.sol";

/// @title SpecRules
/// @notice The bounds every job spec must meet, on chain: the twin of the Rust
///         `JobSpec::validate` (`proof-of-learning/src/spec/validate.rs`). Each failed check
///         reverts with `InvalidSpec(field)`, `field` named exactly as the Rust error names
///         it, and the checks run in the Rust order, so that a spec with several faults is
///         refused for the same one on both sides. `test/SpecVectors.t.sol` and the Rust
///         test `spec_vectors` read the same vectors (`test/vectors/specs.json`).
/// @dev    The header part lives here (any model); each model's semantics checks its own
///         section with the helpers below. The f32 predicates work on bit patterns and
///         agree with Rust's float comparisons (−0.0 ≥ 0, subnormals > 0, NaN fails all).
library SpecRules {
    /// @notice Steps and sample counts stay below 2^24 (exact as f32).
    uint256 internal constant MAX_STEPS = 1 << 24;
    /// @notice The widest layer (features, hidden units or classes).
    uint256 internal constant MAX_WIDTH = 1 << 16;
    /// @notice The deepest MLP.
    uint256 internal constant MAX_HIDDEN_LAYERS = 16;
    /// @notice The largest model, in parameters.
    uint256 internal constant MAX_PARAMS = 1 << 28;
    /// @notice The largest batch.
    uint256 internal constant MAX_BATCH = 1 << 16;
    /// @notice The most checkpoints a job may have (their roots are posted on chain).
    uint256 internal constant MAX_CHECKPOINTS = 1024;

    /// @notice The spec decodes but is not a job vtrain can run; `field` is the Rust field name.
    error InvalidSpec(string field);

    /// @notice Checks the header fields, in the Rust order.
    function checkHeader(JobSpecCodec.Header memory h) internal pure {
        if (h.repopsVersion != JobSpecCodec.REPOPS_VERSION) revert InvalidSpec("repops_version");
        checkRange("steps", h.steps, 1, MAX_STEPS - 1);
        checkRange("checkpoint_interval", h.interval, 1, h.steps);
        if (h.steps % h.interval != 0) revert InvalidSpec("checkpoint_interval");
        if (h.steps / h.interval + 1 > MAX_CHECKPOINTS) revert InvalidSpec("checkpoint_interval");
        if (h.datasetRoot == bytes32(0)) revert InvalidSpec("dataset.root");
        checkRange("dataset.samples", h.samples, 2, MAX_STEPS - 1);
        checkRange("dataset.features", h.features, 1, MAX_WIDTH);
        checkRange("dataset.classes", h.classes, 2, MAX_WIDTH);
        if (h.holdout >= h.samples) revert InvalidSpec("dataset.holdout");
        uint256 train = h.samples - h.holdout;
        checkRange("batch_size", h.batch, 1, train < MAX_BATCH ? train : MAX_BATCH);
    }

    /// @notice `min ≤ value ≤ max`, else `InvalidSpec(field)`.
    function checkRange(string memory field, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert InvalidSpec(field);
    }

    /// @notice A finite f32 > 0 (Rust `check_positive`).
    function checkPositive(string memory field, uint32 bits) internal pure {
        if (!isFinite(bits) || bits & 0x80000000 != 0 || bits == 0) revert InvalidSpec(field);
    }

    /// @notice A finite f32 ≥ 0, −0.0 included (Rust `check_non_negative`).
    function checkNonNegative(string memory field, uint32 bits) internal pure {
        if (!isFinite(bits) || (bits & 0x80000000 != 0 && bits != 0x80000000)) revert InvalidSpec(field);
    }

    /// @notice A finite f32 in [0, 1), −0.0 included (Rust `check_unit_interval`).
    function checkUnitInterval(string memory field, uint32 bits) internal pure {
        checkNonNegative(field, bits);
        if (bits & 0x7FFFFFFF >= 0x3F800000) revert InvalidSpec(field);
    }

    /// @notice Whether an f32 bit pattern is neither infinite nor NaN.
    function isFinite(uint32 bits) internal pure returns (bool) {
        return bits & 0x7F800000 != 0x7F800000;
    }
}
