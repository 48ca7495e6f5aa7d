// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphPlan as P} from "./GraphPlan.sol";
import {GraphSpecCodec as G} from "./GraphSpecCodec.sol";

/// @title ModelImage
/// @notice A job's decoded model and step plan ({GraphSpecCodec.load}, {GraphPlan.build}) as
///         the bytes of a data contract, so that a one-step proof reads them back for a few
///         thousand gas instead of decoding the spec, inferring its shapes and planning the
///         step again (about 66k gas for the reference GPT; `docs/dispute-game.md` § Model
///         images), with a table that finds a node's layer entry without a search.
/// @dev    The image is the structs' memory, made relocatable: the `Model` head, the `Plan`
///         head, then the arrays they point to (`hidden`, the layer list with its layers'
///         bodies, the parameter shapes, the plan's entry records and node table), each
///         pointer stored as an offset from the image's start. {load} copies the image to
///         free memory and adds the copy's address to every pointer: a dozen words, however
///         large the model. {encode} and {load} find the pointer members at constant
///         offsets; the head sizes and those offsets are the only layout facts, and
///         `test/semantics/ModelImage.t.sol` checks them against the compiler's allocation
///         and member placement, and every loaded image against a fresh decode. Nothing here checks a spec: an image is only ever made by
///         the semantics from a spec it has validated ({GraphSemantics.compile}).
library ModelImage {
    /// @dev Bytes of a `Model` head (a word per member, `docs.soliditylang.org` § Layout in
    ///      Memory: 30), of a `Plan` head (12) and of a `Layer` (8).
    uint256 internal constant MODEL_BYTES = 960;
    uint256 internal constant PLAN_BYTES = 384;
    uint256 internal constant LAYER_BYTES = 256;
    /// @dev Where the pointer members are: `Model.hidden` (member 8), `.layers` (9),
    ///      `.paramShapes` (14); `Plan.layers` (0), `.entries` (1), `.entryOfNode` (11).
    ///      `test/semantics/ModelImage.t.sol` checks these offsets against the compiler's.
    uint256 internal constant MODEL_HIDDEN = 256;
    uint256 internal constant MODEL_LAYERS = 288;
    uint256 internal constant MODEL_PARAM_SHAPES = 448;
    uint256 internal constant PLAN_LAYERS = 0;
    uint256 internal constant PLAN_ENTRIES = 32;
    uint256 internal constant PLAN_ENTRY_OF_NODE = 352;

    /// @notice The image of model `m` with its plan `p` (the parameter shapes cut to the
    ///         model's `params`, for the decoder allocates room for more; the plan's node
    ///         table, {GraphPlan.entryTable}, as it is: the caller fills it).
    function encode(G.Model memory m, P.Plan memory p) internal pure returns (bytes memory image) {
        // where each array starts: hidden, layers, layer bodies, parameter shapes, entries,
        // the node table, and the end
        uint256[7] memory at;
        at[0] = MODEL_BYTES + PLAN_BYTES;
        at[1] = at[0] + 32 * (1 + m.hidden.length);
        at[2] = at[1] + 32 * (1 + m.layers.length);
        at[3] = at[2] + LAYER_BYTES * m.layers.length;
        at[4] = at[3] + 32 * (1 + m.params);
        at[5] = at[4] + 32 * (1 + p.entries.length);
        at[6] = at[5] + 32 * (1 + p.entryOfNode.length);
        image = new bytes(at[6]);
        uint256 start;
        assembly ("memory-safe") {
            start := add(image, 32)
        }
        _copy(_addressOf(m), start, MODEL_BYTES);
        _copy(_addressOfPlan(p), start + MODEL_BYTES, PLAN_BYTES);
        // the heads' pointers, as offsets from the image's start
        _store(start + MODEL_HIDDEN, at[0]);
        _store(start + MODEL_LAYERS, at[1]);
        _store(start + MODEL_PARAM_SHAPES, at[3]);
        _store(start + MODEL_BYTES + PLAN_LAYERS, at[1]);
        _store(start + MODEL_BYTES + PLAN_ENTRIES, at[4]);
        _store(start + MODEL_BYTES + PLAN_ENTRY_OF_NODE, at[5]);
        // the arrays
        _array(_addressOfWords(m.hidden), start + at[0], m.hidden.length);
        _store(start + at[1], m.layers.length);
        for (uint256 l; l < m.layers.length; ++l) {
            uint256 body = at[2] + LAYER_BYTES * l;
            _store(start + at[1] + 32 * (1 + l), body);
            _copy(_addressOfLayer(m.layers[l]), start + body, LAYER_BYTES);
        }
        _array(_addressOfWords(m.paramShapes), start + at[3], m.params);
        _array(_addressOfWords(p.entries), start + at[4], p.entries.length);
        _array(_addressOfWords(p.entryOfNode), start + at[5], p.entryOfNode.length);
    }

    /// @notice The model and plan of the image in data contract `image` (its code: one STOP
    ///         byte, then the image).
    /// @dev    One block of assembly on purpose: a helper returning a memory struct would
    ///         allocate and zero one per call, which cost the load of the GPT's 23 entries
    ///         10k gas more than the copy itself.
    function load(address image) internal view returns (G.Model memory m, P.Plan memory p) {
        assembly ("memory-safe") {
            let size := sub(extcodesize(image), 1)
            let start := mload(0x40)
            extcodecopy(image, start, 1, size)
            mstore(0x40, add(start, and(add(size, 31), not(31))))
            m := start
            p := add(start, MODEL_BYTES)
            mstore(add(m, MODEL_HIDDEN), add(mload(add(m, MODEL_HIDDEN)), start))
            mstore(add(m, MODEL_PARAM_SHAPES), add(mload(add(m, MODEL_PARAM_SHAPES)), start))
            mstore(add(p, PLAN_ENTRIES), add(mload(add(p, PLAN_ENTRIES)), start))
            mstore(add(p, PLAN_ENTRY_OF_NODE), add(mload(add(p, PLAN_ENTRY_OF_NODE)), start))
            let layers := add(mload(add(m, MODEL_LAYERS)), start)
            mstore(add(m, MODEL_LAYERS), layers)
            mstore(add(p, PLAN_LAYERS), layers)
            let end := add(layers, mul(add(mload(layers), 1), 32))
            for { let at := add(layers, 32) } lt(at, end) { at := add(at, 32) } {
                mstore(at, add(mload(at), start))
            }
        }
    }

    /// @notice The creation code of a data contract whose code is a STOP byte and `image`.
    function creationCode(bytes memory image) internal pure returns (bytes memory) {
        // PUSH2 size, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN
        return abi.encodePacked(hex"61", uint16(image.length + 1), hex"80600a3d393df3", hex"00", image);
    }

    // ------------------------------------------------------------------ memory

    function _copy(uint256 from, uint256 to, uint256 bytes_) private pure {
        assembly ("memory-safe") {
            mcopy(to, from, bytes_)
        }
    }

    function _store(uint256 at, uint256 word) private pure {
        assembly ("memory-safe") {
            mstore(at, word)
        }
    }

    /// @dev Writes `length`, then the first `length` words of the array at `from`.
    function _array(uint256 from, uint256 to, uint256 length) private pure {
        _store(to, length);
        _copy(from + 32, to + 32, 32 * length);
    }

    function _addressOf(G.Model memory m) private pure returns (uint256 at) {
        assembly ("memory-safe") {
            at := m
        }
    }

    function _addressOfPlan(P.Plan memory p) private pure returns (uint256 at) {
        assembly ("memory-safe") {
            at := p
        }
    }

    function _addressOfLayer(G.Layer memory l) private pure returns (uint256 at) {
        assembly ("memory-safe") {
            at := l
        }
    }

    function _addressOfWords(uint256[] memory a) private pure returns (uint256 at) {
        assembly ("memory-safe") {
            at := a
        }
    }
}
