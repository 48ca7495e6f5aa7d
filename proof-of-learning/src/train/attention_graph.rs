//! The step-graph nodes of a causal self-attention layer (`docs/repops.md`
//! § Embeddings, attention and residuals): its forward nodes, and its
//! backward nodes from the output's gradient.

use super::graph::{Builder, TensorRef};
use crate::repops::{AttentionGeometry, Op};
use crate::spec::LayerPlan;

/// The forward tensors of one attention layer that its backward pass reads.
#[derive(Clone, Copy)]
pub(super) struct AttentionTensors {
    pub(super) q: TensorRef,
    pub(super) k: TensorRef,
    pub(super) v: TensorRef,
    pub(super) probs: TensorRef,
    pub(super) context: TensorRef,
}

/// The forward nodes of causal self-attention (layer `index`, parameters from
/// `p`: the query, key, value and output projections' weight and bias) on `x`.
pub(super) fn attention_forward(
    b: &mut Builder,
    layer: &LayerPlan,
    index: usize,
    g: AttentionGeometry,
    x: TensorRef,
    p: usize,
    shape: Vec<usize>,
) -> (AttentionTensors, TensorRef) {
    let width = g.width();
    let projection = Op::Linear {
        m: layer.rows(g.batch),
        k: width,
        n: width,
    };
    let project = |b: &mut Builder, name: &str, input: TensorRef, w: usize| {
        b.push(
            format!("{name}{index}"),
            projection.clone(),
            vec![input, TensorRef::Param(w), TensorRef::Param(w + 1)],
            shape.clone(),
        )
    };
    let q = project(b, "q", x, p);
    let k = project(b, "k", x, p + 2);
    let v = project(b, "v", x, p + 4);
    let scores_shape = vec![g.batch, g.heads, g.seq, g.seq];
    let scores = b.push(
        format!("scores{index}"),
        Op::AttnScores(g),
        vec![q, k],
        scores_shape.clone(),
    );
    let stats = b.push(
        format!("attn_stats{index}"),
        Op::AttnSoftmaxStats(g),
        vec![scores],
        vec![g.batch, g.heads, g.seq, 2],
    );
    let probs = b.push(
        format!("probs{index}"),
        Op::AttnSoftmax(g),
        vec![scores, stats],
        scores_shape,
    );
    let context = b.push(
        format!("context{index}"),
        Op::AttnContext(g),
        vec![probs, v],
        shape.clone(),
    );
    let out = project(b, "attn", context, p + 6);
    (
        AttentionTensors {
            q,
            k,
            v,
            probs,
            context,
        },
        out,
    )
}

/// The backward nodes of causal self-attention (see [`attention_forward`])
/// from the output's gradient `grad`: the eight parameters' gradients into
/// `grads`, and the input's gradient when `below`.
#[allow(clippy::too_many_arguments)]
pub(super) fn attention_backward(
    b: &mut Builder,
    layer: &LayerPlan,
    index: usize,
    g: AttentionGeometry,
    saved: AttentionTensors,
    x: TensorRef,
    p: usize,
    grads: &mut [TensorRef],
    grad: TensorRef,
    below: bool,
) -> TensorRef {
    let (m, width) = (layer.rows(g.batch), g.width());
    let shape: Vec<usize> = std::iter::once(g.batch)
        .chain(layer.input.iter().copied())
        .collect();
    let scores_shape = vec![g.batch, g.heads, g.seq, g.seq];
    // One projection's weight and bias gradients from its output's gradient.
    let mut project_back =
        |b: &mut Builder, name: &str, d: TensorRef, input: TensorRef, w: usize| {
            grads[w] = b.push(
                format!("dW{name}{index}"),
                Op::WeightGrad {
                    m,
                    o: width,
                    k: width,
                },
                vec![d, input],
                vec![width, width],
            );
            grads[w + 1] = b.push(
                format!("db{name}{index}"),
                Op::BiasGrad { m, o: width },
                vec![d],
                vec![width],
            );
        };
    let input_grad = Op::InputGrad {
        m,
        o: width,
        k: width,
    };
    project_back(b, "o", grad, saved.context, p + 6);
    let d_context = b.push(
        format!("dcontext{index}"),
        input_grad.clone(),
        vec![grad, TensorRef::Param(p + 6)],
        shape.clone(),
    );
    let d_probs = b.push(
        format!("dprobs{index}"),
        Op::AttnProbsGrad(g),
        vec![d_context, saved.v],
        scores_shape.clone(),
    );
    let d_v = b.push(
        format!("dv{index}"),
        Op::AttnValueGrad(g),
        vec![saved.probs, d_context],
        shape.clone(),
    );
    let dot = b.push(
        format!("attn_dot{index}"),
        Op::AttnSoftmaxDot(g),
        vec![saved.probs, d_probs],
        vec![g.batch, g.heads, g.seq],
    );
    let d_scores = b.push(
        format!("dscores{index}"),
        Op::AttnSoftmaxGrad(g),
        vec![saved.probs, d_probs, dot],
        scores_shape,
    );
    let d_q = b.push(
        format!("dq{index}"),
        Op::AttnQueryGrad(g),
        vec![d_scores, saved.k],
        shape.clone(),
    );
    let d_k = b.push(
        format!("dk{index}"),
        Op::AttnKeyGrad(g),
        vec![d_scores, saved.q],
        shape.clone(),
    );
    project_back(b, "q", d_q, x, p);
    project_back(b, "k", d_k, x, p + 2);
    project_back(b, "v", d_v, x, p + 4);
    if !below {
        return grad;
    }
    let through = |b: &mut Builder, name: &str, d: TensorRef, w: usize| {
        b.push(
            format!("dx{name}{index}"),
            input_grad.clone(),
            vec![d, TensorRef::Param(w)],
            shape.clone(),
        )
    };
    let from_q = through(b, "q", d_q, p);
    let from_k = through(b, "k", d_k, p + 2);
    let from_v = through(b, "v", d_v, p + 4);
    let sum = b.push(
        format!("dxqk{index}"),
        Op::Add,
        vec![from_q, from_k],
        shape.clone(),
    );
    b.push(format!("dx{index}"), Op::Add, vec![sum, from_v], shape)
}
