//! The honest strategies, as pure decisions: given the game's on-chain state
//! (and what the solver revealed), the next move. The solver answers from its
//! own trajectory; the challenger always descends towards the first place where
//! the solver's commitment differs from its own (`docs/dispute-game.md`).
//! Sending the moves is `super::client`'s job.

use alloy::primitives::{B256, Bytes, U256};
use std::sync::Arc;
use vtrain_proof_of_learning::commit::{
    LEAF_VALUES, MICRO_LEAF_VALUES, merkle_proof, merkle_root, micro_leaf_bytes, micro_leaves,
};
use vtrain_proof_of_learning::repops::{ElementTrace, Operand};
use vtrain_proof_of_learning::{Hash32, State, Trainer};

use vtrain_proof_of_learning::commit::{leaf_bytes, subtree};

use super::trajectory::{SharedRun, Trajectory};
use super::world::{DATASET_FEATURES, DATASET_LABELS, Tensor, Transition, micro_prefix};
use crate::bindings::dispute_game::DisputeGame;

/// The game's phases (`DisputeGame.Phase`).
pub mod phase {
    #![allow(missing_docs)]
    pub const NONE: u8 = 0;
    pub const BISECT: u8 = 1;
    pub const JUDGE: u8 = 2;
    pub const REVEAL_STEP: u8 = 3;
    pub const CHOOSE_LIST: u8 = 4;
    pub const REVEAL: u8 = 5;
    pub const PICK: u8 = 6;
    pub const OPEN_TENSOR: u8 = 7;
    pub const REVEAL_LEAF: u8 = 8;
    pub const NAME_ELEMENT: u8 = 9;
    pub const COMMIT_MICRO: u8 = 10;
    pub const CHOOSE_MICRO: u8 = 11;
    pub const NAME_MICRO_STEP: u8 = 12;
    pub const PROVE_STEP: u8 = 13;
    pub const RESOLVED: u8 = 14;
}

/// Whether the solver moves in `phase`.
pub fn solver_moves(phase: u8) -> bool {
    matches!(
        phase,
        phase::BISECT
            | phase::REVEAL_STEP
            | phase::REVEAL
            | phase::OPEN_TENSOR
            | phase::REVEAL_LEAF
            | phase::COMMIT_MICRO
            | phase::PROVE_STEP
    )
}

const TREE_STEP_LIST: u8 = 0;
const TREE_TENSOR: u8 = 1;

/// One move of either side, with its arguments (named as in `DisputeGame.sol`,
/// which documents each).
#[allow(missing_docs)]
#[derive(Clone, Debug)]
pub enum Move {
    /// `bisect(step, root)`.
    Bisect { step: u64, root: B256 },
    /// `judge(step, agree)`.
    Judge { step: u64, agree: bool },
    /// `revealStep(spec, roots)`.
    RevealStep { roots: [B256; 5] },
    /// `chooseList(list, step)`.
    ChooseList {
        list: u8,
        step: DisputeGame::StepCommitment,
    },
    /// `reveal(depth, index, left, right)`.
    Reveal {
        depth: u8,
        index: u64,
        left: B256,
        right: B256,
    },
    /// `pick(depth, index, right)`.
    Pick { depth: u8, index: u64, right: bool },
    /// `openTensor(spec, merkle)`.
    OpenTensor { merkle: B256 },
    /// `revealLeaf(values)`.
    RevealLeaf { values: Bytes },
    /// `nameElement(element)`.
    NameElement { element: u64 },
    /// `commitMicroTrace(spec, leaf, merkle)`.
    CommitMicro { leaf: Bytes, merkle: B256 },
    /// `chooseMicro(lastStep)`.
    ChooseMicro { last_step: bool },
    /// `nameMicroStep(k)`.
    NameMicroStep { micro_step: u32 },
    /// `proveStep(spec, proof)`.
    ProveStep { proof: Box<DisputeGame::StepProof> },
}

impl Move {
    /// The contract function this move calls.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bisect { .. } => "bisect",
            Self::Judge { .. } => "judge",
            Self::RevealStep { .. } => "revealStep",
            Self::ChooseList { .. } => "chooseList",
            Self::Reveal { .. } => "reveal",
            Self::Pick { .. } => "pick",
            Self::OpenTensor { .. } => "openTensor",
            Self::RevealLeaf { .. } => "revealLeaf",
            Self::NameElement { .. } => "nameElement",
            Self::CommitMicro { .. } => "commitMicroTrace",
            Self::ChooseMicro { .. } => "chooseMicro",
            Self::NameMicroStep { .. } => "nameMicroStep",
            Self::ProveStep { .. } => "proveStep",
        }
    }
}

/// What the solver revealed on chain that the challenger reads back.
#[derive(Clone, Debug, Default)]
pub struct Revealed {
    /// The five list roots of `StepRevealed`.
    pub roots: [B256; 5],
    /// The three produced lists' sizes of `StepRevealed`.
    pub counts: [u32; 3],
    /// The values of the last `LeafRevealed`.
    pub leaf: Vec<u8>,
}

fn b256(h: &Hash32) -> B256 {
    B256::from(h.0)
}

/// The transition a game is about, held by the game's party.
struct Focus {
    key: (bool, u64),
    transition: Arc<Transition>,
}

/// A party in one game: its run of the job (shared with its other games on
/// the same job), the transition the game is about, and the states this game
/// replays from: the one at the start of its disputed range (its anchor) and
/// the last midpoint it computed.
pub struct Party {
    run: Arc<SharedRun>,
    focus: Option<Focus>,
    anchor: Option<State>,
    last: Option<State>,
}

impl Party {
    /// A party that believes in `trajectory`, in one game.
    pub fn new(trajectory: Trajectory) -> Self {
        Self::sharing(SharedRun::new(trajectory))
    }

    /// A party in one more game over the run `run`.
    pub fn sharing(run: Arc<SharedRun>) -> Self {
        Self {
            run,
            focus: None,
            anchor: None,
            last: None,
        }
    }

    /// Starts this game's replays from `state` (a checkpoint at or before
    /// its disputed range, checked against its committed root).
    pub fn with_anchor(mut self, state: State) -> Self {
        self.anchor = Some(state);
        self
    }

    /// The state after `step`, replayed from this game's own anchor: the
    /// lower end of the range moves to a midpoint this game computed, so the
    /// state there becomes the anchor.
    fn state_at(&mut self, g: &DisputeGame::Game, step: u32) -> State {
        self.advance_anchor(g);
        let state = self.run.state_from(self.anchor.as_ref(), step);
        self.last = Some(state.clone());
        state
    }

    /// The last midpoint becomes the anchor once the range's lower end moved to it.
    fn advance_anchor(&mut self, g: &DisputeGame::Game) {
        if let Some(last) = self.last.take()
            && u64::from(last.step) == g.range.lo
        {
            self.anchor = Some(last);
        }
    }

    fn state_root_at(&mut self, g: &DisputeGame::Game, step: u32) -> Hash32 {
        let state = self.state_at(g, step);
        self.run.root_of(&state)
    }

    /// The party's run.
    pub fn run(&self) -> &Arc<SharedRun> {
        &self.run
    }

    /// The party's trajectory, locked.
    pub fn trajectory(&self) -> parking_lot::FairMutexGuard<'_, Trajectory> {
        self.run.trajectory()
    }

    fn trainer(&self) -> Arc<Trainer> {
        Arc::clone(self.run.trainer())
    }

    fn transition(&mut self, g: &DisputeGame::Game) -> &Transition {
        let key = (g.setup.init, g.range.lo);
        if self.focus.as_ref().is_none_or(|f| f.key != key) {
            self.advance_anchor(g);
            let transition = self.run.transition(self.anchor.as_ref(), key.0, key.1);
            self.focus = Some(Focus { key, transition });
        }
        match &self.focus {
            Some(focus) => &focus.transition,
            None => unreachable!("focus was just set"),
        }
    }

    fn tensor(&mut self, g: &DisputeGame::Game) -> Option<Tensor> {
        let (list, index) = (g.descent.list, g.descent.tensorIndex as usize);
        self.transition(g).tensor(list, index).cloned()
    }

    fn trace(&mut self, g: &DisputeGame::Game) -> Option<ElementTrace> {
        let trainer = self.trainer();
        let (list, index) = (g.descent.list, g.descent.tensorIndex as usize);
        let element = g.target.element as usize;
        self.transition(g)
            .micro_trace(&trainer, list, index, element)
    }

    /// The leaves of the tree the game currently descends, in this party's view.
    fn tree_leaves(&mut self, g: &DisputeGame::Game) -> Option<Vec<Hash32>> {
        Some(match g.descent.tree {
            TREE_STEP_LIST => self.transition(g).list_roots(g.descent.list),
            TREE_TENSOR => self.tensor(g)?.leaves,
            _ => micro_leaves(&micro_prefix(&self.trace(g)?)),
        })
    }

    fn tree_values(&mut self, g: &DisputeGame::Game) -> Option<Vec<f32>> {
        Some(if g.descent.tree == TREE_TENSOR {
            self.tensor(g)?.values
        } else {
            micro_prefix(&self.trace(g)?)
        })
    }

    /// Leaf `leaf` of the tree the game descends (a tensor's 1 KiB, a
    /// micro-trace's 128 bytes), in this party's view.
    fn tree_leaf(&mut self, g: &DisputeGame::Game, leaf: usize) -> Option<Vec<u8>> {
        let values = self.tree_values(g)?;
        Some(if g.descent.tree == TREE_TENSOR {
            leaf_bytes(&values, leaf)
        } else {
            micro_leaf_bytes(&values, leaf)
        })
    }

    // ------------------------------------------------------------------ solver

    /// The solver's move, or `None` when it is not the solver's turn (or the
    /// game is over).
    pub fn solver_move(&mut self, g: &DisputeGame::Game) -> Option<Move> {
        let depth = g.descent.depth;
        let index = g.descent.nodeIndex;
        Some(match g.clock.phase {
            phase::BISECT => {
                let step = g.range.lo + (g.range.hi - g.range.lo) / 2;
                Move::Bisect {
                    step,
                    root: b256(&self.state_root_at(g, step as u32)),
                }
            }
            phase::REVEAL_STEP => Move::RevealStep {
                roots: self.transition(g).list_merkles().map(|h| b256(&h)),
            },
            phase::REVEAL => {
                let leaves = self.tree_leaves(g)?;
                let d = u32::from(depth) - 1;
                Move::Reveal {
                    depth,
                    index,
                    left: b256(&subtree(&leaves, d, 2 * index)),
                    right: b256(&subtree(&leaves, d, 2 * index + 1)),
                }
            }
            phase::OPEN_TENSOR => Move::OpenTensor {
                merkle: b256(&self.tensor(g)?.merkle()),
            },
            phase::REVEAL_LEAF => Move::RevealLeaf {
                values: self.tree_leaf(g, index as usize)?.into(),
            },
            phase::COMMIT_MICRO => {
                let tensor = self.tensor(g)?;
                let prefix = micro_prefix(&self.trace(g)?);
                Move::CommitMicro {
                    leaf: leaf_bytes(&tensor.values, g.target.element as usize / LEAF_VALUES)
                        .into(),
                    merkle: if prefix.is_empty() {
                        B256::ZERO
                    } else {
                        b256(&merkle_root(&micro_leaves(&prefix)))
                    },
                }
            }
            phase::PROVE_STEP => Move::ProveStep {
                proof: Box::new(self.step_proof(g)?),
            },
            _ => return None,
        })
    }

    /// The one-step proof of micro-step `g.target.microStep`.
    fn step_proof(&mut self, g: &DisputeGame::Game) -> Option<DisputeGame::StepProof> {
        let trace = self.trace(g)?;
        let k = g.target.microStep as usize;
        let prefix = micro_prefix(&trace);
        let prefix_leaves = micro_leaves(&prefix);
        let operands: Vec<Operand> = match trace.steps.get(k) {
            Some(step) => step.operands[..step.opcode.arity()].to_vec(),
            // A program without a primitive: a copy of one operand (a gathered
            // input, a one-element row's maximum, a masked score's +0).
            None => vec![trace.copied.unwrap_or(Operand::Const(0))],
        };
        let transition = self.transition(g);
        let step = DisputeGame::StepCommitment {
            roots: transition.list_merkles().map(|h| b256(&h)),
            counts: transition.counts(),
        };
        let mut proofs: [DisputeGame::OperandProof; 4] = Default::default();
        for (slot, operand) in operands.iter().enumerate() {
            // A second operand that repeats the first (`fma(g, g, acc)`, `mul(x, x)`) is
            // proved once: the game gives it the first's value (`DisputeGame.proveStep`).
            if slot == 1 && operands[0] == *operand {
                continue;
            }
            proofs[slot] = match *operand {
                Operand::Const(_) => DisputeGame::OperandProof::default(),
                Operand::Step(j) => micro_operand(&prefix, &prefix_leaves, j as usize),
                Operand::Input {
                    slot: input,
                    index: at,
                } => self.input_operand(g, input, at as usize)?,
            };
        }
        let (result_leaf, result_path) = if k + 1 < trace.steps.len() {
            let leaf = k / MICRO_LEAF_VALUES;
            (
                Bytes::from(micro_leaf_bytes(&prefix, leaf)),
                merkle_proof(&prefix_leaves, leaf)
                    .iter()
                    .map(b256)
                    .collect(),
            )
        } else {
            (Bytes::new(), Vec::new())
        };
        Some(DisputeGame::StepProof {
            step,
            operands: proofs,
            resultLeaf: result_leaf,
            resultPath: result_path,
        })
    }

    fn input_operand(
        &mut self,
        g: &DisputeGame::Game,
        slot: u8,
        at: usize,
    ) -> Option<DisputeGame::OperandProof> {
        let trainer = self.trainer();
        let (list, index) = (g.descent.list, g.descent.tensorIndex as usize);
        let transition = self.transition(g);
        let (source, source_index) = transition.input_source(list, index, slot)?;
        let mut proof = DisputeGame::OperandProof::default();
        let tensor = if source == DATASET_FEATURES || source == DATASET_LABELS {
            let data = trainer.dataset();
            let features = Tensor::new(vec![data.samples, data.features], data.x.clone());
            let labels = Tensor::new(vec![data.samples], data.y.clone());
            let (this, other) = if source == DATASET_FEATURES {
                (features, labels)
            } else {
                (labels, features)
            };
            proof.otherRoot = b256(&other.root());
            // The data's own class count, which the dataset root commits to
            // (the spec's may be larger).
            proof.datasetClasses = data.classes as u64;
            this
        } else {
            proof.listPath = merkle_proof(&transition.list_roots(source), source_index)
                .iter()
                .map(b256)
                .collect();
            transition.tensor(source, source_index)?.clone()
        };
        proof.tensorMerkle = b256(&tensor.merkle());
        proof.leaf = leaf_bytes(&tensor.values, at / LEAF_VALUES).into();
        proof.leafPath = merkle_proof(&tensor.leaves, at / LEAF_VALUES)
            .iter()
            .map(b256)
            .collect();
        Some(proof)
    }

    // ------------------------------------------------------------------ challenger

    /// The first checkpoint whose posted root differs from this party's, with the
    /// roots and proofs `JobMarket.challenge` takes; `None` if all agree.
    pub fn opening(&mut self, posted: &[Hash32]) -> Option<Opening> {
        let mine = self.run.trajectory().checkpoint_roots();
        let c = posted.iter().zip(&mine).position(|(p, m)| p != m)?;
        Some(opening_at(posted, c))
    }

    /// The challenger's move, or `None` when it is not the challenger's turn.
    pub fn challenger_move(&mut self, g: &DisputeGame::Game, revealed: &Revealed) -> Option<Move> {
        let depth = g.descent.depth;
        let index = g.descent.nodeIndex;
        Some(match g.clock.phase {
            phase::JUDGE => {
                let step = g.range.lo + (g.range.hi - g.range.lo) / 2;
                let mine = b256(&self.state_root_at(g, step as u32));
                Move::Judge {
                    step,
                    agree: mine == g.range.midRoot,
                }
            }
            phase::CHOOSE_LIST => {
                let mine = self.transition(g).list_merkles().map(|h| b256(&h));
                let counts = revealed.counts;
                let list = (0..3u8)
                    .find(|&l| {
                        counts[l as usize] > 0 && mine[l as usize] != revealed.roots[l as usize]
                    })
                    .unwrap_or(2);
                Move::ChooseList {
                    list,
                    step: DisputeGame::StepCommitment {
                        roots: revealed.roots,
                        counts,
                    },
                }
            }
            phase::PICK => {
                let leaves = self.tree_leaves(g)?;
                let my_left = b256(&subtree(&leaves, u32::from(depth) - 1, 2 * index));
                Move::Pick {
                    depth,
                    index,
                    right: my_left == g.descent.left,
                }
            }
            phase::NAME_ELEMENT => Move::NameElement {
                element: index * LEAF_VALUES as u64 + self.first_difference(g, &revealed.leaf)?,
            },
            phase::CHOOSE_MICRO => {
                let prefix = micro_prefix(&self.trace(g)?);
                let last_step = prefix.is_empty()
                    || b256(&merkle_root(&micro_leaves(&prefix))) == g.target.microMerkle;
                Move::ChooseMicro { last_step }
            }
            phase::NAME_MICRO_STEP => Move::NameMicroStep {
                micro_step: (index * MICRO_LEAF_VALUES as u64
                    + self.first_difference(g, &revealed.leaf)?) as u32,
            },
            _ => return None,
        })
    }

    /// The first value of the revealed leaf that differs from this party's own.
    fn first_difference(&mut self, g: &DisputeGame::Game, revealed: &[u8]) -> Option<u64> {
        let mine = self.tree_leaf(g, g.descent.nodeIndex as usize)?;
        (0..(mine.len() / 4) as u64).find(|&i| {
            let at = 4 * i as usize;
            mine.get(at..at + 4) != revealed.get(at..at + 4)
        })
    }
}

/// The arguments of `JobMarket.challenge` at checkpoint `c` of the posted
/// roots (the first one this party disputes).
pub fn opening_at(posted: &[Hash32], c: usize) -> Opening {
    let leaves: Vec<Hash32> = posted
        .iter()
        .enumerate()
        .map(|(i, r)| vtrain_proof_of_learning::commit::trace_leaf(i as u64, r))
        .collect();
    let proof = |i: usize| {
        merkle_proof(&leaves, i)
            .iter()
            .map(b256)
            .collect::<Vec<_>>()
    };
    Opening {
        checkpoint: c as u64,
        left_root: if c == 0 {
            B256::ZERO
        } else {
            b256(&posted[c - 1])
        },
        left_proof: if c == 0 { Vec::new() } else { proof(c - 1) },
        right_root: b256(&posted[c]),
        right_proof: proof(c),
    }
}

/// The arguments of `JobMarket.challenge`.
#[derive(Clone, Debug)]
pub struct Opening {
    /// The first disputed checkpoint.
    pub checkpoint: u64,
    /// The root of checkpoint c − 1 (zero for c = 0).
    pub left_root: B256,
    /// Its trace proof.
    pub left_proof: Vec<B256>,
    /// The root of checkpoint c.
    pub right_root: B256,
    /// Its trace proof.
    pub right_proof: Vec<B256>,
}

fn micro_operand(prefix: &[f32], leaves: &[Hash32], j: usize) -> DisputeGame::OperandProof {
    DisputeGame::OperandProof {
        leaf: micro_leaf_bytes(prefix, j / MICRO_LEAF_VALUES).into(),
        leafPath: merkle_proof(leaves, j / MICRO_LEAF_VALUES)
            .iter()
            .map(b256)
            .collect(),
        ..Default::default()
    }
}

/// A `U256` game or job id.
pub fn id(value: u64) -> U256 {
    U256::from(value)
}
