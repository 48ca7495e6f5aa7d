// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {EconomicsHandler} from "./EconomicsHandler.sol";

/// @notice Sequences the economics campaign once shrunk to a failure, replayed as plain tests.
contract EconomicsRegressionsTest is Test {
    EconomicsHandler internal handler;

    function setUp() public {
        handler = new EconomicsHandler();
    }

    /// @notice A malicious challenge of an honest result and a sock puppet's, then time
    ///         passes, the honest sides answering first: the honest watchtower's game reaches
    ///         a micro-trace leaf. The handler once rebuilt that revealed leaf at a tensor
    ///         leaf's size, named a micro-step nothing differed at, and lost.
    function test_maliciousAndPuppetGamesThenAWarp() public {
        vm.prank(address(0xdEaD));
        handler.postJob(2826960896, 7895, 18523109938187394408442573453, 71);
        vm.prank(address(0xdEaD));
        handler.postJob(8436, 8378, 1350, 250);
        vm.prank(address(0x1605));
        handler.postJob(
            84071774567245953330962919157988645754472637971554642656868927235419660016647, 1642, 17959, 245
        );
        vm.prank(address(0xdEaD));
        handler.postJob(3, 155007139354316553501, 21811011, 255);
        vm.prank(0x4b201fdfC9414013080501d0bBd190F027D403Cd);
        handler.challengeMaliciously(1040801103, 55, 17109, 165);
        vm.prank(address(0xdEaD));
        handler.challengeAsPuppet(7832, 2, 1041385765);
        vm.prank(address(0x9F0));
        handler.warp(209371, 8080020995889255906245168040845127303412567949700808);
        (uint256 byAlu,) = handler.decided();
        assertGt(byAlu, 0, "a game went down to the ALU");
        assertEq(handler.honestLosses(), 0, "an honest side lost a game");
    }
}
