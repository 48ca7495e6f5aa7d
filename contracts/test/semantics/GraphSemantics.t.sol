// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test, console} from "forge-std/Test.sol";
import {SemanticsFixture} from "./SemanticsFixture.sol";
import {IStepSemantics} from "../../src/interfaces/IStepSemantics.sol";
import {GraphSemantics} from "../../src/semantics/GraphSemantics.sol";
import {GraphSpecRules} from "../../src/semantics/GraphSpecRules.sol";
import {DensePrograms} from "../../src/semantics/ops/DensePrograms.sol";
import {ImagePrograms} from "../../src/semantics/ops/ImagePrograms.sol";
import {NormPrograms} from "../../src/semantics/ops/NormPrograms.sol";
import {AttentionPrograms} from "../../src/semantics/ops/AttentionPrograms.sol";
import {GraphSpecCodec} from "../../src/semantics/graph/GraphSpecCodec.sol";
import {Fp32Alu} from "../../src/fp32/Fp32Alu.sol";

/// @notice Differential test of {GraphSemantics} against the Rust reference engine: reads the
///         vectors `proof-of-learning/examples/locator_vectors.rs` writes to
///         `../target/locator-vectors/` (format: that file's docs) and checks, for every
///         produced tensor of every recorded transition, `counts`, `shapeOf` and `inputOf`
///         against the Rust step graph, and for every recorded element `programLength` and
///         every `instruction` against the Rust `Recorder`'s micro-trace; then replays each
///         micro-step through the real {Fp32Alu} with the recorded operand values and requires
///         the recorded result bits. Run by `scripts/locator-diff.sh`; skipped when the vectors
///         are absent, so a bare `forge test` passes without them.
contract GraphSemanticsDiffTest is Test {
    string internal constant DIR = "../target/locator-vectors/";
    bytes8 internal constant CASE_MAGIC = "VTLOCV01";
    bytes8 internal constant MANIFEST_MAGIC = "VTLOCM01";

    IStepSemantics internal semantics;
    Fp32Alu internal alu;

    /// @dev A cursor over a vector file.
    struct Reader {
        bytes data;
        uint256 pos;
    }

    /// @dev Totals of one case.
    struct Tally {
        uint256 tensors;
        uint256 elements;
        uint256 microSteps;
    }

    /// @dev Where a check failed, for the revert message.
    struct Where {
        uint256 caseIndex;
        uint8 list;
        uint32 index;
        uint64 element;
    }

    function setUp() public {
        semantics = SemanticsFixture.deploy();
        alu = new Fp32Alu();
    }

    /// @notice Every vector: 0 mismatches.
    function test_diff_locatorVectors() public {
        bool present;
        try this.vectorsPresent(string.concat(DIR, "manifest.bin")) returns (bool exists) {
            present = exists;
        } catch {
            present = false;
        }
        if (!present) {
            vm.skip(true, "locator vectors absent (../target/locator-vectors): run scripts/locator-diff.sh");
            return;
        }
        Reader memory m = Reader(vm.readFileBinary(string.concat(DIR, "manifest.bin")), 0);
        require(bytes8(uint64(_read(m, 8))) == MANIFEST_MAGIC, "locator vectors: bad manifest magic");
        uint256 cases = _read(m, 4);
        uint256 tensors = _read(m, 4);
        uint256 elements = _read(m, 4);
        uint256 microSteps = _read(m, 4);
        // ~1e9 gas in all: this test checks bits, not gas (the gas tests below do).
        vm.pauseGasMetering();
        Tally memory total;
        for (uint256 i; i < cases; ++i) {
            Tally memory t = this.checkCase(i);
            total.tensors += t.tensors;
            total.elements += t.elements;
            total.microSteps += t.microSteps;
        }
        vm.resumeGasMetering();
        assertEq(total.tensors, tensors, "tensors checked");
        assertEq(total.elements, elements, "elements checked");
        assertEq(total.microSteps, microSteps, "micro-steps checked");
        console.log("locator diff: %d cases, %d tensors, %d elements", cases, tensors, elements);
        console.log("locator diff: %d micro-steps replayed, 0 mismatches", microSteps);
    }

    /// @notice Whether the vector file `path` exists (reverts if its directory does not).
    function vectorsPresent(string calldata path) external view returns (bool) {
        return vm.exists(path);
    }

    /// @notice Checks one transition's vector file; reverts on the first mismatch.
    function checkCase(uint256 caseIndex) external view returns (Tally memory tally) {
        Reader memory r = Reader(vm.readFileBinary(_path(caseIndex)), 0);
        require(bytes8(uint64(_read(r, 8))) == CASE_MAGIC, "locator vectors: bad magic");
        bytes memory spec = _bytes(r, _read(r, 4));
        IStepSemantics.TensorId memory id;
        id.init = _read(r, 1) == 1;
        id.step = uint64(_read(r, 8));
        uint256 tensors = _checkCounts(spec, id.init, r, caseIndex);
        Where memory w = Where(caseIndex, 0, 0, 0);
        uint32 next;
        for (uint256 i; i < tensors; ++i) {
            uint8 list = uint8(_read(r, 1));
            // the tensors come list by list, each list in order: all of them are covered
            if (list != w.list) (w.list, next) = (list, 0);
            w.index = uint32(_read(r, 4));
            _eq(w.index, next++, "tensor order", w.caseIndex);
            (id.list, id.index) = (w.list, w.index);
            _checkTensor(spec, id, r, w, tally);
        }
        _eq(r.pos, r.data.length, "trailing bytes", w.caseIndex);
    }

    /// @dev `counts` against the record; returns the number of tensors recorded (all of them).
    function _checkCounts(bytes memory spec, bool init, Reader memory r, uint256 caseIndex)
        internal
        view
        returns (uint256 tensors)
    {
        (uint32 nI, uint32 nO, uint32 nW) = semantics.counts(spec, init);
        _eq(nI, _read(r, 4), "counts.intermediates", caseIndex);
        _eq(nO, _read(r, 4), "counts.optimizer", caseIndex);
        _eq(nW, _read(r, 4), "counts.weights", caseIndex);
        tensors = _read(r, 4);
        _eq(tensors, uint256(nI) + nO + nW, "every produced tensor is recorded", caseIndex);
    }

    /// @dev One produced tensor: its shape, its inputs, its recorded elements.
    function _checkTensor(
        bytes memory spec,
        IStepSemantics.TensorId memory id,
        Reader memory r,
        Where memory w,
        Tally memory tally
    ) internal view {
        _checkShape(semantics.shapeOf(spec, id), r, w, "shapeOf");
        _checkInputs(spec, id, r, w);
        uint256 elements = _read(r, 4);
        for (uint256 j; j < elements; ++j) {
            w.element = uint64(_read(r, 8));
            tally.microSteps += _checkElement(spec, id, r, w);
        }
        tally.elements += elements;
        ++tally.tensors;
    }

    /// @dev `inputOf` for every recorded input slot, and a revert for the slot after them.
    function _checkInputs(
        bytes memory spec,
        IStepSemantics.TensorId memory id,
        Reader memory r,
        Where memory w
    ) internal view {
        uint256 inputs = _read(r, 1);
        for (uint256 slot; slot < inputs; ++slot) {
            IStepSemantics.TensorSource memory src = semantics.inputOf(spec, id, uint8(slot));
            if (uint8(src.source) != _read(r, 1)) _fail(w, "inputOf.source", slot);
            if (src.index != _read(r, 4)) _fail(w, "inputOf.index", slot);
            _checkShape(src.shape, r, w, "inputOf.shape");
        }
        try semantics.inputOf(spec, id, uint8(inputs)) {
            _fail(w, "inputOf past the last slot", inputs);
        } catch {}
    }

    /// @dev One element: its program length, every instruction, every ALU result. Returns the
    ///      number of micro-steps.
    function _checkElement(
        bytes memory spec,
        IStepSemantics.TensorId memory id,
        Reader memory r,
        Where memory w
    ) internal view returns (uint256 n) {
        uint32 value = uint32(_read(r, 4));
        n = _read(r, 4);
        if (semantics.programLength(spec, id, w.element) != n) _fail(w, "programLength", n);
        if (n == 0) {
            IStepSemantics.Instruction memory copy = semantics.instruction(spec, id, w.element, 0);
            if (copy.opcode != 0) _fail(w, "copy opcode", copy.opcode);
            (uint32 copied,) = _checkOperand(copy.operands[0], r, w, 0, new uint32[](0));
            if (copied != value) _fail(w, "copied value", 0);
            for (uint256 j = 1; j < 4; ++j) {
                if (copy.operands[j].kind != IStepSemantics.OperandKind.None) _fail(w, "copy operand", j);
            }
        } else {
            uint32[] memory results = new uint32[](n);
            for (uint256 k; k < n; ++k) {
                IStepSemantics.Instruction memory ins = semantics.instruction(spec, id, w.element, uint32(k));
                if (ins.opcode != _read(r, 1)) _fail(w, "opcode", k);
                uint32[4] memory v;
                for (uint256 j; j < 4; ++j) {
                    (v[j],) = _checkOperand(ins.operands[j], r, w, k, results);
                }
                uint32 result = uint32(_read(r, 4));
                if (alu.execute(ins.opcode, v[0], v[1], v[2], v[3]) != result) _fail(w, "ALU result", k);
                results[k] = result;
            }
            if (results[n - 1] != value) _fail(w, "last result is not the element", n - 1);
        }
        try semantics.instruction(spec, id, w.element, uint32(n == 0 ? 1 : n)) {
            _fail(w, "instruction past the program", n);
        } catch {}
    }

    /// @dev Compares one operand locator with the record and returns the value the ALU gets:
    ///      the constant, the earlier result, or the recorded input element.
    function _checkOperand(
        IStepSemantics.Operand memory op,
        Reader memory r,
        Where memory w,
        uint256 k,
        uint32[] memory results
    ) internal pure returns (uint32 value, bool used) {
        uint256 kind = _read(r, 1);
        uint256 slot = _read(r, 1);
        uint256 index = _read(r, 8);
        uint256 bits = _read(r, 4);
        uint32 recorded = uint32(_read(r, 4));
        if (uint8(op.kind) != kind || op.slot != slot || op.index != index || op.bits != bits) {
            _fail(w, "operand locator", k);
        }
        if (op.kind == IStepSemantics.OperandKind.None) return (0, false);
        if (op.kind == IStepSemantics.OperandKind.Const) {
            if (recorded != op.bits) _fail(w, "constant value", k);
            return (op.bits, true);
        }
        if (op.kind == IStepSemantics.OperandKind.Step) {
            if (op.index >= k) _fail(w, "step operand is not earlier", k);
            if (results[op.index] != recorded) _fail(w, "step operand value", k);
            return (results[op.index], true);
        }
        return (recorded, true);
    }

    function _checkShape(uint64[] memory shape, Reader memory r, Where memory w, string memory what)
        internal
        pure
    {
        uint256 ndim = _read(r, 1);
        if (shape.length != ndim) _fail(w, what, ndim);
        for (uint256 i; i < ndim; ++i) {
            if (shape[i] != _read(r, 8)) _fail(w, what, i);
        }
    }

    // ---------------------------------------------------------------- reading

    /// @dev The next `size` (≤ 32) bytes as a big-endian integer.
    function _read(Reader memory r, uint256 size) internal pure returns (uint256 v) {
        require(r.pos + size <= r.data.length, "locator vectors: truncated");
        bytes memory data = r.data;
        uint256 pos = r.pos;
        assembly ("memory-safe") {
            v := shr(sub(256, mul(8, size)), mload(add(add(data, 32), pos)))
        }
        r.pos = pos + size;
    }

    function _bytes(Reader memory r, uint256 size) internal pure returns (bytes memory b) {
        require(r.pos + size <= r.data.length, "locator vectors: truncated");
        b = new bytes(size);
        for (uint256 i; i < size; ++i) {
            b[i] = r.data[r.pos + i];
        }
        r.pos += size;
    }

    function _path(uint256 caseIndex) internal pure returns (string memory) {
        bytes memory digits = new bytes(3);
        for (uint256 i = 3; i > 0; --i) {
            digits[i - 1] = bytes1(uint8(48 + caseIndex % 10));
            caseIndex /= 10;
        }
        return string.concat(DIR, "case-", string(digits), ".bin");
    }

    // ---------------------------------------------------------------- failing

    function _eq(uint256 a, uint256 b, string memory what, uint256 caseIndex) internal pure {
        if (a != b) {
            revert(
                string.concat(
                    "locator mismatch: case ",
                    vm.toString(caseIndex),
                    ": ",
                    what,
                    ": ",
                    vm.toString(a),
                    " != ",
                    vm.toString(b)
                )
            );
        }
    }

    function _fail(Where memory w, string memory what, uint256 detail) internal pure {
        revert(
            string.concat(
                string.concat(
                    "locator mismatch: case ", vm.toString(w.caseIndex), " list ", vm.toString(w.list)
                ),
                string.concat(" tensor ", vm.toString(w.index), " element ", vm.toString(w.element)),
                string.concat(": ", what, " (", vm.toString(detail), ")")
            )
        );
    }
}

/// @notice Unit checks and gas of {GraphSemantics} on the reference job (`examples/digits-mlp.toml`),
///         without vector files.
contract GraphSemanticsTest is Test {
    /// @dev The canonical bytes of `examples/digits-mlp.toml` (also in test/vectors/commitments.json).
    bytes internal constant DIGITS =
        hex"000000010000000001352903000003200000006400000040c489fc31a9f0d0e54e6d537b903bece59a93d7fc12abd5715cce9b4ca3d678950100000705000000400000000a0000016801000000010000008001013dcccccd3f66666638d1b71701";

    GraphSemantics internal semantics;

    function setUp() public {
        semantics = SemanticsFixture.deploy();
    }

    function _id(uint64 step, uint8 list, uint32 index)
        internal
        pure
        returns (IStepSemantics.TensorId memory)
    {
        return IStepSemantics.TensorId(step, false, list, index);
    }

    function test_counts_digits() public view {
        (uint32 nI, uint32 nO, uint32 nW) = semantics.counts(DIGITS, false);
        assertEq(nI, 14);
        assertEq(nO, 4);
        assertEq(nW, 4);
        (nI, nO, nW) = semantics.counts(DIGITS, true);
        assertEq(nI, 0);
        assertEq(nO, 4);
        assertEq(nW, 4);
    }

    /// Fine-tuning: the initial weights' root is read from the spec's tail (zero for the
    /// seed); the tail changes nothing else of the model.
    function test_initialWeights_fromTheSpecTail() public view {
        assertEq(semantics.initialWeights(DIGITS), bytes32(0), "drawn from the seed");
        bytes32 root = keccak256("a model");
        bytes memory tuned = bytes.concat(DIGITS, bytes1(0x02), root);
        assertEq(semantics.initialWeights(tuned), root);
        (uint32 nI, uint32 nO, uint32 nW) = semantics.counts(tuned, true);
        assertEq(nI, 0);
        assertEq(nO, 4);
        assertEq(nW, 4);
    }

    function test_shapes_digits() public view {
        uint64[] memory s = semantics.shapeOf(DIGITS, _id(0, 0, 3)); // z1
        assertEq(s.length, 2);
        assertEq(s[0], 64);
        assertEq(s[1], 128);
        s = semantics.shapeOf(DIGITS, _id(0, 2, 0)); // W1
        assertEq(s[0], 128);
        assertEq(s[1], 64);
        s = semantics.shapeOf(DIGITS, IStepSemantics.TensorId(0, true, 1, 3)); // v of b2 at init
        assertEq(s.length, 1);
        assertEq(s[0], 10);
    }

    function test_inputOf_weightReadsNewVelocity() public view {
        // w'_2 (W2) reads schedule, W2 of S_t and v'_2 of S_{t+1}
        IStepSemantics.TensorSource memory src = semantics.inputOf(DIGITS, _id(5, 2, 2), 2);
        assertEq(uint8(src.source), uint8(IStepSemantics.Source.NewOptimizer));
        assertEq(src.index, 2);
        src = semantics.inputOf(DIGITS, _id(5, 2, 2), 1);
        assertEq(uint8(src.source), uint8(IStepSemantics.Source.OldWeights));
        src = semantics.inputOf(DIGITS, _id(5, 0, 1), 0);
        assertEq(uint8(src.source), uint8(IStepSemantics.Source.DatasetFeatures));
        assertEq(src.shape[0], 1797);
        assertEq(src.shape[1], 64);
    }

    function test_revertsOutsideTheGraph() public {
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchTensor.selector, uint8(0), uint32(14)));
        semantics.shapeOf(DIGITS, _id(0, 0, 14));
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchTensor.selector, uint8(3), uint32(0)));
        semantics.shapeOf(DIGITS, _id(0, 3, 0));
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchStep.selector, uint64(800)));
        semantics.shapeOf(DIGITS, _id(800, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchInput.selector, uint8(0)));
        semantics.inputOf(DIGITS, _id(0, 0, 0), 0); // the schedule reads nothing
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchElement.selector, uint64(64 * 128)));
        semantics.programLength(DIGITS, _id(0, 0, 3), 64 * 128);
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchMicroStep.selector, uint32(64)));
        semantics.instruction(DIGITS, _id(0, 0, 3), 0, 64);
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchMicroStep.selector, uint32(1)));
        semantics.instruction(DIGITS, _id(0, 0, 1), 0, 1); // gather: one pseudo-step
    }

    function test_revertsOnUnsupportedSpec() public {
        bytes memory spec = DIGITS;
        spec[73] = 0x03; // model kind
        vm.expectRevert(abi.encodeWithSelector(GraphSpecCodec.UnsupportedSpec.selector, uint256(73)));
        semantics.counts(spec, false);
        vm.expectRevert(
            abi.encodeWithSelector(GraphSpecCodec.UnsupportedSpec.selector, uint256(DIGITS.length))
        );
        semantics.counts(bytes.concat(DIGITS, hex"00"), false);
    }

    function test_programLengths_digits() public view {
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 0), 0), 0); // constant lr_t: a copy
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 0), 1), 1); // −lr_t
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 1), 5), 0); // gather
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 3), 5), 64); // z1
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 6), 5), 200); // log_softmax, 10 classes
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 7), 5), 18); // xent_grad
        assertEq(semantics.programLength(DIGITS, _id(0, 0, 12), 5), 64); // dW1
        assertEq(semantics.programLength(DIGITS, IStepSemantics.TensorId(0, true, 2, 0), 5), 4);
    }

    /// @notice Gas of the most expensive look-ups (logged; `scripts/locator-diff.sh` prints them).
    function test_gas_instruction() public view {
        // step 22's batch crosses into epoch 1: two Feistel permutations with cycle-walking
        _gas("gather x (t=22, last element)", _id(22, 0, 1), 64 * 64 - 1, 0);
        _gas("gather y (t=22, element 29)", _id(22, 0, 2), 29, 0);
        _gas("linear z1 (k=63)", _id(22, 0, 3), 64 * 128 - 1, 63);
        _gas("log_softmax max (k=0)", _id(22, 0, 6), 639, 0);
        _gas("log_softmax exp (k=180)", _id(22, 0, 6), 639, 180);
        _gas("log_softmax add (k=179)", _id(22, 0, 6), 639, 179);
        _gas("log_softmax log (k=197)", _id(22, 0, 6), 639, 197);
        _gas("log_softmax final (k=199)", _id(22, 0, 6), 639, 199);
        _gas("xent_grad exp (k=14)", _id(22, 0, 7), 639, 14);
        _gas("dW1 (k=63)", _id(22, 0, 12), 128 * 64 - 1, 63);
        _gas("da1 (k=9)", _id(22, 0, 10), 64 * 128 - 1, 9);
        _gas("schedule -lr_t (k=0)", _id(22, 0, 0), 1, 0);
        _gas("w' (k=0)", _id(22, 2, 0), 0, 0);
        _gas("init W1 uniform (k=2)", IStepSemantics.TensorId(0, true, 2, 0), 128 * 64 - 1, 2);
        // the worst row of the batch (the cycle-walking of both permutations varies per row)
        uint256 worst;
        uint256 worstRow;
        for (uint64 i; i < 64; ++i) {
            uint256 start = gasleft();
            semantics.instruction(DIGITS, _id(22, 0, 2), i, 0);
            uint256 used = start - gasleft();
            if (used > worst) (worst, worstRow) = (used, i);
        }
        console.log("gas instruction gather y (t=22), worst of the batch: %d (row %d)", worst, worstRow);
        uint256 before = gasleft();
        semantics.programLength(DIGITS, _id(22, 0, 6), 639);
        console.log("gas programLength(log_softmax): %d", before - gasleft());
        before = gasleft();
        semantics.inputOf(DIGITS, _id(22, 2, 0), 2);
        console.log("gas inputOf(w'0, slot 2): %d", before - gasleft());
        before = gasleft();
        semantics.shapeOf(DIGITS, _id(22, 0, 3));
        console.log("gas shapeOf(z1): %d", before - gasleft());
        before = gasleft();
        semantics.counts(DIGITS, false);
        console.log("gas counts: %d", before - gasleft());
    }

    function _gas(string memory what, IStepSemantics.TensorId memory id, uint64 e, uint32 k) internal view {
        uint256 before = gasleft();
        semantics.instruction(DIGITS, id, e, k);
        console.log("gas instruction %s: %d", what, before - gasleft());
    }
}
