// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobMarket} from "../src/JobMarket.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {IStepSemantics} from "../src/interfaces/IStepSemantics.sol";
import {Commitments} from "../src/lib/Commitments.sol";
import {GameDriver} from "./game/GameDriver.sol";
import {ToyProgram} from "./game/ToyProgram.sol";

/// @notice "Honest always wins": for a random divergence point (transition, list, tensor,
///         element, micro-step) the honest side wins whichever side lies, and a side that
///         stops answering loses on time.
contract DisputeGameFuzzTest is GameDriver {
    /// @dev Maps fuzz inputs onto a lie inside the toy model.
    function _lie(uint256 seed) internal pure returns (Lie memory lie) {
        lie.active = true;
        lie.transition = uint32(seed % (STEPS + 1));
        seed /= STEPS + 1;
        bool init = lie.transition == 0;
        (uint32 nI, uint32 nO, uint32 nW) = ToyProgram.counts(init);
        lie.list = init ? uint8(1 + seed % 2) : uint8(seed % 3);
        seed /= 3;
        uint32 count = lie.list == 0 ? nI : (lie.list == 1 ? nO : nW);
        lie.index = uint32(seed % count);
        seed /= count;
        IStepSemantics.TensorId memory id = tensorId(lie.transition, lie.list, lie.index);
        uint256 length = Commitments.lengthOf(ToyProgram.shapeOf(id));
        // Bias towards the long program (element 0 of I2, 260 micro-steps) now and then.
        lie.element = uint64(seed % 4 == 0 ? 0 : (seed / 4) % length);
        seed /= 4 * length;
        uint32 n = ToyProgram.programLength(id, lie.element);
        lie.microStep = uint32(seed % (n == 0 ? 1 : n));
    }

    function _noLie() internal pure returns (Lie memory none) {}

    /// forge-config: default.fuzz.runs = 24
    /// forge-config: ci.fuzz.runs = 64
    function testFuzz_honestChallengerBeatsLyingSolver(uint256 seed) public {
        World memory liar = build(_lie(seed));
        World memory honest = build(_noLie());
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        uint256 gameId = openChallenge(jobId, liar, honest);
        assertGt(gameId, 0, "a lie always reaches a checkpoint");
        play(gameId, liar, honest, 200);
        assertEq(uint8(game.getGame(gameId).clock.phase), uint8(DisputeGame.Phase.Resolved), "game ended");
        assertEq(
            uint8(game.getGame(gameId).clock.reason), uint8(DisputeGame.Reason.StepRefuted), "the ALU decided"
        );
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Submitted), "decided after the window");
        closeJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed), "solver slashed");
        uint256 burned = SOLVER_BOND * BURN_BPS / 10_000;
        assertEq(
            market.credits(address(0), challenger), CHALLENGER_BOND + SOLVER_BOND - burned, "challenger paid"
        );
        assertEq(market.credits(address(0), submitter), REWARD, "submitter refunded");
        assertEq(market.credits(address(0), solver), 0, "solver gets nothing");
    }

    /// forge-config: default.fuzz.runs = 24
    /// forge-config: ci.fuzz.runs = 64
    function testFuzz_honestSolverBeatsLyingChallenger(uint256 seed) public {
        World memory honest = build(_noLie());
        World memory deluded = build(_lie(seed));
        uint256 jobId = postToyJob();
        submitWorld(jobId, honest);
        uint256 gameId = openChallenge(jobId, honest, deluded);
        assertGt(gameId, 0);
        play(gameId, honest, deluded, 200);
        assertEq(uint8(game.getGame(gameId).clock.phase), uint8(DisputeGame.Phase.Resolved), "game ended");
        assertEq(
            uint8(game.getGame(gameId).clock.reason), uint8(DisputeGame.Reason.StepProved), "the ALU decided"
        );
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Submitted), "result stands");
        uint256 burned = CHALLENGER_BOND * BURN_BPS / 10_000;
        assertEq(market.credits(address(0), solver), CHALLENGER_BOND - burned, "solver takes the bond");
        vm.warp(block.timestamp + WINDOW);
        market.finalize(jobId);
        assertEq(
            market.credits(address(0), solver), CHALLENGER_BOND - burned + REWARD + SOLVER_BOND, "solver paid"
        );
    }

    /// forge-config: default.fuzz.runs = 24
    /// forge-config: ci.fuzz.runs = 64
    function testFuzz_silentSideLosesOnTime(uint256 seed, uint8 stopAfter, bool solverLies) public {
        World memory honest = build(_noLie());
        World memory other = build(_lie(seed));
        (World memory sw, World memory cw) = solverLies ? (other, honest) : (honest, other);
        uint256 jobId = postToyJob();
        submitWorld(jobId, sw);
        uint256 gameId = openChallenge(jobId, sw, cw);
        play(gameId, sw, cw, stopAfter % 24);
        DisputeGame.Game memory g = game.getGame(gameId);
        if (g.clock.phase == DisputeGame.Phase.Resolved) return; // the game ended before anyone stopped
        (address mover, uint64 deadline) = game.turn(gameId);
        bool solverSilent = mover == solver;
        vm.warp(deadline - 1);
        vm.expectRevert(DisputeGame.ClockRunning.selector);
        game.timeout(gameId);
        vm.warp(deadline);
        game.timeout(gameId);
        closeJob(jobId);
        assertEq(
            uint8(market.statusOf(jobId)),
            uint8(solverSilent ? JobMarket.Status.Slashed : JobMarket.Status.Finalized),
            "the silent side lost"
        );
    }
}
