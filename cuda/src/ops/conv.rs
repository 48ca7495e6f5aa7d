//! Convolutions, pooling and dropout (repops/conv.rs, the DropoutMask of
//! repops/ops.rs) on a device: Conv2d, Conv2dWeightGrad, Conv2dInputGrad,
//! Conv2dBiasGrad, MaxPool2d, MaxPool2dGrad, AvgPool2d, AvgPool2dGrad,
//! Dropout, DropoutGrad.
//!
//! Every kernel (`kernels/conv.cu`) runs one thread per output element over
//! a grid-stride launch. Before launching, the geometry and the buffers'
//! lengths are checked against each other: a kernel indexes its inputs by
//! the geometry alone, so a mismatch would read out of bounds on the device
//! (and divide by zero for a zero stride or kernel).

use super::{Device, Launch, OpOutputScratch, Param, count};
use crate::error::{Error, Result};
use vtrain_proof_of_learning::repops::Op;
use vtrain_proof_of_learning::spec::{ConvGeometry, PoolGeometry};

/// The kernels of `kernels/conv.cu`, in source order.
pub(crate) const KERNELS: &[&str] = &[
    "vtk_conv2d",
    "vtk_conv2d_weight_grad",
    "vtk_conv2d_input_grad",
    "vtk_conv2d_bias_grad",
    "vtk_maxpool2d",
    "vtk_maxpool2d_grad",
    "vtk_avgpool2d",
    "vtk_avgpool2d_grad",
    "vtk_dropout",
];

/// Whether `op` is one of this family's (and has its kernel).
pub(crate) fn supports(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv2d(_)
            | Op::Conv2dWeightGrad(_)
            | Op::Conv2dInputGrad(_)
            | Op::Conv2dBiasGrad(_)
            | Op::MaxPool2d(_)
            | Op::MaxPool2dGrad(_)
            | Op::AvgPool2d(_)
            | Op::AvgPool2dGrad(_)
            | Op::Dropout(_)
            | Op::DropoutGrad(_)
    )
}

/// The tensor sizes of a convolution: X, W, Z (dZ), in elements.
struct ConvSizes {
    x: usize,
    w: usize,
    z: usize,
}

/// The sizes of a convolution's tensors, or `None` for a geometry the
/// kernels cannot run (a zero stride or kernel, a kernel wider than the
/// padded input, a size past `usize`).
fn conv_sizes(g: &ConvGeometry) -> Option<ConvSizes> {
    if g.stride == 0 || g.kernel == 0 {
        return None;
    }
    let out = |size: usize| {
        let padded = size.checked_add(g.padding.checked_mul(2)?)?;
        Some(padded.checked_sub(g.kernel)? / g.stride + 1)
    };
    let (oh, ow) = (out(g.h)?, out(g.w)?);
    let plane =
        |c: usize, h: usize, w: usize| g.batch.checked_mul(c)?.checked_mul(h)?.checked_mul(w);
    Some(ConvSizes {
        x: plane(g.c_in, g.h, g.w)?,
        w: g.c_out
            .checked_mul(g.c_in)?
            .checked_mul(g.kernel.checked_mul(g.kernel)?)?,
        z: plane(g.c_out, oh, ow)?,
    })
}

/// The sizes of a pooling's input and output, or `None` for a geometry the
/// kernels cannot run (a zero stride or kernel, a window larger than the input).
fn pool_sizes(g: &PoolGeometry) -> Option<(usize, usize)> {
    if g.stride == 0 || g.kernel == 0 {
        return None;
    }
    let oh = g.h.checked_sub(g.kernel)? / g.stride + 1;
    let ow = g.w.checked_sub(g.kernel)? / g.stride + 1;
    let planes = g.batch.checked_mul(g.channels)?;
    Some((
        planes.checked_mul(g.h)?.checked_mul(g.w)?,
        planes.checked_mul(oh)?.checked_mul(ow)?,
    ))
}

/// The convolution's geometry as the kernels' parameters: batch, c_in, h,
/// w, c_out, kernel, stride, padding.
fn conv_params(g: &ConvGeometry) -> Result<[Param; 8]> {
    Ok([
        Param::U32(count(g.batch)?),
        Param::U32(count(g.c_in)?),
        Param::U32(count(g.h)?),
        Param::U32(count(g.w)?),
        Param::U32(count(g.c_out)?),
        Param::U32(count(g.kernel)?),
        Param::U32(count(g.stride)?),
        Param::U32(count(g.padding)?),
    ])
}

/// The pooling's geometry as the kernels' parameters: batch, channels, h,
/// w, kernel, stride.
fn pool_params(g: &PoolGeometry) -> Result<[Param; 6]> {
    Ok([
        Param::U32(count(g.batch)?),
        Param::U32(count(g.channels)?),
        Param::U32(count(g.h)?),
        Param::U32(count(g.w)?),
        Param::U32(count(g.kernel)?),
        Param::U32(count(g.stride)?),
    ])
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
    let _ = scratch;
    let Some((kernel, expected)) = shapes(op, len) else {
        return Ok(false);
    };
    let refuse = |reason: String| Error::Launch {
        device: device.describe(),
        kernel: kernel.to_owned(),
        reason,
    };
    let Some((want_len, want_inputs)) = expected else {
        return Err(refuse(format!("{op:?}: a geometry the kernels cannot run")));
    };
    if len != want_len {
        return Err(refuse(format!(
            "{}: an output of {len} elements, the geometry gives {want_len}",
            op.name()
        )));
    }
    if inputs.len() < want_inputs.len() {
        return Err(refuse(format!(
            "{}: {} inputs, {} expected",
            op.name(),
            inputs.len(),
            want_inputs.len()
        )));
    }
    for (slot, (&buffer, &want)) in inputs.iter().zip(&want_inputs).enumerate() {
        let got = device.len(buffer);
        if got < want {
            return Err(refuse(format!(
                "{}: input {slot} holds {got} elements, the geometry reads {want}",
                op.name()
            )));
        }
    }

    let mut params: Vec<Param> = inputs[..want_inputs.len()]
        .iter()
        .map(|&buffer| Param::Ptr(device.address(buffer)))
        .collect();
    match *op {
        Op::Conv2d(ref g)
        | Op::Conv2dWeightGrad(ref g)
        | Op::Conv2dInputGrad(ref g)
        | Op::Conv2dBiasGrad(ref g) => params.extend(conv_params(g)?),
        Op::MaxPool2d(ref g)
        | Op::MaxPool2dGrad(ref g)
        | Op::AvgPool2d(ref g)
        | Op::AvgPool2dGrad(ref g) => params.extend(pool_params(g)?),
        Op::Dropout(mask) | Op::DropoutGrad(mask) => {
            // The 64-bit key as two 32-bit halves (low, high): the kernel
            // joins them.
            params.extend([
                Param::U32(mask.key as u32),
                Param::U32((mask.key >> 32) as u32),
                Param::F32(mask.p),
            ]);
        }
        _ => return Ok(false),
    }
    params.push(Param::U32(count(len)?));
    params.push(Param::Ptr(device.address(out)));
    device.launch(
        kernel,
        Launch::linear(len, super::BLOCK, super::MAX_BLOCKS),
        &params,
    )?;
    Ok(true)
}

/// The sizes `op` expects: its output's and each input's.
type Expected = Option<(usize, Vec<usize>)>;

/// `op`'s kernel and expected sizes (`None` inside for a geometry the
/// kernels cannot run); `None` for an op not this family's. Dropout has no
/// geometry: its input is as long as the output asked for.
fn shapes(op: &Op, len: usize) -> Option<(&'static str, Expected)> {
    let conv = |g: &ConvGeometry, pick: fn(ConvSizes, usize) -> (usize, Vec<usize>)| {
        conv_sizes(g).map(|sizes| pick(sizes, g.c_out))
    };
    Some(match *op {
        Op::Conv2d(ref g) => (
            "vtk_conv2d",
            conv(g, |s, c_out| (s.z, vec![s.x, s.w, c_out])),
        ),
        Op::Conv2dWeightGrad(ref g) => (
            "vtk_conv2d_weight_grad",
            conv(g, |s, _| (s.w, vec![s.z, s.x])),
        ),
        Op::Conv2dInputGrad(ref g) => (
            "vtk_conv2d_input_grad",
            conv(g, |s, _| (s.x, vec![s.z, s.w])),
        ),
        Op::Conv2dBiasGrad(ref g) => (
            "vtk_conv2d_bias_grad",
            conv(g, |s, c_out| (c_out, vec![s.z])),
        ),
        Op::MaxPool2d(ref g) => ("vtk_maxpool2d", pool_sizes(g).map(|(x, y)| (y, vec![x]))),
        Op::MaxPool2dGrad(ref g) => (
            "vtk_maxpool2d_grad",
            pool_sizes(g).map(|(x, y)| (x, vec![x, y])),
        ),
        Op::AvgPool2d(ref g) => ("vtk_avgpool2d", pool_sizes(g).map(|(x, y)| (y, vec![x]))),
        Op::AvgPool2dGrad(ref g) => (
            "vtk_avgpool2d_grad",
            pool_sizes(g).map(|(x, y)| (x, vec![y])),
        ),
        Op::Dropout(_) | Op::DropoutGrad(_) => ("vtk_dropout", Some((len, vec![len]))),
        _ => return None,
    })
}
