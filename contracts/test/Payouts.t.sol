// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {console} from "forge-std/Test.sol";
import {SemanticsFixture} from "./semantics/SemanticsFixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {SpecRules} from "../src/lib/SpecRules.sol";
import {GraphSemantics} from "../src/semantics/GraphSemantics.sol";
import {GraphSpecRules} from "../src/semantics/GraphSpecRules.sol";
import {DensePrograms} from "../src/semantics/ops/DensePrograms.sol";
import {ImagePrograms} from "../src/semantics/ops/ImagePrograms.sol";
import {NormPrograms} from "../src/semantics/ops/NormPrograms.sol";
import {AttentionPrograms} from "../src/semantics/ops/AttentionPrograms.sol";
import {GameDriver} from "./game/GameDriver.sol";

/// @notice Regression tests for the payout review (issue 11, findings 1–4; finding 5 is in
///         `JobMarket.t.sol`): each game is paid by its own outcome, whatever the number of
///         games, their accounts and the order in which they are settled. Each test logs the
///         payouts it checks (`forge test --match-contract PayoutsTest -vv`); docs/dispute-game.md
///         quotes them.
contract PayoutsTest is GameDriver {
    address internal puppet = makeAddr("puppet");
    address internal attacker = makeAddr("attacker");

    uint256 internal constant BPS = 10_000;

    function setUp() public override {
        super.setUp();
        vm.deal(puppet, 100 ether);
        vm.deal(attacker, 100 ether);
    }

    function _none() internal pure returns (Lie memory none) {}

    /// @dev What `who` gained overall once every credit is withdrawn.
    function _net(address who, uint256 start) internal returns (int256) {
        if (market.credits(address(0), who) > 0) {
            vm.prank(who);
            market.withdraw(address(0), who);
        }
        return int256(who.balance) - int256(start);
    }

    function _openAs(address who, uint256 jobId, World memory sw, World memory cw)
        internal
        returns (uint256 id)
    {
        address before = challenger;
        challenger = who;
        id = openChallenge(jobId, sw, cw);
        challenger = before;
    }

    function _openAt(address who, uint256 jobId, World memory sw, uint64 c) internal returns (uint256) {
        bytes32[] memory roots = checkpointRoots(sw);
        bytes32[] memory leaves = traceLeaves(roots);
        vm.prank(who);
        return market.challenge{value: CHALLENGER_BOND}(
            jobId,
            c,
            c == 0 ? bytes32(0) : roots[c - 1],
            c == 0 ? new bytes32[](0) : path(leaves, c - 1),
            roots[c],
            path(leaves, c)
        );
    }

    // ------------------------------------------------------------------ finding 1

    /// @notice A cheating solver's sock puppet refutes the lie first (the solver walks its own
    ///         lie into `proveStep`) and tries to settle first: it cannot take the honest
    ///         challenger's pay. Before the fix the puppet took bond − burn and the honest
    ///         challenger's game was released (profit 0).
    function test_sockPuppet_cannotTakeTheHonestChallengersShare() public {
        World memory liar = build(Lie(true, 4, 2, 1, 2, 0));
        World memory truth = build(_none());
        (uint256 s0, uint256 p0, uint256 h0) = (solver.balance, puppet.balance, challenger.balance);
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        uint256 honestGame = openChallenge(jobId, liar, truth);
        uint256 puppetGame = _openAs(puppet, jobId, liar, truth);
        play(puppetGame, liar, truth, 200); // the solver concedes as fast as it can; settled
        assertFalse(game.getGame(puppetGame).clock.solverWon);
        // The puppet got its bond back, nothing more: no share before the outcome is fixed...
        assertEq(market.credits(address(0), puppet), CHALLENGER_BOND);
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.WrongStatus.selector, jobId, JobMarket.Status.Submitted)
        );
        market.claimShare(puppetGame);
        play(honestGame, liar, truth, 200);
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        market.finalize(jobId);
        // ...and claiming it first changes nothing.
        market.claimShare(puppetGame);
        market.claimShare(honestGame);
        uint256 share = (SOLVER_BOND - SOLVER_BOND * BURN_BPS / BPS) / 2;
        assertEq(market.getJob(jobId).refuterShare, share);
        int256 honest = _net(challenger, h0);
        int256 cheater = _net(solver, s0) + _net(puppet, p0);
        assertEq(honest, int256(share), "the honest challenger: its bond back and half the pot");
        assertEq(
            cheater,
            -int256(uint256(SOLVER_BOND)) + int256(share),
            "the cheater: the burn and the honest half"
        );
        console.log("sock puppet: honest challenger net (wei)");
        console.logInt(honest);
        console.log("sock puppet: cheater + puppet net (wei)");
        console.logInt(cheater);
    }

    /// @notice The front-run variant: the honest game resolves first, then the solver's puppet
    ///         opens, loses nothing by conceding and races to settle. Same payout.
    function test_sockPuppet_frontRunningTheSettleChangesNothing() public {
        World memory liar = build(Lie(true, 3, 0, 2, 0, 100));
        World memory truth = build(_none());
        uint256 h0 = challenger.balance;
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        uint256 honestGame = openChallenge(jobId, liar, truth);
        play(honestGame, liar, truth, 200);
        uint256 puppetGame = _openAs(puppet, jobId, liar, truth);
        play(puppetGame, liar, truth, 200);
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        market.finalize(jobId);
        market.claimShare(puppetGame); // the solver's transaction lands first
        market.claimShare(honestGame);
        assertEq(_net(challenger, h0), int256((SOLVER_BOND - SOLVER_BOND * BURN_BPS / BPS) / 2));
    }

    /// forge-config: default.fuzz.runs = 12
    /// forge-config: ci.fuzz.runs = 24
    /// @notice k sock puppets dilute the honest share to an equal 1/(k+1) of the pot, never
    ///         less, and the cheater always loses at least the burn (docs/dispute-game.md).
    function testFuzz_sockPuppets_honestShareAndCheaterLoss(uint8 puppets) public {
        uint256 k = bound(puppets, 0, 6);
        World memory liar = build(Lie(true, 4, 2, 1, 2, 0));
        World memory truth = build(_none());
        uint256 h0 = challenger.balance;
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        int256 cheater = -int256(uint256(SOLVER_BOND));
        for (uint256 i; i < k; ++i) {
            address p = makeAddr(string.concat("puppet", vm.toString(i)));
            vm.deal(p, 10 ether);
            uint256 id = _openAs(p, jobId, liar, truth);
            (, uint64 deadline) = game.turn(id);
            vm.warp(deadline);
            game.timeout(id); // the solver concedes on time
        }
        uint256 honestGame = openChallenge(jobId, liar, truth);
        play(honestGame, liar, truth, 200);
        closeJob(jobId);
        uint256 pot = SOLVER_BOND - SOLVER_BOND * BURN_BPS / BPS;
        assertEq(_net(challenger, h0), int256(pot / (k + 1)));
        cheater += int256(k * (pot / (k + 1)));
        assertLe(cheater, -int256(SOLVER_BOND * BURN_BPS / BPS), "at least the burn");
    }

    // ------------------------------------------------------------------ finding 2

    /// @notice A wave of games against an honest solver: every game opened on the job gives
    ///         the solver's clock in every game of the job one more replay extension (the new
    ///         one's at once, the earlier ones' as soon as the solver's time is looked at), and
    ///         the solver, which answers every game, collects every bond. Before the fix the
    ///         attacker opened three games, the solver missed one, and the attacker gained
    ///         bond − burn while the two games it was losing were released with full refunds.
    function test_sybilWave_clocksGrowAndTheSolverWinsEveryGame() public {
        World memory truth = build(_none());
        World memory delusion = build(Lie(true, 1, 2, 0, 5, 0));
        (uint256 s0, uint256 a0) = (solver.balance, attacker.balance);
        uint256 jobId = postToyJob();
        submitWorld(jobId, truth);
        uint256[3] memory ids;
        for (uint64 c; c < 3; ++c) {
            ids[c] = _openAt(attacker, jobId, truth, c);
            // c + 1 games on the job: the new game's solver clock holds c + 1 replays
            assertEq(game.getGame(ids[c]).clock.solverClock, CLOCK + EXTENSION * (c + 1));
            assertEq(game.gamesOpened(jobId), c + 1);
        }
        uint256 fourth = _openAt(attacker, jobId, truth, 2);
        assertEq(game.getGame(fourth).clock.solverClock, CLOCK + 4 * EXTENSION);
        // the first game's deadline has grown with the three opened after it
        (, uint64 deadline) = game.turn(ids[0]);
        assertEq(deadline, block.timestamp + CLOCK + 4 * EXTENSION);
        for (uint256 i; i < 3; ++i) {
            play(ids[i], truth, delusion, 200);
            assertTrue(game.getGame(ids[i]).clock.solverWon);
        }
        play(fourth, truth, delusion, 200);
        assertEq(market.getJob(jobId).openGames, 0);
        closeJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Finalized));
        uint256 perGame = CHALLENGER_BOND - CHALLENGER_BOND * BURN_BPS / BPS;
        int256 honest = _net(solver, s0);
        int256 wave = _net(attacker, a0);
        assertEq(honest, int256(REWARD + 4 * perGame), "reward, bond back, every bond net of burn");
        assertEq(wave, -4 * int256(CHALLENGER_BOND));
        console.log("wave of 4: honest solver net (wei)");
        console.logInt(honest);
        console.log("wave of 4: attacker net (wei)");
        console.logInt(wave);
    }

    /// @notice The schedule an attacker would use against a clock fixed at the opening (found
    ///         in review): open game X, then six more, and time the moves so that the solver's
    ///         replays for the six are queued before X's. The solver here is a worker that
    ///         takes a full extension per replay (the most a job the market accepts may take)
    ///         and serves the six first: X's own replay ends 7 extensions after its opening.
    ///         X's clock was one extension at its opening; every later game credits it with
    ///         one more, so its move still lands in time, and a timeout a second earlier fails.
    function test_sybilWave_laterGamesCannotStarveAnEarlierOne() public {
        World memory truth = build(_none());
        World memory delusion = build(Lie(true, 1, 2, 0, 5, 0));
        uint256 jobId = postToyJob();
        submitWorld(jobId, truth);
        uint256 x = _openAt(attacker, jobId, truth, 2);
        uint64 opened = uint64(block.timestamp);
        assertEq(game.getGame(x).clock.solverClock, CLOCK + EXTENSION);
        for (uint256 i; i < 6; ++i) {
            _openAt(attacker, jobId, truth, uint64(i % 3));
        }
        // the worker replays for the six games, then for X
        vm.warp(opened + 7 * EXTENSION);
        (, uint64 deadline) = game.turn(x);
        assertEq(deadline, opened + CLOCK + 7 * EXTENSION);
        vm.expectRevert(DisputeGame.ClockRunning.selector);
        game.timeout(x);
        play(x, truth, delusion, 1); // the solver's first move in X, 7 extensions late
        assertEq(uint8(game.getGame(x).clock.phase), uint8(DisputeGame.Phase.Judge), "it moved");
        play(x, truth, delusion, 200);
        assertTrue(game.getGame(x).clock.solverWon);
    }

    /// @notice If the solver does miss one game of a wave (it stopped answering), every other
    ///         game is still decided on its merits: the wave is a costly bet, not a free option.
    function test_sybilWave_aMissedGameDoesNotRefundTheOthers() public {
        World memory truth = build(_none());
        World memory delusion = build(Lie(true, 1, 2, 0, 5, 0));
        uint256 a0 = attacker.balance;
        uint256 jobId = postToyJob();
        submitWorld(jobId, truth);
        uint256[3] memory ids;
        for (uint64 c; c < 3; ++c) {
            ids[c] = _openAt(attacker, jobId, truth, c);
        }
        play(ids[0], truth, delusion, 200);
        play(ids[1], truth, delusion, 200);
        (, uint64 deadline) = game.turn(ids[2]);
        vm.warp(deadline);
        game.timeout(ids[2]); // the solver missed this one
        closeJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Slashed));
        uint256 pot = SOLVER_BOND - SOLVER_BOND * BURN_BPS / BPS;
        int256 wave = _net(attacker, a0);
        assertEq(wave, int256(pot) - 2 * int256(CHALLENGER_BOND), "one win, two bonds lost");
        console.log("wave of 3, one missed: attacker net (wei)");
        console.logInt(wave);
    }

    // ------------------------------------------------------------------ finding 3

    /// @notice A challenger whose game the solver won loses its bond even when another game
    ///         refutes the solver; and any order of settlement pays everyone the same.
    function test_settleOrder_doesNotDecidePayouts() public {
        World memory liar = build(Lie(true, 4, 2, 1, 2, 0));
        World memory truth = build(_none());
        uint256 jobId = postToyJob();
        submitWorld(jobId, liar);
        uint256 refuting = openChallenge(jobId, liar, truth);
        uint256 wrong = _openAt(attacker, jobId, liar, 1); // interval 1 of the liar is right
        noAutoSettle = true;
        play(wrong, liar, truth, 200);
        assertTrue(game.getGame(wrong).clock.solverWon);
        play(refuting, liar, truth, 200);
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        uint256 snapshot = vm.snapshotState();
        market.settleGame(refuting);
        market.settleGame(wrong);
        market.finalize(jobId);
        market.claimShare(refuting);
        uint256[4] memory first = [
            market.credits(address(0), challenger),
            market.credits(address(0), attacker),
            market.credits(address(0), solver),
            market.credits(address(0), submitter)
        ];
        vm.revertToState(snapshot);
        market.settleGame(wrong);
        market.settleGame(refuting);
        market.finalize(jobId);
        market.claimShare(refuting);
        uint256[4] memory second = [
            market.credits(address(0), challenger),
            market.credits(address(0), attacker),
            market.credits(address(0), solver),
            market.credits(address(0), submitter)
        ];
        for (uint256 i; i < 4; ++i) {
            assertEq(first[i], second[i]);
        }
        uint256 pot = SOLVER_BOND - SOLVER_BOND * BURN_BPS / BPS;
        assertEq(first[0], CHALLENGER_BOND + pot, "the refuter");
        assertEq(first[1], 0, "the loser of its own game is not refunded");
        assertEq(first[2], CHALLENGER_BOND - CHALLENGER_BOND * BURN_BPS / BPS, "the solver won that game");
        assertEq(first[3], REWARD, "the submitter");
    }

    // ------------------------------------------------------------------ finding 4

    /// @notice The specs the review found no game could settle are refused by `postJob`,
    ///         each with the field the Rust validation names.
    function test_postJob_refusesSpecsNoGameCouldSettle() public {
        JobMarket real = new JobMarket(alu, SemanticsFixture.deploy(), marketConfig());
        // the digits reference job (examples/digits-mlp.toml)
        bytes memory digits =
            hex"000000010000000001352903000003200000006400000040c489fc31a9f0d0e54e6d537b903bece59a93d7fc12abd5715cce9b4ca3d678950100000705000000400000000a0000016801000000010000008001013dcccccd3f66666638d1b71701";
        vm.prank(submitter);
        real.postJob{value: 1}(
            digits, uint64(block.timestamp + 1), uint64(block.timestamp + 2), uint128(CHALLENGER_BOND), 1
        );

        // a step schedule with every = 0 (programLength divided by zero)
        bytes memory stepZero = bytes.concat(_cut(digits, 96), hex"03000000003f000000");
        _expectInvalid(real, stepZero, "schedule.every");
        // a hidden width of 0, a feature count of 0, a class count of 0 (an empty tensor)
        _expectInvalid(real, _patch(digits, 78, 0), "model.hidden");
        _expectInvalid(real, _patch(digits, 61, 0), "dataset.features");
        _expectInvalid(real, _patch(digits, 65, 0), "dataset.classes");
        // a NaN learning rate under the constant schedule (its copy would return raw NaN bits)
        _expectInvalid(real, _patch(digits, 84, 0x7fc00001), "optimizer.learning_rate");
    }

    function _expectInvalid(JobMarket m, bytes memory spec, string memory field) internal {
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(SpecRules.InvalidSpec.selector, field));
        m.postJob{value: 1}(
            spec, uint64(block.timestamp + 1), uint64(block.timestamp + 2), uint128(CHALLENGER_BOND), 1
        );
    }

    function _cut(bytes memory b, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) {
            out[i] = b[i];
        }
    }

    /// @dev `b` with the big-endian u32 at `offset` replaced by `value`.
    function _patch(bytes memory b, uint256 offset, uint32 value) internal pure returns (bytes memory out) {
        out = bytes.concat(b);
        for (uint256 i; i < 4; ++i) {
            out[offset + i] = bytes1(uint8(value >> (24 - 8 * i)));
        }
    }
}
