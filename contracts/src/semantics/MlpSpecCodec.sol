// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobSpecCodec} from "../lib/JobSpecCodec.sol";
import {SpecRules} from "../lib/SpecRules.sol";

/// @title MlpSpecCodec
/// @notice Reads and checks the canonical spec of an MLP job (`docs/commitments.md` § Job
///         hash): the decoder of `MlpSemantics`, the on-chain twin of the Rust
///         `JobSpec::from_canonical_bytes` (a spec that does not decode reverts with
///         `UnsupportedSpec` or `JobSpecCodec.SpecTooShort`, Rust's `SpecParse`) and of
///         `JobSpec::validate` (`SpecRules.InvalidSpec(field)`), and the step cost model.
library MlpSpecCodec {
    /// @dev The decoded spec fields the semantics needs. f32 fields hold their bit patterns.
    struct Spec {
        uint64 seed;
        uint256 steps;
        uint256 batch;
        uint256 samples;
        uint256 holdout;
        uint256[] widths; // features, hidden…, classes
        uint256 layers; // widths.length − 1
        bool adam;
        uint32 lr;
        uint32 momentum;
        uint32 beta1;
        uint32 beta2;
        uint32 eps;
        uint32 weightDecay;
        uint8 schedule; // 1 constant, 2 linear warm-up/decay, 3 step
        uint256 warmup;
        uint256 every;
        uint32 gamma;
    }

    /// @notice The spec's model, optimizer or schedule section is not one this model reads
    ///         (unknown tag, bad length); `offset` is where decoding stopped.
    error UnsupportedSpec(uint256 offset);

    /// @dev Offset of the dataset format tag in the header.
    uint256 internal constant FORMAT_OFFSET = 56;

    /// @notice Decodes the canonical spec: the header through {JobSpecCodec}, then
    ///         `u8 1 (mlp), u32 #hidden, u32 width…, u8 1 (relu)`, the optimizer
    ///         (`u8 1, f32 lr, momentum, wd` or `u8 2, f32 lr, β1, β2, ε, wd`) and the schedule
    ///         (`u8 1` | `u8 2, u32 warmup` | `u8 3, u32 every, f32 γ`), which must end the spec.
    function parse(bytes calldata spec) internal pure returns (Spec memory s) {
        JobSpecCodec.Header memory h = JobSpecCodec.header(spec);
        uint256 format = _u8(spec, FORMAT_OFFSET);
        if (format != 1 && format != 2) revert UnsupportedSpec(FORMAT_OFFSET);
        s.seed = h.seed;
        s.steps = h.steps;
        s.batch = h.batch;
        s.samples = h.samples;
        s.holdout = h.holdout;
        uint256 o = JobSpecCodec.MODEL_OFFSET;
        if (_u8(spec, o) != 1) revert UnsupportedSpec(o);
        uint256 hidden = _u32(spec, o + 1);
        if (hidden > SpecRules.MAX_HIDDEN_LAYERS) revert UnsupportedSpec(o + 1);
        o += 5;
        s.layers = hidden + 1;
        s.widths = new uint256[](hidden + 2);
        s.widths[0] = h.features;
        for (uint256 i; i < hidden; ++i) {
            s.widths[i + 1] = _u32(spec, o);
            o += 4;
        }
        s.widths[hidden + 1] = h.classes;
        if (_u8(spec, o) != 1) revert UnsupportedSpec(o); // relu
        ++o;
        uint256 optimizer = _u8(spec, o);
        if (optimizer == 1) {
            s.lr = uint32(_u32(spec, o + 1));
            s.momentum = uint32(_u32(spec, o + 5));
            s.weightDecay = uint32(_u32(spec, o + 9));
            o += 13;
        } else if (optimizer == 2) {
            s.adam = true;
            s.lr = uint32(_u32(spec, o + 1));
            s.beta1 = uint32(_u32(spec, o + 5));
            s.beta2 = uint32(_u32(spec, o + 9));
            s.eps = uint32(_u32(spec, o + 13));
            s.weightDecay = uint32(_u32(spec, o + 17));
            o += 21;
        } else {
            revert UnsupportedSpec(o);
        }
        uint256 schedule = _u8(spec, o);
        s.schedule = uint8(schedule);
        if (schedule == 1) {
            o += 1;
        } else if (schedule == 2) {
            s.warmup = _u32(spec, o + 1);
            o += 5;
        } else if (schedule == 3) {
            s.every = _u32(spec, o + 1);
            s.gamma = uint32(_u32(spec, o + 5));
            o += 9;
        } else {
            revert UnsupportedSpec(o);
        }
        if (spec.length != o) revert UnsupportedSpec(o);
    }

    /// @notice Checks every bound of the Rust `JobSpec::validate`, in its order, and returns
    ///         the spec's step cost (see {stepOps}).
    function validate(bytes calldata spec) internal pure returns (uint256) {
        Spec memory s = parse(spec);
        SpecRules.checkHeader(JobSpecCodec.header(spec));
        for (uint256 i = 1; i < s.layers; ++i) {
            SpecRules.checkRange("model.hidden", s.widths[i], 1, SpecRules.MAX_WIDTH);
        }
        if (params(s) > SpecRules.MAX_PARAMS) revert SpecRules.InvalidSpec("model");
        SpecRules.checkPositive("optimizer.learning_rate", s.lr);
        if (s.adam) {
            SpecRules.checkUnitInterval("optimizer.beta1", s.beta1);
            SpecRules.checkUnitInterval("optimizer.beta2", s.beta2);
            SpecRules.checkPositive("optimizer.eps", s.eps);
        } else {
            SpecRules.checkUnitInterval("optimizer.momentum", s.momentum);
        }
        SpecRules.checkNonNegative("optimizer.weight_decay", s.weightDecay);
        if (s.schedule == 2) {
            if (s.warmup >= s.steps) revert SpecRules.InvalidSpec("schedule.warmup_steps");
        } else if (s.schedule == 3) {
            SpecRules.checkRange("schedule.every", s.every, 1, s.steps);
            SpecRules.checkPositive("schedule.gamma", s.gamma);
        }
        return stepOps(s);
    }

    /// @notice The number of parameters: Σ over layers of fan_in·fan_out + fan_out.
    function params(Spec memory s) internal pure returns (uint256 total) {
        for (uint256 l; l < s.layers; ++l) {
            total += (s.widths[l] + 1) * s.widths[l + 1];
        }
    }

    /// @notice The step cost model (`docs/dispute-game.md` § Clocks), an upper bound on the
    ///         fp32 primitives of one training step: per sample, three fmas per weight
    ///         (forward, weight gradient, input gradient), four ops per unit (bias, ReLU and
    ///         their gradients) and 40 per class (log-softmax: one exp, a share of the log,
    ///         the loss gradient); per parameter, 16 for the optimizer and the schedule.
    ///         Twin of the Rust `JobSpec::step_ops`.
    function stepOps(Spec memory s) internal pure returns (uint256) {
        uint256 weights = 0;
        uint256 units = 0;
        for (uint256 l; l < s.layers; ++l) {
            weights += s.widths[l] * s.widths[l + 1];
            units += s.widths[l + 1];
        }
        uint256 classes = s.widths[s.layers];
        return s.batch * (3 * weights + 4 * units + 40 * classes) + 16 * params(s);
    }

    function _u8(bytes calldata spec, uint256 offset) private pure returns (uint256) {
        if (spec.length <= offset) revert UnsupportedSpec(offset);
        return uint8(spec[offset]);
    }

    function _u32(bytes calldata spec, uint256 offset) private pure returns (uint256) {
        if (spec.length < offset + 4) revert UnsupportedSpec(offset);
        return uint32(bytes4(spec[offset:offset + 4]));
    }
}
