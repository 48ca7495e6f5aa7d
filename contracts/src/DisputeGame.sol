// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Commitments} from "./lib/Commitments.sol";
import {JobSpecCodec} from "./lib/JobSpecCodec.sol";
import {IFp32Alu} from "./interfaces/IFp32Alu.sol";
import {IStepSemantics} from "./interfaces/IStepSemantics.sol";
import {StepWords} from "./lib/StepWords.sol";

/// @title DisputeGame
/// @notice Truebit-style multi-level dispute games, one per challenge, between a job's
///         solver and one challenger. The solver proves; the challenger only points: it
///         never commits to a trace of its own, it names where the solver's commitments are
///         wrong, and the chain finally executes one fp32 primitive of the solver's claimed
///         computation. `docs/dispute-game.md` walks through every move.
///
///         L1  bisection over the k steps between two checkpoints (solver posts midpoints,
///             challenger agrees or not) down to one step t;
///         L2  the solver reveals step t: its S_t and S_{t+1} lists and the root of the
///             step's intermediate tensors; a Merkle descent picks one produced tensor;
///         L3  a Merkle descent over that tensor's 1 KiB leaves; the challenger names an
///             element e;
///         L4  the solver commits to e's micro-trace; a Merkle descent names micro-step k;
///             the solver proves k's operands and the ALU decides.
/// @dev    Every move names the position it answers (step, depth, index), so a replayed or
///         stale transaction can never be applied to a later position. The side to move is
///         fixed by the phase; each side has a chess clock and loses when it runs out.
contract DisputeGame {
    using Commitments for bytes;

    enum Phase {
        None,
        Bisect, // solver: post the state root at the midpoint
        Judge, // challenger: agree or disagree with it
        RevealStep, // solver: reveal the lists of S_t, S_{t+1} and the intermediates
        ChooseList, // challenger: pick the produced list to descend
        Reveal, // solver: reveal the two children of the current node
        Pick, // challenger: pick one child
        OpenTensor, // solver: open the tensor root at the picked list position
        RevealLeaf, // solver: reveal the values of the picked leaf (256 of a tensor, 32 of a micro-trace)
        NameElement, // challenger: name one element of the leaf
        CommitMicro, // solver: commit to that element's micro-trace
        ChooseMicro, // challenger: dispute the final micro-step or descend into the trace
        NameMicroStep, // challenger: name one micro-step of the revealed leaf
        ProveStep, // solver: prove the operands of the named micro-step
        Resolved
    }

    /// @notice Which tree a Merkle descent runs over.
    enum Tree {
        StepList, // a produced list of step t (its leaves are tensor roots)
        Tensor, // one tensor (its leaves are 256-value leaves)
        MicroTrace // one element's micro-trace (32-value leaves)
    }

    /// @notice How a game was decided.
    enum Reason {
        StepProved, // the ALU's result matched the solver's claim
        StepRefuted, // the ALU's result differed from the solver's claim
        Timeout // the side to move ran out of time
    }

    /// @notice What the market passes when it opens a game.
    struct Opening {
        uint256 jobId;
        address solver;
        address challenger;
        bytes32 jobHash;
        uint64 rngKey;
        uint32 batch;
        bool init;
        uint32 checkpoint;
        uint64 lo;
        uint64 hi;
        bytes32 loRoot;
        bytes32 hiRoot;
        uint256 bond;
    }

    /// @notice Who plays, for which job and bond.
    struct Setup {
        uint256 jobId;
        address solver;
        uint64 rngKey;
        address challenger;
        uint32 batch;
        bool init;
        uint32 checkpoint; // c: the game disputes checkpoint c (0: the initial state)
        uint256 bond;
        bytes32 jobHash;
    }

    /// @notice Whose turn it is, the chess clocks, and the result.
    struct Clock {
        Phase phase;
        bool settled;
        bool solverWon;
        Reason reason;
        uint64 lastMoveAt;
        uint64 solverClock;
        uint64 challengerClock;
        uint32 creditedGames; // games of the job already credited to the solver's clock
    }

    /// @notice L1: the step range [lo, hi] with S_lo accepted and S_hi disputed.
    struct Range {
        uint64 lo;
        uint64 hi;
        bytes32 loRoot;
        bytes32 hiRoot;
        bytes32 midRoot;
    }

    /// @notice L2–L4: the Merkle descent in progress.
    struct Descent {
        Tree tree;
        uint8 list;
        uint32 tensorIndex;
        uint8 depth;
        uint64 nodeIndex;
        uint64 leafCount;
        uint64 tensorLength;
        bytes32 stepRoots;
        bytes32 node;
        bytes32 left;
        bytes32 right;
    }

    /// @notice L3–L4: the disputed element and micro-step.
    struct Target {
        uint64 element;
        uint32 value;
        uint32 programLength;
        uint32 microStep;
        bytes32 microMerkle;
    }

    /// @notice One game. Grouped so that every part fits an ABI tuple.
    struct Game {
        Setup setup;
        Clock clock;
        Range range;
        Descent descent;
        Target target;
    }

    /// @notice What the solver revealed at RevealStep: the five list Merkle roots and the
    ///         sizes of the three produced lists. Only its hash is stored; the moves that
    ///         need it take it as calldata.
    struct StepCommitment {
        bytes32[5] roots;
        uint32[3] counts;
    }

    /// @notice The proof of one operand of the disputed micro-step.
    /// @param tensorMerkle the Merkle root of the input tensor (inputs only)
    /// @param otherRoot    for dataset inputs: the root of the dataset's other tensor
    /// @param datasetClasses for dataset inputs: the class count the dataset root commits to,
    ///                     the data's own (its largest label plus one), which the spec's may
    ///                     exceed (a vocabulary wider than the tokens a corpus uses); the root
    ///                     binds it
    /// @param listPath     the input tensor root's path in its list (list inputs only)
    /// @param leaf         the 1 KiB leaf holding the element
    /// @param leafPath     the leaf's path in the tensor or micro-trace tree
    struct OperandProof {
        bytes32 tensorMerkle;
        bytes32 otherRoot;
        uint64 datasetClasses;
        bytes32[] listPath;
        bytes leaf;
        bytes32[] leafPath;
    }

    /// @notice The solver's proof of micro-step k.
    /// @param step        the step commitment revealed at RevealStep
    /// @param operands    one proof per operand slot (unused slots may be empty)
    /// @param resultLeaf  the micro-trace leaf holding x_k (unless k is the last step)
    /// @param resultPath  its path
    struct StepProof {
        StepCommitment step;
        OperandProof[4] operands;
        bytes resultLeaf;
        bytes32[] resultPath;
    }

    /// @dev An operand's 62 bits in an instruction word (`StepWords`).
    uint256 private constant OPERAND_MASK = (1 << 62) - 1;

    /// @notice The market that opens games and settles their bonds.
    address public market;
    /// @notice The fp32 ALU of the last step.
    /// @dev    Immutable, like {semantics}: the one-step proof reads both, and two cold
    ///         storage reads cost it 4.2k gas. The deployment check masks immutables when it
    ///         compares runtime code and checks their values through these getters
    ///         (`vtrain_dispute::deployment`).
    IFp32Alu public immutable alu;
    /// @notice The step semantics: op graph and operand locators.
    IStepSemantics public immutable semantics;
    /// @notice Each side's clock at the start of a game, in seconds.
    uint64 public clock;
    /// @notice Seconds for one game's replay (a checkpoint interval, then the disputed step
    ///         instrumented): in every game, the solver's clock gets one for each game opened
    ///         on the job, before or after; the challenger's one at the opening and one when
    ///         it must replay the disputed step.
    uint64 public extension;

    mapping(uint256 gameId => Game game) internal games;
    /// @notice How many games have been opened on each job: the replays its solver may have
    ///         to make, each of which every game's solver clock is credited with.
    mapping(uint256 jobId => uint32 games) public gamesOpened;
    /// @notice The number of games opened so far (ids start at 1).
    uint256 public gameCount;

    event GameOpened(
        uint256 indexed gameId,
        uint256 indexed jobId,
        address indexed challenger,
        address solver,
        bool init,
        uint64 lo,
        uint64 hi,
        bytes32 loRoot,
        bytes32 hiRoot
    );
    event MidpointPosted(uint256 indexed gameId, uint64 step, bytes32 root);
    event MidpointJudged(uint256 indexed gameId, uint64 step, bool agree, uint64 lo, uint64 hi);
    event StepRevealed(uint256 indexed gameId, uint64 step, bytes32[5] roots, uint32[3] counts);
    event ListChosen(uint256 indexed gameId, uint8 list, uint32 count);
    event NodeRevealed(
        uint256 indexed gameId, Tree tree, uint8 depth, uint64 index, bytes32 left, bytes32 right
    );
    event ChildPicked(uint256 indexed gameId, Tree tree, uint8 depth, uint64 index);
    event TensorOpened(uint256 indexed gameId, uint8 list, uint32 tensorIndex, bytes32 merkle, uint64 length);
    event LeafRevealed(uint256 indexed gameId, Tree tree, uint64 leafIndex, bytes values);
    event ElementNamed(uint256 indexed gameId, uint64 element);
    event MicroTraceCommitted(uint256 indexed gameId, uint32 value, uint32 programLength, bytes32 merkle);
    event MicroStepNamed(uint256 indexed gameId, uint32 microStep);
    /// @notice The challenger chose to descend into the micro-trace (`chooseMicro(false)`): every
    ///         move has its event, so a reader of the log sees each one and its sender.
    event MicroTraceEntered(uint256 indexed gameId, uint32 programLength);
    event StepExecuted(
        uint256 indexed gameId, uint8 opcode, uint32[4] operands, uint32 result, uint32 claimed
    );
    event GameResolved(uint256 indexed gameId, uint256 indexed jobId, bool solverWon, Reason reason);

    error OnlyMarket();
    error NoSuchGame(uint256 gameId);
    error WrongPhase(Phase phase);
    error NotYourTurn();
    error ClockExpired();
    error ClockRunning();
    error StalePosition();
    error ZeroHash();
    error WrongSpec();
    error StateMismatch();
    error RootsMismatch();
    error BadList(uint8 list);
    error BadReveal();
    error PadSubtree();
    error BadTensor();
    error BadElement();
    error BadMicroStep();
    error BadOperand(uint256 slot);
    error AlreadySettled();
    error NonCanonicalPadding();
    error NotTheInitialModel();

    constructor(IFp32Alu alu_, IStepSemantics semantics_, uint64 clock_, uint64 extension_) {
        market = msg.sender;
        alu = alu_;
        semantics = semantics_;
        clock = clock_;
        extension = extension_;
    }

    // ------------------------------------------------------------------ L0: opening

    /// @notice Opens a game; only the market, which has checked the checkpoint proofs and
    ///         holds the bond.
    function open(Opening calldata o) external returns (uint256 gameId) {
        if (msg.sender != market) revert OnlyMarket();
        gameId = ++gameCount;
        Game storage g = games[gameId];
        g.setup.jobId = o.jobId;
        g.setup.solver = o.solver;
        g.setup.challenger = o.challenger;
        g.setup.jobHash = o.jobHash;
        g.setup.rngKey = o.rngKey;
        g.setup.batch = o.batch;
        g.setup.init = o.init;
        g.setup.checkpoint = o.checkpoint;
        g.range.lo = o.lo;
        g.range.hi = o.hi;
        g.range.loRoot = o.loRoot;
        g.range.hiRoot = o.hiRoot;
        g.setup.bond = o.bond;
        // The solver's clock grows with its replay load: one extension for every game opened
        // on this job, this one and every one before it now, and every later one as it opens
        // (credited lazily, `_credit`). A game's replay takes at most one extension at the
        // market's rate, so whatever order the solver serves the requests of a wave in, the
        // job's total work, and with it any game's wait, stays within every game's clock
        // (docs/dispute-game.md § Clocks). The challenger gets one extension for its own
        // replay of the interval while it bisects.
        uint32 opened = ++gamesOpened[o.jobId];
        g.clock.solverClock = clock + extension * opened;
        g.clock.creditedGames = opened;
        g.clock.challengerClock = clock + extension;
        g.clock.lastMoveAt = uint64(block.timestamp);
        if (o.init || o.hi - o.lo == 1) {
            _enterRevealStep(g);
        } else {
            g.clock.phase = Phase.Bisect;
        }
        emit GameOpened(gameId, o.jobId, o.challenger, o.solver, o.init, o.lo, o.hi, o.loRoot, o.hiRoot);
    }

    // ------------------------------------------------------------------ L1: steps

    /// @notice Solver: the state root after step `step`, the midpoint of the open range.
    function bisect(uint256 gameId, uint64 step, bytes32 root) external {
        Game storage g = _move(gameId, Phase.Bisect);
        if (step != _mid(g)) revert StalePosition();
        if (root == bytes32(0)) revert ZeroHash();
        g.range.midRoot = root;
        g.clock.phase = Phase.Judge;
        emit MidpointPosted(gameId, step, root);
    }

    /// @notice Challenger: whether it agrees with the solver's state root at `step`.
    function judge(uint256 gameId, uint64 step, bool agree) external {
        Game storage g = _move(gameId, Phase.Judge);
        uint64 mid = _mid(g);
        if (step != mid) revert StalePosition();
        if (agree) {
            g.range.lo = mid;
            g.range.loRoot = g.range.midRoot;
        } else {
            g.range.hi = mid;
            g.range.hiRoot = g.range.midRoot;
        }
        emit MidpointJudged(gameId, mid, agree, g.range.lo, g.range.hi);
        if (g.range.hi - g.range.lo == 1) _enterRevealStep(g);
        else g.clock.phase = Phase.Bisect;
    }

    // ------------------------------------------------------------------ L2: one step

    /// @notice Solver: reveals step `lo` → `hi`. `roots` are the Merkle roots (inside the
    ///         list roots) of [intermediates, S_{t+1} optimizer, S_{t+1} weights,
    ///         S_t optimizer, S_t weights]; the last two are zero for the initial state. When
    ///         the job fine-tunes a model, S_0's weights list must be that model: its root is
    ///         checked here, and the list is then not open to dispute (its count is 0).
    function revealStep(uint256 gameId, bytes calldata spec, bytes32[5] calldata roots) external {
        Game storage g = _move(gameId, Phase.RevealStep);
        _checkSpec(g, spec);
        (uint32 nI, uint32 nO, uint32 nW) = semantics.counts(spec, g.setup.init);
        if (_stateRoot(g, g.range.hi, nW, roots[2], nO, roots[1]) != g.range.hiRoot) revert StateMismatch();
        if (g.setup.init) {
            if (roots[3] != bytes32(0) || roots[4] != bytes32(0)) revert StateMismatch();
            bytes32 model = semantics.initialWeights(spec);
            if (model != bytes32(0)) {
                if (Commitments.listRoot(nW, roots[2]) != model) revert NotTheInitialModel();
                nW = 0;
            }
        } else if (_stateRoot(g, g.range.lo, nW, roots[4], nO, roots[3]) != g.range.loRoot) {
            revert StateMismatch();
        }
        if (nI == 0 && roots[0] != bytes32(0)) revert StateMismatch();
        g.descent.stepRoots = keccak256(abi.encode(StepCommitment(roots, [nI, nO, nW])));
        g.clock.phase = Phase.ChooseList;
        g.clock.challengerClock += extension; // the challenger now replays the step instrumented
        emit StepRevealed(gameId, g.range.lo, roots, [nI, nO, nW]);
    }

    /// @notice Challenger: descends into produced list `list` (0 intermediates, 1 optimizer,
    ///         2 weights of S_{t+1}); `step` is the solver's step commitment as revealed.
    function chooseList(uint256 gameId, uint8 list, StepCommitment calldata step) external {
        Game storage g = _move(gameId, Phase.ChooseList);
        if (keccak256(abi.encode(step)) != g.descent.stepRoots) revert RootsMismatch();
        if (list > 2 || step.counts[list] == 0) revert BadList(list);
        g.descent.list = list;
        emit ListChosen(gameId, list, step.counts[list]);
        _startDescent(g, Tree.StepList, step.roots[list], step.counts[list]);
    }

    // ------------------------------------------------------------------ descents (L2, L3, L4)

    /// @notice Solver: the children of the node at (`depth`, `index`) of the current tree.
    function reveal(uint256 gameId, uint8 depth, uint64 index, bytes32 left, bytes32 right) external {
        Game storage g = _move(gameId, Phase.Reveal);
        if (depth != g.descent.depth || index != g.descent.nodeIndex) revert StalePosition();
        if (left == bytes32(0) || right == bytes32(0)) revert ZeroHash();
        if (Commitments.nodeHash(left, right) != g.descent.node) revert BadReveal();
        // A child that covers only padding must be the pad itself: otherwise a solver could
        // make a root differ from the honest one in padding alone, a decoy no one can open.
        if ((uint256(2 * index + 1) << (depth - 1)) >= g.descent.leafCount && right != Commitments.PAD) {
            revert NonCanonicalPadding();
        }
        g.descent.left = left;
        g.descent.right = right;
        g.clock.phase = Phase.Pick;
        emit NodeRevealed(gameId, g.descent.tree, depth, index, left, right);
    }

    /// @notice Challenger: descends into the left or right child of (`depth`, `index`).
    ///         A child that covers only padding cannot be picked.
    function pick(uint256 gameId, uint8 depth, uint64 index, bool right) external {
        Game storage g = _move(gameId, Phase.Pick);
        if (depth != g.descent.depth || index != g.descent.nodeIndex) revert StalePosition();
        uint64 child = index * 2 + (right ? 1 : 0);
        uint8 childDepth = depth - 1;
        if ((uint256(child) << childDepth) >= g.descent.leafCount) revert PadSubtree();
        g.descent.node = right ? g.descent.right : g.descent.left;
        g.descent.nodeIndex = child;
        g.descent.depth = childDepth;
        emit ChildPicked(gameId, g.descent.tree, childDepth, child);
        if (childDepth == 0) _atLeaf(g);
        else g.clock.phase = Phase.Reveal;
    }

    // ------------------------------------------------------------------ L3: one tensor

    /// @notice Solver: the Merkle root inside the picked tensor root (the shape comes from
    ///         the semantics, so it is bound, not claimed).
    function openTensor(uint256 gameId, bytes calldata spec, bytes32 merkle) external {
        Game storage g = _move(gameId, Phase.OpenTensor);
        _checkSpec(g, spec);
        uint64[] memory shape = semantics.shapeOf(spec, _tensorId(g));
        if (Commitments.tensorRoot(shape, merkle) != g.descent.node) revert BadTensor();
        uint256 length = Commitments.lengthOf(shape);
        g.descent.tensorLength = uint64(length);
        emit TensorOpened(gameId, g.descent.list, g.descent.tensorIndex, merkle, uint64(length));
        _startDescent(g, Tree.Tensor, merkle, Commitments.leafCount(length));
    }

    /// @notice Solver: the values of the picked leaf: 1 KiB of a tensor, 128 bytes of a
    ///         micro-trace.
    function revealLeaf(uint256 gameId, bytes calldata values) external {
        Game storage g = _move(gameId, Phase.RevealLeaf);
        bool tensor = g.descent.tree == Tree.Tensor;
        if ((tensor ? values.leafHash() : values.microLeafHash()) != g.descent.node) revert BadReveal();
        // Past the last value the leaf must be zero (canonical), for the same reason.
        uint256 length = tensor ? g.descent.tensorLength : g.target.programLength - 1;
        uint256 width = tensor ? Commitments.LEAF_VALUES : Commitments.MICRO_LEAF_VALUES;
        uint256 first = uint256(g.descent.nodeIndex) * width;
        uint256 valid = length - first < width ? length - first : width;
        if (!Commitments.zeroFrom(values, valid * 4)) revert NonCanonicalPadding();
        g.clock.phase = tensor ? Phase.NameElement : Phase.NameMicroStep;
        emit LeafRevealed(gameId, g.descent.tree, g.descent.nodeIndex, values);
    }

    /// @notice Challenger: the element of the revealed leaf it disputes.
    function nameElement(uint256 gameId, uint64 element) external {
        Game storage g = _move(gameId, Phase.NameElement);
        if (element / Commitments.LEAF_VALUES != g.descent.nodeIndex || element >= g.descent.tensorLength) {
            revert BadElement();
        }
        g.target.element = element;
        g.clock.phase = Phase.CommitMicro;
        emit ElementNamed(gameId, element);
    }

    // ------------------------------------------------------------------ L4: one element

    /// @notice Solver: commits to the micro-trace of the named element. `leaf` is the
    ///         element's revealed tensor leaf again (it fixes the claimed value v);
    ///         `merkle` is the Merkle root over the leaves of x_0 … x_{n−2} (zero when
    ///         n ≤ 1). The last micro-step's result is v itself.
    function commitMicroTrace(uint256 gameId, bytes calldata spec, bytes calldata leaf, bytes32 merkle)
        external
    {
        Game storage g = _move(gameId, Phase.CommitMicro);
        _checkSpec(g, spec);
        if (leaf.leafHash() != g.descent.node) revert BadReveal();
        uint32 value = leaf.valueAt(g.target.element % Commitments.LEAF_VALUES);
        uint32 n = semantics.programLength(spec, _tensorId(g), g.target.element);
        if (n == 0) n = 1; // a copy: one pseudo-step, "the element is its input"
        if ((n == 1) != (merkle == bytes32(0))) revert ZeroHash();
        g.target.value = value;
        g.target.programLength = n;
        g.target.microMerkle = merkle;
        g.clock.phase = Phase.ChooseMicro;
        emit MicroTraceCommitted(gameId, value, n, merkle);
    }

    /// @notice Challenger: dispute the last micro-step (whose result must be v), or descend
    ///         into the micro-trace to name an earlier one.
    function chooseMicro(uint256 gameId, bool lastStep) external {
        Game storage g = _move(gameId, Phase.ChooseMicro);
        uint32 n = g.target.programLength;
        if (lastStep) {
            g.target.microStep = n - 1;
            g.clock.phase = Phase.ProveStep;
            emit MicroStepNamed(gameId, n - 1);
        } else {
            if (n == 1) revert BadMicroStep();
            emit MicroTraceEntered(gameId, n);
            _startDescent(g, Tree.MicroTrace, g.target.microMerkle, Commitments.microLeafCount(n - 1));
        }
    }

    /// @notice Challenger: the micro-step of the revealed micro-trace leaf it disputes.
    function nameMicroStep(uint256 gameId, uint32 microStep) external {
        Game storage g = _move(gameId, Phase.NameMicroStep);
        if (
            microStep / Commitments.MICRO_LEAF_VALUES != g.descent.nodeIndex
                || microStep + 1 >= g.target.programLength
        ) {
            revert BadMicroStep();
        }
        g.target.microStep = microStep;
        g.clock.phase = Phase.ProveStep;
        emit MicroStepNamed(gameId, microStep);
    }

    /// @notice Solver: proves the operands of the named micro-step; the chain executes it.
    ///         The solver wins if the result equals its committed x_k, and loses otherwise.
    function proveStep(uint256 gameId, bytes calldata spec, StepProof calldata proof) external {
        Game storage g = _move(gameId, Phase.ProveStep);
        _checkSpec(g, spec);
        if (_hashStep(proof.step) != g.descent.stepRoots) revert RootsMismatch();
        IStepSemantics.TensorId memory id = _tensorId(g);
        (uint256 ins, uint256[4] memory inputs) =
            semantics.locate(spec, id, g.target.element, g.target.microStep);
        uint32[4] memory values;
        values[0] = _operand(g, spec, ins, inputs[0], proof, 0);
        // A second operand that repeats the first (`fma(g, g, acc)`, `mul(x, x)`) is proved
        // once: it takes the first's value, and its own proof may be left empty.
        values[1] = (ins >> 70) & OPERAND_MASK == (ins >> 8) & OPERAND_MASK
            ? values[0]
            : _operand(g, spec, ins, inputs[1], proof, 1);
        values[2] = _operand(g, spec, ins, inputs[2], proof, 2);
        values[3] = _operand(g, spec, ins, inputs[3], proof, 3);
        uint8 opcode = StepWords.opcode(ins);
        uint32 result =
            opcode == 0 ? values[0] : alu.execute(opcode, values[0], values[1], values[2], values[3]);
        uint32 claimed;
        if (g.target.microStep + 1 == g.target.programLength) {
            claimed = g.target.value;
        } else {
            claimed = _microValue(g, g.target.microStep, proof.resultLeaf, proof.resultPath);
        }
        emit StepExecuted(gameId, opcode, values, result, claimed);
        _resolve(gameId, g, result == claimed, result == claimed ? Reason.StepProved : Reason.StepRefuted);
    }

    // ------------------------------------------------------------------ ending

    /// @notice Anyone: ends a game whose side to move has run out of time; the other side wins.
    function timeout(uint256 gameId) external {
        Game storage g = _live(gameId);
        bool solverToMove = _solverMoves(g.clock.phase);
        if (solverToMove) _credit(g);
        uint64 remaining = solverToMove ? g.clock.solverClock : g.clock.challengerClock;
        if (block.timestamp - g.clock.lastMoveAt < remaining) revert ClockRunning();
        _resolve(gameId, g, !solverToMove, Reason.Timeout);
    }

    /// @notice Market only: marks a resolved game as paid out, once, and returns what the
    ///         payout needs. Deciding a game and paying for it are separate transactions,
    ///         so the last move of a game never carries the bookkeeping of the payout.
    function markSettled(uint256 gameId)
        external
        returns (uint256 jobId, address challenger, uint256 bond, bool solverWon)
    {
        if (msg.sender != market) revert OnlyMarket();
        Game storage g = games[gameId];
        if (g.clock.phase != Phase.Resolved) revert WrongPhase(g.clock.phase);
        if (g.clock.settled) revert AlreadySettled();
        g.clock.settled = true;
        return (g.setup.jobId, g.setup.challenger, g.setup.bond, g.clock.solverWon);
    }

    // ------------------------------------------------------------------ views

    /// @notice A game's full record.
    function getGame(uint256 gameId) external view returns (Game memory) {
        return games[gameId];
    }

    /// @notice What paying a game's challenger needs: its job, its challenger, and whether the
    ///         game is paid out and who won it.
    function payoutOf(uint256 gameId)
        external
        view
        returns (uint256 jobId, address challenger, bool settled, bool solverWon)
    {
        Game storage g = games[gameId];
        return (g.setup.jobId, g.setup.challenger, g.clock.settled, g.clock.solverWon);
    }

    /// @notice A game's parties, stage and outcome as flat, named values (what `getGame`
    ///         returns as nested tuples), for `cast call` and other clients without the ABI's
    ///         structs. All zero for an unknown game.
    /// @return jobId      the job whose result is disputed
    /// @return solver     the job's solver
    /// @return challenger who opened the game
    /// @return bond       the challenger's bond, in wei
    /// @return phase      the stage the game is in (see `Phase`; 14 Resolved)
    /// @return settled    whether the market has paid the game out
    /// @return solverWon  who won (meaningful once resolved)
    /// @return reason     how it was decided (see `Reason`)
    /// @return checkpoint the disputed checkpoint
    /// @return lo         the last step both sides agree on
    /// @return hi         the first step they disagree on
    function gameSummary(uint256 gameId)
        external
        view
        returns (
            uint256 jobId,
            address solver,
            address challenger,
            uint256 bond,
            Phase phase,
            bool settled,
            bool solverWon,
            Reason reason,
            uint32 checkpoint,
            uint64 lo,
            uint64 hi
        )
    {
        Game storage g = games[gameId];
        jobId = g.setup.jobId;
        solver = g.setup.solver;
        challenger = g.setup.challenger;
        bond = g.setup.bond;
        phase = g.clock.phase;
        settled = g.clock.settled;
        solverWon = g.clock.solverWon;
        reason = g.clock.reason;
        checkpoint = g.setup.checkpoint;
        lo = g.range.lo;
        hi = g.range.hi;
    }

    /// @notice Who must move next, and until when.
    function turn(uint256 gameId) external view returns (address mover, uint64 deadline) {
        Game storage g = games[gameId];
        if (g.clock.phase == Phase.None || g.clock.phase == Phase.Resolved) return (address(0), 0);
        bool solverToMove = _solverMoves(g.clock.phase);
        mover = solverToMove ? g.setup.solver : g.setup.challenger;
        deadline = g.clock.lastMoveAt + (solverToMove ? _creditedSolverClock(g) : g.clock.challengerClock);
    }

    // ------------------------------------------------------------------ internals

    function _live(uint256 gameId) internal view returns (Game storage g) {
        g = games[gameId];
        if (g.clock.phase == Phase.None) revert NoSuchGame(gameId);
        if (g.clock.phase == Phase.Resolved) revert WrongPhase(Phase.Resolved);
    }

    /// @dev Checks phase, mover and clock, and charges the elapsed time to the mover.
    function _move(uint256 gameId, Phase phase) internal returns (Game storage g) {
        g = games[gameId];
        if (g.clock.phase == Phase.None) revert NoSuchGame(gameId);
        if (g.clock.phase != phase) revert WrongPhase(g.clock.phase);
        bool solverToMove = _solverMoves(phase);
        if (msg.sender != (solverToMove ? g.setup.solver : g.setup.challenger)) revert NotYourTurn();
        uint64 elapsed = uint64(block.timestamp) - g.clock.lastMoveAt;
        if (solverToMove) {
            // Credit the games opened since (only when it matters: the common move stays cheap).
            if (elapsed >= g.clock.solverClock) _credit(g);
            if (elapsed >= g.clock.solverClock) revert ClockExpired();
            g.clock.solverClock -= elapsed;
        } else {
            if (elapsed >= g.clock.challengerClock) revert ClockExpired();
            g.clock.challengerClock -= elapsed;
        }
        g.clock.lastMoveAt = uint64(block.timestamp);
    }

    /// @dev Adds one extension to the solver's clock for every game opened on the job since
    ///      it was last credited. Credit is additive, so when it is added does not matter, as
    ///      long as it is before any decision on the solver's time (a move past the stored
    ///      clock, a timeout, `turn`).
    function _credit(Game storage g) internal {
        uint32 opened = gamesOpened[g.setup.jobId];
        if (opened == g.clock.creditedGames) return;
        g.clock.solverClock += extension * (opened - g.clock.creditedGames);
        g.clock.creditedGames = opened;
    }

    function _creditedSolverClock(Game storage g) internal view returns (uint64) {
        return g.clock.solverClock + extension * (gamesOpened[g.setup.jobId] - g.clock.creditedGames);
    }

    function _solverMoves(Phase phase) internal pure returns (bool) {
        return phase == Phase.Bisect || phase == Phase.RevealStep || phase == Phase.Reveal
            || phase == Phase.OpenTensor || phase == Phase.RevealLeaf || phase == Phase.CommitMicro
            || phase == Phase.ProveStep;
    }

    function _mid(Game storage g) internal view returns (uint64) {
        return g.range.lo + (g.range.hi - g.range.lo) / 2;
    }

    function _enterRevealStep(Game storage g) internal {
        g.clock.phase = Phase.RevealStep;
    }

    /// @dev The state root at `step` with the given list Merkle roots; everything else in
    ///      it (job, data cursor, rng key) is fixed by the job, never claimed.
    function _stateRoot(Game storage g, uint64 step, uint32 nW, bytes32 weights, uint32 nO, bytes32 optimizer)
        internal
        view
        returns (bytes32)
    {
        return Commitments.stateRoot(
            g.setup.jobHash,
            step,
            step * g.setup.batch,
            g.setup.rngKey,
            Commitments.listRoot(nW, weights),
            Commitments.listRoot(nO, optimizer)
        );
    }

    /// @dev `keccak256(abi.encode(step))` hashed straight from calldata (the struct is static:
    ///      8 words). Calldata with dirty high bits in a count hashes differently from the
    ///      clean encoding `revealStep` stored, so it is refused, never accepted.
    function _hashStep(StepCommitment calldata step) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, step, 256)
            hash := keccak256(ptr, 256)
        }
    }

    function _checkSpec(Game storage g, bytes calldata spec) internal view {
        if (Commitments.jobHash(spec) != g.setup.jobHash) revert WrongSpec();
    }

    function _tensorId(Game storage g) internal view returns (IStepSemantics.TensorId memory) {
        return IStepSemantics.TensorId({
            step: g.range.lo, init: g.setup.init, list: g.descent.list, index: g.descent.tensorIndex
        });
    }

    function _startDescent(Game storage g, Tree tree, bytes32 root, uint256 leaves) internal {
        g.descent.tree = tree;
        g.descent.node = root;
        g.descent.leafCount = uint64(leaves);
        g.descent.nodeIndex = 0;
        g.descent.depth = uint8(Commitments.depthOf(leaves));
        if (g.descent.depth == 0) _atLeaf(g);
        else g.clock.phase = Phase.Reveal;
    }

    function _atLeaf(Game storage g) internal {
        if (g.descent.tree == Tree.StepList) {
            g.descent.tensorIndex = uint32(g.descent.nodeIndex);
            g.clock.phase = Phase.OpenTensor;
        } else {
            g.clock.phase = Phase.RevealLeaf;
        }
    }

    /// @dev The value of one operand, proven against the solver's commitments.
    function _operand(
        Game storage g,
        bytes calldata spec,
        uint256 ins,
        uint256 src,
        StepProof calldata proof,
        uint256 slot
    ) internal view returns (uint32) {
        IStepSemantics.OperandKind kind = StepWords.kindOf(ins, slot);
        uint256 payload = StepWords.payloadOf(ins, slot);
        if (kind == IStepSemantics.OperandKind.None) return 0;
        if (kind == IStepSemantics.OperandKind.Const) return uint32(payload);
        OperandProof calldata p = proof.operands[slot];
        if (kind == IStepSemantics.OperandKind.Step) {
            if (payload >= g.target.microStep) revert BadOperand(slot);
            return _microValue(g, uint32(payload), p.leaf, p.leafPath);
        }
        (uint8 source, uint256 sourceIndex, uint256 shape) = StepWords.source(src);
        bytes32 tensorRoot = Commitments.tensorRootPacked(shape, p.tensorMerkle);
        if (source <= 4) {
            if (g.setup.init && source >= 3) revert BadOperand(slot);
            uint32 count = proof.step.counts[source == 3 ? 1 : (source == 4 ? 2 : source)];
            if (!Commitments.verifyLeaf(proof.step.roots[source], count, sourceIndex, tensorRoot, p.listPath))
            {
                revert BadOperand(slot);
            }
        } else {
            JobSpecCodec.Header memory h = JobSpecCodec.header(spec);
            bool features = source == 5;
            bytes32 root = Commitments.datasetRoot(
                h.samples,
                h.features,
                p.datasetClasses,
                features ? tensorRoot : p.otherRoot,
                features ? p.otherRoot : tensorRoot
            );
            if (root != h.datasetRoot) revert BadOperand(slot);
        }
        uint256 length = Commitments.lengthOfPacked(shape);
        if (payload >= length) revert BadOperand(slot);
        uint256 leafIndex = payload / Commitments.LEAF_VALUES;
        if (!Commitments.verifyLeaf(
                p.tensorMerkle, Commitments.leafCount(length), leafIndex, p.leaf.leafHash(), p.leafPath
            )) revert BadOperand(slot);
        return p.leaf.valueAt(payload % Commitments.LEAF_VALUES);
    }

    /// @dev x_j of the solver's micro-trace, proven against its committed root.
    function _microValue(Game storage g, uint32 j, bytes calldata leaf, bytes32[] calldata path)
        internal
        view
        returns (uint32)
    {
        uint256 leaves = Commitments.microLeafCount(g.target.programLength - 1);
        if (!Commitments.verifyLeaf(
                g.target.microMerkle, leaves, j / Commitments.MICRO_LEAF_VALUES, leaf.microLeafHash(), path
            )) {
            revert BadMicroStep();
        }
        return leaf.valueAt(j % Commitments.MICRO_LEAF_VALUES);
    }

    function _resolve(uint256 gameId, Game storage g, bool solverWon, Reason reason) internal {
        g.clock.phase = Phase.Resolved;
        g.clock.solverWon = solverWon;
        g.clock.reason = reason;
        emit GameResolved(gameId, g.setup.jobId, solverWon, reason);
    }
}
