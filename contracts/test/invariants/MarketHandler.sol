// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {Commitments} from "../../src/lib/Commitments.sol";
import {ToyWorld} from "../game/ToyWorld.sol";
import {DevToken} from "../../src/devnet/DevToken.sol";
import {NoBoolToken} from "../tokens/OddTokens.sol";

/// @notice Drives the market through random lifecycles: posts (in ETH, in a standard ERC-20
///         and in a token that returns no bool), cancels, claims, honest and lying
///         submissions, late slashes, challenges, bisection moves, timeouts, settlements,
///         finalizations and withdrawals, with time passing in between. Games are ended by
///         their clocks (the full descent is covered by the fuzz tests); what matters here is
///         the money and the state machine.
contract MarketHandler is Test, ToyWorld {
    JobMarket public market;
    DisputeGame public game;

    address[] public actors;
    /// @notice The currencies jobs are posted in: ETH (zero), a standard ERC-20, a no-bool one.
    address[] public currencies;
    uint256[] public jobIds;
    uint256[] public gameIds;

    // The two worlds' commitments, precomputed once (building a world is expensive).
    bytes32[][2] internal stateRootsOf;
    bytes32[2] internal modelRootOf;
    bytes32[2] internal optRootOf;

    mapping(uint256 jobId => uint8 status) public terminalSeen;
    uint256 public terminalViolations;

    constructor(JobMarket market_) {
        market = market_;
        game = market_.game();
        for (uint256 i; i < 4; ++i) {
            address a = makeAddr(string.concat("actor", vm.toString(i)));
            actors.push(a);
            vm.deal(a, 1_000_000 ether);
        }
        currencies.push(address(0));
        currencies.push(address(new DevToken()));
        currencies.push(address(new NoBoolToken()));
        for (uint256 c = 1; c < currencies.length; ++c) {
            for (uint256 i; i < actors.length; ++i) {
                DevToken(currencies[c]).mint(actors[i], 1e30);
                vm.prank(actors[i]);
                DevToken(currencies[c]).approve(address(market_), type(uint256).max);
            }
        }
        Lie memory none;
        World[2] memory worlds = [build(none), build(Lie(true, 3, 2, 0, 7, 1))];
        for (uint256 w; w < 2; ++w) {
            stateRootsOf[w] = worlds[w].stateRoots;
            modelRootOf[w] = weightsRoot(worlds[w], STEPS);
            optRootOf[w] = optimizerRoot(worlds[w], STEPS);
        }
    }

    // ------------------------------------------------------------------ actions

    function post(uint256 actor, uint96 reward, uint96 bond, uint8 currency) external {
        reward = uint96(bound(reward, 1, 100 ether));
        address token = currencies[currency % currencies.length];
        uint64 claimBy = uint64(block.timestamp + 1 hours);
        uint64 submitBy = uint64(block.timestamp + 1 days);
        vm.prank(_actor(actor));
        if (token == address(0)) {
            bond = uint96(bound(bond, 0.5 ether, 50 ether)); // below 1 ether (the challenger bond): refused
            try market.postJob{value: reward}(toySpec(), claimBy, submitBy, bond, 6 hours) returns (
                uint256 id
            ) {
                jobIds.push(id);
            } catch {}
        } else {
            bond = uint96(bound(bond, 0, 50 ether)); // zero: refused
            try market.postTokenJob(toySpec(), claimBy, submitBy, bond, 6 hours, token, reward) returns (
                uint256 id
            ) {
                jobIds.push(id);
            } catch {}
        }
        _observe();
    }

    /// @notice Post, claim and submit in one go, so that sequences reach the window often.
    function postClaimSubmit(uint256 actor, uint96 reward, uint96 bond, uint8 currency, bool lying) external {
        uint256 before = jobIds.length;
        this.post(actor, reward, bond, currency);
        if (jobIds.length == before) return;
        uint256 last = jobIds.length - 1;
        this.claim(actor + 1, last);
        this.submit(last, lying);
    }

    function cancel(uint256 actor, uint256 job) external {
        if (jobIds.length == 0) return;
        vm.prank(_actor(actor));
        try market.cancelJob(_job(job)) {} catch {}
        _observe();
    }

    function claim(uint256 actor, uint256 job) external {
        if (jobIds.length == 0) return;
        uint256 id = _job(job);
        JobMarket.Job memory j = market.getJob(id);
        uint256 value = j.token == address(0) ? j.solverBond : 0;
        vm.prank(_actor(actor));
        try market.claimJob{value: value}(id) {} catch {}
        _observe();
    }

    function submit(uint256 job, bool lying) external {
        if (jobIds.length == 0) return;
        uint256 id = _job(job);
        JobMarket.Job memory j = market.getJob(id);
        if (j.status != JobMarket.Status.Claimed) return;
        uint256 w = lying ? 1 : 0;
        bytes32[] memory roots = checkpointRoots(stateRootsOf[w]);
        vm.prank(j.solver);
        try market.submitResult(id, traceRootOf(roots), roots, modelRootOf[w], optRootOf[w]) {} catch {}
        _observe();
    }

    function slashLate(uint256 job) external {
        if (jobIds.length == 0) return;
        try market.slashLate(_job(job)) {} catch {}
        _observe();
    }

    function challenge(uint256 actor, uint256 job, uint64 checkpoint) external {
        if (jobIds.length == 0) return;
        uint256 id = _job(job);
        JobMarket.Job memory j = market.getJob(id);
        if (j.status != JobMarket.Status.Submitted) return;
        try this.openGame(_actor(actor), id, j.traceRoot, checkpoint) returns (uint256 gameId) {
            gameIds.push(gameId);
        } catch {}
        _observe();
    }

    /// @dev Opens a game against `traceRoot` at `checkpoint` (self-call, to keep stacks small).
    function openGame(address who, uint256 id, bytes32 traceRoot, uint64 checkpoint)
        external
        returns (uint256)
    {
        require(msg.sender == address(this), "internal");
        uint256 w = traceRoot == traceRootOf(checkpointRoots(stateRootsOf[0])) ? 0 : 1;
        bytes32[] memory roots = checkpointRoots(stateRootsOf[w]);
        bytes32[] memory leaves = traceLeaves(roots);
        checkpoint = uint64(bound(checkpoint, 0, roots.length - 1));
        uint256 bond = market.challengerBond();
        vm.prank(who);
        return market.challenge{value: bond}(
            id,
            checkpoint,
            checkpoint == 0 ? bytes32(0) : roots[checkpoint - 1],
            checkpoint == 0 ? new bytes32[](0) : path(leaves, checkpoint - 1),
            roots[checkpoint],
            path(leaves, checkpoint)
        );
    }

    function move(uint256 gameIndex, bool agree) external {
        if (gameIds.length == 0) return;
        uint256 id = gameIds[gameIndex % gameIds.length];
        DisputeGame.Game memory g = game.getGame(id);
        uint64 mid = g.range.lo + (g.range.hi - g.range.lo) / 2;
        if (g.clock.phase == DisputeGame.Phase.Bisect) {
            uint256 w = market.getJob(g.setup.jobId).traceRoot
                == traceRootOf(checkpointRoots(stateRootsOf[0]))
                ? 0
                : 1;
            vm.prank(g.setup.solver);
            try game.bisect(id, mid, stateRootsOf[w][mid]) {} catch {}
        } else if (g.clock.phase == DisputeGame.Phase.Judge) {
            vm.prank(g.setup.challenger);
            try game.judge(id, mid, agree) {} catch {}
        }
        _observe();
    }

    function timeout(uint256 gameIndex) external {
        if (gameIds.length == 0) return;
        try game.timeout(gameIds[gameIndex % gameIds.length]) {} catch {}
        _observe();
    }

    function settle(uint256 gameIndex) external {
        if (gameIds.length == 0) return;
        try market.settleGame(gameIds[gameIndex % gameIds.length]) {} catch {}
        try market.claimShare(gameIds[gameIndex % gameIds.length]) {} catch {}
        _observe();
    }

    function finalize(uint256 job) external {
        if (jobIds.length == 0) return;
        try market.finalize(_job(job)) {} catch {}
        _observe();
    }

    function withdraw(uint256 actor, uint8 currency) external {
        address token = currencies[currency % currencies.length];
        vm.prank(_actor(actor));
        try market.withdraw(token, _actor(actor)) {} catch {}
        try market.flushBurned(token) {} catch {}
        _observe();
    }

    function warp(uint32 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
        _observe();
    }

    // ------------------------------------------------------------------ accounting

    /// @notice What the market holds of `token` (`address(0)`: its ETH balance).
    function balanceIn(address token) public view returns (uint256) {
        return token == address(0) ? address(market).balance : DevToken(token).balanceOf(address(market));
    }

    function currencyCount() external view returns (uint256) {
        return currencies.length;
    }

    /// @notice In `token`: Σ escrow of live jobs + Σ live solver bonds + Σ unclaimed shares of
    ///         refuting games; in ETH, also Σ unsettled challenger bonds (always ETH).
    function locked(address token) public view returns (uint256 total) {
        for (uint256 i; i < jobIds.length; ++i) {
            JobMarket.Job memory j = market.getJob(jobIds[i]);
            if (j.token != token) continue;
            if (j.status == JobMarket.Status.Open) total += j.reward;
            if (j.status == JobMarket.Status.Claimed || j.status == JobMarket.Status.Submitted) {
                total += uint256(j.reward) + j.solverBond;
            }
        }
        for (uint256 i; i < gameIds.length; ++i) {
            DisputeGame.Game memory g = game.getGame(gameIds[i]);
            if (!g.clock.settled) {
                if (token == address(0)) total += g.setup.bond;
                continue;
            }
            // a refuting game of a slashed job is owed its share of the solver's bond
            JobMarket.Job memory j = market.getJob(g.setup.jobId);
            if (j.token != token) continue;
            bool owed = j.status == JobMarket.Status.Slashed && !g.clock.solverWon;
            if (owed && !market.shareClaimed(gameIds[i])) total += j.refuterShare;
        }
    }

    /// @notice Σ credits in `token` of everyone who can hold one.
    function credited(address token) public view returns (uint256 total) {
        for (uint256 i; i < actors.length; ++i) {
            total += market.credits(token, actors[i]);
        }
        total += market.credits(token, market.BURN_ADDRESS());
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function gameCount() external view returns (uint256) {
        return gameIds.length;
    }

    /// @notice Ends everything that can be ended and withdraws every credit.
    function drain() external {
        vm.warp(block.timestamp + 30 days);
        // Decide and settle every game first: a job's outcome is fixed only once all of its
        // games are settled; shares are claimed after.
        for (uint256 i; i < gameIds.length; ++i) {
            try game.timeout(gameIds[i]) {} catch {}
            try market.settleGame(gameIds[i]) {} catch {}
        }
        for (uint256 i; i < jobIds.length; ++i) {
            uint256 id = jobIds[i];
            try market.cancelJob(id) {} catch {}
            try market.slashLate(id) {} catch {}
            try market.finalize(id) {} catch {}
        }
        for (uint256 i; i < gameIds.length; ++i) {
            try market.claimShare(gameIds[i]) {} catch {}
        }
        for (uint256 c; c < currencies.length; ++c) {
            for (uint256 i; i < actors.length; ++i) {
                vm.prank(actors[i]);
                try market.withdraw(currencies[c], actors[i]) {} catch {}
            }
            try market.flushBurned(currencies[c]) {} catch {}
        }
        _observe();
    }

    // ------------------------------------------------------------------ internals

    /// @dev Records terminal statuses and counts any job that left one.
    function _observe() internal {
        for (uint256 i; i < jobIds.length; ++i) {
            uint256 id = jobIds[i];
            uint8 status = uint8(market.statusOf(id));
            uint8 seen = terminalSeen[id];
            if (seen != 0 && seen != status) ++terminalViolations;
            if (status >= uint8(JobMarket.Status.Finalized)) terminalSeen[id] = status;
        }
    }

    function _actor(uint256 i) internal view returns (address) {
        return actors[i % actors.length];
    }

    function _job(uint256 i) internal view returns (uint256) {
        return jobIds[i % jobIds.length];
    }
}
