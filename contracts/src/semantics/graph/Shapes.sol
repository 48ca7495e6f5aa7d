// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Shapes
/// @notice Tensor shapes of up to seven dimensions packed in one word: the rank in the low
///         byte, dimension i (below 2^32) in bits `8 + 32i`. Cheap to copy and compare in
///         memory, which is what the graph semantics does most with shapes.
library Shapes {
    function rank(uint256 shape) internal pure returns (uint256) {
        return shape & 0xFF;
    }

    function dim(uint256 shape, uint256 i) internal pure returns (uint256) {
        unchecked {
            return (shape >> (8 + 32 * i)) & 0xFFFFFFFF;
        }
    }

    function pack(uint256[] memory dims) internal pure returns (uint256 shape) {
        shape = dims.length;
        unchecked {
            for (uint256 i; i < dims.length; ++i) {
                shape |= dims[i] << (8 + 32 * i);
            }
        }
    }

    function one(uint256 a) internal pure returns (uint256) {
        return 1 | a << 8;
    }

    function two(uint256 a, uint256 b) internal pure returns (uint256) {
        return 2 | a << 8 | b << 40;
    }

    function three(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return 3 | a << 8 | b << 40 | c << 72;
    }

    function four(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (uint256) {
        return 4 | a << 8 | b << 40 | c << 72 | d << 104;
    }

    /// @notice The last dimension (of a shape of rank ≥ 1).
    function last(uint256 shape) internal pure returns (uint256) {
        unchecked {
            return (shape >> (8 + 32 * (rank(shape) - 1))) & 0xFFFFFFFF;
        }
    }

    /// @notice `shape` with its last dimension (rank ≥ 1) replaced by `d`: a layer that acts on
    ///         the last dimension.
    function withLast(uint256 shape, uint256 d) internal pure returns (uint256) {
        unchecked {
            uint256 at = 8 + 32 * (rank(shape) - 1);
            return (shape & ~(uint256(0xFFFFFFFF) << at)) | d << at;
        }
    }

    /// @notice `[lead] ++ shape`: a per-sample shape with the batch in front.
    function prepend(uint256 lead, uint256 shape) internal pure returns (uint256) {
        unchecked {
            return (rank(shape) + 1) | lead << 8 | ((shape >> 8) << 40);
        }
    }

    /// @notice The product of the dimensions (1 for rank 0).
    function elements(uint256 shape) internal pure returns (uint256 n) {
        // At most seven dimensions below 2^32 each: the product stays below 2^224.
        n = 1;
        uint256 r = rank(shape);
        unchecked {
            for (uint256 i; i < r; ++i) {
                n *= (shape >> (8 + 32 * i)) & 0xFFFFFFFF;
            }
        }
    }

    /// @notice The shape as the `uint64[]` of the semantics interface.
    function unpack(uint256 shape) internal pure returns (uint64[] memory dims) {
        dims = new uint64[](rank(shape));
        for (uint256 i; i < dims.length; ++i) {
            dims[i] = uint64(dim(shape, i));
        }
    }
}
