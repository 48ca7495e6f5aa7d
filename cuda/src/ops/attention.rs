//! Embeddings and causal attention (repops/attention.rs) on a device: Embed,
//! EmbedGrad, AttnScores, AttnSoftmaxStats, AttnSoftmax, AttnContext,
//! AttnProbsGrad, AttnValueGrad, AttnSoftmaxDot, AttnSoftmaxGrad,
//! AttnQueryGrad, AttnKeyGrad.
//!
//! Every kernel runs one thread per output element (the softmax statistics:
//! per score row, writing its two elements) over a grid-stride loop, so one
//! [`Launch::linear`] shape serves them all. The score scale is the
//! geometry's own `div(1, sqrt(d))`, computed on the host as the reference
//! computes it and passed as a constant.

use super::{BLOCK, Device, Launch, MAX_BLOCKS, OpOutputScratch, Param, count};
use crate::error::Result;
use vtrain_proof_of_learning::repops::{AttentionGeometry, Op};

/// The kernels of `kernels/attention.cu`, in the emulator table's order.
pub(crate) const KERNELS: &[&str] = &[
    "vtk_embed",
    "vtk_embed_grad",
    "vtk_attn_scores",
    "vtk_attn_probs_grad",
    "vtk_attn_softmax_stats",
    "vtk_attn_softmax",
    "vtk_attn_softmax_dot",
    "vtk_attn_softmax_grad",
    "vtk_attn_context",
    "vtk_attn_value_grad",
    "vtk_attn_query_grad",
    "vtk_attn_key_grad",
];

/// Whether `op` is one of this family's (and has its kernel).
pub(crate) fn supports(op: &Op) -> bool {
    matches!(
        op,
        Op::Embed(_)
            | Op::EmbedGrad(_)
            | Op::AttnScores(_)
            | Op::AttnSoftmaxStats(_)
            | Op::AttnSoftmax(_)
            | Op::AttnContext(_)
            | Op::AttnProbsGrad(_)
            | Op::AttnValueGrad(_)
            | Op::AttnSoftmaxDot(_)
            | Op::AttnSoftmaxGrad(_)
            | Op::AttnQueryGrad(_)
            | Op::AttnKeyGrad(_)
    )
}

/// The geometry's `seq, heads, head_dim` as kernel parameters.
fn shape(g: &AttentionGeometry) -> Result<[Param; 3]> {
    Ok([
        Param::U32(count(g.seq)?),
        Param::U32(count(g.heads)?),
        Param::U32(count(g.head_dim)?),
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
    // No launch here reads a buffer besides its inputs.
    let _ = scratch;
    if !supports(op) {
        return Ok(false);
    }
    let at = |slot: usize| Param::Ptr(device.address(inputs[slot]));
    let o = Param::Ptr(device.address(out));
    let n = Param::U32(count(len)?);
    let linear = Launch::linear(len, BLOCK, MAX_BLOCKS);
    let (kernel, shape, params): (&'static str, Launch, Vec<Param>) = match *op {
        Op::Embed(g) => (
            "vtk_embed",
            linear,
            vec![
                at(0),
                at(1),
                at(2),
                Param::U32(count(g.seq)?),
                Param::U32(count(g.vocab)?),
                Param::U32(count(g.dim)?),
                n,
                o,
            ],
        ),
        Op::EmbedGrad(g) => (
            "vtk_embed_grad",
            linear,
            vec![
                at(0),
                at(1),
                Param::U32(count(g.batch * g.seq)?),
                Param::U32(count(g.dim)?),
                n,
                o,
            ],
        ),
        Op::AttnScores(g) => {
            let mut params = vec![at(0), at(1)];
            params.extend(shape(&g)?);
            params.extend([Param::F32(g.scale()), n, o]);
            ("vtk_attn_scores", linear, params)
        }
        Op::AttnProbsGrad(g) => ("vtk_attn_probs_grad", linear, products(&at, &g, n, o)?),
        Op::AttnSoftmaxStats(g) => {
            // One thread per row, writing the row's two elements.
            let rows = len / 2;
            (
                "vtk_attn_softmax_stats",
                Launch::linear(rows, BLOCK, MAX_BLOCKS),
                vec![
                    at(0),
                    Param::U32(count(g.seq)?),
                    Param::U32(count(rows)?),
                    o,
                ],
            )
        }
        Op::AttnSoftmax(g) => (
            "vtk_attn_softmax",
            linear,
            vec![at(0), at(1), Param::U32(count(g.seq)?), n, o],
        ),
        Op::AttnSoftmaxDot(g) => (
            "vtk_attn_softmax_dot",
            linear,
            vec![at(0), at(1), Param::U32(count(g.seq)?), n, o],
        ),
        Op::AttnSoftmaxGrad(g) => (
            "vtk_attn_softmax_grad",
            linear,
            vec![
                at(0),
                at(1),
                at(2),
                Param::U32(count(g.seq)?),
                Param::F32(g.scale()),
                n,
                o,
            ],
        ),
        Op::AttnContext(g) => ("vtk_attn_context", linear, products(&at, &g, n, o)?),
        Op::AttnValueGrad(g) => ("vtk_attn_value_grad", linear, products(&at, &g, n, o)?),
        Op::AttnQueryGrad(g) => ("vtk_attn_query_grad", linear, products(&at, &g, n, o)?),
        Op::AttnKeyGrad(g) => ("vtk_attn_key_grad", linear, products(&at, &g, n, o)?),
        _ => return Ok(false),
    };
    device.launch(kernel, shape, &params)?;
    Ok(true)
}

/// The parameters of the two-input products (`left, right, seq, heads,
/// head_dim, n, out`): the probabilities' gradient, the attention output
/// and the value, query and key gradients.
fn products(
    at: &impl Fn(usize) -> Param,
    g: &AttentionGeometry,
    n: Param,
    o: Param,
) -> Result<Vec<Param>> {
    let mut params = vec![at(0), at(1)];
    params.extend(shape(g)?);
    params.extend([n, o]);
    Ok(params)
}
