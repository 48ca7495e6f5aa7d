// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SplitMix64} from "../../lib/SplitMix64.sol";
import {DenseOps} from "./DenseOps.sol";

/// @title DataOrder
/// @notice Which dataset row a training sample reads (`docs/repops.md` §7, Rust
///         `dataset::DataOrder`): the split and the per-epoch shuffle, each a Feistel
///         permutation computable for one index alone.
library DataOrder {
    uint64 internal constant PURPOSE_SPLIT = 0x200;

    /// @dev The dataset row of training sample `cursor` (`DataOrder::train_row`): epoch
    ///      `cursor / n_train` reads the training set in its own permuted order, through the split.
    function batchRow(DenseOps.Job memory s, uint256 cursor) internal pure returns (uint256) {
        uint256 train = s.samples - s.holdout;
        uint64 epochKey =
            SplitMix64.draw(SplitMix64.deriveKey(s.seed, SplitMix64.SHUFFLE), uint64(cursor / train));
        uint256 position = permute(epochKey, train, cursor % train);
        return permute(SplitMix64.deriveKey(s.seed, PURPOSE_SPLIT), s.samples, position);
    }

    /// @dev `dataset::permute`: a 4-round Feistel network on the smallest even number of bits
    ///      covering n, round function `draw(key, round·2^32 + right) mod 2^half`, cycle-walking
    ///      until the image is below n.
    function permute(uint64 key, uint256 n, uint256 index) internal pure returns (uint256 x) {
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
}
