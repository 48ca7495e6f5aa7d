// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../src/interfaces/IStepSemantics.sol";
import {Commitments} from "../../src/lib/Commitments.sol";
import {ToyProgram} from "./ToyProgram.sol";
import {ToyWorld} from "./ToyWorld.sol";

/// @notice Keeps built toy worlds in storage, packed, so that a long-lived test actor (the
///         invariant handler) can play whole games without rebuilding a world (≈ 55M gas)
///         for every move: loading one back costs about a million.
abstract contract WorldStore is ToyWorld {
    mapping(uint256 id => bytes32[] roots) internal storedRoots;
    mapping(uint256 id => Lie lie) internal storedLie;
    /// @dev Per world and transition: every produced tensor's values, list by list (0, 1, 2),
    ///      4 bytes each, big-endian.
    mapping(uint256 id => mapping(uint256 transition => bytes values)) internal storedValues;

    function storeWorld(uint256 id, World memory w) internal {
        storedRoots[id] = w.stateRoots;
        storedLie[id] = w.lie;
        for (uint32 s; s <= STEPS; ++s) {
            Transition memory tr = w.transitions[s];
            storedValues[id][s] = bytes.concat(_pack(tr.inter), _pack(tr.opt), _pack(tr.w));
        }
    }

    function loadWorld(uint256 id) internal view returns (World memory w) {
        w.stateRoots = storedRoots[id];
        w.lie = storedLie[id];
        w.features = toyFeatures();
        w.labels = toyLabels();
        w.transitions = new Transition[](STEPS + 1);
        for (uint32 s; s <= STEPS; ++s) {
            bytes memory packed = storedValues[id][s];
            (uint32 nI, uint32 nO, uint32 nW) = ToyProgram.counts(s == 0);
            uint256 at;
            Transition memory tr = w.transitions[s];
            (tr.inter, at) = _unpack(packed, at, s, 0, nI);
            (tr.opt, at) = _unpack(packed, at, s, 1, nO);
            (tr.w, at) = _unpack(packed, at, s, 2, nW);
        }
    }

    function _pack(uint32[][] memory tensors) private pure returns (bytes memory out) {
        for (uint256 i; i < tensors.length; ++i) {
            uint32[] memory t = tensors[i];
            bytes memory chunk = new bytes(4 * t.length);
            for (uint256 j; j < t.length; ++j) {
                uint32 v = t[j];
                chunk[4 * j] = bytes1(uint8(v >> 24));
                chunk[4 * j + 1] = bytes1(uint8(v >> 16));
                chunk[4 * j + 2] = bytes1(uint8(v >> 8));
                chunk[4 * j + 3] = bytes1(uint8(v));
            }
            out = bytes.concat(out, chunk);
        }
    }

    function _unpack(bytes memory packed, uint256 at, uint32 s, uint8 list, uint32 count)
        private
        pure
        returns (uint32[][] memory tensors, uint256 next)
    {
        tensors = new uint32[][](count);
        for (uint32 i; i < count; ++i) {
            IStepSemantics.TensorId memory id = tensorId(s, list, i);
            uint256 length = Commitments.lengthOf(ToyProgram.shapeOf(id));
            uint32[] memory t = new uint32[](length);
            for (uint256 j; j < length; ++j) {
                uint256 word;
                assembly ("memory-safe") {
                    word := mload(add(add(packed, 32), at))
                }
                t[j] = uint32(word >> 224);
                at += 4;
            }
            tensors[i] = t;
        }
        next = at;
    }
}
