//! Convolutions, pooling and dropout (repops/conv.rs, the DropoutMask of repops/ops.rs) on a device: Conv2d, Conv2dWeightGrad, Conv2dInputGrad, Conv2dBiasGrad, MaxPool2d, MaxPool2dGrad, AvgPool2d, AvgPool2dGrad, Dropout, DropoutGrad.

use super::{Device, OpOutputScratch};
use crate::error::Result;
use vtrain_proof_of_learning::repops::Op;

/// The kernels of `kernels/conv.cu`.
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
