//! Layer norms, GELU and gradient clipping (repops/norm.rs, repops/clip.rs) on a device: LayerNormStats, LayerNorm, LayerNormInputGrad, LayerNormWeightGrad, Gelu, GeluGrad, GradSquareSum, ClipScale, ClipGrad.

use super::{Device, OpOutputScratch};
use crate::error::Result;
use vtrain_proof_of_learning::repops::Op;

/// The kernels of `kernels/norm.cu`.
pub(crate) const KERNELS: &[&str] = &[];

/// Whether `op` is one of this family's (and has its kernel).
pub(crate) fn supports(op: &Op) -> bool {
    let _ = op;
    false
}

/// Launches `op` into `out` (`len` elements); `Ok(false)` when `op` is
/// not this family's.
pub(crate) fn launch<D: Device>(
    device: &D,
    op: &Op,
    inputs: &[&D::Buffer],
    out: &D::Buffer,
    len: usize,
    scratch: &mut OpOutputScratch<D>,
) -> Result<bool> {
    let _ = (device, op, inputs, out, len, scratch);
    Ok(false)
}
