//! Embeddings and causal attention (repops/attention.rs) on a device: Embed, EmbedGrad, AttnScores, AttnSoftmaxStats, AttnSoftmax, AttnContext, AttnProbsGrad, AttnValueGrad, AttnSoftmaxDot, AttnSoftmaxGrad, AttnQueryGrad, AttnKeyGrad.

use super::{Device, OpOutputScratch};
use crate::error::Result;
use vtrain_proof_of_learning::repops::Op;

/// The kernels of `kernels/attention.cu`.
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
