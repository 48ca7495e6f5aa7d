// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobMarket} from "../src/JobMarket.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {GameDriver} from "./game/GameDriver.sol";

/// @notice Prices every move of whole disputes as transactions (execution + intrinsic gas,
///         EIP-7623 floor included) and snapshots them in `snapshots/dispute-game.json`;
///         CI runs this with FORGE_SNAPSHOT_CHECK=true, so a gas change must be committed.
///         docs/benchmarks.md derives the cost of a 10,000-step dispute from these numbers.
contract GasTest is GameDriver {
    /// @dev Plays one whole dispute and snapshots the most expensive instance of each move.
    function _measure(string memory group, Lie memory lie) internal {
        World memory liar = build(lie);
        Lie memory none;
        World memory truth = build(none);
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        uint256 gameId = openChallenge(jobId, liar, truth);
        vm.snapshotValue(group, "L0.challenge", lastTxGas);
        recordGas = true;
        uint256 moves = play(gameId, liar, truth, 200);
        recordGas = false;
        assertFalse(game.getGame(gameId).clock.solverWon);
        uint256 total;
        for (uint256 i; i < gasLabels.length; ++i) {
            total += gasUsed[i];
            uint256 worst;
            for (uint256 j; j < gasLabels.length; ++j) {
                if (keccak256(bytes(gasLabels[j])) == keccak256(bytes(gasLabels[i])) && gasUsed[j] > worst) {
                    worst = gasUsed[j];
                }
            }
            vm.snapshotValue(group, gasLabels[i], worst);
        }
        vm.snapshotValue(group, "total.moves", moves);
        vm.snapshotValue(group, "total.gas", total);
        delete gasLabels;
        delete gasUsed;
    }

    /// Ending a game by timeout, then paying it out: the refuter's bond back at once, the
    ///         job's outcome fixed after the window (submitter refunded, bond burned and
    ///         shared), and the refuter's share claimed.
    function test_gas_timeoutSettlement() public {
        Lie memory none;
        World memory liar = build(Lie(true, 3, 0, 2, 0, 100));
        World memory truth = build(none);
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        uint256 gameId = openChallenge(jobId, liar, truth);
        (, uint64 deadline) = game.turn(gameId);
        vm.warp(deadline);
        _send(abi.encodeCall(game.timeout, (gameId)));
        assertFalse(game.getGame(gameId).clock.solverWon);
        vm.snapshotValue("dispute-settlement", "timeout", lastTxGas);
        vm.snapshotValue(
            "dispute-settlement", "settleGame.refuted", _marketTx(abi.encodeCall(market.settleGame, (gameId)))
        );
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        vm.snapshotValue(
            "dispute-settlement", "finalize.slashed", _marketTx(abi.encodeCall(market.finalize, (jobId)))
        );
        vm.snapshotValue(
            "dispute-settlement", "claimShare", _marketTx(abi.encodeCall(market.claimShare, (gameId)))
        );
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
    }

    /// @dev Sends `data` to the market as its own transaction; returns its gas.
    function _marketTx(bytes memory data) internal returns (uint256) {
        _coolAll();
        (bool ok,) = address(market).call(data);
        assertTrue(ok);
        return txGas(data, vm.lastCallGas().gasTotalUsed);
    }

    /// A lie deep in a 260-primitive program: every level, descents included; the last
    /// step proves one micro-trace operand and one input tensor element.
    function test_gas_disputeDownToMicroStep() public {
        _measure("dispute-longProgram", Lie(true, 3, 0, 2, 0, 100));
    }

    /// A lie in the first primitive of a weight update: the last step proves two input
    /// tensor elements (the most a toy primitive reads).
    function test_gas_disputeOfWeightUpdate() public {
        _measure("dispute-weightUpdate", Lie(true, 4, 2, 0, 299, 0));
    }
}
