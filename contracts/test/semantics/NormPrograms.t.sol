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
import {SpecRules} from "../../src/lib/SpecRules.sol";
import {GraphSpecCodec} from "../../src/semantics/graph/GraphSpecCodec.sol";
import {Fp32Alu} from "../../src/fp32/Fp32Alu.sol";

/// @notice Layer normalisation and GELU in {GraphSemantics} (`docs/repops.md` § Layer
///         normalisation and GELU): the step's nodes, shapes and inputs, the initial γ and β,
///         every program run through the real {Fp32Alu} on inputs made up here against the
///         formula in f64 (the locator diff checks them bit for bit against Rust), the spec
///         checks, and the gas of `locate`.
contract NormProgramsTest is Test {
    /// @dev The header of `examples/digits-mlp.toml` (batch 64, 64 features, 10 classes).
    bytes internal constant HEADER =
        hex"000000010000000001352903000003200000006400000040c489fc31a9f0d0e54e6d537b903bece59a93d7fc12abd5715cce9b4ca3d678950100000705000000400000000a00000168";
    /// @dev SGD (0.1, momentum 0.9, weight decay 1e-4), constant schedule.
    bytes internal constant SGD = hex"013dcccccd3f66666638d1b71701";
    /// @dev `layer_norm` with ε = 1e-5.
    bytes internal constant LAYER_NORM = hex"093727c5ac";
    bytes internal constant GELU = hex"0a";

    GraphSemantics internal semantics;
    Fp32Alu internal alu;

    function setUp() public {
        semantics = SemanticsFixture.deploy();
        alu = new Fp32Alu();
    }

    /// @dev A graph on a `[64]` input with `count` layers.
    function _graph(uint8 count, bytes memory layers) internal pure returns (bytes memory) {
        return bytes.concat(HEADER, hex"020000000100000040000000", bytes1(count), layers, hex"01", SGD);
    }

    /// @dev linear(16), reshape [4, 4], layer_norm, gelu, flatten, linear(10): a layer norm
    ///      over 4 rows of 4 per sample (R = 256), after the first trained layer.
    function _norm() internal pure returns (bytes memory) {
        return _graph(
            6,
            bytes.concat(
                hex"0100000010", hex"06000000020000000400000004", LAYER_NORM, GELU, hex"05", hex"010000000a"
            )
        );
    }

    /// @dev reshape [8, 8], layer_norm, gelu, flatten, linear(10): the layer norm is the first
    ///      trained layer.
    function _normFirst() internal pure returns (bytes memory) {
        return
            _graph(
                5, bytes.concat(hex"06000000020000000800000008", LAYER_NORM, GELU, hex"05", hex"010000000a")
            );
    }

    function _id(uint8 list, uint32 index) internal pure returns (IStepSemantics.TensorId memory) {
        return IStepSemantics.TensorId(3, false, list, index);
    }

    function _shape(bytes memory spec, uint32 node) internal view returns (uint64[] memory) {
        return semantics.shapeOf(spec, _id(0, node));
    }

    function _input(bytes memory spec, uint32 node, uint8 slot)
        internal
        view
        returns (IStepSemantics.TensorSource memory)
    {
        return semantics.inputOf(spec, _id(0, node), slot);
    }

    function _eqShape(uint64[] memory s, uint64 a, uint64 b, uint64 c) internal pure {
        assertEq(s.length, c == 0 ? 2 : 3, "rank");
        assertEq(s[0], a);
        assertEq(s[1], b);
        if (c != 0) assertEq(s[2], c);
    }

    function _eqSource(IStepSemantics.TensorSource memory src, IStepSemantics.Source source, uint32 index)
        internal
        pure
    {
        assertEq(uint8(src.source), uint8(source), "source");
        assertEq(src.index, index, "index");
    }

    // ---------------------------------------------------------------- the step's nodes

    /// 0 schedule, 1 x, 2 y, 3 z1, 4 S, 5 Y, 6 gelu, 7 z2, 8 log_softmax, 9 xent_grad,
    /// 10 dW2, 11 db2, 12 dA, 13 gelu_grad, 14 dγ, 15 dβ, 16 dX, 17 dW1, 18 db1.
    function test_nodes_layerNormAfterTheFirstTrainedLayer() public {
        bytes memory spec = _norm();
        (uint32 nI, uint32 nO, uint32 nW) = semantics.counts(spec, false);
        assertEq(nI, 19);
        assertEq(nO, 6);
        assertEq(nW, 6);
        _eqShape(_shape(spec, 4), 256, 2, 0); // S [R, 2]
        _eqShape(_shape(spec, 5), 64, 4, 4);
        _eqShape(_shape(spec, 6), 64, 4, 4);
        _eqShape(_shape(spec, 13), 64, 4, 4);
        _eqShape(_shape(spec, 16), 64, 4, 4);
        assertEq(_shape(spec, 14).length, 1);
        assertEq(_shape(spec, 14)[0], 4);
        assertEq(_shape(spec, 15)[0], 4);
        assertEq(semantics.shapeOf(spec, _id(2, 2))[0], 4); // γ
        assertEq(semantics.shapeOf(spec, _id(2, 3))[0], 4); // β
        IStepSemantics.Source node = IStepSemantics.Source.Intermediates;
        IStepSemantics.Source weights = IStepSemantics.Source.OldWeights;
        _eqSource(_input(spec, 4, 0), node, 3);
        _eqSource(_input(spec, 5, 0), node, 3);
        _eqSource(_input(spec, 5, 1), node, 4);
        _eqSource(_input(spec, 5, 2), weights, 2);
        _eqSource(_input(spec, 5, 3), weights, 3);
        _eqSource(_input(spec, 6, 0), node, 5);
        _eqSource(_input(spec, 7, 0), node, 6);
        _eqSource(_input(spec, 13, 0), node, 5); // the gelu's input
        _eqSource(_input(spec, 13, 1), node, 12);
        _eqSource(_input(spec, 14, 0), node, 3);
        _eqSource(_input(spec, 14, 1), node, 4);
        _eqSource(_input(spec, 14, 2), node, 13);
        _eqSource(_input(spec, 15, 0), node, 13);
        _eqSource(_input(spec, 16, 0), node, 3);
        _eqSource(_input(spec, 16, 1), node, 4);
        _eqSource(_input(spec, 16, 2), weights, 2);
        _eqSource(_input(spec, 16, 3), node, 13);
        _eqSource(_input(spec, 17, 0), node, 16); // dW1 reads dX
        _eqShape(_input(spec, 16, 3).shape, 64, 4, 4);
        _eqShape(_input(spec, 14, 1).shape, 256, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchInput.selector, uint8(4)));
        semantics.inputOf(spec, _id(0, 16), 4);
        // the optimizer reads each gradient: v' of γ (SGD: g is slot 2)
        _eqSource(semantics.inputOf(spec, _id(1, 2), 2), node, 14);
        _eqSource(semantics.inputOf(spec, _id(1, 3), 2), node, 15);
    }

    /// 0 schedule, 1 x, 2 y, 3 S, 4 Y, 5 gelu, 6 z, 7 log_softmax, 8 xent_grad, 9 dW, 10 db,
    /// 11 dA, 12 gelu_grad, 13 dγ, 14 dβ: no input gradient below the first trained layer.
    function test_nodes_layerNormFirst() public {
        bytes memory spec = _normFirst();
        (uint32 nI, uint32 nO, uint32 nW) = semantics.counts(spec, false);
        assertEq(nI, 15);
        assertEq(nO, 4);
        assertEq(nW, 4);
        _eqShape(_shape(spec, 3), 512, 2, 0);
        _eqSource(_input(spec, 3, 0), IStepSemantics.Source.Intermediates, 1); // x
        _eqSource(_input(spec, 13, 2), IStepSemantics.Source.Intermediates, 12);
        _eqSource(_input(spec, 14, 0), IStepSemantics.Source.Intermediates, 12);
        assertEq(semantics.shapeOf(spec, _id(2, 0))[0], 8);
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchTensor.selector, uint8(0), uint32(15)));
        semantics.shapeOf(spec, _id(0, 15));
    }

    /// γ is a copy of 1, β of +0, their moments of +0; a linear weight keeps its 4-step
    /// program.
    function test_initialState_gainIsOneShiftIsZero() public {
        bytes memory spec = _norm();
        IStepSemantics.TensorId memory gain = IStepSemantics.TensorId(0, true, 2, 2);
        IStepSemantics.TensorId memory shift = IStepSemantics.TensorId(0, true, 2, 3);
        assertEq(semantics.programLength(spec, gain, 3), 0);
        assertEq(semantics.programLength(spec, shift, 3), 0);
        assertEq(semantics.programLength(spec, IStepSemantics.TensorId(0, true, 2, 0), 5), 4);
        assertEq(semantics.programLength(spec, IStepSemantics.TensorId(0, true, 2, 5), 5), 4);
        IStepSemantics.Instruction memory ins = semantics.instruction(spec, gain, 3, 0);
        assertEq(ins.opcode, 0);
        assertEq(uint8(ins.operands[0].kind), uint8(IStepSemantics.OperandKind.Const));
        assertEq(ins.operands[0].bits, 0x3F800000);
        ins = semantics.instruction(spec, shift, 3, 0);
        assertEq(uint8(ins.operands[0].kind), uint8(IStepSemantics.OperandKind.Const));
        assertEq(ins.operands[0].bits, 0);
        ins = semantics.instruction(spec, IStepSemantics.TensorId(0, true, 1, 2), 3, 0); // γ's v
        assertEq(ins.operands[0].bits, 0);
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchMicroStep.selector, uint32(1)));
        semantics.instruction(spec, gain, 3, 1);
        // W2's fan-in is still its input width, 16: sqrt(16)
        ins = semantics.instruction(spec, IStepSemantics.TensorId(0, true, 2, 4), 0, 0);
        assertEq(ins.operands[0].bits, 0x41800000);
    }

    // ---------------------------------------------------------------- programs

    function test_programLengths() public {
        bytes memory spec = _norm();
        assertEq(semantics.programLength(spec, _id(0, 4), 4), 5); // μ: D + 1
        assertEq(semantics.programLength(spec, _id(0, 4), 5), 17); // ρ: 3D + 5
        assertEq(semantics.programLength(spec, _id(0, 5), 13), 3);
        assertEq(semantics.programLength(spec, _id(0, 6), 7), 21);
        assertEq(semantics.programLength(spec, _id(0, 13), 7), 29);
        assertEq(semantics.programLength(spec, _id(0, 14), 1), 768); // 3R
        assertEq(semantics.programLength(spec, _id(0, 15), 2), 256); // R
        assertEq(semantics.programLength(spec, _id(0, 16), 13), 29); // 5D + 9
        vm.expectRevert(abi.encodeWithSelector(GraphSemantics.NoSuchMicroStep.selector, uint32(3)));
        semantics.instruction(spec, _id(0, 5), 13, 3);
    }

    /// Every program, run through the ALU on inputs `((5i + 3·slot + 1) mod 9 − 4) / 4`,
    /// against the formula evaluated in f64 (`μ`, `Y`, `dX`, `dγ`, `dβ` are exact on these
    /// inputs).
    function test_programs_computeTheFormula() public view {
        bytes memory spec = _norm();
        _expect(spec, 4, 4, 0xbe000000); // μ of row 2: −0.125
        _expect(spec, 4, 5, 0x3ff85a10); // ρ of row 2: 1.94025
        _expect(spec, 5, 13, 0x3ee00000); // Y: 0.4375
        _expect(spec, 16, 13, 0x3dae8000); // dX: 0.0852051
        _expect(spec, 14, 1, 0xbf8e0000); // dγ: −1.109375
        _expect(spec, 15, 2, 0x3f800000); // dβ: 1
        _expect(spec, 6, 7, 0xbe229e91); // gelu(−1): −0.158808
        _expect(spec, 6, 3, 0x3f14784c); // gelu(0.75): 0.579961
        _expect(spec, 13, 7, 0x3ca9e914); // −0.25 · gelu'(−1)
        _expect(spec, 13, 3, 0xbf3fcbd0); // −0.75 · gelu'(0.75)
    }

    /// @dev Runs element `e` of intermediate `node` and requires `expected` within 4 ulps.
    function _expect(bytes memory spec, uint32 node, uint64 e, uint32 expected) internal view {
        IStepSemantics.TensorId memory id = _id(0, node);
        uint256 n = semantics.programLength(spec, id, e);
        uint32[] memory results = new uint32[](n);
        for (uint256 k; k < n; ++k) {
            IStepSemantics.Instruction memory ins = semantics.instruction(spec, id, e, uint32(k));
            uint32[4] memory v;
            for (uint256 j; j < 4; ++j) {
                IStepSemantics.Operand memory op = ins.operands[j];
                if (op.kind == IStepSemantics.OperandKind.Const) v[j] = op.bits;
                else if (op.kind == IStepSemantics.OperandKind.Step) v[j] = results[op.index];
                else if (op.kind == IStepSemantics.OperandKind.Input) v[j] = _value(op.slot, op.index);
            }
            results[k] = alu.execute(ins.opcode, v[0], v[1], v[2], v[3]);
        }
        uint32 got = results[n - 1];
        assertEq(got >> 31, expected >> 31, "sign");
        uint256 ulps = got > expected ? got - expected : expected - got;
        assertLe(ulps, 4, string.concat("node ", vm.toString(node), " element ", vm.toString(e)));
    }

    /// @dev `((5i + 3·slot + 1) mod 9 − 4) / 4` as f32 bits: 0, ±0.25, ±0.5, ±0.75, ±1.
    function _value(uint8 slot, uint64 index) internal pure returns (uint32) {
        uint256 m = (5 * uint256(index) + 3 * uint256(slot) + 1) % 9;
        uint32[9] memory table = [
            uint32(0xbf800000),
            0xbf400000,
            0xbf000000,
            0xbe800000,
            0x00000000,
            0x3e800000,
            0x3f000000,
            0x3f400000,
            0x3f800000
        ];
        return table[m];
    }

    // ---------------------------------------------------------------- spec checks

    /// ε must be a finite f32 > 0; a graph whose only parameters are a layer norm's is valid.
    function test_validate_epsAndLayerNormOnlyGraphs() public {
        bytes4 invalid = SpecRules.InvalidSpec.selector;
        bytes memory layers = bytes.concat(hex"010000000a", LAYER_NORM, GELU);
        assertGt(semantics.validate(_graph(3, layers)), 0);
        uint32[5] memory bad = [uint32(0), 0x80000000, 0xbf800000, 0x7f800000, 0x7fc00000];
        for (uint256 i; i < bad.length; ++i) {
            bytes memory spec = _graph(3, bytes.concat(hex"010000000a09", bytes4(bad[i]), GELU));
            vm.expectRevert(abi.encodeWithSelector(invalid, "model.layers"));
            semantics.validate(spec);
        }
        // input [10] (features 10) → layer_norm → gelu: γ and β are the only parameters
        bytes memory header = HEADER;
        header[64] = 0x0a; // dataset.features
        bytes memory only = bytes.concat(
            header, hex"0200000001", hex"0000000a", hex"00000002", LAYER_NORM, GELU, hex"01", SGD
        );
        assertGt(semantics.validate(only), 0);
        (uint32 nI,, uint32 nW) = semantics.counts(only, false);
        assertEq(nW, 2);
        assertEq(nI, 11); // 3 + S, Y, gelu + log_softmax, xent_grad + gelu_grad, dγ, dβ
        // a truncated ε does not decode
        vm.expectRevert(abi.encodeWithSelector(GraphSpecCodec.UnsupportedSpec.selector, uint256(92)));
        semantics.validate(bytes.concat(HEADER, hex"02000000010000004000000002010000000a09"));
    }

    /// The cost model counts every node of the step: element count × longest program.
    function test_validate_stepOpsCountTheNewNodes() public view {
        // linear(10) [64, 10], then a layer norm over D = 10, R = 64, then gelu
        bytes memory spec = _graph(3, bytes.concat(hex"010000000a", LAYER_NORM, GELU));
        bytes memory plain = _graph(1, hex"010000000a");
        uint256 extra = 128 * (3 * 10 + 5) // S [64, 2]
            + 640 * 3 // Y
            + 640 * 21 // gelu
            + 640 * 29 // gelu_grad
            + 10 * 192 + 10 * 64 // dγ, dβ
            + 640 * (5 * 10 + 9) // dX
            + 2 * (10 * 2 + 10 * 1); // SGD: v', w' of γ and β
        assertEq(semantics.validate(spec) - semantics.validate(plain), extra);
    }

    // ---------------------------------------------------------------- gas

    /// @notice Gas of `locate` for the new ops' costliest steps (logged).
    function test_gas_locate() public view {
        bytes memory spec = _norm();
        _gas(spec, "linear z1 (baseline, k=63)", 3, 64 * 16 - 1, 63);
        _gas(spec, "layer_norm_stats rho (k=16)", 4, 511, 16);
        _gas(spec, "layer_norm_stats rho (k=8, fma)", 4, 511, 8);
        _gas(spec, "layer_norm (k=2)", 5, 1023, 2);
        _gas(spec, "gelu (k=20)", 6, 1023, 20);
        _gas(spec, "gelu exp (k=18)", 6, 1023, 18);
        _gas(spec, "gelu_grad (k=28)", 13, 1023, 28);
        _gas(spec, "layer_norm_weight_grad (k=767)", 14, 3, 767);
        _gas(spec, "layer_norm bias_grad (k=255)", 15, 3, 255);
        _gas(spec, "layer_norm_input_grad (k=28)", 16, 1023, 28);
        _gas(spec, "layer_norm_input_grad (k=19, fma)", 16, 1023, 19);
    }

    function _gas(bytes memory spec, string memory what, uint32 node, uint64 e, uint32 k) internal view {
        IStepSemantics.TensorId memory id = _id(0, node);
        uint256 before = gasleft();
        semantics.locate(spec, id, e, k);
        console.log("gas locate %s: %d", what, before - gasleft());
    }
}
