// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobMarket} from "../../src/JobMarket.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {GameDriver} from "../game/GameDriver.sol";
import {WorldStore} from "../game/WorldStore.sol";
import {ToyAlu} from "../game/ToyAlu.sol";
import {ToySemantics} from "../game/ToyProgram.sol";
import {DevToken} from "../../src/devnet/DevToken.sol";

/// @notice Random markets (random burn rates), jobs by an honest solver and by a cheating one,
///         and games by an honest watchtower, the cheater's sock puppets and malicious
///         challengers, played to any depth in any order, with timeouts, settlements,
///         finalizations and withdrawals in between (PROPERTIES.md, P1–P4). Jobs are paid
///         in ETH or in an ERC-20 token (`usd`); every property holds in each currency apart.
///
///         Who is honest is what the properties are about, so honest actors behave as the
///         reference agents do: before any time passes (`warp`), every honest side whose turn
///         it is moves (it "answers within its clock"), and the honest watchtower challenges
///         every lying result whose window is open. Everyone else moves only when the fuzzer
///         says so, with its own beliefs, and may stop at any point.
contract EconomicsHandler is GameDriver, WorldStore {
    uint8 internal constant TRUTH = 0;
    uint256 internal constant WORLDS = 3;
    uint256 internal constant MAX_MARKETS = 4;
    uint256 internal constant BPS = 10_000;

    enum Role {
        Honest, // the honest watchtower
        Puppet, // one of the cheating solver's own accounts
        Malicious // an independent challenger of an honest result
    }

    struct JobInfo {
        JobMarket market;
        uint256 id;
        uint8 world; // what the solver committed: TRUTH, or a lie
    }

    struct GameInfo {
        JobMarket market;
        uint256 id;
        uint256 job; // index into `jobs`
        uint8 belief; // the world the challenger plays from
        Role role;
    }

    JobMarket[] public markets;
    JobInfo[] public jobs;
    GameInfo[] public games;

    address public submitter_ = makeAddr("eco.submitter");
    address public honestSolver = makeAddr("eco.honestSolver");
    address public cheater = makeAddr("eco.cheater");
    address public watchtower = makeAddr("eco.watchtower");
    address[2] public puppets = [makeAddr("eco.puppet0"), makeAddr("eco.puppet1")];
    address[2] public attackers = [makeAddr("eco.attacker0"), makeAddr("eco.attacker1")];

    /// @notice The token of the token jobs (challenger bonds stay in ETH).
    DevToken public usd;
    mapping(address actor => uint256 balance) public startBalance;
    mapping(address actor => uint256 balance) public startTokens;
    /// @notice How far the campaign got (printed by the test): moves made, moves below L1,
    ///         games decided by the ALU.
    uint256 public moves;
    uint256 public deepMoves;
    uint256 public terminalViolations;
    mapping(bytes32 key => uint8 status) internal terminalSeen;

    constructor() {
        alu = new ToyAlu();
        sem = new ToySemantics();
        Lie memory none;
        storeWorld(TRUTH, build(none));
        storeWorld(1, build(Lie(true, 3, 0, 2, 0, 100))); // deep in a long program
        storeWorld(2, build(Lie(true, 0, 2, 0, 299, 1))); // the initial weights
        usd = new DevToken();
        address[8] memory all = _actors();
        for (uint256 i; i < all.length; ++i) {
            vm.deal(all[i], 1_000_000 ether);
            startBalance[all[i]] = all[i].balance;
            usd.mint(all[i], 1_000_000 ether);
            startTokens[all[i]] = usd.balanceOf(all[i]);
        }
        _newMarket(BURN_BPS);
    }

    // ------------------------------------------------------------------ actions

    function newMarket(uint16 burnBps) external {
        if (markets.length < MAX_MARKETS) _newMarket(bound(burnBps, 1, BPS - 1));
    }

    /// @notice A job posted, claimed and submitted: by the honest solver (the truth) or by the
    ///         cheater (one of the lies).
    function postJob(uint256 marketIndex, uint96 reward, uint96 bond, uint8 lie) external {
        JobMarket m = markets[marketIndex % markets.length];
        reward = uint96(bound(reward, 1, 100 ether));
        bond = uint96(bound(bond, CHALLENGER_BOND, 50 ether));
        vm.prank(submitter_);
        uint256 id = m.postJob{value: reward}(
            toySpec(), uint64(block.timestamp + 1 hours), uint64(block.timestamp + 2 days), bond, WINDOW
        );
        _claimAndSubmit(m, id, uint8(lie % WORLDS), bond);
    }

    /// @notice The same, paid in the token: reward and solver bond in `usd` (any bond > 0).
    function postTokenJob(uint256 marketIndex, uint96 reward, uint96 bond, uint8 lie) external {
        JobMarket m = markets[marketIndex % markets.length];
        reward = uint96(bound(reward, 1, 100 ether));
        bond = uint96(bound(bond, 1, 50 ether));
        vm.prank(submitter_);
        uint256 id = m.postTokenJob(
            toySpec(),
            uint64(block.timestamp + 1 hours),
            uint64(block.timestamp + 2 days),
            bond,
            WINDOW,
            address(usd),
            reward
        );
        _claimAndSubmit(m, id, uint8(lie % WORLDS), 0);
    }

    function _claimAndSubmit(JobMarket m, uint256 id, uint8 world, uint256 value) internal {
        address who = world == TRUTH ? honestSolver : cheater;
        vm.prank(who);
        m.claimJob{value: value}(id);
        bytes32[] memory roots = checkpointRoots(storedRoots[world]);
        World memory w = loadWorld(world);
        vm.prank(who);
        m.submitResult(id, traceRootOf(roots), roots, weightsRoot(w, STEPS), optimizerRoot(w, STEPS));
        jobs.push(JobInfo(m, id, world));
        _observe();
    }

    /// @notice The honest watchtower challenges a lying result at its first wrong checkpoint.
    function challengeHonestly(uint256 jobIndex) external {
        if (jobs.length == 0) return;
        _challengeHonestly(jobIndex % jobs.length);
        _observe();
    }

    /// @notice One of the cheater's sock puppets challenges one of the cheater's results, at
    ///         any checkpoint, believing the truth (so it can refute the lie, if it plays).
    function challengeAsPuppet(uint256 jobIndex, uint8 puppet, uint64 checkpoint) external {
        if (jobs.length == 0) return;
        uint256 j = jobIndex % jobs.length;
        if (jobs[j].world == TRUTH) return;
        _open(j, puppets[puppet % 2], checkpoint, TRUTH, Role.Puppet);
        _observe();
    }

    /// @notice A malicious challenger disputes an honest result at any checkpoint, believing
    ///         one of the lies.
    function challengeMaliciously(uint256 jobIndex, uint8 attacker, uint64 checkpoint, uint8 belief)
        external
    {
        if (jobs.length == 0) return;
        uint256 j = jobIndex % jobs.length;
        if (jobs[j].world != TRUTH) return;
        _open(j, attackers[attacker % 2], checkpoint, uint8(1 + belief % (WORLDS - 1)), Role.Malicious);
        _observe();
    }

    /// @notice Whoever is to move in a game makes up to `moves` moves from its own beliefs.
    function move(uint256 gameIndex, uint8 count) external {
        if (games.length == 0) return;
        uint256 i = gameIndex % games.length;
        for (uint256 k; k < 1 + count % 3; ++k) {
            if (!_tryMove(i)) break;
        }
        _observe();
    }

    function timeout(uint256 gameIndex) external {
        if (games.length == 0) return;
        GameInfo memory gi = games[gameIndex % games.length];
        try gi.market.game().timeout(gi.id) {} catch {}
        _observe();
    }

    function settle(uint256 gameIndex) external {
        if (games.length == 0) return;
        GameInfo memory gi = games[gameIndex % games.length];
        try gi.market.settleGame(gi.id) {} catch {}
        _observe();
    }

    function claimShare(uint256 gameIndex) external {
        if (games.length == 0) return;
        GameInfo memory gi = games[gameIndex % games.length];
        try gi.market.claimShare(gi.id) {} catch {}
        _observe();
    }

    function finalize(uint256 jobIndex) external {
        if (jobs.length == 0) return;
        JobInfo memory ji = jobs[jobIndex % jobs.length];
        try ji.market.finalize(ji.id) {} catch {}
        _observe();
    }

    function withdraw(uint256 actor) external {
        address who = _actors()[actor % 8];
        for (uint256 m; m < markets.length; ++m) {
            vm.prank(who);
            try markets[m].withdraw(address(0), who) {} catch {}
            vm.prank(who);
            try markets[m].withdraw(address(usd), who) {} catch {}
        }
        _observe();
    }

    /// @notice Time passes, after every honest side has answered, and every other side whose
    ///         bit in `answers` is set (bit i for game i) has too.
    function warp(uint32 seconds_, uint256 answers) external {
        for (uint256 round; round < 24; ++round) {
            bool moved = _honestActorsAct();
            for (uint256 i; i < games.length; ++i) {
                if ((answers >> (i % 256)) & 1 == 1 && !_honestToMove(i) && _tryMove(i)) moved = true;
            }
            if (!moved) break;
        }
        _honestActorsAct();
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
        _observe();
    }

    // ------------------------------------------------------------------ the end

    /// @notice Lets every game and job end (honest sides still answering, nobody else), pays
    ///         out everything and withdraws every credit.
    function drain() external {
        for (uint256 round; round < 64; ++round) {
            _honestActorsAct();
            vm.warp(block.timestamp + 1 days);
            bool live;
            for (uint256 i; i < games.length; ++i) {
                DisputeGame g = games[i].market.game();
                if (g.getGame(games[i].id).clock.phase == DisputeGame.Phase.Resolved) continue;
                try g.timeout(games[i].id) {} catch {}
                live = true;
            }
            if (!live) break;
        }
        vm.warp(block.timestamp + WINDOW);
        for (uint256 i; i < games.length; ++i) {
            try games[i].market.settleGame(games[i].id) {} catch {}
        }
        for (uint256 j; j < jobs.length; ++j) {
            try jobs[j].market.finalize(jobs[j].id) {} catch {}
        }
        for (uint256 i; i < games.length; ++i) {
            try games[i].market.claimShare(games[i].id) {} catch {}
        }
        address[8] memory all = _actors();
        for (uint256 m; m < markets.length; ++m) {
            for (uint256 a; a < all.length; ++a) {
                vm.prank(all[a]);
                try markets[m].withdraw(address(0), all[a]) {} catch {}
                vm.prank(all[a]);
                try markets[m].withdraw(address(usd), all[a]) {} catch {}
            }
            try markets[m].flushBurned(address(0)) {} catch {}
            try markets[m].flushBurned(address(usd)) {} catch {}
        }
        _observe();
    }

    // ------------------------------------------------------------------ views for the properties

    function marketCount() external view returns (uint256) {
        return markets.length;
    }

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function gameCount() external view returns (uint256) {
        return games.length;
    }

    /// @notice What an actor gained or lost overall in `token` (`address(0)`: ETH), everything
    ///         withdrawn (after `drain`).
    function net(address token, address actor) public view returns (int256) {
        if (token == address(0)) return int256(actor.balance) - int256(startBalance[actor]);
        return int256(usd.balanceOf(actor)) - int256(startTokens[actor]);
    }

    /// @notice What `market` holds of `token`.
    function balanceIn(JobMarket market, address token) public view returns (uint256) {
        return token == address(0) ? address(market).balance : usd.balanceOf(address(market));
    }

    /// @notice What `market` must hold of `token`: escrow and bonds of undecided jobs in it,
    ///         bonds of unsettled games (ETH), unclaimed shares of refuting games, and every
    ///         credit in it.
    function owedBy(JobMarket market, address token) public view returns (uint256 total) {
        for (uint256 j; j < jobs.length; ++j) {
            if (jobs[j].market != market) continue;
            JobMarket.Job memory job = market.getJob(jobs[j].id);
            if (job.token != token) continue;
            if (job.status == JobMarket.Status.Submitted) total += uint256(job.reward) + job.solverBond;
        }
        for (uint256 i; i < games.length; ++i) {
            if (games[i].market != market) continue;
            DisputeGame.Game memory g = market.game().getGame(games[i].id);
            if (!g.clock.settled) {
                if (token == address(0)) total += g.setup.bond;
                continue;
            }
            JobMarket.Job memory job = market.getJob(g.setup.jobId);
            if (job.token != token) continue;
            bool owed = job.status == JobMarket.Status.Slashed && !g.clock.solverWon;
            if (owed && !market.shareClaimed(games[i].id)) total += job.refuterShare;
        }
        address[8] memory all = _actors();
        for (uint256 a; a < all.length; ++a) {
            total += market.credits(token, all[a]);
        }
        total += market.credits(token, market.BURN_ADDRESS());
    }

    /// @notice P1's bound for the honest watchtower in `token`: Σ over its games on jobs paid
    ///         in it of an equal share of the solver's bond net of the burn, counting the
    ///         refuting games from their records.
    function honestShareFloor(address token) external view returns (uint256 total) {
        for (uint256 i; i < games.length; ++i) {
            if (games[i].role != Role.Honest) continue;
            JobInfo memory ji = jobs[games[i].job];
            JobMarket.Job memory job = ji.market.getJob(ji.id);
            if (job.token != token) continue;
            uint256 pot = job.solverBond - job.solverBond * ji.market.burnBps() / BPS;
            uint256 refutations = _refutations(games[i].job);
            require(refutations > 0, "P1: an honest watchtower's game was not won");
            total += pot / refutations;
        }
    }

    /// @notice P2's bound in `token`: the rewards of the honest solver's results paid in it.
    function honestRewards(address token) external view returns (uint256 total) {
        for (uint256 j; j < jobs.length; ++j) {
            JobMarket.Job memory job = jobs[j].market.getJob(jobs[j].id);
            if (jobs[j].world == TRUTH && job.token == token) total += job.reward;
        }
    }

    /// @notice P3's bound in `token`: the burned part of the cheater's bonds in it.
    function cheaterBurnFloor(address token) external view returns (uint256 total) {
        for (uint256 j; j < jobs.length; ++j) {
            if (jobs[j].world == TRUTH) continue;
            JobMarket m = jobs[j].market;
            JobMarket.Job memory job = m.getJob(jobs[j].id);
            if (job.token == token) total += job.solverBond * m.burnBps() / BPS;
        }
    }

    /// @notice Games the honest side lost (must stay zero): honest watchtower games the
    ///         cheater won, and games against the honest solver it lost.
    function honestLosses() external view returns (uint256 lost) {
        for (uint256 i; i < games.length; ++i) {
            DisputeGame.Game memory g = games[i].market.game().getGame(games[i].id);
            if (g.clock.phase != DisputeGame.Phase.Resolved) continue;
            bool honestSolverGame = jobs[games[i].job].world == TRUTH;
            if (honestSolverGame && !g.clock.solverWon) ++lost;
            if (games[i].role == Role.Honest && g.clock.solverWon) ++lost;
        }
    }

    /// @notice Jobs whose outcome is wrong once fixed: a lie paid, or the truth slashed.
    function wrongOutcomes() external view returns (uint256 wrong) {
        for (uint256 j; j < jobs.length; ++j) {
            JobMarket.Status s = jobs[j].market.statusOf(jobs[j].id);
            if (jobs[j].world == TRUTH && s == JobMarket.Status.Slashed) ++wrong;
            if (jobs[j].world != TRUTH && s == JobMarket.Status.Finalized) ++wrong;
        }
    }

    /// @notice Games decided by the ALU (a one-step proof), by timeout.
    function decided() external view returns (uint256 byAlu, uint256 byTime) {
        for (uint256 i; i < games.length; ++i) {
            DisputeGame.Game memory g = games[i].market.game().getGame(games[i].id);
            if (g.clock.phase != DisputeGame.Phase.Resolved) continue;
            if (g.clock.reason == DisputeGame.Reason.Timeout) ++byTime;
            else ++byAlu;
        }
    }

    function puppetsNet(address token) external view returns (int256) {
        return net(token, cheater) + net(token, puppets[0]) + net(token, puppets[1]);
    }

    // ------------------------------------------------------------------ internals

    function _newMarket(uint256 burnBps) internal {
        JobMarket.Config memory c = marketConfig();
        c.burnBps = burnBps;
        JobMarket m = new JobMarket(alu, sem, c);
        markets.push(m);
        address[8] memory all = _actors();
        for (uint256 i; i < all.length; ++i) {
            vm.prank(all[i]);
            usd.approve(address(m), type(uint256).max);
        }
    }

    function _actors() internal view returns (address[8] memory) {
        return
            [
                submitter_,
                honestSolver,
                cheater,
                watchtower,
                puppets[0],
                puppets[1],
                attackers[0],
                attackers[1]
            ];
    }

    function _refutations(uint256 j) internal view returns (uint256 count) {
        for (uint256 i; i < games.length; ++i) {
            if (games[i].job != j) continue;
            DisputeGame.Game memory g = games[i].market.game().getGame(games[i].id);
            if (g.clock.phase == DisputeGame.Phase.Resolved && !g.clock.solverWon) ++count;
        }
    }

    function _challengeHonestly(uint256 j) internal {
        JobInfo memory ji = jobs[j];
        if (ji.world == TRUTH) return;
        for (uint256 i; i < games.length; ++i) {
            if (games[i].job == j && games[i].role == Role.Honest) return; // one game is enough
        }
        bytes32[] memory posted = checkpointRoots(storedRoots[ji.world]);
        bytes32[] memory mine = checkpointRoots(storedRoots[TRUTH]);
        uint64 c;
        while (posted[c] == mine[c]) ++c; // a lie always reaches a checkpoint
        _open(j, watchtower, c, TRUTH, Role.Honest);
    }

    function _open(uint256 j, address who, uint64 checkpoint, uint8 belief, Role role) internal {
        JobInfo memory ji = jobs[j];
        JobMarket.Job memory job = ji.market.getJob(ji.id);
        if (job.status != JobMarket.Status.Submitted) return;
        if (block.timestamp >= job.submittedAt + job.challengeWindow) return;
        bytes32[] memory roots = checkpointRoots(storedRoots[ji.world]);
        bytes32[] memory leaves = traceLeaves(roots);
        uint64 c = uint64(bound(checkpoint, 0, roots.length - 1));
        vm.prank(who);
        uint256 id = ji.market.challenge{value: CHALLENGER_BOND}(
            ji.id,
            c,
            c == 0 ? bytes32(0) : roots[c - 1],
            c == 0 ? new bytes32[](0) : path(leaves, c - 1),
            roots[c],
            path(leaves, c)
        );
        games.push(GameInfo(ji.market, id, j, belief, role));
    }

    /// @dev Every honest side whose turn it is moves until it is not; the honest watchtower
    ///      challenges every lying result it has not yet challenged.
    function _honestActorsAct() internal returns (bool moved) {
        for (uint256 j; j < jobs.length; ++j) {
            _challengeHonestly(j);
        }
        for (uint256 i; i < games.length; ++i) {
            for (uint256 k; k < 8 && _honestToMove(i); ++k) {
                if (!_tryMove(i)) break;
                moved = true;
            }
        }
    }

    function _honestToMove(uint256 i) internal view returns (bool) {
        GameInfo memory gi = games[i];
        DisputeGame d = gi.market.game();
        if (d.getGame(gi.id).clock.phase == DisputeGame.Phase.Resolved) return false;
        (address mover,) = d.turn(gi.id);
        return mover == honestSolver || (mover == watchtower && gi.role == Role.Honest);
    }

    /// @dev One move by whoever is to move, from its own world; false if none was made.
    function _tryMove(uint256 i) internal returns (bool) {
        try this.moveOnce(i) returns (bool deep) {
            ++moves;
            if (deep) ++deepMoves;
            return true;
        } catch {
            return false;
        }
    }

    /// @notice Self-call only (so a failing move reverts alone).
    function moveOnce(uint256 i) external returns (bool deep) {
        require(msg.sender == address(this), "internal");
        GameInfo memory gi = games[i];
        market = gi.market;
        game = gi.market.game();
        DisputeGame.Game memory g = game.getGame(gi.id);
        require(g.clock.phase != DisputeGame.Phase.Resolved, "resolved");
        uint8 solverWorld = jobs[gi.job].world;
        (address mover,) = game.turn(gi.id);
        // Moves of bisection need only the state roots; deeper moves the whole world.
        deep = uint8(g.clock.phase) > uint8(DisputeGame.Phase.Judge);
        World memory sw = deep ? loadWorld(solverWorld) : _rootsOnly(solverWorld);
        // What this game's solver revealed (its own world's step roots): `GameDriver` keeps
        // one copy for the one game it plays, the handler plays many.
        uint32 s = transitionOf(g);
        if (deep) revealedRoots = stepRoots(sw, s);
        if (mover == g.setup.solver) {
            _solverMove(gi.id, g, sw);
            return deep;
        }
        World memory cw = deep ? loadWorld(gi.belief) : _rootsOnly(gi.belief);
        // What the solver revealed, as the challenger reads it from the chain.
        if (deep) {
            if (
                g.clock.phase == DisputeGame.Phase.NameElement
                    || g.clock.phase == DisputeGame.Phase.NameMicroStep
            ) {
                revealedLeaf = treeLeaf(g, sw, g.descent.nodeIndex);
            }
        }
        _challengerMove(gi.id, g, cw);
    }

    function _rootsOnly(uint8 world) internal view returns (World memory w) {
        w.stateRoots = storedRoots[world];
    }

    /// @dev Counts any job that left a terminal status.
    function _observe() internal {
        for (uint256 j; j < jobs.length; ++j) {
            bytes32 key = keccak256(abi.encode(jobs[j].market, jobs[j].id));
            uint8 status = uint8(jobs[j].market.statusOf(jobs[j].id));
            uint8 seen = terminalSeen[key];
            if (seen != 0 && seen != status) ++terminalViolations;
            if (status >= uint8(JobMarket.Status.Finalized)) terminalSeen[key] = status;
        }
    }
}
