// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphPlan as P} from "./graph/GraphPlan.sol";
import {GraphSpecCodec as G} from "./graph/GraphSpecCodec.sol";
import {NodeGeometry} from "./graph/NodeGeometry.sol";
import {Shapes} from "./graph/Shapes.sol";

/// @title GraphSpecRules
/// @notice What `postJob` asks of a spec through {GraphSemantics}: every bound of the Rust
///         `JobSpec::validate` (through {GraphSpecCodec}) and the step cost model, twin of the
///         Rust `JobSpec::step_ops`. A contract of its own so that the semantics stays under
///         the code-size limit.
contract GraphSpecRules {
    /// @notice Reverts with `SpecRules.InvalidSpec(field)` for a spec out of bounds and with a
    ///         decoding error for one that does not decode; returns the cost of one step.
    function validate(bytes calldata spec) external pure returns (uint256 stepOps) {
        G.Model memory m = G.validate(spec);
        return m.mlp ? _mlpStepOps(m) : _graphStepOps(m);
    }

    /// @dev The MLP cost model: per sample, three fmas per weight, four ops per unit and 40
    ///      per class; 16 per parameter (Rust `JobSpec::step_ops` for an `mlp`).
    function _mlpStepOps(G.Model memory m) internal pure returns (uint256) {
        uint256 weights = 0;
        uint256 units = 0;
        uint256 total = 0;
        uint256 previous = m.features;
        for (uint256 l; l <= m.hidden.length; ++l) {
            uint256 width = l < m.hidden.length ? m.hidden[l] : m.classes;
            weights += previous * width;
            units += width;
            total += (previous + 1) * width;
            previous = width;
        }
        return m.batch * (3 * weights + 4 * units + 40 * m.classes) + 16 * total;
    }

    /// @dev The graph cost model (Rust `train::step_ops`): over the nodes of a step, their
    ///      element count times their longest micro-program.
    function _graphStepOps(G.Model memory m) internal pure returns (uint256 total) {
        P.Plan memory plan = P.build(m);
        for (uint256 i; i < plan.count; ++i) {
            P.Node memory nd = P.node(plan, i);
            total += Shapes.elements(P.shapeOf(m, nd)) * NodeGeometry.maxLength(m, nd);
        }
    }
}
