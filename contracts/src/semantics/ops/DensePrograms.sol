// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DenseOps} from "./DenseOps.sol";

/// @title DensePrograms
/// @notice The element programs of the dense ops ({DenseOps}: schedule, gather, relu and its
///         gradient, the bias gradient, log-softmax, the loss gradient and the optimizers) and
///         of the initial state's drawn weights. A contract of its own, called by
///         {GraphSemantics}, so that the interpreter stays far below the code-size limit: they
///         are most of the dense ops' code, and their one-step proofs have gas to spare for
///         the call (about 4.5k gas, a cold account among it). The matrix products (linear
///         and its weight and input gradients) run inline in {GraphSemantics}
///         ({DenseOps.product}).
contract DensePrograms {
    /// @notice Element `e`'s number of micro-steps and, when `k` is one of them (or 0 for a
    ///         program without steps), its micro-step `k` as an instruction word ({Micro});
    ///         otherwise 0, which the caller refuses (`k = 2^256 − 1` asks the length alone).
    ///         One call where the one-step proof needs both. `op` is the node's, `d` its
    ///         dimensions, `job0, job1` the job ({DenseOps.pack}), `t` the step.
    function program(
        uint8 op,
        DenseOps.Dims memory d,
        uint256 job0,
        uint256 job1,
        uint256 t,
        uint256 e,
        uint256 k
    ) external pure returns (uint256 len, uint256 word) {
        DenseOps.Job memory j = DenseOps.unpack(job0, job1);
        len = DenseOps.length(j, op, d, t, e);
        if (k < (len == 0 ? 1 : len)) word = DenseOps.instruction(j, op, d, t, e, k);
    }

    /// @notice Micro-step `k` (< 4) of element `e` of parameter `q` of S_0, drawn from
    ///         `seed`, whose fan-in is `fanIn` ({DenseOps.initInstruction}).
    function initInstruction(uint64 seed, uint256 fanIn, uint256 q, uint256 e, uint256 k)
        external
        pure
        returns (uint256)
    {
        return DenseOps.initInstruction(seed, fanIn, q, e, k);
    }
}
