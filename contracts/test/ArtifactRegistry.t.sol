// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {ArtifactRegistry} from "../src/ArtifactRegistry.sol";

contract ArtifactRegistry_Test is Test {
    event ArtifactPublished(bytes32 indexed root, address indexed publisher, uint64 size, string uri);

    ArtifactRegistry internal registry;
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    bytes32 internal constant ROOT = keccak256("dataset");

    function setUp() public {
        registry = new ArtifactRegistry();
    }

    function test_publish_recordsAndEmits_succeeds() public {
        vm.warp(1_700_000_000);
        vm.expectEmit(true, true, false, true, address(registry));
        emit ArtifactPublished(ROOT, alice, 57_000, "file:///store/ab");
        vm.prank(alice);
        registry.publish(ROOT, 57_000, "file:///store/ab");

        (address publisher, uint64 size, uint64 publishedAt) = registry.artifacts(ROOT, alice);
        assertEq(publisher, alice);
        assertEq(size, 57_000);
        assertEq(publishedAt, 1_700_000_000);
        assertEq(registry.artifactCount(), 1);
        assertTrue(registry.isPublished(ROOT, alice));
        assertFalse(registry.isPublished(ROOT, bob));
        assertFalse(registry.isPublished(keccak256("other"), alice));
    }

    function test_publish_zeroRoot_reverts() public {
        vm.expectRevert(ArtifactRegistry.ZeroRoot.selector);
        registry.publish(bytes32(0), 1, "file:///x");
    }

    function test_publish_zeroSize_reverts() public {
        vm.expectRevert(ArtifactRegistry.ZeroSize.selector);
        registry.publish(ROOT, 0, "file:///x");
    }

    function test_publish_emptyUri_reverts() public {
        vm.expectRevert(ArtifactRegistry.EmptyUri.selector);
        registry.publish(ROOT, 1, "");
    }

    function test_publish_twiceBySamePublisher_reverts() public {
        vm.prank(alice);
        registry.publish(ROOT, 1, "file:///x");
        vm.expectRevert(abi.encodeWithSelector(ArtifactRegistry.AlreadyPublished.selector, ROOT, alice));
        vm.prank(alice);
        registry.publish(ROOT, 2, "file:///y");
    }

    /// A junk announcement by someone else does not block the honest one.
    function testFuzz_publish_everyPublisherOnce_succeeds(
        bytes32 root,
        uint64 size,
        address first,
        address second
    ) public {
        // No transaction comes from the zero address.
        vm.assume(root != bytes32(0) && size != 0 && first != second);
        vm.assume(first != address(0) && second != address(0));
        vm.prank(first);
        registry.publish(root, size, "http://junk.invalid/");
        vm.prank(second);
        registry.publish(root, size, "s3://bucket/key");
        (address publisher, uint64 storedSize,) = registry.artifacts(root, second);
        assertEq(publisher, second);
        assertEq(storedSize, size);
        assertTrue(registry.isPublished(root, first) && registry.isPublished(root, second));
        assertEq(registry.artifactCount(), 2);
        vm.expectRevert(abi.encodeWithSelector(ArtifactRegistry.AlreadyPublished.selector, root, first));
        vm.prank(first);
        registry.publish(root, size, "http://junk.invalid/again");
    }
}
