//! Layer norms, GELU and gradient clipping (repops/norm.rs, repops/clip.rs)
//! on a device: LayerNormStats, LayerNorm, LayerNormInputGrad,
//! LayerNormWeightGrad, Gelu, GeluGrad, GradSquareSum, ClipScale, ClipGrad.
//!
//! Row values the reference recomputes in every element's program (a layer
//! norm's statistics, the input gradient's row means) are computed once per
//! row, by one thread, with the same primitives (see `kernels/norm.cu`).

use super::{BLOCK, Device, Launch, MAX_BLOCKS, OpOutputScratch, Param, count};
use crate::error::Result;
use vtrain_proof_of_learning::repops::{NormGeometry, Op};

/// The kernels of `kernels/norm.cu`, in source order.
pub(crate) const KERNELS: &[&str] = &[
    "vtk_layer_norm_stats",
    "vtk_layer_norm",
    "vtk_layer_norm_input_grad_rows",
    "vtk_layer_norm_input_grad",
    "vtk_layer_norm_weight_grad",
    "vtk_gelu",
    "vtk_gelu_grad",
    "vtk_grad_square_sum",
    "vtk_clip_scale",
    "vtk_clip_grad",
];

/// One thread: the sequential sums that are a single chain.
const SINGLE: Launch = Launch {
    grid: [1, 1, 1],
    block: [1, 1, 1],
};

/// Whether `op` is one of this family's (and has its kernel).
pub(crate) fn supports(op: &Op) -> bool {
    matches!(
        op,
        Op::LayerNormStats(_)
            | Op::LayerNorm(_)
            | Op::LayerNormInputGrad(_)
            | Op::LayerNormWeightGrad(_)
            | Op::Gelu
            | Op::GeluGrad
            | Op::GradSquareSum { .. }
            | Op::ClipScale { .. }
            | Op::ClipGrad
    )
}

/// A grid-stride launch over `n` threads.
fn over(n: usize) -> Launch {
    Launch::linear(n, BLOCK, MAX_BLOCKS)
}

/// A geometry's rows and width as kernel sizes, checking that their
/// product (the element count) fits too.
fn sizes(g: &NormGeometry) -> Result<(Param, Param)> {
    count(g.rows.saturating_mul(g.width))?;
    Ok((Param::U32(count(g.rows)?), Param::U32(count(g.width)?)))
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
    if !supports(op) {
        return Ok(false);
    }
    let at = |slot: usize| Param::Ptr(device.address(inputs[slot]));
    let o = Param::Ptr(device.address(out));
    let n = Param::U32(count(len)?);
    match *op {
        Op::LayerNormStats(ref g) => {
            let (rows, width) = sizes(g)?;
            let params = [at(0), rows, width, Param::F32(g.eps), o];
            device.launch("vtk_layer_norm_stats", over(g.rows), &params)?;
        }
        Op::LayerNorm(ref g) => {
            let (rows, width) = sizes(g)?;
            let params = [at(0), at(1), at(2), at(3), rows, width, o];
            device.launch("vtk_layer_norm", over(len), &params)?;
        }
        Op::LayerNormInputGrad(ref g) => {
            // Each row's two means once (one thread a row), then every
            // element with full parallelism; the means live in a scratch
            // buffer the step keeps until it is downloaded.
            let (rows, width) = sizes(g)?;
            let means = device.alloc(2 * g.rows)?;
            let m = Param::Ptr(device.address(&means));
            let params = [at(0), at(1), at(2), at(3), rows, width, m];
            device.launch("vtk_layer_norm_input_grad_rows", over(g.rows), &params)?;
            let params = [at(0), at(1), at(2), at(3), m, rows, width, o];
            device.launch("vtk_layer_norm_input_grad", over(len), &params)?;
            scratch.push(means);
        }
        Op::LayerNormWeightGrad(ref g) => {
            let (rows, width) = sizes(g)?;
            let params = [at(0), at(1), at(2), rows, width, o];
            device.launch("vtk_layer_norm_weight_grad", over(g.width), &params)?;
        }
        Op::Gelu => device.launch("vtk_gelu", over(len), &[at(0), n, o])?,
        Op::GeluGrad => device.launch("vtk_gelu_grad", over(len), &[at(0), at(1), n, o])?,
        Op::GradSquareSum {
            len: elements,
            chained,
        } => {
            // The sum is one chain in element order: one thread runs it.
            let (prev, g) = if chained {
                (at(0), at(1))
            } else {
                (Param::Ptr(0), at(0))
            };
            let params = [
                prev,
                g,
                Param::U32(count(elements)?),
                Param::U32(u32::from(chained)),
                o,
            ];
            device.launch("vtk_grad_square_sum", SINGLE, &params)?;
        }
        Op::ClipScale { max_norm } => {
            let params = [at(0), Param::F32(max_norm), o];
            device.launch("vtk_clip_scale", SINGLE, &params)?;
        }
        Op::ClipGrad => device.launch("vtk_clip_grad", over(len), &[at(0), at(1), n, o])?,
        _ => return Ok(false),
    }
    Ok(true)
}
