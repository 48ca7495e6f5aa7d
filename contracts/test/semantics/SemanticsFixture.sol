// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {GraphSemantics} from "../../src/semantics/GraphSemantics.sol";
import {GraphSpecRules} from "../../src/semantics/GraphSpecRules.sol";
import {AttentionPrograms} from "../../src/semantics/ops/AttentionPrograms.sol";
import {DensePrograms} from "../../src/semantics/ops/DensePrograms.sol";
import {ImagePrograms} from "../../src/semantics/ops/ImagePrograms.sol";
import {NormPrograms} from "../../src/semantics/ops/NormPrograms.sol";

/// @notice The graph semantics the tests use: wired to fresh op-family contracts and spec
///         rules, as `vtrain-deploy` wires them.
library SemanticsFixture {
    function deploy() internal returns (GraphSemantics) {
        return new GraphSemantics(
            new DensePrograms(),
            new ImagePrograms(),
            new NormPrograms(),
            new AttentionPrograms(),
            new GraphSpecRules()
        );
    }
}
