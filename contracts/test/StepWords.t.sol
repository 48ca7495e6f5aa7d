// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {IStepSemantics} from "../src/interfaces/IStepSemantics.sol";
import {Commitments} from "../src/lib/Commitments.sol";
import {StepWords} from "../src/lib/StepWords.sol";
import {Micro} from "../src/semantics/ops/Micro.sol";

/// @notice The word forms of `IStepSemantics.locate` ({StepWords}): the instruction words the
///         op libraries build ({Micro}) decode to the structs the interface describes, and
///         back; a source word's packed shape gives the tensor root and length of the
///         `uint64[]` shape it packs.
contract StepWordsTest is Test {
    function encodeOf(IStepSemantics.Instruction memory ins) external pure returns (uint256) {
        return StepWords.encode(ins);
    }

    function sourceWordOf(IStepSemantics.TensorSource memory src) external pure returns (uint256) {
        return StepWords.encodeSource(src);
    }

    function _operand(uint8 kind, uint8 slot, uint64 index, uint32 bits)
        internal
        pure
        returns (IStepSemantics.Operand memory o)
    {
        o.kind = IStepSemantics.OperandKind(kind % 4);
        if (o.kind == IStepSemantics.OperandKind.Const) {
            o.bits = bits;
        } else if (o.kind != IStepSemantics.OperandKind.None) {
            o.index = uint64(bound(index, 0, StepWords.MAX_INDEX - 1));
            if (o.kind == IStepSemantics.OperandKind.Input) o.slot = uint8(bound(slot, 0, 15));
        }
    }

    function testFuzz_instructionWordRoundTrips(
        uint8 opcode,
        uint8[4] memory kinds,
        uint8[4] memory slots,
        uint64[4] memory indices,
        uint32[4] memory bits
    ) public pure {
        IStepSemantics.Instruction memory ins;
        ins.opcode = opcode;
        for (uint256 i; i < 4; ++i) {
            ins.operands[i] = _operand(kinds[i], slots[i], indices[i], bits[i]);
        }
        uint256 word = StepWords.encode(ins);
        assertEq(abi.encode(StepWords.decode(word)), abi.encode(ins));
        for (uint256 i; i < 4; ++i) {
            (IStepSemantics.OperandKind kind, uint256 slot, uint256 payload) = StepWords.operand(word, i);
            assertEq(uint8(kind), uint8(ins.operands[i].kind));
            assertEq(uint8(StepWords.kindOf(word, i)), uint8(kind));
            assertEq(StepWords.slotOf(word, i), slot);
            assertEq(StepWords.payloadOf(word, i), payload);
            assertEq(slot, ins.operands[i].slot);
            assertEq(
                payload,
                kind == IStepSemantics.OperandKind.Const ? ins.operands[i].bits : ins.operands[i].index
            );
        }
    }

    function test_microBuildsTheWordsTheStructsEncodeTo() public pure {
        IStepSemantics.Instruction memory ins;
        ins.opcode = Micro.FMA;
        ins.operands[0] = IStepSemantics.Operand(IStepSemantics.OperandKind.Input, 1, 2 ** 40 + 3, 0);
        ins.operands[1] = IStepSemantics.Operand(IStepSemantics.OperandKind.Const, 0, 0, 0xBF800000);
        ins.operands[2] = IStepSemantics.Operand(IStepSemantics.OperandKind.Step, 0, 4095, 0);
        assertEq(
            Micro.ins3(Micro.FMA, Micro.input(1, 2 ** 40 + 3), Micro.c(Micro.F_MINUS_ONE), Micro.step(4095)),
            StepWords.encode(ins)
        );
        IStepSemantics.Instruction memory copy;
        copy.operands[0] = IStepSemantics.Operand(IStepSemantics.OperandKind.Const, 0, 0, Micro.F_HALF);
        assertEq(Micro.copy(Micro.c(Micro.F_HALF)), StepWords.encode(copy));
        assertEq(Micro.none(), 0);
    }

    function test_anIndexThatDoesNotPackIsRefused() public {
        IStepSemantics.Instruction memory ins;
        ins.operands[0] =
            IStepSemantics.Operand(IStepSemantics.OperandKind.Step, 0, uint64(StepWords.MAX_INDEX), 0);
        vm.expectRevert(StepWords.DoesNotPack.selector);
        this.encodeOf(ins);
        IStepSemantics.TensorSource memory src;
        src.shape = new uint64[](6);
        vm.expectRevert(StepWords.DoesNotPack.selector);
        this.sourceWordOf(src);
    }

    function testFuzz_packedShapeGivesTheSameRootAndLength(
        uint8 source,
        uint32 index,
        uint32[5] memory dims,
        uint8 rank,
        bytes32 merkle
    ) public pure {
        IStepSemantics.TensorSource memory src;
        src.source = IStepSemantics.Source(source % 7);
        src.index = index;
        src.shape = new uint64[](bound(rank, 0, 5));
        for (uint256 i; i < src.shape.length; ++i) {
            src.shape[i] = uint64(bound(dims[i], 0, 1 << 20)); // lengthOf must not overflow
        }
        (uint8 list, uint256 at, uint256 shape) = StepWords.source(StepWords.encodeSource(src));
        assertEq(list, uint8(src.source));
        assertEq(at, src.index);
        assertEq(Commitments.tensorRootPacked(shape, merkle), Commitments.tensorRoot(src.shape, merkle));
        assertEq(Commitments.lengthOfPacked(shape), Commitments.lengthOf(src.shape));
    }
}
