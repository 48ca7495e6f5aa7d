// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../interfaces/IStepSemantics.sol";

/// @title StepWords
/// @notice The one-word forms in which {IStepSemantics.locate} answers the one-step proof: an
///         instruction word and one source word per input. The structs of the interface,
///         built, ABI-encoded, decoded and copied between two contracts, cost the proof about
///         10k gas more than these words (docs/benchmarks.md § Dispute game gas).
/// @dev    Instruction word: the opcode in bits 0–7, operand i in the 62 bits from `8 + 62·i`.
///         Operand: its `OperandKind` in bits 0–1, its input slot in bits 2–5, its payload in
///         bits 6–61 (an element or micro-step index below 2^56 for `Input` and `Step`, the
///         f32 bits for `Const`). Source word: the `Source` in bits 0–7, the list index in
///         bits 8–39, the shape from bit 40: its rank (at most 5) in the low byte, dimension i
///         (below 2^32) in the 32 bits from `8 + 32·i` (the packing of `Shapes`).
library StepWords {
    uint256 internal constant OPERAND_BITS = 62;
    uint256 internal constant OPERAND_MASK = type(uint64).max >> 2;
    uint256 internal constant MAX_INDEX = 1 << 56;
    uint256 internal constant MAX_RANK = 5;

    /// @notice An operand or shape does not fit its word.
    error DoesNotPack();

    function opcode(uint256 word) internal pure returns (uint8) {
        return uint8(word);
    }

    /// @notice Operand `i` of an instruction word: its kind, slot and payload.
    function operand(uint256 word, uint256 i)
        internal
        pure
        returns (IStepSemantics.OperandKind kind, uint256 slot, uint256 payload)
    {
        uint256 o = (word >> (8 + OPERAND_BITS * i)) & OPERAND_MASK;
        return (IStepSemantics.OperandKind(o & 3), (o >> 2) & 0xF, o >> 6);
    }

    /// @notice The kind of operand `i` of an instruction word.
    function kindOf(uint256 word, uint256 i) internal pure returns (IStepSemantics.OperandKind) {
        return IStepSemantics.OperandKind((word >> (8 + OPERAND_BITS * i)) & 3);
    }

    /// @notice The input slot of operand `i` of an instruction word.
    function slotOf(uint256 word, uint256 i) internal pure returns (uint8) {
        return uint8((word >> (10 + OPERAND_BITS * i)) & 0xF);
    }

    /// @notice The payload (index or f32 bits) of operand `i` of an instruction word.
    function payloadOf(uint256 word, uint256 i) internal pure returns (uint256) {
        return (word >> (14 + OPERAND_BITS * i)) & ((1 << 56) - 1);
    }

    /// @notice The word of an instruction struct.
    function encode(IStepSemantics.Instruction memory ins) internal pure returns (uint256 word) {
        word = ins.opcode;
        for (uint256 i; i < 4; ++i) {
            IStepSemantics.Operand memory o = ins.operands[i];
            uint256 payload = o.kind == IStepSemantics.OperandKind.Const ? o.bits : o.index;
            if (o.slot > 0xF || payload >= MAX_INDEX) revert DoesNotPack();
            word |= (uint256(o.kind) | uint256(o.slot) << 2 | payload << 6) << (8 + OPERAND_BITS * i);
        }
    }

    /// @notice The instruction struct of a word.
    function decode(uint256 word) internal pure returns (IStepSemantics.Instruction memory ins) {
        ins.opcode = opcode(word);
        for (uint256 i; i < 4; ++i) {
            (IStepSemantics.OperandKind kind, uint256 slot, uint256 payload) = operand(word, i);
            bool constant_ = kind == IStepSemantics.OperandKind.Const;
            ins.operands[i] = IStepSemantics.Operand(
                kind, uint8(slot), constant_ ? 0 : uint64(payload), constant_ ? uint32(payload) : 0
            );
        }
    }

    /// @notice A source word's list (or dataset tensor), index and packed shape.
    function source(uint256 word) internal pure returns (uint8 list, uint256 index, uint256 shape) {
        return (uint8(word), (word >> 8) & 0xFFFFFFFF, word >> 40);
    }

    /// @notice The source word of list `list`, index `index` and packed shape `shape`.
    function sourceWord(uint256 list, uint256 index, uint256 shape) internal pure returns (uint256) {
        if ((shape & 0xFF) > MAX_RANK || index > 0xFFFFFFFF) revert DoesNotPack();
        return list | index << 8 | shape << 40;
    }

    /// @notice The source word of a source struct.
    function encodeSource(IStepSemantics.TensorSource memory src) internal pure returns (uint256) {
        uint256 rank = src.shape.length;
        if (rank > MAX_RANK) revert DoesNotPack();
        uint256 shape = rank;
        for (uint256 i; i < rank; ++i) {
            if (src.shape[i] > 0xFFFFFFFF) revert DoesNotPack();
            shape |= uint256(src.shape[i]) << (8 + 32 * i);
        }
        return sourceWord(uint8(src.source), src.index, shape);
    }
}
