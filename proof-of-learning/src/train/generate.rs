//! Sampling text from a trained language model (`loss = "next_token"`): the
//! model's forward pass on the last `T` tokens, then one draw from the
//! softmax of the last position's logits. Every number is computed with the
//! repops primitives and the draw comes from the counter PRNG, so the same
//! model, prompt and seed give the same tokens on every machine.

use super::TensorRef;
use super::graph::forward_graph;
use crate::error::{Error, Result};
use crate::kernels::Kernels;
use crate::prng::{derive_key, purpose, uniform01};
use crate::repops::{Direct, exp, log_softmax_row, prim};
use crate::spec::{JobSpec, Loss};

/// Samples `count` tokens after `prompt` from the language model of `spec`
/// with parameters `params`, seeded by `seed`. Draw `n` picks the first token
/// whose cumulative probability exceeds `uniform01(derive_key(seed,
/// GENERATE), n)`, the probabilities being `exp(log_softmax(logits))`
/// summed in token order.
pub fn generate(
    spec: &JobSpec,
    params: &[Vec<f32>],
    kernels: &Kernels,
    prompt: &[u32],
    count: usize,
    seed: u64,
) -> Result<Vec<u32>> {
    let plan = spec.model_plan()?;
    let invalid = |reason: String| Error::InvalidSpec {
        field: "generate",
        reason,
    };
    if plan.loss != Loss::NextToken {
        return Err(invalid(
            "the model is not a language model (loss = \"next_token\")".into(),
        ));
    }
    let shapes_match = params.len() == plan.param_shapes.len()
        && params
            .iter()
            .zip(&plan.param_shapes)
            .all(|(p, shape)| p.len() == shape.iter().product::<usize>());
    if !shapes_match {
        return Err(invalid(
            "the parameters do not have the model's shapes".into(),
        ));
    }
    let vocab = spec.dataset.classes;
    if prompt.is_empty() {
        return Err(invalid("the prompt needs at least one token".into()));
    }
    if let Some(&bad) = prompt.iter().find(|&&t| t >= vocab) {
        return Err(invalid(format!(
            "prompt token {bad} is outside the vocabulary of {vocab}"
        )));
    }
    let positions: usize = plan.input.iter().product();
    let (classes, width) = (vocab as usize, spec.dataset.features as usize);
    let graph = forward_graph(spec, vec![0])?;
    let key = derive_key(seed, purpose::GENERATE);
    let mut tokens = prompt.to_vec();
    let mut row = vec![0.0f32; width];
    for n in 0..count {
        let window = &tokens[tokens.len().saturating_sub(positions)..];
        row.fill(0.0);
        for (slot, &t) in row.iter_mut().zip(window) {
            *slot = t as f32;
        }
        let mut outputs: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes.len());
        for node in &graph.nodes {
            let inputs: Vec<&[f32]> = node
                .inputs
                .iter()
                .map(|r| match *r {
                    TensorRef::DataFeatures => row.as_slice(),
                    TensorRef::Param(i) => params[i].as_slice(),
                    TensorRef::Node(i) => outputs[i].as_slice(),
                    TensorRef::DataLabels | TensorRef::Moment(_) => &[],
                })
                .collect();
            let mut out = vec![0.0f32; node.len()];
            kernels.run(&node.op, &inputs, &mut out);
            outputs.push(out);
        }
        let logits = outputs.last().map(Vec::as_slice).unwrap_or_default();
        let last = (window.len() - 1) * classes;
        let logits = &logits[last..last + classes];
        tokens.push(draw_token(logits, uniform01(key, n as u64)));
    }
    Ok(tokens.split_off(prompt.len()))
}

/// The first token whose cumulative probability exceeds `u`, the last one
/// with a non-zero probability if rounding leaves the sum below `u`.
fn draw_token(logits: &[f32], u: f32) -> u32 {
    let (max, log_sum) = log_softmax_row(&mut Direct, &[logits], 0, logits.len());
    let mut acc = 0.0f32;
    let mut fallback = 0;
    for (c, &z) in logits.iter().enumerate() {
        let p = exp(&mut Direct, prim::sub(prim::sub(z, max), log_sum));
        if p > 0.0 {
            fallback = c;
        }
        acc = prim::add(acc, p);
        if u < acc {
            return c as u32;
        }
    }
    fallback as u32
}

#[cfg(test)]
mod tests {
    use super::draw_token;

    #[test]
    fn draws_follow_the_probabilities() {
        // Probabilities about 0.09, 0.24, 0.67.
        let logits = [0.0, 1.0, 2.0];
        assert_eq!(draw_token(&logits, 0.0), 0);
        assert_eq!(draw_token(&logits, 0.2), 1);
        assert_eq!(draw_token(&logits, 0.5), 2);
        assert_eq!(draw_token(&logits, 0.999_999), 2);
        // A token of probability 0 is never drawn.
        assert_eq!(draw_token(&[0.0, -1e30], 0.999_999_9), 0);
    }
}
