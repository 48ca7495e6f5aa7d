// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepSemantics} from "../../src/interfaces/IStepSemantics.sol";
import {JobSpecCodec} from "../../src/lib/JobSpecCodec.sol";
import {SpecRules} from "../../src/lib/SpecRules.sol";
import {StepWords} from "../../src/lib/StepWords.sol";

/// @notice A small test-only model: what a toy training step computes, written once and
///         used both by `ToySemantics` (what the game sees) and by `ToyWorld` (what the test
///         actors compute). Every element of every produced tensor depends bijectively on
///         each value that feeds it, so any lie reaches the next state.
///
///         state:         weights [W0 [300], W1 [3]], optimizer [M0 [5]]
///         intermediates: I0 [2,3], I1 [4] (copied from the dataset), I2 [257]
///         dataset:       features [4,3], labels [4]
library ToyProgram {
    uint8 internal constant ADD = 1;
    uint8 internal constant MUL = 3;
    uint8 internal constant FMA = 5;
    uint8 internal constant COPY = 0;

    uint8 internal constant INTER = 0;
    uint8 internal constant NEW_OPT = 1;
    uint8 internal constant NEW_W = 2;

    function counts(bool init) internal pure returns (uint32, uint32, uint32) {
        return init ? (uint32(0), uint32(1), uint32(2)) : (uint32(3), uint32(1), uint32(2));
    }

    function shapeOf(IStepSemantics.TensorId memory id) internal pure returns (uint64[] memory s) {
        if (id.list == INTER && id.index == 0) return _shape2(2, 3);
        if (id.list == INTER && id.index == 1) return _shape1(4);
        if (id.list == INTER && id.index == 2) return _shape1(257);
        if (id.list == NEW_OPT && id.index == 0) return _shape1(5);
        if (id.list == NEW_W && id.index == 0) return _shape1(300);
        if (id.list == NEW_W && id.index == 1) return _shape1(3);
        revert("toy: no such tensor");
    }

    function inputOf(IStepSemantics.TensorId memory id, uint8 slot)
        internal
        pure
        returns (IStepSemantics.TensorSource memory)
    {
        IStepSemantics.Source s;
        uint32 index;
        uint64[] memory shape;
        if (id.init) revert("toy: init ops read nothing");
        if (id.list == INTER && id.index == 0 && slot == 0) {
            (s, index, shape) = (IStepSemantics.Source.OldWeights, 0, _shape1(300));
        } else if (id.list == INTER && id.index == 1 && slot == 0) {
            (s, index, shape) = (IStepSemantics.Source.DatasetFeatures, 0, _shape2(4, 3));
        } else if (id.list == INTER && id.index == 2 && slot == 0) {
            (s, index, shape) = (IStepSemantics.Source.Intermediates, 0, _shape2(2, 3));
        } else if (id.list == INTER && id.index == 2 && slot == 1) {
            (s, index, shape) = (IStepSemantics.Source.OldOptimizer, 0, _shape1(5));
        } else if (id.list == NEW_OPT && slot == 0) {
            (s, index, shape) = (IStepSemantics.Source.OldOptimizer, 0, _shape1(5));
        } else if (id.list == NEW_OPT && slot == 1) {
            (s, index, shape) = (IStepSemantics.Source.Intermediates, 2, _shape1(257));
        } else if (id.list == NEW_W && id.index == 0 && slot == 0) {
            (s, index, shape) = (IStepSemantics.Source.OldWeights, 0, _shape1(300));
        } else if (id.list == NEW_W && id.index == 0 && slot == 1) {
            (s, index, shape) = (IStepSemantics.Source.NewOptimizer, 0, _shape1(5));
        } else if (id.list == NEW_W && id.index == 0 && slot == 2) {
            (s, index, shape) = (IStepSemantics.Source.Intermediates, 1, _shape1(4));
        } else if (id.list == NEW_W && id.index == 0 && slot == 3) {
            (s, index, shape) = (IStepSemantics.Source.Intermediates, 2, _shape1(257));
        } else if (id.list == NEW_W && id.index == 1 && slot == 0) {
            (s, index, shape) = (IStepSemantics.Source.OldWeights, 1, _shape1(3));
        } else {
            revert("toy: no such input");
        }
        return IStepSemantics.TensorSource({source: s, index: index, shape: shape});
    }

    function programLength(IStepSemantics.TensorId memory id, uint64 e) internal pure returns (uint32) {
        if (id.init) {
            if (id.list == NEW_W && id.index == 0) return 2;
            return 0;
        }
        if (id.list == INTER && id.index == 0) return 2;
        if (id.list == INTER && id.index == 1) return 0;
        if (id.list == INTER && id.index == 2) return e == 0 ? 260 : uint32(1 + e % 3);
        if (id.list == NEW_OPT) return 2;
        if (id.list == NEW_W && id.index == 0) return 3;
        return 1;
    }

    function instruction(IStepSemantics.TensorId memory id, uint64 e, uint32 k)
        internal
        pure
        returns (IStepSemantics.Instruction memory ins)
    {
        uint64 t = id.step;
        if (id.init) {
            if (id.list == NEW_OPT) return _ins(COPY, _c(0), _none(), _none());
            if (id.list == NEW_W && id.index == 1) {
                return _ins(COPY, _c(uint32(e * 11 + 1)), _none(), _none());
            }
            if (k == 0) return _ins(MUL, _c(uint32(e + 1)), _c(0x9E3779B1), _none());
            return _ins(ADD, _step(0), _c(0x1234), _none());
        }
        if (id.list == INTER && id.index == 0) {
            if (k == 0) return _ins(FMA, _in(0, e), _c(3), _c(uint32(t + 1)));
            return _ins(ADD, _step(0), _in(0, e + 1), _none());
        }
        if (id.list == INTER && id.index == 1) return _ins(COPY, _in(0, (t * 4 + e) % 12), _none(), _none());
        if (id.list == INTER && id.index == 2) {
            if (e == 0) {
                if (k == 0) return _ins(ADD, _in(1, 0), _c(1), _none());
                return _ins(FMA, _step(k - 1), _c(3), _in(0, k % 6));
            }
            if (k == 0) return _ins(ADD, _in(0, e % 6), _in(1, e % 5), _none());
            return _ins(MUL, _step(k - 1), _c(5), _none());
        }
        if (id.list == NEW_OPT) {
            if (k == 0) return _ins(ADD, _in(0, e), _in(1, e * 51), _none());
            return _ins(FMA, _step(0), _c(7), _c(uint32(e)));
        }
        if (id.list == NEW_W && id.index == 0) {
            if (k == 0) return _ins(FMA, _in(1, e % 5), _c(7), _in(0, e));
            if (k == 1) return _ins(ADD, _step(0), _in(2, e % 4), _none());
            return _ins(ADD, _step(1), _in(3, e % 257), _none());
        }
        return _ins(ADD, _in(0, e), _c(1), _none());
    }

    function _ins(
        uint8 opcode,
        IStepSemantics.Operand memory a,
        IStepSemantics.Operand memory b,
        IStepSemantics.Operand memory c
    ) private pure returns (IStepSemantics.Instruction memory ins) {
        ins.opcode = opcode;
        ins.operands[0] = a;
        ins.operands[1] = b;
        ins.operands[2] = c;
    }

    function _in(uint8 slot, uint64 index) private pure returns (IStepSemantics.Operand memory) {
        return IStepSemantics.Operand(IStepSemantics.OperandKind.Input, slot, index, 0);
    }

    function _step(uint64 index) private pure returns (IStepSemantics.Operand memory) {
        return IStepSemantics.Operand(IStepSemantics.OperandKind.Step, 0, index, 0);
    }

    function _c(uint32 bits) private pure returns (IStepSemantics.Operand memory) {
        return IStepSemantics.Operand(IStepSemantics.OperandKind.Const, 0, 0, bits);
    }

    function _none() private pure returns (IStepSemantics.Operand memory) {}

    function _shape1(uint64 a) private pure returns (uint64[] memory s) {
        s = new uint64[](1);
        s[0] = a;
    }

    function _shape2(uint64 a, uint64 b) private pure returns (uint64[] memory s) {
        s = new uint64[](2);
        s[0] = a;
        s[1] = b;
    }
}

/// @notice The toy model as the game sees it (test only).
contract ToySemantics is IStepSemantics {
    /// @notice The toy step's cost in the market's cost model.
    uint256 public constant STEP_OPS = 1000;

    /// @notice The model the toy job fine-tunes (zero: S_0 is drawn), set by a test.
    bytes32 public initialModel;

    function setInitialModel(bytes32 root) external {
        initialModel = root;
    }

    function initialWeights(bytes calldata) external view returns (bytes32) {
        return initialModel;
    }

    /// @notice The header bounds (the toy model has no section of its own to check).
    function validate(bytes calldata spec) external pure returns (uint256) {
        SpecRules.checkHeader(JobSpecCodec.header(spec));
        return STEP_OPS;
    }

    function counts(bytes calldata, bool init) external pure returns (uint32, uint32, uint32) {
        return ToyProgram.counts(init);
    }

    function shapeOf(bytes calldata, TensorId calldata id) external pure returns (uint64[] memory) {
        return ToyProgram.shapeOf(id);
    }

    function inputOf(bytes calldata, TensorId calldata id, uint8 slot)
        external
        pure
        returns (TensorSource memory)
    {
        return ToyProgram.inputOf(id, slot);
    }

    function programLength(bytes calldata, TensorId calldata id, uint64 element)
        external
        pure
        returns (uint32)
    {
        return ToyProgram.programLength(id, element);
    }

    function instruction(bytes calldata, TensorId calldata id, uint64 element, uint32 microStep)
        external
        pure
        returns (Instruction memory)
    {
        return ToyProgram.instruction(id, element, microStep);
    }

    function locate(bytes calldata, TensorId calldata id, uint64 element, uint32 microStep)
        external
        pure
        returns (uint256 word, uint256[4] memory inputs)
    {
        Instruction memory ins = ToyProgram.instruction(id, element, microStep);
        word = StepWords.encode(ins);
        for (uint256 i; i < 4; ++i) {
            if (ins.operands[i].kind == OperandKind.Input) {
                inputs[i] = StepWords.encodeSource(ToyProgram.inputOf(id, ins.operands[i].slot));
            }
        }
    }
}
