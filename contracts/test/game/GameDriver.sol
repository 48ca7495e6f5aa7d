// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {IStepSemantics} from "../../src/interfaces/IStepSemantics.sol";
import {Commitments} from "../../src/lib/Commitments.sol";
import {ToyAlu} from "./ToyAlu.sol";
import {ToyProgram, ToySemantics} from "./ToyProgram.sol";
import {ToyWorld} from "./ToyWorld.sol";

/// @notice Deploys a market over the toy model and plays games between a solver and a
///         challenger, each acting only on its own `World` and on what the other side
///         revealed on chain. Both follow the honest-agent strategy of docs/dispute-game.md:
///         the solver answers from its trace; the challenger always descends into the first
///         place where the solver's commitment differs from its own.
abstract contract GameDriver is Test, ToyWorld {
    JobMarket internal market;
    DisputeGame internal game;
    ToyAlu internal alu;
    ToySemantics internal sem;

    address internal submitter = makeAddr("submitter");
    address internal solver = makeAddr("solver");
    address internal challenger = makeAddr("challenger");

    uint256 internal constant REWARD = 10 ether;
    uint128 internal constant SOLVER_BOND = 3 ether;
    uint256 internal constant CHALLENGER_BOND = 1 ether;
    uint256 internal constant BURN_BPS = 2000;
    uint64 internal constant CLOCK = 1 hours;
    uint64 internal constant EXTENSION = 30 minutes;
    uint64 internal constant WINDOW = 1 days;
    uint64 internal constant MOVE_TIME = 30;
    uint64 internal constant REPLAY_RATE = 1e6;

    // Gas of every move, when recording: "<level>.<move>" and a transaction's gas.
    bool internal recordGas;
    string[] internal gasLabels;
    uint256[] internal gasUsed;
    uint256 internal lastTxGas;

    // When set, `play` leaves a decided game unpaid (the test settles it itself).
    bool internal noAutoSettle;

    // Who sends the next move (`_send`); nobody in particular when zero.
    address internal sender;

    // What the solver revealed, as the challenger read it from the chain.
    bytes32[5] internal revealedRoots;
    bytes internal revealedLeaf;

    function setUp() public virtual {
        alu = new ToyAlu();
        sem = new ToySemantics();
        market = new JobMarket(alu, sem, marketConfig());
        game = market.game();
        vm.deal(submitter, 100 ether);
        vm.deal(solver, 100 ether);
        vm.deal(challenger, 100 ether);
    }

    /// @notice The market parameters of these tests.
    function marketConfig() internal pure returns (JobMarket.Config memory) {
        return JobMarket.Config({
            challengerBond: CHALLENGER_BOND,
            burnBps: BURN_BPS,
            clock: CLOCK,
            extension: EXTENSION,
            moveTime: MOVE_TIME,
            replayRate: REPLAY_RATE
        });
    }

    // ------------------------------------------------------------------ job setup

    function postToyJob() internal returns (uint256 jobId) {
        vm.prank(submitter);
        jobId = market.postJob{value: REWARD}(
            toySpec(),
            uint64(block.timestamp + 1 hours),
            uint64(block.timestamp + 2 days),
            SOLVER_BOND,
            WINDOW
        );
    }

    function submitWorld(uint256 jobId, World memory sw) internal {
        vm.prank(solver);
        market.claimJob{value: SOLVER_BOND}(jobId);
        submitClaimed(jobId, sw);
    }

    function submitClaimed(uint256 jobId, World memory sw) internal {
        bytes32[] memory roots = checkpointRoots(sw);
        vm.prank(solver);
        market.submitResult(
            jobId, traceRootOf(roots), roots, weightsRoot(sw, STEPS), optimizerRoot(sw, STEPS)
        );
    }

    /// @notice The challenger opens at the first checkpoint where the solver's posted roots
    ///         differ from its own; returns 0 when it finds nothing to dispute.
    function openChallenge(uint256 jobId, World memory sw, World memory cw) internal returns (uint256) {
        bytes32[] memory posted = checkpointRoots(sw);
        bytes32[] memory mine = checkpointRoots(cw);
        bytes32[] memory leaves = traceLeaves(posted);
        for (uint64 c; c < posted.length; ++c) {
            if (posted[c] == mine[c]) continue;
            bytes32[] memory none = new bytes32[](0);
            bytes memory data = abi.encodeCall(
                market.challenge,
                (
                    jobId,
                    c,
                    c == 0 ? bytes32(0) : posted[c - 1],
                    c == 0 ? none : path(leaves, c - 1),
                    posted[c],
                    path(leaves, c)
                )
            );
            _coolAll();
            vm.prank(challenger);
            (bool ok, bytes memory ret) = address(market).call{value: CHALLENGER_BOND}(data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
            lastTxGas = txGas(data, vm.lastCallGas().gasTotalUsed);
            return abi.decode(ret, (uint256));
        }
        return 0;
    }

    // ------------------------------------------------------------------ playing

    /// @notice Plays until the game resolves or `maxMoves` moves were made.
    function play(uint256 gameId, World memory sw, World memory cw, uint256 maxMoves)
        internal
        returns (uint256 moves)
    {
        while (moves < maxMoves) {
            DisputeGame.Game memory g = game.getGame(gameId);
            if (g.clock.phase == DisputeGame.Phase.Resolved) {
                // The winner collects: paying out is a transaction of its own (a refuter's
                // share of the solver's bond comes later, `closeJob`).
                if (!g.clock.settled && !noAutoSettle) market.settleGame(gameId);
                return moves;
            }
            vm.warp(block.timestamp + 60);
            (address mover,) = game.turn(gameId); // the contract says whose move it is
            if (mover == g.setup.solver) _solverMove(gameId, g, sw);
            else _challengerMove(gameId, g, cw);
            if (recordGas) {
                gasLabels.push(moveLabel(g));
                gasUsed.push(lastTxGas);
            }
            ++moves;
        }
    }

    /// @notice Plays until the game reaches `phase` (or resolves).
    function playUntil(uint256 gameId, World memory sw, World memory cw, DisputeGame.Phase phase) internal {
        while (
            game.getGame(gameId).clock.phase != phase
                && game.getGame(gameId).clock.phase != DisputeGame.Phase.Resolved
        ) {
            play(gameId, sw, cw, 1);
        }
    }

    /// @notice Sends one move as its own call and prices it as a transaction: execution gas
    ///         plus intrinsic gas (21000 + calldata, with the EIP-7623 floor of Prague).
    function _send(bytes memory data) internal {
        _coolAll(); // each move is its own transaction on a real chain: storage starts cold
        if (sender != address(0)) vm.prank(sender);
        sender = address(0);
        (bool ok, bytes memory ret) = address(game).call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        lastTxGas = txGas(data, vm.lastCallGas().gasTotalUsed);
    }

    /// @dev Marks every contract's storage cold, as at the start of a transaction.
    function _coolAll() internal {
        vm.cool(address(game));
        vm.cool(address(market));
        vm.cool(address(alu));
        vm.cool(address(sem));
    }

    function txGas(bytes memory data, uint256 execution) internal pure returns (uint256) {
        uint256 zeros;
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) ++zeros;
        }
        uint256 tokens = zeros + 4 * (data.length - zeros);
        uint256 standard = 21_000 + 4 * tokens + execution;
        uint256 floor = 21_000 + 10 * tokens;
        return standard > floor ? standard : floor;
    }

    /// @notice A move's label, by level: L1 steps, L2 produced lists, L3 tensor, L4 micro-trace.
    function moveLabel(DisputeGame.Game memory g) internal pure returns (string memory) {
        DisputeGame.Phase p = g.clock.phase;
        if (p == DisputeGame.Phase.Bisect) return "L1.bisect";
        if (p == DisputeGame.Phase.Judge) return "L1.judge";
        if (p == DisputeGame.Phase.RevealStep) return "L2.revealStep";
        if (p == DisputeGame.Phase.ChooseList) return "L2.chooseList";
        string memory level = g.descent.tree == DisputeGame.Tree.StepList
            ? "L2"
            : (g.descent.tree == DisputeGame.Tree.Tensor ? "L3" : "L4");
        if (p == DisputeGame.Phase.Reveal) return string.concat(level, ".reveal");
        if (p == DisputeGame.Phase.Pick) return string.concat(level, ".pick");
        if (p == DisputeGame.Phase.OpenTensor) return "L3.openTensor";
        if (p == DisputeGame.Phase.RevealLeaf) return string.concat(level, ".revealLeaf");
        if (p == DisputeGame.Phase.NameElement) return "L3.nameElement";
        if (p == DisputeGame.Phase.CommitMicro) return "L4.commitMicroTrace";
        if (p == DisputeGame.Phase.ChooseMicro) return "L4.chooseMicro";
        if (p == DisputeGame.Phase.NameMicroStep) return "L4.nameMicroStep";
        return "L4.proveStep";
    }

    function transitionOf(DisputeGame.Game memory g) internal pure returns (uint32) {
        return g.setup.init ? 0 : uint32(g.range.lo) + 1;
    }

    function _idOf(DisputeGame.Game memory g) internal pure returns (IStepSemantics.TensorId memory) {
        return tensorId(transitionOf(g), g.descent.list, g.descent.tensorIndex);
    }

    /// @notice The leaves of the tree a descent currently runs over, in world `w`.
    function treeLeaves(DisputeGame.Game memory g, World memory w) internal pure returns (bytes32[] memory) {
        uint32 s = transitionOf(g);
        if (g.descent.tree == DisputeGame.Tree.StepList) {
            return listLeaves(produced(w, s, g.descent.list), s, g.descent.list);
        }
        if (g.descent.tree == DisputeGame.Tree.Tensor) return leafHashes(treeValues(g, w));
        return microLeafHashes(treeValues(g, w));
    }

    /// @notice Leaf `leaf` under a Tensor (1 KiB) or MicroTrace (128 bytes) descent.
    function treeLeaf(DisputeGame.Game memory g, World memory w, uint256 leaf)
        internal
        pure
        returns (bytes memory)
    {
        if (g.descent.tree == DisputeGame.Tree.Tensor) return leafBytes(treeValues(g, w), leaf);
        return microLeafBytes(treeValues(g, w), leaf);
    }

    /// @notice The values under a Tensor or MicroTrace descent, in world `w`.
    function treeValues(DisputeGame.Game memory g, World memory w) internal pure returns (uint32[] memory) {
        uint32 s = transitionOf(g);
        if (g.descent.tree == DisputeGame.Tree.Tensor) {
            return produced(w, s, g.descent.list)[g.descent.tensorIndex];
        }
        return microPrefix(w, g);
    }

    /// @notice x_0 … x_{n−2} of the disputed element, in world `w`.
    function microPrefix(World memory w, DisputeGame.Game memory g)
        internal
        pure
        returns (uint32[] memory prefix)
    {
        (, uint32[] memory trace) = evaluate(w, transitionOf(g), _idOf(g), g.target.element);
        prefix = new uint32[](trace.length - 1);
        for (uint256 i; i < prefix.length; ++i) {
            prefix[i] = trace[i];
        }
    }

    function stepRoots(World memory w, uint32 s) internal pure returns (bytes32[5] memory roots) {
        Transition memory tr = w.transitions[s];
        if (s > 0) {
            roots[0] = listMerkle(tr.inter, s, 0);
            roots[3] = listMerkle(w.transitions[s - 1].opt, s - 1, 1);
            roots[4] = listMerkle(w.transitions[s - 1].w, s - 1, 2);
        }
        roots[1] = listMerkle(tr.opt, s, 1);
        roots[2] = listMerkle(tr.w, s, 2);
    }

    function _solverMove(uint256 gameId, DisputeGame.Game memory g, World memory sw) internal {
        bytes memory spec = toySpec();
        sender = g.setup.solver;
        if (g.clock.phase == DisputeGame.Phase.Bisect) {
            uint64 mid = g.range.lo + (g.range.hi - g.range.lo) / 2;
            _send(abi.encodeCall(game.bisect, (gameId, mid, sw.stateRoots[mid])));
        } else if (g.clock.phase == DisputeGame.Phase.RevealStep) {
            revealedRoots = stepRoots(sw, transitionOf(g));
            _send(abi.encodeCall(game.revealStep, (gameId, spec, revealedRoots)));
        } else if (g.clock.phase == DisputeGame.Phase.Reveal) {
            bytes32[] memory leaves = treeLeaves(g, sw);
            bytes32 left = subtree(leaves, g.descent.depth - 1, 2 * g.descent.nodeIndex);
            bytes32 right = subtree(leaves, g.descent.depth - 1, 2 * g.descent.nodeIndex + 1);
            _send(abi.encodeCall(game.reveal, (gameId, g.descent.depth, g.descent.nodeIndex, left, right)));
        } else if (g.clock.phase == DisputeGame.Phase.OpenTensor) {
            _send(
                abi.encodeCall(
                    game.openTensor,
                    (
                        gameId,
                        spec,
                        tensorMerkle(produced(sw, transitionOf(g), g.descent.list)[g.descent.tensorIndex])
                    )
                )
            );
        } else if (g.clock.phase == DisputeGame.Phase.RevealLeaf) {
            revealedLeaf = treeLeaf(g, sw, g.descent.nodeIndex);
            _send(abi.encodeCall(game.revealLeaf, (gameId, revealedLeaf)));
        } else if (g.clock.phase == DisputeGame.Phase.CommitMicro) {
            uint32[] memory tensor = produced(sw, transitionOf(g), g.descent.list)[g.descent.tensorIndex];
            uint32[] memory prefix = microPrefix(sw, g);
            bytes32 merkle = prefix.length == 0 ? bytes32(0) : microMerkle(prefix);
            _send(
                abi.encodeCall(
                    game.commitMicroTrace, (gameId, spec, leafBytes(tensor, g.target.element / 256), merkle)
                )
            );
        } else {
            _send(abi.encodeCall(game.proveStep, (gameId, spec, buildProof(g, sw))));
        }
    }

    /// @notice Pays out every decided game of the job, lets the window pass, fixes the job's
    ///         outcome (every game must be decided) and claims every refuting game's share.
    function closeJob(uint256 jobId) internal {
        uint256 count = game.gameCount();
        for (uint256 id = 1; id <= count; ++id) {
            DisputeGame.Game memory g = game.getGame(id);
            if (g.setup.jobId == jobId && g.clock.phase == DisputeGame.Phase.Resolved && !g.clock.settled) {
                market.settleGame(id);
            }
        }
        JobMarket.Job memory j = market.getJob(jobId);
        if (block.timestamp < j.submittedAt + j.challengeWindow) vm.warp(j.submittedAt + j.challengeWindow);
        market.finalize(jobId);
        for (uint256 id = 1; id <= count; ++id) {
            DisputeGame.Game memory g = game.getGame(id);
            if (g.setup.jobId == jobId && !g.clock.solverWon) market.claimShare(id);
        }
    }

    function _challengerMove(uint256 gameId, DisputeGame.Game memory g, World memory cw) internal {
        sender = g.setup.challenger;
        if (g.clock.phase == DisputeGame.Phase.Judge) {
            uint64 mid = g.range.lo + (g.range.hi - g.range.lo) / 2;
            _send(abi.encodeCall(game.judge, (gameId, mid, g.range.midRoot == cw.stateRoots[mid])));
        } else if (g.clock.phase == DisputeGame.Phase.ChooseList) {
            bytes32[5] memory mine = stepRoots(cw, transitionOf(g));
            uint8 list;
            DisputeGame.StepCommitment memory step = revealedStep(g);
            while (list < 2 && (revealedRoots[list] == mine[list] || step.counts[list] == 0)) ++list;
            _send(abi.encodeCall(game.chooseList, (gameId, list, step)));
        } else if (g.clock.phase == DisputeGame.Phase.Pick) {
            bytes32 myLeft = subtree(treeLeaves(g, cw), g.descent.depth - 1, 2 * g.descent.nodeIndex);
            _send(
                abi.encodeCall(
                    game.pick, (gameId, g.descent.depth, g.descent.nodeIndex, g.descent.left == myLeft)
                )
            );
        } else if (g.clock.phase == DisputeGame.Phase.NameElement) {
            _send(abi.encodeCall(game.nameElement, (gameId, g.descent.nodeIndex * 256 + _firstDiff(g, cw))));
        } else if (g.clock.phase == DisputeGame.Phase.ChooseMicro) {
            uint32[] memory mine = microPrefix(cw, g);
            bool last = mine.length == 0 || microMerkle(mine) == g.target.microMerkle;
            _send(abi.encodeCall(game.chooseMicro, (gameId, last)));
        } else {
            _send(
                abi.encodeCall(
                    game.nameMicroStep,
                    (gameId, uint32(g.descent.nodeIndex * Commitments.MICRO_LEAF_VALUES + _firstDiff(g, cw)))
                )
            );
        }
    }

    /// @notice The step commitment as the solver revealed it (the counts are the model's).
    function revealedStep(DisputeGame.Game memory g)
        internal
        view
        returns (DisputeGame.StepCommitment memory step)
    {
        step.roots = revealedRoots;
        (step.counts[0], step.counts[1], step.counts[2]) = ToyProgram.counts(g.setup.init);
        if (g.setup.init && sem.initialModel() != bytes32(0)) step.counts[2] = 0; // bound, not disputed
    }

    /// @notice The first value of the revealed leaf that differs from the challenger's own.
    function _firstDiff(DisputeGame.Game memory g, World memory cw) internal view returns (uint64) {
        bytes memory mine = treeLeaf(g, cw, g.descent.nodeIndex);
        for (uint64 i; i < mine.length / 4; ++i) {
            for (uint256 b; b < 4; ++b) {
                if (mine[4 * i + b] != revealedLeaf[4 * i + b]) return i;
            }
        }
        return 0; // nothing differs: an honest challenger never gets here
    }

    // ------------------------------------------------------------------ the one-step proof

    function buildProof(DisputeGame.Game memory g, World memory sw)
        internal
        view
        returns (DisputeGame.StepProof memory proof)
    {
        proof.step = revealedStep(g);
        uint32 s = transitionOf(g);
        IStepSemantics.TensorId memory id = _idOf(g);
        IStepSemantics.Instruction memory ins =
            ToyProgram.instruction(id, g.target.element, g.target.microStep);
        uint32[] memory prefix = microPrefix(sw, g);
        for (uint256 i; i < 4; ++i) {
            IStepSemantics.Operand memory op = ins.operands[i];
            if (op.kind == IStepSemantics.OperandKind.Step) {
                uint256 leaf = op.index / Commitments.MICRO_LEAF_VALUES;
                proof.operands[i].leaf = microLeafBytes(prefix, leaf);
                proof.operands[i].leafPath = path(microLeafHashes(prefix), leaf);
            } else if (op.kind == IStepSemantics.OperandKind.Input) {
                proof.operands[i] = _inputProof(sw, s, id, op);
            }
        }
        if (g.target.microStep + 1 < g.target.programLength) {
            uint256 leaf = g.target.microStep / Commitments.MICRO_LEAF_VALUES;
            proof.resultLeaf = microLeafBytes(prefix, leaf);
            proof.resultPath = path(microLeafHashes(prefix), leaf);
        }
    }

    function _inputProof(
        World memory sw,
        uint32 s,
        IStepSemantics.TensorId memory id,
        IStepSemantics.Operand memory op
    ) internal pure returns (DisputeGame.OperandProof memory p) {
        IStepSemantics.TensorSource memory src = ToyProgram.inputOf(id, op.slot);
        uint32[] memory values = sourceTensors(sw, s, src.source)[src.index];
        p.tensorMerkle = tensorMerkle(values);
        p.leaf = leafBytes(values, op.index / 256);
        p.leafPath = path(leafHashes(values), op.index / 256);
        uint8 source = uint8(src.source);
        if (source <= 2) {
            p.listPath = path(listLeaves(produced(sw, s, source), s, source), src.index);
        } else if (source <= 4) {
            uint8 list = source - 2; // OldOptimizer → 1, OldWeights → 2
            p.listPath = path(listLeaves(produced(sw, s - 1, list), s - 1, list), src.index);
        } else if (source == 5) {
            p.otherRoot = tensorRootOf(sw.labels, _shape(4, 0));
            p.datasetClasses = 2;
        } else {
            p.otherRoot = tensorRootOf(sw.features, _shape(4, 3));
            p.datasetClasses = 2;
        }
    }
}
