//! The layer-graph cases of the shared spec vectors (see `spec_vectors.rs`):
//! every bound of `ModelSpec::plan`, each refused with the field the contracts
//! name (`model.input`, `model.layers`), and graph encodings that do not decode.

use vtrain_proof_of_learning::JobSpec;
use vtrain_proof_of_learning::spec::{Layer, ModelSpec, OptimizerSpec};

const CNN: &str = include_str!("../../../examples/digits-cnn.toml");

fn cnn() -> JobSpec {
    JobSpec::from_toml(CNN).unwrap()
}

/// The CNN with its layers (and input) replaced.
fn graph(input: &[u32], layers: Vec<Layer>) -> JobSpec {
    let mut s = cnn();
    s.model = ModelSpec::Graph {
        input: input.to_vec(),
        layers,
        loss: Default::default(),
    };
    s
}

fn conv(out_channels: u32, kernel: u32, stride: u32, padding: u32) -> Layer {
    Layer::Conv2d {
        out_channels,
        kernel,
        stride,
        padding,
    }
}

fn linear(out: u32) -> Layer {
    Layer::Linear { out }
}

/// conv → relu → flatten → linear on the 8×8 digits, with `layer` as the conv.
fn with_conv(layer: Layer) -> JobSpec {
    graph(
        &[1, 8, 8],
        vec![layer, Layer::Relu {}, Layer::Flatten {}, linear(10)],
    )
}

fn norm(eps: f32) -> Layer {
    Layer::LayerNorm { eps }
}

/// A layer norm over 8,192 rows of one value per sample, at `batch`.
fn wide_norm(batch: u32) -> JobSpec {
    let mut s = graph(
        &[8192],
        vec![
            Layer::Reshape {
                shape: vec![8192, 1],
            },
            norm(1e-5),
            Layer::Flatten {},
            linear(10),
        ],
    );
    s.dataset.features = 8192;
    s.dataset.samples = 100_000;
    s.batch_size = batch;
    s
}

/// (name, spec, expected outcome) of the graph cases that encode.
pub(crate) fn cases() -> Vec<(&'static str, JobSpec, &'static str)> {
    let mut small = graph(
        &[1, 8, 8],
        vec![
            conv(3, 3, 1, 1),
            Layer::Relu {},
            Layer::Avgpool2d {
                kernel: 2,
                stride: None,
            },
            conv(4, 3, 2, 1),
            Layer::Relu {},
            Layer::Maxpool2d {
                kernel: 2,
                stride: Some(1),
            },
            Layer::Dropout { p: 0.25 },
            Layer::Reshape { shape: vec![4] },
            linear(10),
        ],
    );
    small.optimizer = OptimizerSpec::Adamw {
        learning_rate: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    let image = |layers: Vec<Layer>| graph(&[1, 8, 8], layers);
    vec![
        ("digits CNN", cnn(), ""),
        (
            "digits CNN fine-tuned from a model root",
            {
                let mut s = cnn();
                s.init = vtrain_proof_of_learning::spec::InitSpec::Model {
                    root: format!("0x{}", "c3".repeat(32)),
                };
                s
            },
            "",
        ),
        ("small CNN with every image op and AdamW", small, ""),
        (
            "an MLP written as a graph",
            graph(&[64], vec![linear(32), Layer::Relu {}, linear(10)]),
            "",
        ),
        (
            "dropout p = −0.0",
            graph(
                &[64],
                vec![linear(32), Layer::Dropout { p: -0.0 }, linear(10)],
            ),
            "",
        ),
        (
            "a 1×1 convolution, stride 3",
            with_conv(conv(2, 1, 3, 0)),
            "",
        ),
        (
            "input holds 72 values for 64 features",
            graph(&[1, 8, 9], vec![Layer::Flatten {}, linear(10)]),
            "model.input",
        ),
        (
            "input with a zero dimension",
            graph(&[0, 8, 8], vec![Layer::Flatten {}, linear(10)]),
            "model.input",
        ),
        (
            "an empty input shape",
            graph(&[], vec![linear(10)]),
            "model.input",
        ),
        (
            "input dimensions whose product overflows 64 bits",
            graph(&[65536, 65536, 65536, 65536], vec![linear(10)]),
            "model.input",
        ),
        ("no layers", graph(&[64], vec![]), "model.layers"),
        (
            "linear on an image",
            image(vec![linear(10)]),
            "model.layers",
        ),
        (
            "conv2d on a flat input",
            graph(&[64], vec![conv(4, 3, 1, 1), Layer::Flatten {}, linear(10)]),
            "model.layers",
        ),
        (
            "conv2d with 0 channels",
            with_conv(conv(0, 3, 1, 1)),
            "model.layers",
        ),
        (
            "conv2d kernel 17",
            with_conv(conv(4, 17, 1, 9)),
            "model.layers",
        ),
        (
            "conv2d stride 0",
            with_conv(conv(4, 3, 0, 1)),
            "model.layers",
        ),
        (
            "conv2d padding as large as the kernel",
            with_conv(conv(4, 3, 1, 3)),
            "model.layers",
        ),
        (
            "conv2d kernel above the padded input",
            with_conv(conv(4, 11, 1, 1)),
            "model.layers",
        ),
        (
            "a sample's activation above 2^24 values",
            with_conv(conv(65536, 16, 1, 15)),
            "model.layers",
        ),
        (
            "max pooling wider than its input",
            image(vec![
                Layer::Maxpool2d {
                    kernel: 9,
                    stride: None,
                },
                Layer::Flatten {},
                linear(10),
            ]),
            "model.layers",
        ),
        (
            "average pooling stride 17",
            image(vec![
                Layer::Avgpool2d {
                    kernel: 2,
                    stride: Some(17),
                },
                Layer::Flatten {},
                linear(10),
            ]),
            "model.layers",
        ),
        (
            "reshape to another element count",
            image(vec![Layer::Reshape { shape: vec![63] }, linear(10)]),
            "model.layers",
        ),
        (
            "reshape with a zero dimension",
            image(vec![Layer::Reshape { shape: vec![64, 0] }, linear(10)]),
            "model.layers",
        ),
        (
            "logits that are not one per class",
            graph(&[64], vec![linear(12)]),
            "model.layers",
        ),
        (
            "a model without parameters",
            {
                let mut s = graph(&[10], vec![Layer::Relu {}]);
                s.dataset.features = 10;
                s
            },
            "model.layers",
        ),
        (
            "dropout p = 1",
            graph(&[64], vec![Layer::Dropout { p: 1.0 }, linear(10)]),
            "model.layers",
        ),
        (
            "dropout p = NaN",
            graph(&[64], vec![Layer::Dropout { p: f32::NAN }, linear(10)]),
            "model.layers",
        ),
        (
            "a pre-norm MLP: linear, layer_norm, gelu",
            graph(
                &[64],
                vec![linear(32), norm(1e-5), Layer::Gelu {}, linear(10)],
            ),
            "",
        ),
        (
            "a layer norm over the last dimension of a [4, 16] sample",
            graph(
                &[4, 16],
                vec![norm(1e-3), Layer::Gelu {}, Layer::Flatten {}, linear(10)],
            ),
            "",
        ),
        (
            "layer norms are the only parameters",
            {
                let mut s = graph(&[10], vec![Layer::Gelu {}, norm(1e-5)]);
                s.dataset.features = 10;
                s
            },
            "",
        ),
        (
            "layer_norm eps = 0",
            graph(&[64], vec![norm(0.0), linear(10)]),
            "model.layers",
        ),
        (
            "layer_norm eps = −1e-5",
            graph(&[64], vec![norm(-1e-5), linear(10)]),
            "model.layers",
        ),
        (
            "layer_norm eps = NaN",
            graph(&[64], vec![norm(f32::NAN), linear(10)]),
            "model.layers",
        ),
        (
            "layer_norm eps = +∞",
            graph(&[64], vec![norm(f32::INFINITY), linear(10)]),
            "model.layers",
        ),
        (
            "layer_norm on 65,535 × 8,192 rows (just below 2^29)",
            wide_norm(65_535),
            "",
        ),
        (
            "layer_norm on 65,536 × 8,192 rows = 2^29",
            wide_norm(65_536),
            "model.layers",
        ),
        (
            "a graph fault before an optimizer fault: the graph is named",
            {
                let mut s = graph(&[64], vec![linear(12)]);
                s.optimizer = OptimizerSpec::Sgd {
                    learning_rate: f32::NAN,
                    momentum: 0.0,
                    weight_decay: 0.0,
                };
                s
            },
            "model.layers",
        ),
    ]
}

/// Graph encodings that do not decode, edited from the CNN's bytes.
pub(crate) fn parse_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let base = cnn().canonical_bytes();
    let model = 73;
    assert_eq!(base[model], 2, "the graph tag");
    let rank = model + 1;
    let layers = rank + 4 + 3 * 4;
    let first = layers + 4;
    let edit = |offset: usize, value: &[u8]| {
        let mut b = base.clone();
        b[offset..offset + value.len()].copy_from_slice(value);
        b
    };
    let loss = base.len() - 13 - 1 - 1; // the loss tag precedes SGD (13 bytes) and the schedule
    vec![
        ("model kind 3", edit(model, &[3]), "parse"),
        ("layer kind 14", edit(first, &[14]), "parse"),
        (
            "an input of rank 5",
            edit(rank, &5u32.to_be_bytes()),
            "parse",
        ),
        ("65 layers", edit(layers, &65u32.to_be_bytes()), "parse"),
        ("loss 3", edit(loss, &[3]), "parse"),
        (
            "a graph cut after its layers",
            base[..loss].to_vec(),
            "parse",
        ),
    ]
}
