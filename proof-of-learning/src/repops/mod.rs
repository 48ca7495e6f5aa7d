//! Reproducible operators: the normative fp32 definition of every operation a
//! training step performs, as straight-line micro-programs of primitives.
//! `docs/repops.md` is the text; this module implements it literally.

pub mod attention;
pub mod clip;
pub mod conv;
pub mod math;
pub mod norm;
mod ops;
pub mod prim;
mod program;

pub use attention::{AttentionGeometry, EmbeddingGeometry};
pub use math::{exp, log};
pub use norm::NormGeometry;
pub(crate) use ops::log_softmax_row;
pub use ops::{AdamParams, DropoutMask, LrSchedule, Op, powi};
pub use prim::{CANONICAL_NAN, Opcode, canon};
pub use program::{Direct, ElementTrace, Fp, MicroStep, Operand, Recorder, Traced, replay_trace};

/// The version of the repops definitions this crate implements. A job spec
/// names the version it was trained under; any change to an op's bits bumps it.
pub const REPOPS_VERSION: u32 = 1;
