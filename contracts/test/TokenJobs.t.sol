// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {DevToken} from "../src/devnet/DevToken.sol";
import {GameDriver} from "./game/GameDriver.sol";
import {
    FalseToken,
    FeeToken,
    IMarketPayouts,
    LyingToken,
    NoBoolToken,
    OddToken,
    ReenteringToken
} from "./tokens/OddTokens.sol";

interface IApprove {
    function approve(address spender, uint256 amount) external returns (bool);
    function balanceOf(address account) external view returns (uint256);
}

/// @notice Jobs paid in an ERC-20 token: reward, solver bond and refuters' shares move in the
///         job's token, challenger bonds in ETH; tokens that return no bool, return false,
///         take a fee, lie or re-enter are handled.
contract TokenJobsTest is GameDriver {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant T_REWARD = 500e6; // 500 vUSD
    uint128 internal constant T_BOND = 200e6; // 200 vUSD

    DevToken internal usd;

    function setUp() public override {
        super.setUp();
        usd = new DevToken();
        usd.mint(submitter, 10_000e6);
        usd.mint(solver, 10_000e6);
        usd.mint(challenger, 10_000e6);
    }

    function _none() internal pure returns (Lie memory none) {}

    function _approve(address who, address token, uint256 amount) internal {
        vm.prank(who);
        IApprove(token).approve(address(market), amount);
    }

    function _postIn(address token) internal returns (uint256 jobId) {
        _approve(submitter, token, T_REWARD);
        vm.prank(submitter);
        jobId = _postUnapproved(token);
    }

    /// Posts a job in `token` as the caller set up (prank, allowance), with the usual terms.
    function _postUnapproved(address token) internal returns (uint256) {
        return market.postTokenJob(
            toySpec(),
            uint64(block.timestamp + 1 hours),
            uint64(block.timestamp + 2 days),
            T_BOND,
            WINDOW,
            token,
            T_REWARD
        );
    }

    function _claimAndSubmit(uint256 jobId, address token, World memory w) internal {
        _approve(solver, token, T_BOND);
        vm.prank(solver);
        market.claimJob(jobId);
        submitClaimed(jobId, w);
    }

    function _withdraw(address who, address token) internal {
        vm.prank(who);
        market.withdraw(token, who);
    }

    // ------------------------------------------------------------------ lifecycle

    function test_honestTokenJob_paysTheSolverInTheTokenAndChallengerBondsInEth() public {
        World memory truth = build(_none());
        uint256 jobId = _postIn(address(usd));
        assertEq(usd.balanceOf(address(market)), T_REWARD, "reward escrowed");
        assertEq(market.getJob(jobId).token, address(usd));
        _claimAndSubmit(jobId, address(usd), truth);
        assertEq(usd.balanceOf(address(market)), T_REWARD + T_BOND, "bond escrowed");
        // A challenger who believes a lie loses its ETH bond to the honest solver.
        uint256 gameId = openChallenge(jobId, truth, build(Lie(true, 3, 2, 1, 0, 0)));
        play(gameId, truth, build(Lie(true, 3, 2, 1, 0, 0)), 200);
        assertTrue(game.getGame(gameId).clock.solverWon);
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        market.finalize(jobId);
        uint256 burned = CHALLENGER_BOND * BURN_BPS / BPS;
        assertEq(market.credits(address(usd), solver), T_REWARD + T_BOND, "reward and bond in vUSD");
        assertEq(market.credits(address(0), solver), CHALLENGER_BOND - burned, "the game's pay in ETH");
        uint256 before = usd.balanceOf(solver);
        _withdraw(solver, address(usd));
        assertEq(usd.balanceOf(solver), before + T_REWARD + T_BOND);
        assertEq(market.credits(address(0), solver), CHALLENGER_BOND - burned, "ETH credit untouched");
        _withdraw(solver, address(0));
        market.flushBurned(address(0));
        assertEq(usd.balanceOf(address(market)), 0, "no token left");
        assertEq(address(market).balance, 0, "no ETH left");
    }

    function test_lyingTokenJob_paysTheRefuterItsShareInTheToken() public {
        World memory liar = build(Lie(true, 4, 2, 1, 2, 0));
        World memory truth = build(_none());
        uint256 jobId = _postIn(address(usd));
        _claimAndSubmit(jobId, address(usd), liar);
        uint256 eth0 = challenger.balance;
        uint256 gameId = openChallenge(jobId, liar, truth);
        play(gameId, liar, truth, 200);
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        market.finalize(jobId);
        market.claimShare(gameId);
        uint256 burned = T_BOND * BURN_BPS / BPS;
        assertEq(market.credits(address(usd), challenger), T_BOND - burned, "share of the bond, in vUSD");
        assertEq(market.credits(address(0), challenger), CHALLENGER_BOND, "its ETH bond back");
        assertEq(market.credits(address(usd), submitter), T_REWARD, "submitter refunded in vUSD");
        assertEq(market.credits(address(usd), market.BURN_ADDRESS()), burned);
        assertEq(market.credits(address(usd), solver), 0);
        _withdraw(challenger, address(usd));
        _withdraw(challenger, address(0));
        _withdraw(submitter, address(usd));
        market.flushBurned(address(usd));
        assertEq(usd.balanceOf(challenger), 10_000e6 + T_BOND - burned, "the refuter profits");
        assertEq(challenger.balance, eth0, "and its ETH bond came back");
        assertEq(usd.balanceOf(market.BURN_ADDRESS()), burned);
        assertEq(usd.balanceOf(address(market)), 0, "no token left");
        assertEq(address(market).balance, 0, "no ETH left");
    }

    function test_lateTokenJob_refundsTheSubmitterInTheToken() public {
        uint256 jobId = _postIn(address(usd));
        _approve(solver, address(usd), T_BOND);
        vm.prank(solver);
        market.claimJob(jobId);
        vm.warp(block.timestamp + 3 days);
        market.slashLate(jobId);
        uint256 burned = T_BOND * BURN_BPS / BPS;
        assertEq(market.credits(address(usd), submitter), T_REWARD + T_BOND - burned);
        assertEq(market.credits(address(0), submitter), 0, "nothing in ETH");
    }

    function test_cancelledTokenJob_refundsTheReward() public {
        uint256 jobId = _postIn(address(usd));
        vm.prank(submitter);
        market.cancelJob(jobId);
        _withdraw(submitter, address(usd));
        assertEq(usd.balanceOf(submitter), 10_000e6);
        vm.expectRevert(JobMarket.NothingToWithdraw.selector);
        _withdraw(submitter, address(usd));
    }

    // ------------------------------------------------------------------ refusals

    function test_postTokenJob_refusesWhatItCannotHold() public {
        uint64 claimBy = uint64(block.timestamp + 1 hours);
        uint64 submitBy = uint64(block.timestamp + 2 days);
        bytes memory spec = toySpec();
        vm.startPrank(submitter);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotAToken.selector, address(0)));
        market.postTokenJob(spec, claimBy, submitBy, T_BOND, WINDOW, address(0), T_REWARD);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.NotAToken.selector, challenger));
        market.postTokenJob(spec, claimBy, submitBy, T_BOND, WINDOW, challenger, T_REWARD);
        vm.expectRevert(JobMarket.ZeroReward.selector);
        market.postTokenJob(spec, claimBy, submitBy, T_BOND, WINDOW, address(usd), 0);
        uint256 tooMuch = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(JobMarket.AmountTooLarge.selector, tooMuch));
        market.postTokenJob(spec, claimBy, submitBy, T_BOND, WINDOW, address(usd), tooMuch);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongBond.selector, 0, 1));
        market.postTokenJob(spec, claimBy, submitBy, 0, WINDOW, address(usd), T_REWARD);
        // Not approved: the pull fails, nothing is recorded.
        vm.expectRevert();
        market.postTokenJob(spec, claimBy, submitBy, T_BOND, WINDOW, address(usd), T_REWARD);
        // ETH sent along is refused (the function is not payable).
        (bool ok,) = address(market).call{value: 1 ether}(
            abi.encodeCall(
                market.postTokenJob, (spec, claimBy, submitBy, T_BOND, WINDOW, address(usd), T_REWARD)
            )
        );
        assertFalse(ok, "ETH with a token job");
        vm.stopPrank();
        assertEq(market.jobCount(), 0, "no job recorded");
    }

    /// `checkJob` answers what a posting would, without the transfer: a client checks a token
    /// job before it approves anything.
    function test_checkJob_refusesWhatAPostingWouldAndNothingElse() public view {
        uint64 claimBy = uint64(block.timestamp + 1 hours);
        uint64 submitBy = uint64(block.timestamp + 2 days);
        bytes memory spec = toySpec();
        // No allowance, no balance needed: the terms are fine.
        market.checkJob(spec, claimBy, submitBy, T_BOND, WINDOW, address(usd), T_REWARD);
        market.checkJob(spec, claimBy, submitBy, SOLVER_BOND, WINDOW, address(0), REWARD);
        _expectCheckRevert(
            abi.encodeWithSelector(JobMarket.NotAToken.selector, challenger),
            abi.encodeCall(market.checkJob, (spec, claimBy, submitBy, T_BOND, WINDOW, challenger, T_REWARD))
        );
        _expectCheckRevert(
            abi.encodeWithSelector(JobMarket.WrongBond.selector, 1, CHALLENGER_BOND),
            abi.encodeCall(market.checkJob, (spec, claimBy, submitBy, 1, WINDOW, address(0), REWARD))
        );
        _expectCheckRevert(
            abi.encodeWithSelector(JobMarket.BadDeadlines.selector),
            abi.encodeCall(market.checkJob, (spec, submitBy, claimBy, T_BOND, WINDOW, address(usd), T_REWARD))
        );
        _expectCheckRevert(
            abi.encodeWithSelector(JobMarket.ZeroReward.selector),
            abi.encodeCall(market.checkJob, (spec, claimBy, submitBy, T_BOND, WINDOW, address(usd), 0))
        );
    }

    function _expectCheckRevert(bytes memory reason, bytes memory call) internal view {
        (bool ok, bytes memory out) = address(market).staticcall(call);
        assertFalse(ok, "refused");
        assertEq(out, reason);
    }

    function test_claimJob_ofATokenJob_refusesEthAndMissingApproval() public {
        uint256 jobId = _postIn(address(usd));
        vm.prank(solver);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongBond.selector, T_BOND, 0));
        market.claimJob{value: T_BOND}(jobId);
        vm.prank(solver);
        vm.expectRevert(); // ERC20InsufficientAllowance
        market.claimJob(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(JobMarket.Status.Open), "still open");
    }

    function test_ethJob_stillNeedsTheChallengerBondAsSolverBond() public {
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(JobMarket.WrongBond.selector, 1, CHALLENGER_BOND));
        market.postJob{value: 1 ether}(
            toySpec(), uint64(block.timestamp + 1 hours), uint64(block.timestamp + 2 days), 1, WINDOW
        );
    }

    // ------------------------------------------------------------------ odd tokens

    function _fund(OddToken token) internal {
        token.mint(submitter, 10_000e6);
        token.mint(solver, 10_000e6);
    }

    /// A token whose transfers return nothing (as USDT): the whole lifecycle works.
    function test_noBoolToken_worksThroughTheWholeLifecycle() public {
        NoBoolToken token = new NoBoolToken();
        _fund(token);
        uint256 jobId = _postIn(address(token));
        _claimAndSubmit(jobId, address(token), build(_none()));
        vm.warp(market.getJob(jobId).submittedAt + WINDOW);
        market.finalize(jobId);
        _withdraw(solver, address(token));
        assertEq(token.balanceOf(solver), 10_000e6 + T_REWARD);
        assertEq(token.balanceOf(address(market)), 0);
    }

    /// A token that returns false instead of reverting: a failed pull is refused, a good one
    /// goes through.
    function test_falseToken_isRefusedWhenItReportsFailure() public {
        FalseToken token = new FalseToken();
        _fund(token);
        vm.prank(submitter);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        _postUnapproved(address(token));
        uint256 jobId = _postIn(address(token));
        vm.prank(submitter);
        market.cancelJob(jobId);
        _withdraw(submitter, address(token));
        assertEq(token.balanceOf(submitter), 10_000e6);
    }

    /// A fee-on-transfer token is refused when a job is posted, and when a fee is switched on
    /// after the posting, the claim is refused: the market never holds less than it owes.
    function test_feeToken_isRefusedByTheBalanceCheck() public {
        FeeToken token = new FeeToken();
        _fund(token);
        _approve(submitter, address(token), T_REWARD);
        vm.prank(submitter);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobMarket.TransferAmountMismatch.selector, address(token), T_REWARD, T_REWARD - T_REWARD / 100
            )
        );
        _postUnapproved(address(token));
        token.setFee(false);
        uint256 jobId = _postIn(address(token));
        token.setFee(true);
        _approve(solver, address(token), T_BOND);
        vm.prank(solver);
        vm.expectRevert(
            abi.encodeWithSelector(
                JobMarket.TransferAmountMismatch.selector, address(token), T_BOND, T_BOND - T_BOND / 100
            )
        );
        market.claimJob(jobId);
        assertEq(token.balanceOf(address(market)), T_REWARD, "exactly the escrow");
    }

    /// A token that says true and moves nothing is refused.
    function test_lyingToken_isRefusedByTheBalanceCheck() public {
        LyingToken token = new LyingToken();
        vm.prank(submitter);
        vm.expectRevert(
            abi.encodeWithSelector(JobMarket.TransferAmountMismatch.selector, address(token), T_REWARD, 0)
        );
        _postUnapproved(address(token));
    }

    /// A token that calls back into `withdraw` from its `transfer` is paid once.
    function test_reenteringToken_isPaidOnce() public {
        ReenteringToken token = new ReenteringToken();
        _fund(token);
        token.mint(challenger, T_REWARD);
        // Someone else's escrow sits in the market in the same token.
        vm.prank(challenger);
        token.approve(address(market), T_REWARD);
        vm.prank(challenger);
        _postUnapproved(address(token));
        uint256 jobId = _postIn(address(token));
        vm.prank(submitter);
        market.cancelJob(jobId);
        token.aim(IMarketPayouts(address(market)));
        _withdraw(submitter, address(token));
        assertEq(token.reentries(), 1);
        assertTrue(token.reentryFailed(), "the nested withdraw reverted");
        assertEq(token.balanceOf(submitter), 10_000e6, "paid exactly once");
        assertEq(token.balanceOf(address(market)), T_REWARD, "the other escrow is intact");
    }
}
