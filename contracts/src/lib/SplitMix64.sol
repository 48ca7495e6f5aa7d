// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title SplitMix64
/// @notice The counter-based generator of `docs/repops.md` §7, bit for bit with
///         `proof-of-learning/src/prng.rs`: `draw(key, i) = mix64(key + (i+1)·γ)` (wrapping).
library SplitMix64 {
    uint64 internal constant GAMMA = 0x9E3779B97F4A7C15;
    /// @notice The purpose of the per-epoch shuffle stream (the state root's rngKey).
    uint64 internal constant SHUFFLE = 0x100000000;

    /// @notice Stafford's variant 13 finaliser.
    function mix64(uint64 z) internal pure returns (uint64) {
        unchecked {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }
    }

    /// @notice The `counter`-th draw of stream `key`.
    function draw(uint64 key, uint64 counter) internal pure returns (uint64) {
        unchecked {
            return mix64(key + (counter + 1) * GAMMA);
        }
    }

    /// @notice The key of sub-stream `purpose` of stream `key`.
    function deriveKey(uint64 key, uint64 purpose) internal pure returns (uint64) {
        return draw(key, purpose ^ 0x56545241494E0000);
    }
}
