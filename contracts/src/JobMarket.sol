// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Commitments} from "./lib/Commitments.sol";
import {JobSpecCodec} from "./lib/JobSpecCodec.sol";
import {SplitMix64} from "./lib/SplitMix64.sol";
import {DisputeGame} from "./DisputeGame.sol";
import {IFp32Alu} from "./interfaces/IFp32Alu.sol";
import {IStepSemantics} from "./interfaces/IStepSemantics.sol";

/// @title JobMarket
/// @notice The job lifecycle of vtrain: a submitter escrows a reward for a training job,
///         a solver bonds, trains and commits to its checkpoints, and after a challenge
///         window with no successful challenge the solver is paid. Any number of
///         challengers may each open a `DisputeGame` against a result during the window;
///         the result stands only if the solver wins every one.
///
///         Payouts (`docs/dispute-game.md` § Payouts): every game is decided on its merits
///         and paid by its own outcome, never by the order of settlement. Settling a game
///         pays the solver the challenger's bond minus the burn if it won, and refunds the
///         challenger's bond if it lost. Once the window has closed and every game has been
///         settled, `finalize` fixes the job's outcome: no refutation, and the solver is
///         paid; one or more, and the submitter is refunded, `burnBps` of the solver's bond
///         is burned and the rest is split equally among the refuting games, whose
///         challengers collect their shares with `claimShare`.
///
///         Currencies (`docs/dispute-game.md` § Tokens): a job is paid in ETH (`postJob`) or
///         in one ERC-20 token (`postTokenJob`); its reward, its solver bond and the refuters'
///         shares of that bond are in the job's currency. Challenger bonds are always ETH:
///         they pay an honest solver for the gas a game costs it, and gas is paid in ETH.
///         A token must move exactly the amount asked (a balance-delta check refuses
///         fee-on-transfer tokens) and may return no bool (`SafeERC20`).
/// @dev    All value stays in this contract. Payouts are credits per currency, pulled with
///         `withdraw`: no game or lifecycle path ever sends value. The burned share of a
///         forfeited bond is credited to `BURN_ADDRESS` and leaves through `flushBurned`.
///         Invariant, per currency: balance == Σ escrow of live jobs + Σ live bonds
///         + Σ shares owed + Σ credits.
contract JobMarket is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The currency "token" of ETH in `credits`, `withdraw` and `flushBurned`.
    address public constant ETH = address(0);
    /// @notice Where burned value goes.
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;
    /// @notice The most moves one side makes in a game of any job the market accepts
    ///         (`docs/dispute-game.md` § Clocks: 102 for the solver under the spec bounds,
    ///         with a margin). The deployment requires `clock ≥ MAX_MOVES_PER_SIDE × moveTime`.
    uint64 public constant MAX_MOVES_PER_SIDE = 110;
    /// @notice The longest challenge window a job may ask for.
    uint64 public constant MAX_CHALLENGE_WINDOW = 30 days;
    /// @notice The longest chess clock (and extension) a market may be deployed with.
    uint64 public constant MAX_CLOCK = 30 days;
    /// @notice Basis points.
    uint256 internal constant BPS = 10_000;

    enum Status {
        None,
        Open, // posted, reward escrowed, waiting for a solver
        Claimed, // a solver bonded and is training
        Submitted, // result committed, challenge window running or games open
        Finalized, // solver paid; terminal
        Slashed, // solver lost a game or missed its deadline; submitter refunded; terminal
        Cancelled // never claimed; submitter refunded; terminal
    }

    struct Job {
        address submitter;
        Status status;
        uint32 openGames; // games not yet settled
        uint32 refutations; // settled games the solver lost
        uint64 claimDeadline;
        address solver;
        uint64 submitDeadline;
        uint64 challengeWindow;
        uint64 submittedAt;
        uint128 reward;
        uint128 solverBond;
        bytes32 jobHash;
        bytes32 datasetRoot;
        uint32 steps;
        uint32 interval;
        uint32 batch;
        uint32 numCheckpoints;
        uint64 rngKey;
        bytes32 traceRoot;
        bytes32 finalStateRoot;
        bytes32 modelRoot;
        uint256 refuterShare; // what each refuting game's challenger claims (set by `finalize`)
        address token; // the currency of reward, solver bond and shares (`ETH`: ether)
    }

    /// @notice The market's parameters, checked at deployment.
    /// @param challengerBond the bond per challenge, in wei (> 0)
    /// @param burnBps        the burned share of a forfeited bond, in basis points, in (0, 10000):
    ///                       with none, a cheater's sock puppets win its bond back; with all,
    ///                       nobody is paid for refuting
    /// @param clock          each side's chess clock in a game, in seconds
    /// @param extension      seconds for the replay of one checkpoint interval (see `DisputeGame`)
    /// @param moveTime       the seconds the market allows for one move to be mined (block time
    ///                       plus inclusion latency); `clock ≥ MAX_MOVES_PER_SIDE × moveTime`
    /// @param replayRate     fp32 primitives per second the market assumes of a solver's
    ///                       replay; a job whose interval work exceeds `extension × replayRate`
    ///                       is refused
    struct Config {
        uint256 challengerBond;
        uint256 burnBps;
        uint64 clock;
        uint64 extension;
        uint64 moveTime;
        uint64 replayRate;
    }

    /// @notice The dispute game this market settles challenges with (created here).
    /// @dev    A storage variable, not an immutable: deployed code stays independent of
    ///         addresses, so agents can check it byte for byte against the bindings.
    DisputeGame public game;
    /// @notice The bond a challenger posts with each challenge.
    uint256 public challengerBond;
    /// @notice The share of a forfeited bond that is burned, in basis points.
    uint256 public burnBps;
    /// @notice The seconds allowed for one move to be mined (see `Config`).
    uint64 public moveTime;
    /// @notice The fp32 primitives per second a solver is assumed to replay (see `Config`).
    uint64 public replayRate;

    /// @notice Every job, by id (ids start at 1).
    mapping(uint256 jobId => Job job) internal jobs;
    /// @notice The number of jobs posted so far.
    uint256 public jobCount;
    /// @notice Withdrawable balances, per currency (`ETH` or a token's address).
    mapping(address token => mapping(address account => uint256 amount)) public credits;
    /// @notice Whether a refuting game's share has been claimed.
    mapping(uint256 gameId => bool claimed) public shareClaimed;

    event JobPosted(
        uint256 indexed jobId,
        address indexed submitter,
        bytes32 indexed jobHash,
        bytes32 datasetRoot,
        address token,
        uint256 reward,
        uint256 solverBond,
        uint64 claimDeadline,
        uint64 submitDeadline,
        uint64 challengeWindow,
        bytes spec
    );
    event JobCancelled(uint256 indexed jobId);
    event JobClaimed(uint256 indexed jobId, address indexed solver);
    event ResultSubmitted(
        uint256 indexed jobId,
        bytes32 traceRoot,
        bytes32 finalStateRoot,
        bytes32 modelRoot,
        uint32 numCheckpoints,
        bytes32[] checkpointRoots
    );
    event ChallengeOpened(
        uint256 indexed jobId, uint256 indexed gameId, address indexed challenger, uint64 checkpoint
    );
    event GameSettled(uint256 indexed jobId, uint256 indexed gameId, bool solverWon);
    event ShareClaimed(
        uint256 indexed jobId, uint256 indexed gameId, address indexed challenger, uint256 share
    );
    event JobFinalized(uint256 indexed jobId);
    /// @param refutations the games the solver lost (0 for a missed submit deadline)
    /// @param refuterShare what each of them gets besides its bond
    event SolverSlashed(
        uint256 indexed jobId, address indexed solver, uint32 refutations, uint256 refuterShare
    );
    event Credited(address indexed token, address indexed account, uint256 amount);
    event Withdrawn(address indexed token, address indexed account, address to, uint256 amount);

    error NoSuchJob(uint256 jobId);
    error WrongStatus(uint256 jobId, Status status);
    error ZeroReward();
    error BadDeadlines();
    error AmountTooLarge(uint256 amount);
    error IntervalTooHeavy(uint256 work, uint256 limit);
    error WrongBond(uint256 sent, uint256 required);
    error NotSubmitter();
    error NotSolver();
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotPassed(uint64 deadline);
    error WrongCheckpointCount(uint256 given, uint256 expected);
    error TraceRootMismatch();
    error FinalStateMismatch();
    error BadCheckpointProof();
    error WindowClosed();
    error WindowOpen();
    error GamesOpen(uint32 openGames);
    error NoShare(uint256 gameId);
    error NothingToWithdraw();
    error ZeroAddress();
    error TransferFailed();
    error BadConfig(string field);
    error SelfChallenge();
    error NotAToken(address token);
    error WrongValue(uint256 sent, uint256 required);
    /// @notice The token moved another amount than asked (a fee on transfer, or a rebase).
    error TransferAmountMismatch(address token, uint256 asked, uint256 received);

    /// @param alu       the fp32 ALU the game settles its last step with
    /// @param semantics the step semantics (op graph, operand locators, spec validation)
    /// @param config    the market's parameters (see `Config`)
    constructor(IFp32Alu alu, IStepSemantics semantics, Config memory config) {
        if (config.challengerBond == 0) revert BadConfig("challengerBond");
        if (config.burnBps == 0 || config.burnBps >= BPS) revert BadConfig("burnBps");
        if (config.moveTime == 0) revert BadConfig("moveTime");
        if (config.clock > MAX_CLOCK || config.clock < MAX_MOVES_PER_SIDE * config.moveTime) {
            revert BadConfig("clock");
        }
        if (config.extension == 0 || config.extension > MAX_CLOCK) revert BadConfig("extension");
        if (config.replayRate == 0) revert BadConfig("replayRate");
        challengerBond = config.challengerBond;
        burnBps = config.burnBps;
        moveTime = config.moveTime;
        replayRate = config.replayRate;
        game = new DisputeGame(alu, semantics, config.clock, config.extension);
    }

    // ------------------------------------------------------------------ lifecycle

    /// @notice Posts a job paid in ETH and escrows `msg.value` as its reward.
    /// @param spec the canonical job spec; its hash is the job hash
    /// @param claimDeadline until when a solver may claim
    /// @param submitDeadline until when the claiming solver must submit its result
    /// @param solverBond what a solver must bond to claim, in wei (at least `challengerBond`)
    /// @param challengeWindow how long a submitted result can be challenged, in seconds
    function postJob(
        bytes calldata spec,
        uint64 claimDeadline,
        uint64 submitDeadline,
        uint128 solverBond,
        uint64 challengeWindow
    ) external payable nonReentrant returns (uint256 jobId) {
        jobId = _post(spec, claimDeadline, submitDeadline, solverBond, challengeWindow, ETH, msg.value);
    }

    /// @notice Whether `postJob` (`token` = `ETH`, `reward` = the value to send) or
    ///         `postTokenJob` would accept a job: reverts with the reason it would refuse it
    ///         for, returns otherwise. Everything but the token transfer itself is checked, so
    ///         a client can check a token job before it sends the `approve` it needs.
    function checkJob(
        bytes calldata spec,
        uint64 claimDeadline,
        uint64 submitDeadline,
        uint128 solverBond,
        uint64 challengeWindow,
        address token,
        uint256 reward
    ) external view {
        if (token != ETH && token.code.length == 0) revert NotAToken(token);
        _checkTerms(claimDeadline, submitDeadline, solverBond, challengeWindow, token, reward);
        _checkSpec(spec);
    }

    /// @notice Posts a job paid in an ERC-20 token and pulls `reward` of it from the caller
    ///         (approve this market first). Its solver bond and the refuters' shares are in
    ///         the same token; challenger bonds stay in ETH. The token must move exactly the
    ///         amount asked: a fee-on-transfer token is refused.
    /// @param solverBond what a solver must bond to claim, in the token's smallest unit (> 0;
    ///        the market cannot price a token against its ETH challenger bond, so how much
    ///        bond makes a job worth watching is the watchtowers' call)
    /// @param token  the ERC-20 token (a contract; not `ETH`)
    /// @param reward the reward, in the token's smallest unit
    function postTokenJob(
        bytes calldata spec,
        uint64 claimDeadline,
        uint64 submitDeadline,
        uint128 solverBond,
        uint64 challengeWindow,
        address token,
        uint256 reward
    ) external nonReentrant returns (uint256 jobId) {
        if (token.code.length == 0) revert NotAToken(token);
        jobId = _post(spec, claimDeadline, submitDeadline, solverBond, challengeWindow, token, reward);
        _pullToken(token, reward);
    }

    function _post(
        bytes calldata spec,
        uint64 claimDeadline,
        uint64 submitDeadline,
        uint128 solverBond,
        uint64 challengeWindow,
        address token,
        uint256 reward
    ) internal returns (uint256 jobId) {
        _checkTerms(claimDeadline, submitDeadline, solverBond, challengeWindow, token, reward);
        JobSpecCodec.Header memory h = _checkSpec(spec);
        jobId = ++jobCount;
        Job storage job = jobs[jobId];
        job.submitter = msg.sender;
        job.status = Status.Open;
        job.claimDeadline = claimDeadline;
        job.submitDeadline = submitDeadline;
        job.challengeWindow = challengeWindow;
        job.reward = uint128(reward);
        job.token = token;
        job.solverBond = solverBond;
        job.jobHash = Commitments.jobHash(spec);
        job.datasetRoot = h.datasetRoot;
        job.steps = h.steps;
        job.interval = h.interval;
        job.batch = h.batch;
        job.numCheckpoints = h.steps / h.interval + 1;
        job.rngKey = SplitMix64.deriveKey(h.seed, SplitMix64.SHUFFLE);
        _emitPosted(jobId, job, spec);
    }

    /// @notice Cancels a job nobody has claimed: by its submitter at any time, by anyone once
    ///         the claim deadline has passed. The reward is credited back to the submitter.
    function cancelJob(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireStatus(jobId, job, Status.Open);
        if (msg.sender != job.submitter && block.timestamp <= job.claimDeadline) revert NotSubmitter();
        job.status = Status.Cancelled;
        _credit(job.token, job.submitter, job.reward);
        emit JobCancelled(jobId);
    }

    /// @notice Claims an open job by bonding exactly its solver bond: `msg.value` for an
    ///         ETH job; for a token job, pulled from the caller (approve this market first).
    function claimJob(uint256 jobId) external payable nonReentrant {
        Job storage job = _job(jobId);
        _requireStatus(jobId, job, Status.Open);
        if (block.timestamp > job.claimDeadline) revert DeadlinePassed(job.claimDeadline);
        address token = job.token;
        uint256 sent = token == ETH ? job.solverBond : 0;
        if (msg.value != sent) revert WrongBond(msg.value, sent);
        job.status = Status.Claimed;
        job.solver = msg.sender;
        emit JobClaimed(jobId, msg.sender);
        if (token != ETH) _pullToken(token, job.solverBond);
    }

    /// @notice Commits the solver's result and starts the challenge window.
    /// @param traceRoot the trace root over the checkpoint state roots
    /// @param checkpointRoots the state roots of checkpoints 0, k, …, T, posted so that
    ///        anyone can open a challenge (data availability); they must fold to `traceRoot`
    /// @param modelRoot the weights root of the final state (what the submitter fetches)
    /// @param finalOptimizerRoot the optimizer root of the final state; with `modelRoot` it
    ///        must hash to the last checkpoint's state root, binding the model to the trace
    function submitResult(
        uint256 jobId,
        bytes32 traceRoot,
        bytes32[] calldata checkpointRoots,
        bytes32 modelRoot,
        bytes32 finalOptimizerRoot
    ) external {
        Job storage job = _job(jobId);
        _requireStatus(jobId, job, Status.Claimed);
        if (msg.sender != job.solver) revert NotSolver();
        if (block.timestamp > job.submitDeadline) revert DeadlinePassed(job.submitDeadline);
        uint256 count = checkpointRoots.length;
        if (count != job.numCheckpoints) revert WrongCheckpointCount(count, job.numCheckpoints);

        bytes32[] memory leaves = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            leaves[i] = Commitments.traceLeaf(i, checkpointRoots[i]);
        }
        if (Commitments.traceRoot(count, Commitments.merkleRoot(leaves)) != traceRoot) {
            revert TraceRootMismatch();
        }
        bytes32 finalState = checkpointRoots[count - 1];
        uint64 steps = job.steps;
        if (
            Commitments.stateRoot(
                    job.jobHash, steps, steps * uint64(job.batch), job.rngKey, modelRoot, finalOptimizerRoot
                ) != finalState
        ) revert FinalStateMismatch();

        job.status = Status.Submitted;
        job.submittedAt = uint64(block.timestamp);
        job.traceRoot = traceRoot;
        job.finalStateRoot = finalState;
        job.modelRoot = modelRoot;
        emit ResultSubmitted(jobId, traceRoot, finalState, modelRoot, uint32(count), checkpointRoots);
    }

    /// @notice Slashes a solver that missed its submit deadline: the submitter gets the
    ///         reward back and the bond minus the burned share.
    function slashLate(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireStatus(jobId, job, Status.Claimed);
        if (block.timestamp <= job.submitDeadline) revert DeadlineNotPassed(job.submitDeadline);
        job.status = Status.Slashed;
        uint256 burned = _burnShare(job.solverBond);
        _credit(job.token, job.submitter, uint256(job.reward) + job.solverBond - burned);
        _credit(job.token, BURN_ADDRESS, burned);
        emit SolverSlashed(jobId, job.solver, 0, 0);
    }

    /// @notice Opens a dispute game against a submitted result, bonding `challengerBond` in
    ///         ETH (whatever the job's currency).
    /// @param checkpoint c: the first checkpoint whose state the challenger disputes. For
    ///        c > 0 it accepts checkpoint c−1 and the game bisects the k steps between; for
    ///        c = 0 it disputes the initial state itself.
    /// @param leftRoot,leftProof the state root of checkpoint c−1 and its trace proof (unused for c = 0)
    /// @param rightRoot,rightProof the state root of checkpoint c and its trace proof
    function challenge(
        uint256 jobId,
        uint64 checkpoint,
        bytes32 leftRoot,
        bytes32[] calldata leftProof,
        bytes32 rightRoot,
        bytes32[] calldata rightProof
    ) external payable returns (uint256 gameId) {
        Job storage job = _job(jobId);
        _requireStatus(jobId, job, Status.Submitted);
        if (block.timestamp >= job.submittedAt + job.challengeWindow) revert WindowClosed();
        if (msg.value != challengerBond) revert WrongBond(msg.value, challengerBond);
        if (msg.sender == job.solver) revert SelfChallenge();
        uint256 count = job.numCheckpoints;
        _checkCheckpoint(job, count, checkpoint, rightRoot, rightProof);
        if (checkpoint > 0) {
            _checkCheckpoint(job, count, checkpoint - 1, leftRoot, leftProof);
        } else if (leftRoot != bytes32(0) || leftProof.length != 0) {
            revert BadCheckpointProof();
        }
        job.openGames += 1;
        gameId = game.open(
            DisputeGame.Opening({
                jobId: jobId,
                solver: job.solver,
                challenger: msg.sender,
                jobHash: job.jobHash,
                rngKey: job.rngKey,
                batch: job.batch,
                init: checkpoint == 0,
                checkpoint: uint32(checkpoint), // < numCheckpoints ≤ 1024, checked above
                lo: checkpoint == 0 ? 0 : (checkpoint - 1) * job.interval,
                hi: checkpoint * job.interval,
                loRoot: leftRoot,
                hiRoot: rightRoot,
                bond: msg.value
            })
        );
        emit ChallengeOpened(jobId, gameId, msg.sender, checkpoint);
    }

    /// @notice Fixes a job's outcome once its window has closed and every game on it has been
    ///         settled (anyone may call). No game refuted the solver: it is paid its reward
    ///         and its bond. One or more did: the submitter is refunded, `burnBps` of the
    ///         solver's bond is burned and the rest is split equally among the refuting
    ///         games (the remainder of the division is burned too), claimed with `claimShare`.
    function finalize(uint256 jobId) external {
        Job storage job = _job(jobId);
        _requireStatus(jobId, job, Status.Submitted);
        if (block.timestamp < job.submittedAt + job.challengeWindow) revert WindowOpen();
        if (job.openGames != 0) revert GamesOpen(job.openGames);
        if (job.refutations == 0) {
            job.status = Status.Finalized;
            _credit(job.token, job.solver, uint256(job.reward) + job.solverBond);
            emit JobFinalized(jobId);
            return;
        }
        job.status = Status.Slashed;
        uint256 burned = _burnShare(job.solverBond);
        uint256 pot = job.solverBond - burned;
        job.refuterShare = pot / job.refutations;
        _credit(job.token, job.submitter, job.reward);
        _credit(job.token, BURN_ADDRESS, burned + pot % job.refutations); // the remainder too
        emit SolverSlashed(jobId, job.solver, job.refutations, job.refuterShare);
    }

    /// @notice Pays out a decided game at once (anyone may call, once per game; the winner has
    ///         every reason to). A game the solver won pays it the challenger's bond minus
    ///         the burned share. A game the solver lost refunds the challenger's bond and
    ///         counts as a refutation: its share of the solver's bond is claimed with
    ///         `claimShare` once `finalize` has fixed the job's outcome. No game's payout
    ///         depends on another game or on the order of settlement.
    function settleGame(uint256 gameId) external {
        (uint256 jobId, address challenger, uint256 bond, bool solverWon) = game.markSettled(gameId);
        Job storage job = jobs[jobId];
        job.openGames -= 1;
        emit GameSettled(jobId, gameId, solverWon);
        if (solverWon) {
            uint256 burned = _burnShare(bond);
            _credit(ETH, job.solver, bond - burned);
            _credit(ETH, BURN_ADDRESS, burned);
        } else {
            job.refutations += 1;
            _credit(ETH, challenger, bond);
        }
    }

    /// @notice Credits a refuting game's challenger its share of the slashed bond (anyone may
    ///         call, once per game).
    function claimShare(uint256 gameId) external {
        (uint256 jobId, address challenger, bool settled, bool solverWon) = game.payoutOf(gameId);
        if (!settled || solverWon || shareClaimed[gameId]) revert NoShare(gameId);
        Job storage job = jobs[jobId];
        _requireStatus(jobId, job, Status.Slashed);
        shareClaimed[gameId] = true;
        _credit(job.token, challenger, job.refuterShare);
        emit ShareClaimed(jobId, gameId, challenger, job.refuterShare);
    }

    // ------------------------------------------------------------------ payouts

    /// @notice Sends the caller's whole credit in `token` (`ETH` for ether) to `to`: the
    ///         caller itself, or any account that can receive it (a contract that cannot
    ///         receive ETH, or an address a token refuses, names another).
    function withdraw(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        _payOut(token, msg.sender, to);
    }

    /// @notice Sends the burned value in `token` to `BURN_ADDRESS` (anyone may call).
    function flushBurned(address token) external nonReentrant {
        _payOut(token, BURN_ADDRESS, BURN_ADDRESS);
    }

    // ------------------------------------------------------------------ views

    /// @notice A job's full record.
    function getJob(uint256 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @notice A job's status.
    function statusOf(uint256 jobId) external view returns (Status) {
        return jobs[jobId].status;
    }

    /// @notice A job's parties, money and deadlines as flat, named values (what `getJob`
    ///         returns as one tuple), for `cast call` and other clients without the ABI's
    ///         structs. All zero for an unknown job. Amounts in the job's currency (wei for ETH),
    ///         times in Unix seconds.
    /// @return status       the job's status (0 None … 6 Cancelled, see `Status`)
    /// @return token        the currency of reward and solver bond (zero: ETH)
    /// @return submitter    who posted it and is refunded if it fails
    /// @return solver       who claimed it (zero before a claim)
    /// @return reward       the escrowed reward
    /// @return solverBond   the bond a claim posts
    /// @return claimDeadline  until when it can be claimed
    /// @return submitDeadline until when a claimed job's result can be submitted
    /// @return windowEnd    when the challenge window closes (zero before a result)
    /// @return openGames    games not yet settled
    /// @return refutations  settled games the solver lost
    /// @return modelRoot    the committed model's root (zero before a result)
    function jobSummary(uint256 jobId)
        external
        view
        returns (
            Status status,
            address token,
            address submitter,
            address solver,
            uint256 reward,
            uint256 solverBond,
            uint64 claimDeadline,
            uint64 submitDeadline,
            uint64 windowEnd,
            uint32 openGames,
            uint32 refutations,
            bytes32 modelRoot
        )
    {
        Job storage job = jobs[jobId];
        status = job.status;
        token = job.token;
        submitter = job.submitter;
        solver = job.solver;
        reward = job.reward;
        solverBond = job.solverBond;
        claimDeadline = job.claimDeadline;
        submitDeadline = job.submitDeadline;
        windowEnd = job.submittedAt == 0 ? 0 : job.submittedAt + job.challengeWindow;
        openGames = job.openGames;
        refutations = job.refutations;
        modelRoot = job.modelRoot;
    }

    // ------------------------------------------------------------------ internals

    function _job(uint256 jobId) internal view returns (Job storage job) {
        job = jobs[jobId];
        if (job.status == Status.None) revert NoSuchJob(jobId);
    }

    function _requireStatus(uint256 jobId, Job storage job, Status wanted) internal view {
        if (job.status != wanted) revert WrongStatus(jobId, job.status);
    }

    function _checkCheckpoint(
        Job storage job,
        uint256 count,
        uint256 checkpoint,
        bytes32 root,
        bytes32[] calldata proof
    ) internal view {
        if (checkpoint >= count || proof.length != Commitments.depthOf(count)) {
            revert BadCheckpointProof();
        }
        bytes32 merkle = Commitments.fold(Commitments.traceLeaf(checkpoint, root), checkpoint, proof);
        if (Commitments.traceRoot(count, merkle) != job.traceRoot) revert BadCheckpointProof();
    }

    /// @dev The amounts and deadlines of a posting.
    function _checkTerms(
        uint64 claimDeadline,
        uint64 submitDeadline,
        uint128 solverBond,
        uint64 challengeWindow,
        address token,
        uint256 reward
    ) internal view {
        if (reward == 0) revert ZeroReward();
        if (reward > type(uint128).max) revert AmountTooLarge(reward);
        if (
            claimDeadline <= block.timestamp || submitDeadline <= claimDeadline || challengeWindow == 0
                || challengeWindow > MAX_CHALLENGE_WINDOW
        ) revert BadDeadlines();
        // In ETH, a bond below the challenger's would let a cheater risk almost nothing and
        // pay a refuter less than its gas. A token's bond cannot be compared with ETH here;
        // it must not be zero.
        uint256 minBond = token == ETH ? challengerBond : 1;
        if (solverBond < minBond) revert WrongBond(solverBond, minBond);
    }

    /// @dev Every bound the Rust `JobSpec::validate` checks (a spec no game could settle
    ///      would let a solver be made to lose on time), then the replay bound: one game's
    ///      replay (k steps to bisect, up to k + 1 more to reach and instrument the disputed
    ///      step) must fit the clock extension at the market's replay rate.
    function _checkSpec(bytes calldata spec) internal view returns (JobSpecCodec.Header memory h) {
        uint256 stepOps = game.semantics().validate(spec);
        h = JobSpecCodec.header(spec);
        uint256 work = 2 * (uint256(h.interval) + 1) * stepOps;
        uint256 limit = uint256(game.extension()) * replayRate;
        if (work > limit) revert IntervalTooHeavy(work, limit);
    }

    function _emitPosted(uint256 jobId, Job storage job, bytes calldata spec) internal {
        emit JobPosted(
            jobId,
            job.submitter,
            job.jobHash,
            job.datasetRoot,
            job.token,
            job.reward,
            job.solverBond,
            job.claimDeadline,
            job.submitDeadline,
            job.challengeWindow,
            spec
        );
    }

    function _burnShare(uint256 amount) internal view returns (uint256) {
        return amount * burnBps / BPS;
    }

    function _credit(address token, address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[token][account] += amount;
        emit Credited(token, account, amount);
    }

    /// @dev Pulls exactly `amount` of `token` from the caller; the balance delta must be the
    ///      amount, so a token that takes a fee (or otherwise moves another amount) is refused.
    ///      `SafeERC20` accepts tokens that return no bool and refuses those that return false.
    function _pullToken(address token, uint256 amount) internal {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 afterwards = IERC20(token).balanceOf(address(this));
        if (afterwards < before || afterwards - before != amount) {
            revert TransferAmountMismatch(token, amount, afterwards < before ? 0 : afterwards - before);
        }
    }

    function _payOut(address token, address account, address to) internal {
        uint256 amount = credits[token][account];
        if (amount == 0) revert NothingToWithdraw();
        credits[token][account] = 0; // effects before the interaction: a reentrant call finds nothing
        emit Withdrawn(token, account, to, amount);
        if (token == ETH) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }
}
