//! Micro-programs: each output element of a repop as a straight-line sequence
//! of [`Opcode`]s over input-tensor elements, constants and earlier results.
//!
//! Element code is written once, generic over [`Fp`]: with [`Direct`] it just
//! computes (the fast path of element-wise ops), with [`Recorder`] it also
//! records every step and its operands (the reference evaluator, the
//! micro-trace the dispute game bisects, and the operand locator the chain
//! checks). Both run the very same primitive sequence, so they cannot diverge.

use super::prim::{self, Opcode};

/// Where a micro-step operand comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// Element `index` (row-major) of input `slot` of the op.
    Input {
        /// Which input of the op (its position in the op's input list).
        slot: u8,
        /// The flat, row-major element index inside that input.
        index: u64,
    },
    /// The result of an earlier micro-step of the same program.
    Step(u32),
    /// A constant, as f32 bits.
    Const(u32),
}

/// One micro-step: a primitive applied to operands, and its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MicroStep {
    /// The primitive.
    pub opcode: Opcode,
    /// Its operands; only the first `opcode.arity()` are meaningful.
    pub operands: [Operand; 4],
    /// The result's f32 bits.
    pub result: u32,
}

/// The full micro-trace of one output element.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ElementTrace {
    /// Every micro-step in program order; the last one's result is the element.
    pub steps: Vec<MicroStep>,
    /// The element's value (a copy of the input for programs without steps).
    pub value: u32,
    /// For a program without steps, the operand it copies: an input element
    /// (a gather, the maximum of a one-element row) or a constant (a masked
    /// score, a layer norm's initial gain). `None` when there are steps.
    pub copied: Option<Operand>,
}

/// The arithmetic element programs are written against.
pub trait Fp {
    /// A value flowing through the program.
    type V: Copy;
    /// An input element.
    fn input(&mut self, slot: u8, index: usize, value: f32) -> Self::V;
    /// A constant.
    fn constant(&mut self, value: f32) -> Self::V;
    /// The f32 a value holds.
    fn value(&self, v: Self::V) -> f32;
    /// Applies a primitive.
    fn op(&mut self, opcode: Opcode, operands: &[Self::V]) -> Self::V;

    /// `a + b`.
    #[inline(always)]
    fn add(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Opcode::Add, &[a, b])
    }
    /// `a - b`.
    #[inline(always)]
    fn sub(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Opcode::Sub, &[a, b])
    }
    /// `a · b`.
    #[inline(always)]
    fn mul(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Opcode::Mul, &[a, b])
    }
    /// `a / b`.
    #[inline(always)]
    fn div(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Opcode::Div, &[a, b])
    }
    /// `a · b + c`, rounded once.
    #[inline(always)]
    fn fma(&mut self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        self.op(Opcode::Fma, &[a, b, c])
    }
    /// `sqrt(a)`.
    #[inline(always)]
    fn sqrt(&mut self, a: Self::V) -> Self::V {
        self.op(Opcode::Sqrt, &[a])
    }
    /// `b > a ? b : a`.
    #[inline(always)]
    fn max(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Opcode::Max, &[a, b])
    }
    /// `b < a ? b : a`.
    #[inline(always)]
    fn min(&mut self, a: Self::V, b: Self::V) -> Self::V {
        self.op(Opcode::Min, &[a, b])
    }
    /// `a > b ? c : d`.
    #[inline(always)]
    fn sel_gt(&mut self, a: Self::V, b: Self::V, c: Self::V, d: Self::V) -> Self::V {
        self.op(Opcode::SelGt, &[a, b, c, d])
    }
    /// `a == b ? c : d`.
    #[inline(always)]
    fn sel_eq(&mut self, a: Self::V, b: Self::V, c: Self::V, d: Self::V) -> Self::V {
        self.op(Opcode::SelEq, &[a, b, c, d])
    }
    /// `a · 2^k`.
    #[inline(always)]
    fn ldexp(&mut self, a: Self::V, k: Self::V) -> Self::V {
        self.op(Opcode::Ldexp, &[a, k])
    }
    /// `floor(log2 |a|)`.
    #[inline(always)]
    fn getexp(&mut self, a: Self::V) -> Self::V {
        self.op(Opcode::Getexp, &[a])
    }
}

/// Computes without recording: the fast path of element-wise ops.
#[derive(Clone, Copy, Debug, Default)]
pub struct Direct;

impl Fp for Direct {
    type V = f32;

    #[inline(always)]
    fn input(&mut self, _slot: u8, _index: usize, value: f32) -> f32 {
        value
    }

    #[inline(always)]
    fn constant(&mut self, value: f32) -> f32 {
        value
    }

    #[inline(always)]
    fn value(&self, v: f32) -> f32 {
        v
    }

    #[inline(always)]
    fn op(&mut self, opcode: Opcode, operands: &[f32]) -> f32 {
        match (opcode, operands) {
            (Opcode::Add, [a, b]) => prim::add(*a, *b),
            (Opcode::Sub, [a, b]) => prim::sub(*a, *b),
            (Opcode::Mul, [a, b]) => prim::mul(*a, *b),
            (Opcode::Div, [a, b]) => prim::div(*a, *b),
            (Opcode::Fma, [a, b, c]) => prim::fma(*a, *b, *c),
            _ => {
                let mut args = [0.0; 4];
                args[..operands.len()].copy_from_slice(operands);
                opcode.eval(args)
            }
        }
    }
}

/// A value inside a [`Recorder`]: where it comes from, and what it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Traced {
    /// Its origin, as an operand of later steps.
    pub operand: Operand,
    /// Its f32 value.
    pub value: f32,
}

/// Computes and records every step: the reference evaluator.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    steps: Vec<MicroStep>,
}

impl Recorder {
    /// The recorded trace, ending in `result`.
    pub fn finish(self, result: Traced) -> ElementTrace {
        let copied = self.steps.is_empty().then_some(result.operand);
        ElementTrace {
            steps: self.steps,
            value: result.value.to_bits(),
            copied,
        }
    }
}

impl Fp for Recorder {
    type V = Traced;

    fn input(&mut self, slot: u8, index: usize, value: f32) -> Traced {
        Traced {
            operand: Operand::Input {
                slot,
                index: index as u64,
            },
            value,
        }
    }

    fn constant(&mut self, value: f32) -> Traced {
        Traced {
            operand: Operand::Const(value.to_bits()),
            value,
        }
    }

    fn value(&self, v: Traced) -> f32 {
        v.value
    }

    fn op(&mut self, opcode: Opcode, operands: &[Traced]) -> Traced {
        debug_assert_eq!(operands.len(), opcode.arity());
        let mut values = [0.0; 4];
        let mut refs = [Operand::Const(0); 4];
        for (i, operand) in operands.iter().enumerate() {
            values[i] = operand.value;
            refs[i] = operand.operand;
        }
        let result = opcode.eval(values);
        let index = self.steps.len() as u32;
        self.steps.push(MicroStep {
            opcode,
            operands: refs,
            result: result.to_bits(),
        });
        Traced {
            operand: Operand::Step(index),
            value: result,
        }
    }
}

/// Re-executes a recorded trace from the inputs alone and checks that every
/// step's result matches: what the chain does for the one disputed step, done
/// here for all of them. Returns the index of the first mismatching step.
pub fn replay_trace(trace: &ElementTrace, input: impl Fn(u8, u64) -> f32) -> Result<(), usize> {
    for (i, step) in trace.steps.iter().enumerate() {
        let mut values = [0.0f32; 4];
        for (slot, operand) in step.operands[..step.opcode.arity()].iter().enumerate() {
            values[slot] = match *operand {
                Operand::Input { slot, index } => input(slot, index),
                Operand::Const(bits) => f32::from_bits(bits),
                Operand::Step(j) if (j as usize) < i => {
                    f32::from_bits(trace.steps[j as usize].result)
                }
                Operand::Step(_) => return Err(i),
            };
        }
        if step.opcode.eval(values).to_bits() != step.result {
            return Err(i);
        }
    }
    Ok(())
}
