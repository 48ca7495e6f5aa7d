// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test, console} from "forge-std/Test.sol";
import {SemanticsFixture} from "./SemanticsFixture.sol";
import {IStepSemantics} from "../../src/interfaces/IStepSemantics.sol";
import {GraphSemantics} from "../../src/semantics/GraphSemantics.sol";
import {GraphPlan as P} from "../../src/semantics/graph/GraphPlan.sol";
import {GraphSpecCodec as G} from "../../src/semantics/graph/GraphSpecCodec.sol";
import {ModelImage} from "../../src/semantics/graph/ModelImage.sol";
import {SpecRules} from "../../src/lib/SpecRules.sol";

/// @notice Decodes a spec and reads an image, each into the ABI encoding of the model and
///         plan, so that the two can be compared field by field.
contract ModelImageHarness {
    function decoded(bytes calldata spec) external pure returns (bytes memory) {
        G.Model memory m = G.load(spec);
        P.Plan memory p = P.build(m);
        // the decoder allocates room for more parameter shapes than the model has
        uint256[] memory shapes = new uint256[](m.params);
        for (uint256 i; i < m.params; ++i) {
            shapes[i] = m.paramShapes[i];
        }
        m.paramShapes = shapes;
        p.entryOfNode = P.entryTable(p);
        return abi.encode(m, p);
    }

    /// @dev Whether every node of the spec's step is the same found through the image's
    ///      table as found by the search.
    function nodesAgree(bytes calldata spec) external pure returns (bool) {
        G.Model memory m = G.load(spec);
        P.Plan memory searched = P.build(m);
        P.Plan memory tabled = P.build(m);
        tabled.entryOfNode = P.entryTable(tabled);
        for (uint256 i; i < searched.count; ++i) {
            if (keccak256(abi.encode(P.node(searched, i))) != keccak256(abi.encode(P.node(tabled, i)))) {
                return false;
            }
        }
        return true;
    }

    function imageLength(bytes calldata spec) external pure returns (uint256) {
        G.Model memory m = G.load(spec);
        return ModelImage.encode(m, P.build(m)).length;
    }

    function loadGas(address image) external view returns (uint256 used) {
        uint256 start = gasleft();
        ModelImage.load(image);
        used = start - gasleft();
    }

    function loaded(address image) external view returns (bytes memory) {
        (G.Model memory m, P.Plan memory p) = ModelImage.load(image);
        // a loaded image is ordinary memory: allocating after it must not disturb it
        uint256[] memory scratch = new uint256[](64);
        scratch[63] = type(uint256).max;
        return abi.encode(m, p);
    }

    /// @dev Whether {ModelImage}'s pointer-member offsets are where the compiler puts the
    ///      members written by name.
    function pointerOffsetsHold() external pure returns (bool) {
        G.Model memory m;
        P.Plan memory p;
        m.hidden = new uint256[](1);
        m.layers = new G.Layer[](1);
        m.paramShapes = new uint256[](2);
        p.layers = new G.Layer[](3);
        p.entries = new uint256[](4);
        p.entryOfNode = new uint256[](5);
        return _at(m, ModelImage.MODEL_HIDDEN) == _pointer(m.hidden)
            && _at(m, ModelImage.MODEL_PARAM_SHAPES) == _pointer(m.paramShapes)
            && _atLayers(m, ModelImage.MODEL_LAYERS) == _pointerLayers(m.layers)
            && _atPlan(p, ModelImage.PLAN_LAYERS) == _pointerLayers(p.layers)
            && _atPlan(p, ModelImage.PLAN_ENTRIES) == _pointer(p.entries)
            && _atPlan(p, ModelImage.PLAN_ENTRY_OF_NODE) == _pointer(p.entryOfNode);
    }

    function _at(G.Model memory m, uint256 offset) private pure returns (uint256 word) {
        assembly ("memory-safe") {
            word := mload(add(m, offset))
        }
    }

    function _atLayers(G.Model memory m, uint256 offset) private pure returns (uint256 word) {
        assembly ("memory-safe") {
            word := mload(add(m, offset))
        }
    }

    function _atPlan(P.Plan memory p, uint256 offset) private pure returns (uint256 word) {
        assembly ("memory-safe") {
            word := mload(add(p, offset))
        }
    }

    function _pointer(uint256[] memory a) private pure returns (uint256 at) {
        assembly ("memory-safe") {
            at := a
        }
    }

    function _pointerLayers(G.Layer[] memory a) private pure returns (uint256 at) {
        assembly ("memory-safe") {
            at := a
        }
    }

    /// @dev What the compiler allocates for each head: the free pointer's move when one is
    ///      declared (their array members point to the zero slot, they allocate nothing).
    function headBytes() external pure returns (uint256 model, uint256 plan, uint256 layer) {
        uint256 before;
        uint256 next;
        assembly ("memory-safe") {
            before := mload(0x40)
        }
        G.Model memory m;
        assembly ("memory-safe") {
            next := mload(0x40)
        }
        (model, before) = (next - before, next);
        P.Plan memory p;
        assembly ("memory-safe") {
            next := mload(0x40)
        }
        (plan, before) = (next - before, next);
        G.Layer memory l;
        assembly ("memory-safe") {
            next := mload(0x40)
        }
        layer = next - before;
        // (keep the three declared)
        m.seed = 0;
        p.count = 0;
        l.kind = 0;
    }
}

/// @notice {ModelImage} and {GraphSemantics.compile}: every valid spec of the shared vectors
///         (`test/vectors/specs.json`: MLPs, CNNs, layer norms, both GPTs, the bounds) gives
///         an image that loads back to exactly the model and plan its decoding gives, and the
///         semantics answers the same from either.
contract ModelImageTest is Test {
    GraphSemantics internal semantics;
    ModelImageHarness internal harness;
    string internal json;

    function setUp() public {
        semantics = SemanticsFixture.deploy();
        harness = new ModelImageHarness();
        json = vm.readFile("test/vectors/specs.json");
    }

    function test_theHeadSizesAreTheCompilers() public view {
        (uint256 model, uint256 plan, uint256 layer) = harness.headBytes();
        assertEq(model, ModelImage.MODEL_BYTES, "Model head");
        assertEq(plan, ModelImage.PLAN_BYTES, "Plan head");
        assertEq(layer, ModelImage.LAYER_BYTES, "Layer");
        assertTrue(harness.pointerOffsetsHold(), "the pointer members' offsets");
    }

    /// @notice Every valid spec vector: compiled (or, past the code-size limit, refused) and
    ///         loaded back to its decoding, field for field.
    function test_everyImageLoadsToItsDecoding() public {
        uint256 images;
        uint256 tooLarge;
        for (uint256 i;; ++i) {
            string memory key = string.concat(".vectors[", vm.toString(i), "]");
            if (!vm.keyExistsJson(json, key)) break;
            if (bytes(vm.parseJsonString(json, string.concat(key, ".outcome"))).length != 0) continue;
            string memory name = vm.parseJsonString(json, string.concat(key, ".name"));
            bytes memory spec = vm.parseJsonBytes(json, string.concat(key, ".spec"));
            try semantics.compile(spec) returns (address image) {
                assertEq(semantics.imageOf(keccak256(spec)), image, name);
                assertEq(harness.loaded(image), harness.decoded(spec), name);
                assertTrue(harness.nodesAgree(spec), name);
                assertEq(semantics.compile(spec), image, "compiled once");
                ++images;
            } catch (bytes memory reason) {
                assertEq(bytes4(reason), GraphSemantics.ImageNotCreated.selector, name);
                // only a model near the bounds is too large for one contract
                assertGt(harness.imageLength(spec) + 1, 24_576, name);
                ++tooLarge;
            }
        }
        console.log("images: %d, too large for one contract: %d", images, tooLarge);
        assertGt(images, 25);
    }

    function test_anInvalidSpecIsNotCompiled() public {
        bytes memory spec = _spec("the Shakespeare GPT");
        spec[3] = 0x07; // repops version 7
        vm.expectRevert();
        semantics.compile(spec);
        assertEq(semantics.imageOf(keccak256(spec)), address(0));
    }

    /// @notice The reference GPT: the same answers from the image as from the spec, for the
    ///         first and the last intermediate and a weight update, and what the image saves.
    function test_theGptAnswersTheSameFromItsImage() public {
        bytes memory spec = _spec("the Shakespeare GPT");
        (uint32 inter,,) = semantics.counts(spec, false);
        IStepSemantics.TensorId[3] memory ids = [
            IStepSemantics.TensorId({step: 1, init: false, list: 0, index: 1}),
            IStepSemantics.TensorId({step: 1, init: false, list: 0, index: inter - 1}),
            IStepSemantics.TensorId({step: 1, init: false, list: 2, index: 4})
        ];
        bytes[3] memory before;
        uint256[3] memory gasBefore;
        for (uint256 i; i < 3; ++i) {
            (before[i], gasBefore[i]) = _answers(spec, ids[i]);
        }
        uint256 compileStart = gasleft();
        semantics.compile(spec);
        console.log("compile(the Shakespeare GPT): %d gas", compileStart - gasleft());
        console.log("image: %d bytes", harness.imageLength(spec));
        console.log("ModelImage.load: %d gas", harness.loadGas(semantics.imageOf(keccak256(spec))));
        uint256 countsStart = gasleft();
        semantics.counts(spec, false);
        console.log("counts from the image (the load): %d gas", countsStart - gasleft());
        for (uint256 i; i < 3; ++i) {
            uint256 shapeStart = gasleft();
            semantics.shapeOf(spec, ids[i]);
            console.log("shapeOf from the image: %d gas", shapeStart - gasleft());
            (bytes memory afterwards, uint256 used) = _answers(spec, ids[i]);
            assertEq(afterwards, before[i]);
            console.log("locate: %d gas from the spec, %d from the image", gasBefore[i], used);
            assertLt(used + 30_000, gasBefore[i], "the image saves the decode and the plan");
        }
    }

    /// @dev locate, shapeOf and programLength of element 0 of tensor `id`, and locate's gas.
    function _answers(bytes memory spec, IStepSemantics.TensorId memory id)
        internal
        view
        returns (bytes memory answers, uint256 locateGas)
    {
        uint256 start = gasleft();
        (uint256 ins, uint256[4] memory inputs) = semantics.locate(spec, id, 0, 0);
        locateGas = start - gasleft();
        answers = abi.encode(ins, inputs, semantics.shapeOf(spec, id));
        answers = abi.encode(answers, semantics.programLength(spec, id, 0));
    }

    function _spec(string memory name) internal view returns (bytes memory) {
        for (uint256 i;; ++i) {
            string memory key = string.concat(".vectors[", vm.toString(i), "]");
            if (!vm.keyExistsJson(json, key)) break;
            if (
                keccak256(bytes(vm.parseJsonString(json, string.concat(key, ".name"))))
                    == keccak256(bytes(name))
            ) {
                return vm.parseJsonBytes(json, string.concat(key, ".spec"));
            }
        }
        revert("no such spec vector");
    }
}
