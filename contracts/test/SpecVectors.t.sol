// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {SemanticsFixture} from "./semantics/SemanticsFixture.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {JobSpecCodec} from "../src/lib/JobSpecCodec.sol";
import {SpecRules} from "../src/lib/SpecRules.sol";
import {Fp32Alu} from "../src/fp32/Fp32Alu.sol";
import {GraphSemantics} from "../src/semantics/GraphSemantics.sol";
import {GraphSpecRules} from "../src/semantics/GraphSpecRules.sol";
import {DensePrograms} from "../src/semantics/ops/DensePrograms.sol";
import {ImagePrograms} from "../src/semantics/ops/ImagePrograms.sol";
import {NormPrograms} from "../src/semantics/ops/NormPrograms.sol";
import {AttentionPrograms} from "../src/semantics/ops/AttentionPrograms.sol";
import {GraphSpecCodec} from "../src/semantics/graph/GraphSpecCodec.sol";

/// @notice `postJob` against the spec vectors the Rust validation is tested with
///         (`test/vectors/specs.json`, written by `proof-of-learning/tests/it/spec_vectors.rs`):
///         every spec Rust accepts is posted, with the same step cost; every spec Rust refuses
///         is refused, with `InvalidSpec` naming the same field, or a decoding error where
///         Rust cannot decode it.
contract SpecVectorsTest is Test {
    JobMarket internal market;
    GraphSemantics internal semantics;
    string internal json;

    function setUp() public {
        json = vm.readFile("test/vectors/specs.json");
        semantics = SemanticsFixture.deploy();
        market = new JobMarket(
            new Fp32Alu(),
            semantics,
            JobMarket.Config({
                challengerBond: 1 ether,
                burnBps: 5000,
                clock: 1 hours,
                extension: 30 minutes,
                moveTime: 30,
                replayRate: 1e12
            })
        );
        vm.deal(address(this), 1000 ether);
    }

    function test_postJob_agreesWithRustOnEverySpecVector() public {
        uint256 count;
        uint256 valid;
        for (uint256 i;; ++i) {
            string memory key = string.concat(".vectors[", vm.toString(i), "]");
            if (!vm.keyExistsJson(json, key)) break;
            string memory name = vm.parseJsonString(json, string.concat(key, ".name"));
            bytes memory spec = vm.parseJsonBytes(json, string.concat(key, ".spec"));
            string memory outcome = vm.parseJsonString(json, string.concat(key, ".outcome"));
            (bool ok, bytes memory ret) = address(market).call{value: 1}(
                abi.encodeCall(
                    market.postJob,
                    (spec, uint64(block.timestamp + 1), uint64(block.timestamp + 2), 1 ether, 1)
                )
            );
            if (bytes(outcome).length == 0) {
                assertTrue(ok, name);
                uint256 stepOps = vm.parseUint(vm.parseJsonString(json, string.concat(key, ".stepOps")));
                assertEq(semantics.validate(spec), stepOps, name);
                ++valid;
            } else if (keccak256(bytes(outcome)) == keccak256("parse")) {
                assertFalse(ok, name);
                bytes4 selector = bytes4(ret);
                assertTrue(
                    selector == GraphSpecCodec.UnsupportedSpec.selector
                        || selector == JobSpecCodec.SpecTooShort.selector,
                    name
                );
            } else {
                assertFalse(ok, name);
                assertEq(ret, abi.encodeWithSelector(SpecRules.InvalidSpec.selector, outcome), name);
            }
            ++count;
        }
        assertGt(count, 50, "the vectors were read");
        assertGt(valid, 5);
    }
}
