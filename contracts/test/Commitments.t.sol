// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Commitments} from "../src/lib/Commitments.sol";
import {JobSpecCodec} from "../src/lib/JobSpecCodec.sol";
import {SplitMix64} from "../src/lib/SplitMix64.sol";

/// @notice The on-chain commitment layouts against the vectors the Rust engine wrote
///         (`proof-of-learning/tests/it/vectors.rs`): one file, both sides.
contract CommitmentsTest is Test {
    string internal json;

    function setUp() public {
        json = vm.readFile("test/vectors/commitments.json");
    }

    function _b32(string memory key) internal view returns (bytes32) {
        return vm.parseJsonBytes32(json, key);
    }

    function _u(string memory key) internal view returns (uint256) {
        return vm.parseUint(vm.parseJsonString(json, key));
    }

    // External wrappers: the library works on calldata, as the contracts do.
    function jobHashOf(bytes calldata spec) external pure returns (bytes32) {
        return Commitments.jobHash(spec);
    }

    function headerOf(bytes calldata spec) external pure returns (JobSpecCodec.Header memory) {
        return JobSpecCodec.header(spec);
    }

    function leafHashOf(bytes calldata leaf) external pure returns (bytes32) {
        return Commitments.leafHash(leaf);
    }

    function microLeafHashOf(bytes calldata leaf) external pure returns (bytes32) {
        return Commitments.microLeafHash(leaf);
    }

    function valueOf(bytes calldata leaf, uint256 offset) external pure returns (uint32) {
        return Commitments.valueAt(leaf, offset);
    }

    function verify(bytes32 root, uint256 count, uint256 index, bytes32 leaf, bytes32[] calldata siblings)
        external
        pure
        returns (bool)
    {
        return Commitments.verifyLeaf(root, count, index, leaf, siblings);
    }

    function test_jobHashAndHeader() public view {
        bytes memory spec = vm.parseJsonBytes(json, ".spec");
        assertEq(this.jobHashOf(spec), _b32(".jobHash"));
        JobSpecCodec.Header memory h = this.headerOf(spec);
        assertEq(h.repopsVersion, 1);
        assertEq(h.seed, _u(".seed"));
        assertEq(h.steps, 800);
        assertEq(h.interval, 100);
        assertEq(h.datasetRoot, _b32(".dataset.root"));
        assertEq(h.samples, vm.parseJsonUint(json, ".dataset.samples"));
        assertEq(h.features, vm.parseJsonUint(json, ".dataset.features"));
        assertEq(h.classes, vm.parseJsonUint(json, ".dataset.classes"));
    }

    function test_splitMix64() public view {
        assertEq(SplitMix64.draw(1_234_567, 0), _u(".draws[0]"));
        assertEq(SplitMix64.draw(1_234_567, 1), _u(".draws[1]"));
        assertEq(SplitMix64.draw(1_234_567, 2), _u(".draws[2]"));
        assertEq(SplitMix64.deriveKey(uint64(_u(".seed")), SplitMix64.SHUFFLE), _u(".rngKey"));
    }

    /// @dev A micro-trace's 128-byte leaves: the hash, a value, the count and the tree.
    function test_microTraceLeaves() public {
        bytes memory leaf2 = vm.parseJsonBytes(json, ".micro.leaf2");
        assertEq(leaf2.length, Commitments.MICRO_LEAF_BYTES);
        assertEq(this.microLeafHashOf(leaf2), _b32(".micro.leafHash2"));
        assertEq(
            this.valueOf(leaf2, 65 % Commitments.MICRO_LEAF_VALUES),
            vm.parseJsonUint(json, ".micro.value65Bits")
        );
        assertEq(Commitments.microLeafCount(70), 3);
        assertEq(Commitments.microLeafCount(0), 1);
        // a 1 KiB tensor leaf is not a micro leaf, nor the other way round
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLeafLength.selector, 1024));
        this.microLeafHashOf(vm.parseJsonBytes(json, ".tensor.leaf0"));
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLeafLength.selector, 128));
        this.leafHashOf(leaf2);
        vm.expectRevert(abi.encodeWithSelector(Commitments.IndexOutOfRange.selector, 32, 32));
        this.valueOf(leaf2, 32);
    }

    function test_tensorRootAndElementProof() public view {
        bytes memory leaf0 = vm.parseJsonBytes(json, ".tensor.leaf0");
        bytes memory leaf1 = vm.parseJsonBytes(json, ".tensor.leaf1");
        assertEq(this.leafHashOf(leaf0), _b32(".tensor.leafHash0"));
        bytes32 merkle = Commitments.nodeHash(this.leafHashOf(leaf0), this.leafHashOf(leaf1));
        assertEq(merkle, _b32(".tensor.merkle"));
        uint64[] memory shape = new uint64[](2);
        shape[0] = 3;
        shape[1] = 100;
        assertEq(Commitments.tensorRoot(shape, merkle), _b32(".tensor.root"));
        bytes32[] memory siblings = new bytes32[](1);
        siblings[0] = _b32(".tensor.proofSibling");
        assertTrue(this.verify(merkle, 2, 1, this.leafHashOf(leaf1), siblings));
        assertFalse(this.verify(merkle, 2, 0, this.leafHashOf(leaf1), siblings));
        assertEq(this.valueOf(leaf1, 1), vm.parseJsonUint(json, ".tensor.element257Bits"));
        assertEq(this.valueOf(leaf0, 5), 0x7FC00000, "NaN stored canonical");
        assertEq(this.valueOf(leaf0, 5), vm.parseJsonUint(json, ".tensor.nanBits"));
    }

    function test_lengthChecks() public {
        bytes32[] memory none = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(Commitments.IndexOutOfRange.selector, 2, 2));
        this.verify(bytes32(0), 2, 2, bytes32(0), none);
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadProofLength.selector, 0, 1));
        this.verify(bytes32(0), 2, 1, bytes32(0), none);
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLeafLength.selector, 1023));
        this.leafHashOf(new bytes(1023));
    }

    function test_listStateTraceAndDatasetRoots() public view {
        bytes32[] memory roots = vm.parseJsonBytes32Array(json, ".list.roots");
        assertEq(Commitments.merkleRoot(roots), _b32(".list.merkle"));
        assertEq(Commitments.listRoot(3, _b32(".list.merkle")), _b32(".list.root"));
        assertEq(
            Commitments.stateRoot(
                _b32(".jobHash"),
                uint64(vm.parseJsonUint(json, ".state.step")),
                uint64(vm.parseJsonUint(json, ".state.cursor")),
                uint64(_u(".rngKey")),
                _b32(".state.weights"),
                _b32(".state.optimizer")
            ),
            _b32(".state.root")
        );
        bytes32[] memory checkpoints = vm.parseJsonBytes32Array(json, ".trace.checkpoints");
        bytes32[] memory leaves = new bytes32[](checkpoints.length);
        for (uint256 i; i < leaves.length; ++i) {
            leaves[i] = Commitments.traceLeaf(i, checkpoints[i]);
        }
        bytes32 merkle = Commitments.merkleRoot(leaves);
        assertEq(Commitments.traceRoot(checkpoints.length, merkle), _b32(".trace.root"));
        bytes32[] memory proof = vm.parseJsonBytes32Array(json, ".trace.proof3");
        assertTrue(this.verify(merkle, 5, 3, Commitments.traceLeaf(3, checkpoints[3]), proof));
        assertEq(
            Commitments.datasetRoot(
                uint64(vm.parseJsonUint(json, ".dataset.samples")),
                uint64(vm.parseJsonUint(json, ".dataset.features")),
                uint64(vm.parseJsonUint(json, ".dataset.classes")),
                _b32(".dataset.featuresRoot"),
                _b32(".dataset.labelsRoot")
            ),
            _b32(".dataset.root")
        );
    }
}
