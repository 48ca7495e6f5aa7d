// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {AttentionPrograms} from "../../src/semantics/ops/AttentionPrograms.sol";

/// @notice The transformer's element programs ({AttentionPrograms}) against the Rust
///         `Recorder`, word for word: `test/vectors/attention.json` holds every element's
///         program of every op on small geometries as instruction words (written and
///         checked by the Rust test `transformer::attention_program_vectors_match_the_contracts_copy`).
contract AttentionProgramsTest is Test {
    AttentionPrograms internal programs;

    function setUp() public {
        programs = new AttentionPrograms();
    }

    function test_everyProgramMatchesTheRustRecorder() public view {
        string memory json = vm.readFile("./test/vectors/attention.json");
        uint256[] memory ops = vm.parseJsonUintArray(json, ".ops");
        uint256[] memory geometries = vm.parseJsonUintArray(json, ".geometries");
        uint256[] memory elements = vm.parseJsonUintArray(json, ".elements");
        uint256[] memory lengths = vm.parseJsonUintArray(json, ".lengths");
        uint256[] memory words = vm.parseJsonUintArray(json, ".words");
        uint256 w;
        for (uint256 i; i < ops.length; ++i) {
            uint8 op = uint8(ops[i]);
            uint256 n = lengths[i];
            string memory at = string.concat("op ", vm.toString(op), " element ", vm.toString(elements[i]));
            assertEq(programs.length(op, geometries[i], elements[i]), n, string.concat(at, ": length"));
            for (uint256 k; k < (n == 0 ? 1 : n); ++k) {
                (uint256 len, uint256 word) = programs.program(op, geometries[i], elements[i], k);
                assertEq(len, n, string.concat(at, ": program length"));
                assertEq(word, words[w++], string.concat(at, " step ", vm.toString(k)));
            }
            (, uint256 past) = programs.program(op, geometries[i], elements[i], n == 0 ? 1 : n);
            assertEq(past, 0, string.concat(at, ": a step past the program"));
        }
        assertEq(w, words.length, "every word checked");
    }
}
