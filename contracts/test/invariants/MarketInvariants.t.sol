// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ToyAlu} from "../game/ToyAlu.sol";
import {ToySemantics} from "../game/ToyProgram.sol";
import {MarketHandler} from "./MarketHandler.sol";

/// @notice The properties of PROPERTIES.md, checked after every call of random sequences.
contract MarketInvariantsTest is Test {
    JobMarket internal market;
    MarketHandler internal handler;

    function setUp() public {
        market = new JobMarket(
            new ToyAlu(),
            new ToySemantics(),
            JobMarket.Config({
                challengerBond: 1 ether,
                burnBps: 2500,
                clock: 1 hours,
                extension: 30 minutes,
                moveTime: 30,
                replayRate: 1e6
            })
        );
        handler = new MarketHandler(market);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = MarketHandler.post.selector;
        selectors[1] = MarketHandler.cancel.selector;
        selectors[2] = MarketHandler.claim.selector;
        selectors[3] = MarketHandler.submit.selector;
        selectors[4] = MarketHandler.slashLate.selector;
        selectors[5] = MarketHandler.challenge.selector;
        selectors[6] = MarketHandler.move.selector;
        selectors[7] = MarketHandler.timeout.selector;
        selectors[8] = MarketHandler.settle.selector;
        selectors[9] = MarketHandler.finalize.selector;
        selectors[10] = MarketHandler.withdraw.selector;
        selectors[11] = MarketHandler.warp.selector;
        selectors[12] = MarketHandler.challenge.selector; // challenges three times as often
        selectors[13] = MarketHandler.challenge.selector;
        selectors[14] = MarketHandler.postClaimSubmit.selector;
        selectors[15] = MarketHandler.settle.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// M1: conservation of ETH and of every token at every step.
    function invariant_balanceIsEscrowPlusBondsPlusCredits() public view {
        for (uint256 c; c < handler.currencyCount(); ++c) {
            address token = handler.currencies(c);
            assertEq(handler.balanceIn(token), handler.locked(token) + handler.credited(token));
        }
    }

    /// M3: a job in a terminal state never changes state again.
    function invariant_terminalJobsStayTerminal() public view {
        assertEq(handler.terminalViolations(), 0);
    }

    /// M4: each job's counters are its games': `openGames` is the number of its games not
    ///     yet paid out, and `refutations` the number of its paid-out games the solver lost.
    function invariant_gameCountersMatchTheGames() public view {
        DisputeGame game = market.game();
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 jobId = handler.jobIds(i);
            (uint256 unsettled, uint256 refuted) = (0, 0);
            for (uint256 k; k < handler.gameCount(); ++k) {
                DisputeGame.Game memory g = game.getGame(handler.gameIds(k));
                if (g.setup.jobId != jobId) continue;
                if (!g.clock.settled) ++unsettled;
                else if (!g.clock.solverWon) ++refuted;
            }
            JobMarket.Job memory job = market.getJob(jobId);
            assertEq(job.openGames, unsettled, "openGames");
            assertEq(job.refutations, refuted, "refutations");
        }
    }

    /// M2: once every game has resolved and every credit has been withdrawn, the market
    ///     holds nothing.
    function afterInvariant() public {
        handler.drain();
        for (uint256 c; c < handler.currencyCount(); ++c) {
            address token = handler.currencies(c);
            assertEq(handler.locked(token), 0, "everything settled");
            assertEq(handler.credited(token), 0, "everything withdrawn");
            assertEq(handler.balanceIn(token), 0, "the market is empty");
        }
        assertEq(handler.terminalViolations(), 0);
    }
}
