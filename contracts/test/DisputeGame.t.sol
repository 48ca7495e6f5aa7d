// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobMarket} from "../src/JobMarket.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {Commitments} from "../src/lib/Commitments.sol";
import {GameDriver} from "./game/GameDriver.sol";

/// @notice Every move of the game on its success path and on each of its revert paths.
///         The world: an honest challenger against a solver that lied in step 2 (transition
///         3), tensor I2 element 0 (the 260-micro-step program), micro-step 100.
contract DisputeGameTest is GameDriver {
    World internal liarRoots;
    uint256 internal jobId;
    uint256 internal gameId;

    function _liar() internal pure returns (World memory) {
        return build(Lie(true, 3, 0, 2, 0, 100));
    }

    function _truth() internal pure returns (World memory) {
        Lie memory none;
        return build(none);
    }

    function _start() internal returns (World memory, World memory) {
        return _startWith(_liar());
    }

    /// Posts the toy job, lets `liar` submit and the honest challenger open a game.
    function _startWith(World memory liar) internal returns (World memory, World memory truth) {
        truth = _truth();
        jobId = postToyJob();
        submitWorld(jobId, liar);
        gameId = openChallenge(jobId, liar, truth);
        return (liar, truth);
    }

    /// A solver that lies about a dataset copy (I1, no primitive).
    function _datasetCopyLiar() internal pure returns (World memory) {
        return build(Lie(true, 2, 0, 1, 3, 0));
    }

    function _phase() internal view returns (DisputeGame.Phase) {
        return game.getGame(gameId).clock.phase;
    }

    function test_open_onlyMarket() public {
        DisputeGame.Opening memory o;
        vm.expectRevert(DisputeGame.OnlyMarket.selector);
        game.open(o);
    }

    function test_open_startsAtBisection() public {
        _start();
        DisputeGame.Game memory g = game.getGame(gameId);
        assertEq(uint8(g.clock.phase), uint8(DisputeGame.Phase.Bisect));
        assertEq(g.range.lo, 2);
        assertEq(g.range.hi, 4);
        // one interval under dispute: the solver's clock holds one replay extension
        assertEq(g.clock.solverClock, CLOCK + EXTENSION);
        assertEq(g.clock.challengerClock, CLOCK + EXTENSION, "the challenger replays the interval too");
        (address mover, uint64 deadline) = game.turn(gameId);
        assertEq(mover, solver);
        assertEq(deadline, block.timestamp + CLOCK + EXTENSION);
    }

    function test_bisect_and_judge() public {
        (World memory liar,) = _start();
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.StalePosition.selector);
        game.bisect(gameId, 2, liar.stateRoots[3]);
        vm.expectRevert(DisputeGame.ZeroHash.selector);
        game.bisect(gameId, 3, bytes32(0));
        vm.stopPrank();
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.NotYourTurn.selector);
        game.bisect(gameId, 3, liar.stateRoots[3]);
        vm.prank(solver);
        game.bisect(gameId, 3, liar.stateRoots[3]);
        // a duplicate move is out of turn now
        vm.prank(solver);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongPhase.selector, DisputeGame.Phase.Judge));
        game.bisect(gameId, 3, liar.stateRoots[3]);
        vm.startPrank(challenger);
        vm.expectRevert(DisputeGame.StalePosition.selector);
        game.judge(gameId, 2, true);
        game.judge(gameId, 3, true); // the lie is in step 3: states up to 3 agree
        vm.stopPrank();
        DisputeGame.Game memory g = game.getGame(gameId);
        assertEq(g.range.lo, 3);
        assertEq(uint8(g.clock.phase), uint8(DisputeGame.Phase.RevealStep));
        assertEq(g.clock.solverClock, CLOCK + EXTENSION, "the replay extension, granted at opening");
    }

    function test_clock_noMoveAfterExpiry() public {
        (World memory liar,) = _start();
        vm.warp(block.timestamp + CLOCK + EXTENSION);
        vm.prank(solver);
        vm.expectRevert(DisputeGame.ClockExpired.selector);
        game.bisect(gameId, 3, liar.stateRoots[3]);
        game.timeout(gameId);
        assertFalse(game.getGame(gameId).clock.solverWon);
        assertEq(uint8(game.getGame(gameId).clock.reason), uint8(DisputeGame.Reason.Timeout));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongPhase.selector, DisputeGame.Phase.Resolved));
        game.timeout(gameId);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NoSuchGame.selector, 99));
        game.timeout(99);
    }

    function test_revealStep_checksStates() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.RevealStep);
        bytes32[5] memory roots = stepRoots(liar, 3);
        bytes memory spec = toySpec();
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.WrongSpec.selector);
        game.revealStep(gameId, abi.encodePacked(spec, uint8(0)), roots);
        bytes32[5] memory bad = stepRoots(liar, 3); // memory arrays alias: build a copy
        bad[2] = bytes32(uint256(1));
        vm.expectRevert(DisputeGame.StateMismatch.selector);
        game.revealStep(gameId, spec, bad);
        bad = stepRoots(liar, 3);
        bad[4] = bytes32(uint256(1));
        vm.expectRevert(DisputeGame.StateMismatch.selector);
        game.revealStep(gameId, spec, bad);
        game.revealStep(gameId, spec, roots);
        vm.stopPrank();
        DisputeGame.Game memory g = game.getGame(gameId);
        assertEq(uint8(g.clock.phase), uint8(DisputeGame.Phase.ChooseList));
        revealedRoots = roots;
        DisputeGame.StepCommitment memory step = revealedStep(g);
        assertEq(g.descent.stepRoots, keccak256(abi.encode(step)), "roots and counts (3, 1, 2) committed");
    }

    function test_chooseList_reverts() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.ChooseList);
        DisputeGame.Game memory g = game.getGame(gameId);
        revealedRoots = stepRoots(liar, 3);
        DisputeGame.StepCommitment memory step = revealedStep(g);
        vm.startPrank(challenger);
        DisputeGame.StepCommitment memory bad = revealedStep(g);
        bad.roots[0] = bytes32(uint256(1));
        vm.expectRevert(DisputeGame.RootsMismatch.selector);
        game.chooseList(gameId, 0, bad);
        bad = revealedStep(g);
        bad.counts[0] = 4; // a count that is not the model's
        vm.expectRevert(DisputeGame.RootsMismatch.selector);
        game.chooseList(gameId, 0, bad);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadList.selector, 3));
        game.chooseList(gameId, 3, step);
        game.chooseList(gameId, 0, step);
        vm.stopPrank();
        assertEq(uint8(_phase()), uint8(DisputeGame.Phase.Reveal));
    }

    function test_reveal_and_pick_reverts() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.Reveal);
        DisputeGame.Game memory g = game.getGame(gameId);
        bytes32[] memory leaves = treeLeaves(g, liar);
        bytes32 left = subtree(leaves, g.descent.depth - 1, 0);
        bytes32 right = subtree(leaves, g.descent.depth - 1, 1);
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.StalePosition.selector);
        game.reveal(gameId, g.descent.depth + 1, 0, left, right);
        vm.expectRevert(DisputeGame.ZeroHash.selector);
        game.reveal(gameId, g.descent.depth, 0, left, bytes32(0));
        vm.expectRevert(DisputeGame.BadReveal.selector);
        game.reveal(gameId, g.descent.depth, 0, right, left);
        game.reveal(gameId, g.descent.depth, 0, left, right);
        vm.stopPrank();
        // the intermediates list has 3 tensors (depth 2): the right child of the right
        // child covers only padding and cannot be picked
        vm.startPrank(challenger);
        vm.expectRevert(DisputeGame.StalePosition.selector);
        game.pick(gameId, g.descent.depth, 1, true);
        game.pick(gameId, g.descent.depth, 0, true);
        vm.stopPrank();
        g = game.getGame(gameId);
        leaves = treeLeaves(g, liar);
        vm.prank(solver);
        game.reveal(gameId, 1, 1, subtree(leaves, 0, 2), subtree(leaves, 0, 3));
        assertEq(subtree(leaves, 0, 3), Commitments.PAD);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.PadSubtree.selector);
        game.pick(gameId, 1, 1, true);
        vm.prank(challenger);
        game.pick(gameId, 1, 1, false);
        g = game.getGame(gameId);
        assertEq(uint8(g.clock.phase), uint8(DisputeGame.Phase.OpenTensor));
        assertEq(g.descent.tensorIndex, 2);
    }

    function test_openTensor_revealLeaf_nameElement_reverts() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.OpenTensor);
        bytes memory spec = toySpec();
        uint32[] memory tensor = produced(liar, 3, 0)[2];
        vm.prank(solver);
        vm.expectRevert(DisputeGame.BadTensor.selector);
        game.openTensor(gameId, spec, bytes32(uint256(5)));
        vm.prank(solver);
        game.openTensor(gameId, spec, tensorMerkle(tensor));
        assertEq(game.getGame(gameId).descent.tensorLength, 257);
        playUntil(gameId, liar, truth, DisputeGame.Phase.RevealLeaf);
        DisputeGame.Game memory g = game.getGame(gameId);
        bytes memory leaf = leafBytes(tensor, g.descent.nodeIndex);
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.BadReveal.selector);
        game.revealLeaf(gameId, leafBytes(tensor, 1 - g.descent.nodeIndex));
        vm.expectRevert(abi.encodeWithSelector(Commitments.BadLeafLength.selector, 4));
        game.revealLeaf(gameId, new bytes(4));
        revealedLeaf = leaf;
        game.revealLeaf(gameId, leaf);
        vm.stopPrank();
        vm.startPrank(challenger);
        vm.expectRevert(DisputeGame.BadElement.selector);
        game.nameElement(gameId, 256); // not in the revealed leaf
        game.nameElement(gameId, 0);
        vm.stopPrank();
        assertEq(uint8(_phase()), uint8(DisputeGame.Phase.CommitMicro));
    }

    function test_commitMicro_chooseMicro_nameMicroStep() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.CommitMicro);
        DisputeGame.Game memory g = game.getGame(gameId);
        assertEq(g.target.element, 0, "the lie is in element 0");
        uint32[] memory tensor = produced(liar, 3, 0)[2];
        uint32[] memory prefix = microPrefix(liar, g);
        bytes memory spec = toySpec();
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.BadReveal.selector);
        game.commitMicroTrace(gameId, spec, leafBytes(tensor, 1), microMerkle(prefix));
        vm.expectRevert(DisputeGame.ZeroHash.selector);
        game.commitMicroTrace(gameId, spec, leafBytes(tensor, 0), bytes32(0));
        game.commitMicroTrace(gameId, spec, leafBytes(tensor, 0), microMerkle(prefix));
        vm.stopPrank();
        g = game.getGame(gameId);
        assertEq(g.target.programLength, 260);
        assertEq(g.target.value, tensor[0]);
        vm.prank(challenger);
        game.chooseMicro(gameId, false);
        playUntil(gameId, liar, truth, DisputeGame.Phase.NameMicroStep);
        vm.startPrank(challenger);
        vm.expectRevert(DisputeGame.BadMicroStep.selector);
        game.nameMicroStep(gameId, 256);
        game.nameMicroStep(gameId, 100);
        vm.stopPrank();
        assertEq(uint8(_phase()), uint8(DisputeGame.Phase.ProveStep));
    }

    function test_proveStep_rejectsForgedOperandsAndRefutesTheLie() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.ProveStep);
        DisputeGame.Game memory g = game.getGame(gameId);
        assertEq(g.target.microStep, 100);
        DisputeGame.StepProof memory proof = buildProof(g, liar);
        bytes memory spec = toySpec();
        DisputeGame.StepProof memory bad = buildProof(g, liar);
        bad.step.roots[0] = bytes32(uint256(7));
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.RootsMismatch.selector);
        game.proveStep(gameId, spec, bad);
        bad = buildProof(g, liar);
        bad.operands[2].leaf[0] = bytes1(uint8(bad.operands[2].leaf[0]) ^ 1); // I0 input forged
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadOperand.selector, 2));
        game.proveStep(gameId, spec, bad);
        bad = buildProof(g, liar);
        bad.operands[0].leaf[0] = bytes1(uint8(bad.operands[0].leaf[0]) ^ 1); // x_99 forged
        vm.expectRevert(DisputeGame.BadMicroStep.selector);
        game.proveStep(gameId, spec, bad);
        game.proveStep(gameId, spec, proof);
        vm.stopPrank();
        g = game.getGame(gameId);
        assertFalse(g.clock.solverWon);
        assertEq(uint8(g.clock.reason), uint8(DisputeGame.Reason.StepRefuted));
    }

    function test_chooseMicro_lastStepOfCopyProgram() public {
        // A solver that lies about a dataset copy (I1, no primitive): the chain compares the
        // claimed element with the dataset itself.
        (World memory liar, World memory truth) = _startWith(_datasetCopyLiar());
        playUntil(gameId, liar, truth, DisputeGame.Phase.ChooseMicro);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.BadMicroStep.selector);
        game.chooseMicro(gameId, false);
        play(gameId, liar, truth, 10);
        assertEq(uint8(game.getGame(gameId).clock.reason), uint8(DisputeGame.Reason.StepRefuted));
    }

    /// A dataset operand is checked against the job's dataset root, which commits to the data's
    /// own class count (the prover names it): any other count is refused, whatever the spec's.
    function test_proveStep_datasetOperandNeedsTheCommittedClassCount() public {
        (World memory liar, World memory truth) = _startWith(_datasetCopyLiar());
        playUntil(gameId, liar, truth, DisputeGame.Phase.ProveStep);
        DisputeGame.StepProof memory bad = buildProof(game.getGame(gameId), liar);
        assertEq(bad.operands[0].datasetClasses, 2, "the toy data's classes");
        bad.operands[0].datasetClasses = 3;
        vm.prank(solver);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadOperand.selector, 0));
        game.proveStep(gameId, toySpec(), bad);
        play(gameId, liar, truth, 10);
        assertEq(uint8(game.getGame(gameId).clock.reason), uint8(DisputeGame.Reason.StepRefuted));
    }

    function test_initialState_dispute() public {
        World memory liar = build(Lie(true, 0, 2, 0, 299, 1));
        World memory truth = _truth();
        jobId = postToyJob();
        submitWorld(jobId, liar);
        gameId = openChallenge(jobId, liar, truth);
        DisputeGame.Game memory g = game.getGame(gameId);
        assertTrue(g.setup.init);
        assertEq(uint8(g.clock.phase), uint8(DisputeGame.Phase.RevealStep));
        vm.prank(solver);
        bytes32[5] memory roots = stepRoots(liar, 0);
        roots[4] = bytes32(uint256(1));
        vm.expectRevert(DisputeGame.StateMismatch.selector);
        game.revealStep(gameId, toySpec(), roots);
        play(gameId, liar, truth, 200);
        assertFalse(game.getGame(gameId).clock.solverWon);
        closeJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
    }

    /// Fine-tuning: S_0's weights must be the model the job names. A solver that started from
    /// other weights cannot reveal the initial state's step at all, and loses on time.
    function test_initialState_loadedModel_otherWeightsCannotBeRevealed() public {
        World memory truth = _truth();
        sem.setInitialModel(weightsRoot(truth, 0));
        World memory liar = build(Lie(true, 0, 2, 0, 299, 1));
        jobId = postToyJob();
        submitWorld(jobId, liar);
        gameId = openChallenge(jobId, liar, truth);
        vm.prank(solver);
        vm.expectRevert(DisputeGame.NotTheInitialModel.selector);
        game.revealStep(gameId, toySpec(), stepRoots(liar, 0));
        vm.warp(block.timestamp + CLOCK + EXTENSION);
        game.timeout(gameId);
        assertFalse(game.getGame(gameId).clock.solverWon);
        closeJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
    }

    /// Fine-tuning: once S_0's weights are checked to be the model, they are not open to
    /// dispute (their count is 0); a lie in S_0's optimizer state is still refuted.
    function test_initialState_loadedModel_weightsAreBoundOptimizerIsDisputed() public {
        World memory truth = _truth();
        sem.setInitialModel(weightsRoot(truth, 0));
        World memory liar = build(Lie(true, 0, 1, 0, 3, 0));
        jobId = postToyJob();
        submitWorld(jobId, liar);
        gameId = openChallenge(jobId, liar, truth);
        bytes32[5] memory roots = stepRoots(liar, 0);
        vm.prank(solver);
        game.revealStep(gameId, toySpec(), roots);
        revealedRoots = roots;
        DisputeGame.StepCommitment memory step = revealedStep(game.getGame(gameId));
        assertEq(step.counts[2], 0, "the weights of S_0 are bound");
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadList.selector, 2));
        game.chooseList(gameId, 2, step);
        play(gameId, liar, truth, 200);
        assertFalse(game.getGame(gameId).clock.solverWon);
    }

    /// Fine-tuning: an honest solver that loaded the model cannot be made to lose by a
    /// challenger who believes other initial weights: the weights cannot be chosen, and
    /// the rest of S_0 (the moments) agrees. (A challenger who disputes the moments loses
    /// to the solver's proof: the Rust test `a_fine_tuning_solver_defends_its_initial_state`.)
    function test_initialState_loadedModel_honestSolverWins() public {
        World memory truth = _truth();
        sem.setInitialModel(weightsRoot(truth, 0));
        World memory deluded = build(Lie(true, 0, 2, 0, 299, 1));
        jobId = postToyJob();
        submitWorld(jobId, truth);
        gameId = openChallenge(jobId, truth, deluded);
        bytes32[5] memory roots = stepRoots(truth, 0);
        vm.prank(solver);
        game.revealStep(gameId, toySpec(), roots);
        revealedRoots = roots;
        DisputeGame.StepCommitment memory step = revealedStep(game.getGame(gameId));
        vm.startPrank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadList.selector, 2));
        game.chooseList(gameId, 2, step);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadList.selector, 0));
        game.chooseList(gameId, 0, step);
        vm.stopPrank();
        vm.warp(block.timestamp + CLOCK + 2 * EXTENSION);
        game.timeout(gameId);
        assertTrue(game.getGame(gameId).clock.solverWon);
    }

    /// The solver reveals a (forged) step commitment, the challenger picks the intermediates.
    function _revealAndChooseIntermediates(bytes32[5] memory roots) internal {
        vm.prank(solver);
        game.revealStep(gameId, toySpec(), roots);
        revealedRoots = roots;
        DisputeGame.StepCommitment memory step = revealedStep(game.getGame(gameId));
        vm.prank(challenger); // (after the view call above: a prank applies to the next call)
        game.chooseList(gameId, 0, step);
    }

    /// Regression (review finding): a solver must not make a root differ from the honest one
    /// in padding alone. A padding node that is not the pad cannot be revealed...
    function test_padding_decoyNodeCannotBeRevealed() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.RevealStep);
        bytes32[] memory l = listLeaves(produced(liar, 3, 0), 3, 0);
        bytes32 decoy = keccak256("decoy");
        bytes32 right = Commitments.nodeHash(l[2], decoy);
        bytes32[5] memory roots = stepRoots(liar, 3);
        roots[0] = Commitments.nodeHash(Commitments.nodeHash(l[0], l[1]), right);
        _revealAndChooseIntermediates(roots);
        vm.prank(solver);
        game.reveal(gameId, 2, 0, Commitments.nodeHash(l[0], l[1]), right);
        vm.prank(challenger);
        game.pick(gameId, 2, 0, true);
        vm.startPrank(solver);
        vm.expectRevert(DisputeGame.NonCanonicalPadding.selector);
        game.reveal(gameId, 1, 1, l[2], decoy);
        vm.expectRevert(DisputeGame.BadReveal.selector);
        game.reveal(gameId, 1, 1, l[2], Commitments.PAD);
        vm.stopPrank();
        // ...so the solver is stuck and loses on time.
        (, uint64 deadline) = game.turn(gameId);
        vm.warp(deadline);
        game.timeout(gameId);
        assertFalse(game.getGame(gameId).clock.solverWon);
    }

    /// ...and neither can a leaf with non-zero bytes past its last value.
    function test_padding_dirtyLeafCannotBeRevealed() public {
        (World memory liar, World memory truth) = _start();
        playUntil(gameId, liar, truth, DisputeGame.Phase.RevealStep);
        bytes32[] memory l = listLeaves(produced(liar, 3, 0), 3, 0);
        bytes memory dirty = leafBytes(produced(liar, 3, 0)[1], 0); // I1: 4 values
        dirty[100] = 0x01;
        bytes32 dirtyMerkle = keccak256(abi.encodePacked(bytes1(0x00), dirty));
        uint64[] memory shape = new uint64[](1);
        shape[0] = 4;
        bytes32 dirtyRoot = Commitments.tensorRoot(shape, dirtyMerkle);
        bytes32 left = Commitments.nodeHash(l[0], dirtyRoot);
        bytes32 right = Commitments.nodeHash(l[2], Commitments.PAD);
        bytes32[5] memory roots = stepRoots(liar, 3);
        roots[0] = Commitments.nodeHash(left, right);
        _revealAndChooseIntermediates(roots);
        vm.prank(solver);
        game.reveal(gameId, 2, 0, left, right);
        vm.prank(challenger);
        game.pick(gameId, 2, 0, false);
        vm.prank(solver);
        game.reveal(gameId, 1, 0, l[0], dirtyRoot);
        vm.prank(challenger);
        game.pick(gameId, 1, 0, true);
        vm.startPrank(solver);
        game.openTensor(gameId, toySpec(), dirtyMerkle);
        vm.expectRevert(DisputeGame.NonCanonicalPadding.selector);
        game.revealLeaf(gameId, dirty);
        vm.stopPrank();
    }

    function test_turn_ofUnknownGameIsEmpty() public view {
        (address mover, uint64 deadline) = game.turn(42);
        assertEq(mover, address(0));
        assertEq(deadline, 0);
    }
}
