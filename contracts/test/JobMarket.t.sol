// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobMarket} from "../src/JobMarket.sol";
import {SemanticsFixture} from "./semantics/SemanticsFixture.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {JobSpecCodec} from "../src/lib/JobSpecCodec.sol";
import {Commitments} from "../src/lib/Commitments.sol";
import {SplitMix64} from "../src/lib/SplitMix64.sol";
import {SpecRules} from "../src/lib/SpecRules.sol";
import {GraphSpecCodec} from "../src/semantics/graph/GraphSpecCodec.sol";
import {ToyAlu} from "./game/ToyAlu.sol";
import {GraphSemantics} from "../src/semantics/GraphSemantics.sol";
import {GraphSpecRules} from "../src/semantics/GraphSpecRules.sol";
import {DensePrograms} from "../src/semantics/ops/DensePrograms.sol";
import {ImagePrograms} from "../src/semantics/ops/ImagePrograms.sol";
import {NormPrograms} from "../src/semantics/ops/NormPrograms.sol";
import {AttentionPrograms} from "../src/semantics/ops/AttentionPrograms.sol";
import {ToySemantics} from "./game/ToyProgram.sol";
import {GameDriver} from "./game/GameDriver.sol";

/// @notice A receiver that refuses ETH.
contract Refuser {
    function claim(JobMarket market, uint256 jobId) external payable {
        market.claimJob{value: msg.value}(jobId);
    }

    function withdraw(JobMarket market) external {
        market.withdraw(address(0), address(this));
    }

    function withdrawTo(JobMarket market, address to) external {
        market.withdraw(address(0), to);
    }

    receive() external payable {
        revert("no thanks");
    }
}

contract JobMarketTest is GameDriver {
    World internal honest;

    function _honest() internal returns (World memory) {
        if (honest.stateRoots.length == 0) {
            World memory w = build(_none());
            // Storage copies of nested memory arrays are not supported: keep the roots only.
            honest.stateRoots = w.stateRoots;
            return w;
        }
        return build(_none());
    }

    function _none() internal pure returns (Lie memory none) {}

    // ------------------------------------------------------------------ constructor

    function test_constructor_createsGame() public view {
        assertEq(game.market(), address(market));
        assertEq(address(game.alu()), address(alu));
        assertEq(address(game.semantics()), address(sem));
        assertEq(market.challengerBond(), CHALLENGER_BOND);
        assertEq(market.burnBps(), BURN_BPS);
    }

    function _expectBadConfig(JobMarket.Config memory c, string memory field) internal {
        vm.expectRevert(abi.encodeWithSelector(JobMarket.BadConfig.selector, field));
        new JobMarket(alu, sem, c);
    }

    function test_constructor_rejectsBadConfig() public {
        JobMarket.Config memory c = marketConfig();
        c.burnBps = 10_000; // refuting would pay nothing
        _expectBadConfig(c, "burnBps");
        c.burnBps = 0; // a cheater's sock puppets would win its whole bond back
        _expectBadConfig(c, "burnBps");
        c = marketConfig();
        c.challengerBond = 0;
        _expectBadConfig(c, "challengerBond");
        c = marketConfig();
        c.clock = 0;
        _expectBadConfig(c, "clock");
        c.clock = 30 days + 1;
        _expectBadConfig(c, "clock");
        c = marketConfig();
        c.moveTime = 0;
        _expectBadConfig(c, "moveTime");
        c = marketConfig();
        c.extension = 0;
        _expectBadConfig(c, "extension");
        c = marketConfig();
        c.replayRate = 0;
        _expectBadConfig(c, "replayRate");
    }

    /// @notice Finding 5: no clock shorter than the longest game's moves at the market's
    ///         move time: `clock ≥ MAX_MOVES_PER_SIDE × moveTime`, exactly.
    function test_constructor_enforcesMinimumClock() public {
        JobMarket.Config memory c = marketConfig();
        c.moveTime = 12;
        c.clock = market.MAX_MOVES_PER_SIDE() * 12 - 1;
        _expectBadConfig(c, "clock");
        c.clock += 1;
        JobMarket ok = new JobMarket(alu, sem, c);
        assertEq(ok.game().clock(), 110 * 12);
        assertEq(ok.moveTime(), 12);
    }

    // ------------------------------------------------------------------ postJob

    function test_postJob_escrowsAndRecords() public {
        vm.expectEmit(true, true, true, true);
        emit JobMarket.JobPosted(
            1,
            submitter,
            toyJobHash(),
            toyDatasetRoot(),
            address(0),
            REWARD,
            SOLVER_BOND,
            uint64(block.timestamp + 1 hours),
            uint64(block.timestamp + 2 days),
            WINDOW,
            toySpec()
        );
        uint256 jobId = postToyJob();
        assertEq(jobId, 1);
        JobMarket.Job memory job = market.getJob(jobId);
        assertEq(uint8(job.status), uint8(JobMarket.Status.Open));
        assertEq(job.reward, REWARD);
        assertEq(job.jobHash, toyJobHash());
        assertEq(job.datasetRoot, toyDatasetRoot());
        assertEq(job.steps, STEPS);
        assertEq(job.interval, INTERVAL);
        assertEq(job.numCheckpoints, STEPS / INTERVAL + 1);
        assertEq(job.rngKey, SplitMix64.deriveKey(SEED, SplitMix64.SHUFFLE));
        assertEq(address(market).balance, REWARD);
    }

    function test_postJob_reverts() public {
        bytes memory spec = toySpec();
        uint64 t = uint64(block.timestamp);
        vm.startPrank(submitter);
        vm.expectRevert(JobMarket.ZeroReward.selector);
        market.postJob(spec, t + 1, t + 2, 1, 1);
        vm.expectRevert(JobMarket.BadDeadlines.selector);
        market.postJob{value: 1}(spec, t, t + 2, uint128(CHALLENGER_BOND), 1);
        vm.expectRevert(JobMarket.BadDeadlines.selector);
        market.postJob{value: 1}(spec, t + 2, t + 2, uint128(CHALLENGER_BOND), 1);
        vm.expectRevert(JobMarket.BadDeadlines.selector);
        market.postJob{value: 1}(spec, t + 1, t + 2, uint128(CHALLENGER_BOND), 0);
        vm.expectRevert(abi.encodeWithSelector(JobSpecCodec.SpecTooShort.selector, 10));
        market.postJob{value: 1}(new bytes(10), t + 1, t + 2, uint128(CHALLENGER_BOND), 1);
        vm.stopPrank();
        _expectBadSpec(_withHeader(2, STEPS, INTERVAL, BATCH), "repops_version");
        _expectBadSpec(_withHeader(1, 5, 2, BATCH), "checkpoint_interval");
        _expectBadSpec(_withHeader(1, 0, 2, BATCH), "steps");
        _expectBadSpec(_withHeader(1, 2048, 1, BATCH), "checkpoint_interval");
        _expectBadSpec(_withHeader(1, STEPS, INTERVAL, 0), "batch_size");
    }

    function _withHeader(uint32 version, uint32 steps, uint32 interval, uint32 batch)
        internal
        pure
        returns (bytes memory spec)
    {
        spec = toySpec();
        bytes memory head = abi.encodePacked(version, SEED, steps, interval, batch);
        for (uint256 i; i < head.length; ++i) {
            spec[i] = head[i];
        }
    }

    function _expectBadSpec(bytes memory spec, string memory why) internal {
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(SpecRules.InvalidSpec.selector, why));
        market.postJob{value: 1}(
            spec, uint64(block.timestamp + 1), uint64(block.timestamp + 2), uint128(CHALLENGER_BOND), 1
        );
    }

    function test_postJob_refusesWhatNoGameCouldSettle() public {
        uint64 t = uint64(block.timestamp);
        vm.startPrank(submitter);
        vm.expectRevert(JobMarket.BadDeadlines.selector);
        market.postJob{value: 1}(toySpec(), t + 1, t + 2, uint128(CHALLENGER_BOND), 30 days + 1);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongBond.selector, 0, CHALLENGER_BOND));
        market.postJob{value: 1}(toySpec(), t + 1, t + 2, 0, 1);
        // a solver bond below the challenger's: the cheater would risk less than a refuter
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongBond.selector, CHALLENGER_BOND - 1, CHALLENGER_BOND)
        );
        market.postJob{value: 1}(toySpec(), t + 1, t + 2, uint128(CHALLENGER_BOND - 1), 1);
        vm.stopPrank();
        bytes memory spec = toySpec();
        spec[72] = 0x04; // holdout 4 of 4 samples
        _expectBadSpec(spec, "dataset.holdout");
        // The production semantics refuse the toy's model section.
        JobMarket real = new JobMarket(alu, SemanticsFixture.deploy(), marketConfig());
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(GraphSpecCodec.UnsupportedSpec.selector, 73));
        real.postJob{value: 1}(toySpec(), t + 1, t + 2, uint128(CHALLENGER_BOND), 1);
    }

    /// @notice Finding 5: `msg.value` is checked before it is stored as a uint128.
    function test_postJob_refusesRewardAboveUint128() public {
        uint256 huge = uint256(type(uint128).max) + 1;
        vm.deal(submitter, huge);
        uint64 t = uint64(block.timestamp);
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.AmountTooLarge.selector, huge));
        market.postJob{value: huge}(toySpec(), t + 1, t + 2, uint128(CHALLENGER_BOND), 1);
    }

    /// @notice One disputed interval (k steps, each at most once more instrumented) must fit
    ///         the clock extension at the market's replay rate.
    function test_postJob_refusesIntervalsTooHeavyToReplayInTime() public {
        JobMarket.Config memory c = marketConfig();
        uint256 work = 2 * (INTERVAL + 1) * ToySemantics(address(sem)).STEP_OPS();
        c.replayRate = uint64(work / EXTENSION); // one op per second short
        JobMarket tight = new JobMarket(alu, sem, c);
        uint64 t = uint64(block.timestamp);
        vm.prank(submitter);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobMarket.IntervalTooHeavy.selector, work, uint256(c.replayRate) * EXTENSION
            )
        );
        tight.postJob{value: 1}(toySpec(), t + 1, t + 2, uint128(CHALLENGER_BOND), 1);
        c.replayRate += 1;
        tight = new JobMarket(alu, sem, c);
        vm.prank(submitter);
        tight.postJob{value: 1}(toySpec(), t + 1, t + 2, uint128(CHALLENGER_BOND), 1);
    }

    // ------------------------------------------------------------------ cancelJob

    function test_cancelJob_bySubmitterRefunds() public {
        uint256 jobId = postToyJob();
        vm.prank(submitter);
        market.cancelJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Cancelled));
        assertEq(market.credits(address(0), submitter), REWARD);
    }

    function test_cancelJob_byAnyoneAfterClaimDeadline() public {
        uint256 jobId = postToyJob();
        vm.expectRevert(JobMarket.NotSubmitter.selector);
        market.cancelJob(jobId);
        vm.warp(block.timestamp + 1 hours + 1);
        market.cancelJob(jobId);
        assertEq(market.credits(address(0), submitter), REWARD);
    }

    function test_cancelJob_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NoSuchJob.selector, 9));
        market.cancelJob(9);
        uint256 jobId = postToyJob();
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(jobId);
        vm.prank(submitter);
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Claimed)
        );
        market.cancelJob(jobId);
    }

    // ------------------------------------------------------------------ claimJob

    function test_claimJob_bondsSolver() public {
        uint256 jobId = postToyJob();
        vm.expectEmit(true, true, false, false);
        emit JobMarket.JobClaimed(jobId, solver);
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(jobId);
        assertEq(market.getJob(jobId).solver, solver);
        assertEq(address(market).balance, REWARD + SOLVER_BOND);
    }

    function test_claimJob_reverts() public {
        uint256 jobId = postToyJob();
        vm.prank(solver);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongBond.selector, 1, SOLVER_BOND));
        market.claimJob{value: 1}(jobId);
        vm.warp(block.timestamp + 1 hours + 1);
        vm.prank(solver);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.DeadlinePassed.selector, uint64(1 + 1 hours)));
        market.claimJob{value: SOLVER_BOND}(jobId);
        uint256 second = postToyJob();
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(second);
        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, second, JobMarket.Status.Claimed)
        );
        market.claimJob{value: SOLVER_BOND}(second);
    }

    // ------------------------------------------------------------------ submitResult

    function test_submitResult_recordsAndPublishesCheckpoints() public {
        uint256 jobId = postToyJob();
        World memory w = _honest();
        bytes32[] memory roots = checkpointRoots(w);
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(jobId);
        vm.expectEmit(true, true, true, true);
        emit JobMarket.ResultSubmitted(jobId, traceRootOf(roots), roots[2], weightsRoot(w, STEPS), 3, roots);
        submitClaimed(jobId, w);
        JobMarket.Job memory job = market.getJob(jobId);
        assertEq(uint8(job.status), uint8(JobMarket.Status.Submitted));
        assertEq(job.traceRoot, traceRootOf(roots));
        assertEq(job.finalStateRoot, roots[roots.length - 1]);
        assertEq(job.submittedAt, block.timestamp);
    }

    function test_submitResult_reverts() public {
        uint256 jobId = postToyJob();
        World memory w = _honest();
        bytes32[] memory roots = checkpointRoots(w);
        bytes32 trace = traceRootOf(roots);
        bytes32 model = weightsRoot(w, STEPS);
        bytes32 opt = optimizerRoot(w, STEPS);

        vm.prank(solver);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Open));
        market.submitResult(jobId, trace, roots, model, opt);
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(jobId);

        vm.prank(challenger);
        vm.expectRevert(JobMarket.NotSolver.selector);
        market.submitResult(jobId, trace, roots, model, opt);

        vm.startPrank(solver);
        bytes32[] memory short = new bytes32[](2);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongCheckpointCount.selector, 2, 3));
        market.submitResult(jobId, trace, short, model, opt);
        vm.expectRevert(JobMarket.TraceRootMismatch.selector);
        market.submitResult(jobId, bytes32(uint256(trace) ^ 1), roots, model, opt);
        vm.expectRevert(JobMarket.FinalStateMismatch.selector);
        market.submitResult(jobId, trace, roots, opt, model);
        vm.warp(block.timestamp + 2 days + 1);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.DeadlinePassed.selector, uint64(1 + 2 days)));
        market.submitResult(jobId, trace, roots, model, opt);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ slashLate

    function test_slashLate_refundsSubmitterAndBurns() public {
        uint256 jobId = postToyJob();
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(jobId);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.DeadlineNotPassed.selector, uint64(1 + 2 days)));
        market.slashLate(jobId);
        vm.warp(block.timestamp + 2 days + 1);
        market.slashLate(jobId);
        uint256 burned = SOLVER_BOND * BURN_BPS / 10_000;
        assertEq(market.credits(address(0), submitter), REWARD + SOLVER_BOND - burned);
        assertEq(market.credits(address(0), market.BURN_ADDRESS()), burned);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Slashed)
        );
        market.slashLate(jobId);
    }

    // ------------------------------------------------------------------ challenge

    function test_challenge_reverts() public {
        uint256 jobId = postToyJob();
        World memory w = _honest();
        bytes32[] memory roots = checkpointRoots(w);
        bytes32[] memory leaves = traceLeaves(roots);
        bytes32[] memory none = new bytes32[](0);
        vm.deal(address(this), 10 ether);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Open));
        market.challenge{value: CHALLENGER_BOND}(
            jobId, 1, roots[0], path(leaves, 0), roots[1], path(leaves, 1)
        );
        submitWorld(jobId, w);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongBond.selector, 1, CHALLENGER_BOND));
        market.challenge{value: 1}(jobId, 1, roots[0], path(leaves, 0), roots[1], path(leaves, 1));
        // a right root that is not in the trace
        vm.expectRevert(JobMarket.BadCheckpointProof.selector);
        market.challenge{value: CHALLENGER_BOND}(
            jobId, 1, roots[0], path(leaves, 0), roots[2], path(leaves, 1)
        );
        // a wrong checkpoint index for a real root
        vm.expectRevert(JobMarket.BadCheckpointProof.selector);
        market.challenge{value: CHALLENGER_BOND}(
            jobId, 2, roots[0], path(leaves, 0), roots[1], path(leaves, 1)
        );
        // past the last checkpoint
        vm.expectRevert(JobMarket.BadCheckpointProof.selector);
        market.challenge{value: CHALLENGER_BOND}(
            jobId, 3, roots[2], path(leaves, 2), roots[2], path(leaves, 2)
        );
        // checkpoint 0 takes no left side
        vm.expectRevert(JobMarket.BadCheckpointProof.selector);
        market.challenge{value: CHALLENGER_BOND}(jobId, 0, roots[0], none, roots[0], path(leaves, 0));
        vm.deal(solver, 10 ether);
        vm.prank(solver);
        vm.expectRevert(JobMarket.SelfChallenge.selector);
        market.challenge{value: CHALLENGER_BOND}(
            jobId, 1, roots[0], path(leaves, 0), roots[1], path(leaves, 1)
        );
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(JobMarket.WindowClosed.selector);
        market.challenge{value: CHALLENGER_BOND}(
            jobId, 1, roots[0], path(leaves, 0), roots[1], path(leaves, 1)
        );
    }

    function test_challenge_opensGame() public {
        uint256 jobId = postToyJob();
        World memory w = _honest();
        submitWorld(jobId, w);
        World memory liar = build(Lie(true, 3, 2, 1, 0, 0));
        uint256 gameId = openChallenge(jobId, w, liar);
        assertEq(gameId, 1);
        DisputeGame.Game memory g = game.getGame(gameId);
        assertEq(g.setup.jobId, jobId);
        assertEq(g.range.lo, 2);
        assertEq(g.range.hi, 4);
        assertEq(g.setup.bond, CHALLENGER_BOND);
        assertEq(market.getJob(jobId).openGames, 1);
        assertEq(address(market).balance, REWARD + SOLVER_BOND + CHALLENGER_BOND);
    }

    // ------------------------------------------------------------------ finalize

    function test_finalize_paysSolver() public {
        uint256 jobId = postToyJob();
        submitWorld(jobId, _honest());
        vm.expectRevert(JobMarket.WindowOpen.selector);
        market.finalize(jobId);
        vm.warp(block.timestamp + WINDOW);
        market.finalize(jobId);
        assertEq(market.credits(address(0), solver), REWARD + SOLVER_BOND);
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Finalized)
        );
        market.finalize(jobId);
        // a finalized job can no longer be challenged
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Finalized)
        );
        market.challenge{value: CHALLENGER_BOND}(jobId, 0, 0, new bytes32[](0), 0, new bytes32[](0));
    }

    function test_finalize_blockedByOpenGame() public {
        uint256 jobId = postToyJob();
        World memory w = _honest();
        submitWorld(jobId, w);
        openChallenge(jobId, w, build(Lie(true, 1, 1, 0, 2, 1)));
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.GamesOpen.selector, 1));
        market.finalize(jobId);
    }

    // ------------------------------------------------------------------ settleGame

    function test_settleGame_onceAndOnlyWhenResolved() public {
        uint256 jobId = postToyJob();
        World memory w = _honest();
        submitWorld(jobId, w);
        uint256 gameId = openChallenge(jobId, w, build(Lie(true, 1, 1, 0, 2, 1)));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongPhase.selector, DisputeGame.Phase.Bisect));
        market.settleGame(gameId);
        vm.expectRevert(DisputeGame.OnlyMarket.selector);
        game.markSettled(gameId);
        (, uint64 deadline) = game.turn(gameId);
        vm.warp(deadline);
        game.timeout(gameId); // the solver did not answer
        // the refuter's bond comes back at once; its share once the outcome is fixed
        market.settleGame(gameId);
        assertEq(market.credits(address(0), challenger), CHALLENGER_BOND);
        assertEq(market.getJob(jobId).refutations, 1);
        vm.expectRevert(DisputeGame.AlreadySettled.selector);
        market.settleGame(gameId);
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Submitted)
        );
        market.claimShare(gameId);
        vm.expectRevert(JobMarket.WindowOpen.selector);
        market.finalize(jobId);
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        market.finalize(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
        uint256 share = SOLVER_BOND - SOLVER_BOND * BURN_BPS / 10_000;
        assertEq(market.getJob(jobId).refuterShare, share);
        market.claimShare(gameId);
        assertEq(market.credits(address(0), challenger), CHALLENGER_BOND + share);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NoShare.selector, gameId));
        market.claimShare(gameId);
    }

    /// @notice A colluding challenger that loses on purpose cannot shield a lying solver: an
    ///         honest challenger's game still slashes it, and finalization waits for it.
    function test_collusion_cannotShieldLiar() public {
        uint256 jobId = postToyJob();
        World memory liar = build(Lie(true, 2, 0, 2, 0, 7));
        World memory truth = build(_none());
        submitWorld(jobId, liar);
        address colluder = makeAddr("colluder");
        vm.deal(colluder, 10 ether);
        address honestChallenger = challenger;
        challenger = colluder;
        uint256 sham = openChallenge(jobId, liar, truth);
        challenger = honestChallenger;
        uint256 real = openChallenge(jobId, liar, truth);
        // the colluder goes silent after the solver's first move; meanwhile the honest
        // challenger plays on, and is mid-game when the colluder's clock runs out
        play(sham, liar, truth, 1);
        playUntil(real, liar, truth, DisputeGame.Phase.ChooseList);
        (, uint64 deadline) = game.turn(sham);
        vm.warp(deadline);
        game.timeout(sham);
        market.settleGame(sham);
        assertTrue(game.getGame(sham).clock.solverWon);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Submitted));
        vm.expectRevert(JobMarket.WindowOpen.selector);
        market.finalize(jobId);
        play(real, liar, truth, 200);
        assertFalse(game.getGame(real).clock.solverWon);
        closeJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
        assertEq(market.credits(address(0), submitter), REWARD);
    }

    // ------------------------------------------------------------------ payouts

    function test_withdraw_paysOnceAndFlushBurn() public {
        uint256 jobId = postToyJob();
        vm.prank(submitter);
        market.cancelJob(jobId);
        uint256 before = submitter.balance;
        vm.prank(submitter);
        vm.expectRevert(JobMarket.ZeroAddress.selector);
        market.withdraw(address(0), address(0));
        vm.prank(submitter);
        market.withdraw(address(0), submitter);
        assertEq(submitter.balance, before + REWARD);
        vm.prank(submitter);
        vm.expectRevert(JobMarket.NothingToWithdraw.selector);
        market.withdraw(address(0), submitter);

        uint256 late = postToyJob();
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(late);
        vm.warp(block.timestamp + 3 days);
        market.slashLate(late);
        address burn = market.BURN_ADDRESS();
        uint256 burned = market.credits(address(0), burn);
        market.flushBurned(address(0));
        assertEq(burn.balance, burned);
        vm.expectRevert(JobMarket.NothingToWithdraw.selector);
        market.flushBurned(address(0));
    }

    function test_withdraw_revertsWhenReceiverRefuses() public {
        Refuser refuser = new Refuser();
        uint256 jobId = postToyJob();
        vm.deal(address(refuser), SOLVER_BOND);
        refuser.claim{value: SOLVER_BOND}(market, jobId);
        vm.warp(block.timestamp + 3 days);
        market.slashLate(jobId);
        // the refuser has no credit; make one via a cancelled job it posted is not possible,
        // so check the failure path with the submitter role instead
        vm.deal(address(refuser), 1 ether);
        vm.prank(address(refuser));
        uint256 own = market.postJob{value: 1 ether}(
            toySpec(), uint64(block.timestamp + 1), uint64(block.timestamp + 2), uint128(CHALLENGER_BOND), 1
        );
        vm.prank(address(refuser));
        market.cancelJob(own);
        vm.expectRevert(JobMarket.TransferFailed.selector);
        refuser.withdraw(market);
        assertEq(market.credits(address(0), address(refuser)), 1 ether, "nothing lost");
        // Finding 5: an account that refuses ETH names another one to be paid at.
        address treasury = makeAddr("treasury");
        refuser.withdrawTo(market, treasury);
        assertEq(treasury.balance, 1 ether);
        assertEq(market.credits(address(0), address(refuser)), 0);
    }

    // ------------------------------------------------------------------ flat getters

    /// @dev `jobSummary` returns what `getJob` holds, field by field (static values: the
    ///      encoding is their 32-byte words in order, compared in two halves).
    function _assertJobSummary(uint256 jobId) internal view {
        JobMarket.Job memory job = market.getJob(jobId);
        uint64 windowEnd = job.submittedAt == 0 ? 0 : job.submittedAt + job.challengeWindow;
        bytes memory expected = bytes.concat(
            abi.encode(job.status, job.token, job.submitter, job.solver, job.reward, job.solverBond),
            abi.encode(job.claimDeadline),
            abi.encode(job.submitDeadline, windowEnd, job.openGames, job.refutations, job.modelRoot)
        );
        assertEq(_jobSummary(jobId), expected);
    }

    function _jobSummary(uint256 jobId) internal view returns (bytes memory out) {
        bool ok;
        (ok, out) = address(market).staticcall(abi.encodeCall(market.jobSummary, (jobId)));
        assertTrue(ok);
    }

    function _gameSummary(uint256 gameId) internal view returns (bytes memory out) {
        bool ok;
        (ok, out) = address(game).staticcall(abi.encodeCall(game.gameSummary, (gameId)));
        assertTrue(ok);
    }

    function test_summaries_areTheRecordsFlat() public {
        assertEq(_jobSummary(99), new bytes(12 * 32), "an unknown job is all zero");
        uint256 jobId = postToyJob();
        _assertJobSummary(jobId);
        (JobMarket.Status status, address token, address submitter_,,,,,, uint64 windowEnd,,,) =
            market.jobSummary(jobId);
        assertEq(token, address(0), "an ETH job");
        assertEq(uint8(status), uint8(JobMarket.Status.Open));
        assertEq(submitter_, submitter);
        assertEq(windowEnd, 0, "no window before a result");
        World memory w = _honest();
        submitWorld(jobId, w);
        _assertJobSummary(jobId);
        (,,,,,,,, windowEnd,,,) = market.jobSummary(jobId);
        assertEq(windowEnd, block.timestamp + WINDOW);
        uint256 gameId = openChallenge(jobId, w, build(Lie(true, 3, 2, 1, 0, 0)));
        _assertJobSummary(jobId);
        (,,,,,,,,, uint32 openGames,,) = market.jobSummary(jobId);
        assertEq(openGames, 1);

        DisputeGame.Game memory g = game.getGame(gameId);
        bytes memory expected = bytes.concat(
            abi.encode(g.setup.jobId, g.setup.solver, g.setup.challenger, g.setup.bond, g.clock.phase),
            abi.encode(g.clock.settled, g.clock.solverWon, g.clock.reason, g.setup.checkpoint, g.range.lo),
            abi.encode(g.range.hi)
        );
        assertEq(_gameSummary(gameId), expected);
        (uint256 gameJob,,,, DisputeGame.Phase phase,,,,, uint64 lo, uint64 hi) = game.gameSummary(gameId);
        assertEq(gameJob, jobId);
        assertEq(uint8(phase), uint8(DisputeGame.Phase.Bisect));
        assertEq(lo, 2);
        assertEq(hi, 4);
        assertEq(_gameSummary(gameId + 1), new bytes(11 * 32), "an unknown game is all zero");
    }
}
