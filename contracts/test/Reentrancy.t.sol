// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {ToyAlu} from "./game/ToyAlu.sol";
import {ToySemantics} from "./game/ToyProgram.sol";
import {ToyWorld} from "./game/ToyWorld.sol";

/// @notice A receiver that re-enters `withdraw` (and every other payout path) from its
///         `receive`, trying to be paid twice.
contract Reentrant {
    JobMarket internal market;
    uint256 public reentries;
    bool public reentryFailed;

    constructor(JobMarket market_) {
        market = market_;
    }

    function post(bytes calldata spec) external payable returns (uint256) {
        return market.postJob{value: msg.value}(
            spec, uint64(block.timestamp + 1), uint64(block.timestamp + 2), 1, 1
        );
    }

    function cancel(uint256 jobId) external {
        market.cancelJob(jobId);
    }

    function withdraw() external {
        market.withdraw(address(0), address(this));
    }

    receive() external payable {
        ++reentries;
        try market.withdraw(address(0), address(this)) {
        // paid again: the test fails on the balance check
        }
        catch {
            reentryFailed = true;
        }
        try market.flushBurned(address(0)) {} catch {}
    }
}

contract ReentrancyTest is Test, ToyWorld {
    function test_withdraw_cannotBeReentered() public {
        JobMarket market = new JobMarket(
            new ToyAlu(),
            new ToySemantics(),
            JobMarket.Config({
                challengerBond: 1, burnBps: 1, clock: 1 hours, extension: 1, moveTime: 1, replayRate: 1e9
            })
        );
        Reentrant attacker = new Reentrant(market);
        address victim = makeAddr("victim");
        vm.deal(victim, 5 ether);
        // someone else's escrow sits in the market
        vm.prank(victim);
        market.postJob{value: 5 ether}(
            toySpec(), uint64(block.timestamp + 1), uint64(block.timestamp + 2), 1, 1
        );
        uint256 jobId = attacker.post{value: 1 ether}(toySpec());
        attacker.cancel(jobId);
        attacker.withdraw();
        assertEq(address(attacker).balance, 1 ether, "paid exactly once");
        assertEq(attacker.reentries(), 1);
        assertTrue(attacker.reentryFailed(), "the nested withdraw reverted");
        assertEq(address(market).balance, 5 ether, "the victim's escrow is intact");
        assertEq(market.credits(address(0), address(attacker)), 0);
    }
}
