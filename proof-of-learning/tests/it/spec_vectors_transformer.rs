//! The transformer cases of the shared spec vectors (see `spec_vectors.rs`):
//! the embedding, causal self-attention and residual bounds of
//! `ModelSpec::plan` and `check_programs`, the next-token loss and a linear
//! layer on the last dimension, each refused with the field the contracts name;
//! and transformer encodings that do not decode.

use vtrain_proof_of_learning::JobSpec;
use vtrain_proof_of_learning::spec::{DatasetFormat, Layer, Loss, ModelSpec};

const GPT: &str = include_str!("../../../examples/shakespeare-gpt.toml");

fn gpt() -> JobSpec {
    JobSpec::from_toml(GPT).unwrap()
}

/// The Shakespeare job with a next-token model of `layers` over `positions`
/// tokens (the dataset's rows hold one more).
fn lm(positions: u32, layers: Vec<Layer>) -> JobSpec {
    let mut s = gpt();
    s.dataset.features = positions + 1;
    s.model = ModelSpec::Graph {
        input: vec![positions],
        layers,
        loss: Loss::NextToken,
    };
    s
}

fn linear(out: u32) -> Layer {
    Layer::Linear { out }
}

fn embedding(dim: u32) -> Layer {
    Layer::Embedding { dim }
}

fn attention(heads: u32) -> Layer {
    Layer::CausalSelfAttention { heads }
}

fn residual(layers: Vec<Layer>) -> Layer {
    Layer::Residual { layers }
}

/// embedding(8) → `inner` → linear over the 128 classes, on 8 positions.
fn with(inner: Vec<Layer>) -> JobSpec {
    let mut layers = vec![embedding(8)];
    layers.extend(inner);
    layers.push(linear(128));
    lm(8, layers)
}

/// An embedding of width 1 over `positions` tokens, then the head, at `batch`
/// (only refused: any such job below the bound is too heavy for the market's
/// replay bound, which the vectors do not test).
fn long_embedding(positions: u32, batch: u32) -> JobSpec {
    let mut s = lm(positions, vec![embedding(1), linear(128)]);
    s.dataset.samples = 100_000;
    s.batch_size = batch;
    s
}

/// (name, spec, expected outcome) of the transformer cases that encode.
pub(crate) fn cases() -> Vec<(&'static str, JobSpec, &'static str)> {
    let gelus = |n: usize| residual(vec![Layer::Gelu {}; n]);
    let attentions = |n: usize| -> Vec<Layer> { (0..n).map(|_| attention(2)).collect() };
    vec![
        ("the Shakespeare GPT", gpt(), ""),
        (
            "the small GPT with every transformer op",
            {
                let mut s = gpt();
                s.dataset.features = 9;
                s.dataset.classes = 32;
                s.model =
                    ModelSpec::from_toml(include_str!("../../../examples/models/small-gpt.toml"))
                        .unwrap();
                s
            },
            "",
        ),
        (
            "a linear layer on the last dimension of a [4, 16] sample",
            {
                let mut s = gpt();
                s.dataset.format = DatasetFormat::Csv;
                s.dataset.features = 64;
                s.dataset.classes = 10;
                s.model = ModelSpec::Graph {
                    input: vec![4, 16],
                    layers: vec![linear(8), Layer::Relu {}, Layer::Flatten {}, linear(10)],
                    loss: Loss::SoftmaxCrossEntropy,
                };
                s
            },
            "",
        ),
        (
            "a next_token model reading all 8 tokens of a row",
            {
                let mut s = with(vec![]);
                s.dataset.features = 8;
                s
            },
            "model.input",
        ),
        (
            "an embedding after another layer",
            lm(8, vec![Layer::Relu {}, embedding(8), linear(128)]),
            "model.layers",
        ),
        (
            "an embedding inside a residual block",
            lm(8, vec![residual(vec![embedding(1)]), linear(128)]),
            "model.layers",
        ),
        (
            "an embedding of width 0",
            lm(8, vec![embedding(0), linear(128)]),
            "model.layers",
        ),
        (
            "an embedding on a [2, 4] input",
            {
                let mut s = with(vec![]);
                s.model = ModelSpec::Graph {
                    input: vec![2, 4],
                    layers: vec![embedding(8), linear(128)],
                    loss: Loss::NextToken,
                };
                s
            },
            "model.layers",
        ),
        (
            "attention on token ids",
            lm(8, vec![attention(1), linear(128)]),
            "model.layers",
        ),
        (
            "attention over 3 heads of a width of 8",
            with(vec![attention(3)]),
            "model.layers",
        ),
        (
            "attention with 0 heads",
            with(vec![attention(0)]),
            "model.layers",
        ),
        (
            "attention over 4,096 positions: 2^24 scores a sample",
            {
                let mut s = lm(4096, vec![embedding(1), attention(1), linear(128)]);
                s.batch_size = 4;
                s
            },
            "",
        ),
        (
            "attention over 4,097 positions: above 2^24 scores a sample",
            {
                let mut s = lm(4097, vec![embedding(1), attention(1), linear(128)]);
                s.batch_size = 4;
                s
            },
            "model.layers",
        ),
        (
            "a residual block that changes the shape",
            with(vec![residual(vec![linear(16)])]),
            "model.layers",
        ),
        (
            "an empty residual block",
            with(vec![residual(vec![])]),
            "model.layers",
        ),
        (
            "64 entries once a block is flattened",
            with(vec![gelus(60)]),
            "",
        ),
        (
            "65 entries once a block is flattened",
            with(vec![gelus(61)]),
            "model.layers",
        ),
        ("252 parameter tensors", with(attentions(31)), ""),
        (
            "260 parameter tensors",
            with(attentions(32)),
            "model.layers",
        ),
        (
            "next_token logits that are not one per class",
            lm(8, vec![embedding(8), linear(127)]),
            "model.layers",
        ),
        (
            "a next_token model with one logit vector a sample",
            lm(8, vec![embedding(8), Layer::Flatten {}, linear(128)]),
            "model.layers",
        ),
        (
            "an embedding over 65,536 × 32,768 tokens = 2^31",
            long_embedding(32_768, 65_536),
            "model.layers",
        ),
    ]
}

/// Transformer encodings that do not decode, edited from the small GPT's bytes.
pub(crate) fn parse_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let base = with(vec![residual(vec![Layer::Gelu {}])]).canonical_bytes();
    let model = 73;
    assert_eq!(base[model], 2, "the graph tag");
    // tag, rank 1, T, count 3, embedding (tag, dim), then the block
    let block = model + 1 + 4 + 4 + 4 + 5;
    assert_eq!(base[block], 13, "the residual tag");
    let count = block + 1;
    let inner = count + 4;
    assert_eq!(base[inner], 10, "the block's gelu");
    let edit = |offset: usize, value: &[u8]| {
        let mut b = base.clone();
        b[offset..offset + value.len()].copy_from_slice(value);
        b
    };
    vec![
        (
            "a residual block inside another",
            {
                let mut b = base.clone();
                // the gelu becomes a block of one gelu
                b.splice(inner..=inner, [13, 0, 0, 0, 1, 10]);
                b
            },
            "parse",
        ),
        (
            "a residual block of 65 layers",
            edit(count, &65u32.to_be_bytes()),
            "parse",
        ),
        ("a residual block tag 14", edit(block, &[14]), "parse"),
    ]
}
