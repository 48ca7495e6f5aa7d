// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test, console} from "forge-std/Test.sol";
import {EconomicsHandler} from "./EconomicsHandler.sol";
import {JobMarket} from "../../src/JobMarket.sol";

/// @notice The payout properties of PROPERTIES.md (P1–P4), over random markets, jobs, games,
///         sock puppets and orders of moves, timeouts, settlements and finalizations.
/// @dev    Whole games are played (a move costs a world load, ≈ 1M gas), so this campaign
///         runs fewer sequences than the money-only one.
/// forge-config: default.invariant.runs = 16
/// forge-config: default.invariant.depth = 40
/// forge-config: ci.invariant.runs = 64
/// forge-config: ci.invariant.depth = 60
contract EconomicsInvariantsTest is Test {
    EconomicsHandler internal handler;

    function setUp() public {
        handler = new EconomicsHandler();
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](15);
        selectors[0] = EconomicsHandler.newMarket.selector;
        selectors[1] = EconomicsHandler.postJob.selector;
        selectors[2] = EconomicsHandler.postTokenJob.selector;
        selectors[3] = EconomicsHandler.challengeHonestly.selector;
        selectors[4] = EconomicsHandler.challengeAsPuppet.selector;
        selectors[5] = EconomicsHandler.challengeAsPuppet.selector;
        selectors[6] = EconomicsHandler.challengeMaliciously.selector;
        selectors[7] = EconomicsHandler.move.selector;
        selectors[8] = EconomicsHandler.move.selector;
        selectors[9] = EconomicsHandler.timeout.selector;
        selectors[10] = EconomicsHandler.settle.selector;
        selectors[11] = EconomicsHandler.finalize.selector;
        selectors[12] = EconomicsHandler.withdraw.selector;
        selectors[13] = EconomicsHandler.warp.selector;
        selectors[14] = EconomicsHandler.claimShare.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// At every step (one campaign checks all three, the calls are expensive):
    /// P4, each market holds exactly what it owes; P1/P2, no game against an honest side is
    /// ever lost; and a job that reached a terminal status never leaves it.
    function invariant_moneyAndHonestGames() public view {
        address usd = address(handler.usd());
        for (uint256 m; m < handler.marketCount(); ++m) {
            JobMarket market = handler.markets(m);
            assertEq(handler.balanceIn(market, address(0)), handler.owedBy(market, address(0)), "P4 ETH");
            assertEq(handler.balanceIn(market, usd), handler.owedBy(market, usd), "P4 token");
        }
        assertEq(handler.honestLosses(), 0, "an honest side lost a game");
        assertEq(handler.terminalViolations(), 0, "a terminal job changed");
    }

    /// At the end: every outcome right, every property of the payout rule met, nothing stuck.
    function afterInvariant() public {
        handler.drain();
        (uint256 byAlu, uint256 byTime) = handler.decided();
        console.log("jobs %d, games %d, moves %d", handler.jobCount(), handler.gameCount(), handler.moves());
        console.log("  below L1 %d; decided by the ALU %d, on time %d", handler.deepMoves(), byAlu, byTime);
        assertEq(handler.honestLosses(), 0, "an honest side lost a game");
        assertEq(handler.wrongOutcomes(), 0, "a lie was paid or the truth slashed");
        address[2] memory currencies = [address(0), address(handler.usd())];
        for (uint256 c; c < 2; ++c) {
            address t = currencies[c];
            // P1: the honest watchtower gets its bonds back and at least an equal share.
            assertGe(handler.net(t, handler.watchtower()), int256(handler.honestShareFloor(t)), "P1");
            // P2: the honest solver keeps every reward and bond, whatever the games.
            assertGe(handler.net(t, handler.honestSolver()), int256(handler.honestRewards(t)), "P2");
            // P3: the cheater with its puppets loses at least the burned part of each bond.
            assertLe(handler.puppetsNet(t), -int256(handler.cheaterBurnFloor(t)), "P3");
            // Challenging an honest result never pays.
            assertLe(handler.net(t, handler.attackers(0)), 0, "attacker 0 profited");
            assertLe(handler.net(t, handler.attackers(1)), 0, "attacker 1 profited");
            // P4: nothing stuck.
            for (uint256 m; m < handler.marketCount(); ++m) {
                assertEq(handler.balanceIn(handler.markets(m), t), 0, "a market still holds value");
            }
        }
        assertEq(handler.terminalViolations(), 0);
    }
}
