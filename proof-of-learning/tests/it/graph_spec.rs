//! Layer-graph specs: parsing, shape inference with errors that name the
//! layer, the canonical encoding, and the `mlp` shorthand's expansion.

use crate::common::{digits_cnn_spec, digits_spec, trainer};
use vtrain_proof_of_learning::spec::{Layer, ModelSpec};
use vtrain_proof_of_learning::{JobSpec, Level};

/// The job hash of `examples/digits-cnn.toml`.
const DIGITS_CNN_JOB_HASH: &str =
    "0x4a9a6f2b8505c3222afe388e9e84f1ae85d0ad0b228f3499ce91fb930fdab588";

#[test]
fn the_cnn_spec_round_trips_through_toml_and_canonical_bytes() {
    let spec = digits_cnn_spec();
    assert_eq!(spec.job_hash().to_hex(), DIGITS_CNN_JOB_HASH);
    let reparsed = JobSpec::from_toml(&spec.to_toml()).unwrap();
    assert_eq!(reparsed, spec);
    let bytes = spec.canonical_bytes();
    assert_eq!(JobSpec::from_canonical_bytes(&bytes).unwrap(), spec);
    assert!(JobSpec::from_canonical_bytes(&bytes[..bytes.len() - 1]).is_err());
    let plan = spec.model_plan().unwrap();
    let shapes: Vec<Vec<usize>> = plan.layers.iter().map(|l| l.output.clone()).collect();
    assert_eq!(
        shapes,
        [
            vec![16, 8, 8],
            vec![16, 8, 8],
            vec![16, 4, 4],
            vec![32, 4, 4],
            vec![32, 4, 4],
            vec![512],
            vec![10]
        ]
    );
    assert_eq!(
        plan.param_shapes,
        [
            vec![16, 1, 3, 3],
            vec![16],
            vec![32, 16, 3, 3],
            vec![32],
            vec![10, 512],
            vec![10]
        ]
    );
    // Every field of every layer is in the hash.
    let ModelSpec::Graph { layers, .. } = &spec.model else {
        panic!("a graph")
    };
    for (i, layer) in layers.iter().enumerate() {
        let changed = match *layer {
            Layer::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
            } => vec![
                Layer::Conv2d {
                    out_channels: out_channels + 1,
                    kernel,
                    stride,
                    padding,
                },
                Layer::Conv2d {
                    out_channels,
                    kernel: kernel + 2,
                    stride,
                    padding: padding + 1,
                },
                Layer::Conv2d {
                    out_channels,
                    kernel,
                    stride: stride + 1,
                    padding,
                },
                Layer::Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding: padding - 1,
                },
            ],
            Layer::Maxpool2d { kernel, .. } => vec![
                Layer::Maxpool2d {
                    kernel,
                    stride: Some(1),
                },
                Layer::Avgpool2d {
                    kernel,
                    stride: None,
                },
            ],
            _ => vec![],
        };
        for replacement in changed {
            let mut other = spec.clone();
            if let ModelSpec::Graph { layers, .. } = &mut other.model {
                layers[i] = replacement.clone();
            }
            assert_ne!(other.job_hash(), spec.job_hash(), "{replacement:?}");
            assert_eq!(
                JobSpec::from_canonical_bytes(&other.canonical_bytes())
                    .map(|s| s.job_hash())
                    .ok(),
                other.validate().ok().map(|()| other.job_hash()),
                "{replacement:?}"
            );
        }
    }
}

#[test]
fn an_mlp_is_shorthand_for_its_graph() {
    let mlp = digits_spec();
    let mut graph = mlp.clone();
    graph.model = ModelSpec::Graph {
        input: vec![64],
        layers: vec![
            Layer::Linear { out: 128 },
            Layer::Relu {},
            Layer::Linear { out: 10 },
        ],
        loss: Default::default(),
    };
    graph.validate().unwrap();
    assert_eq!(mlp.param_shapes(), graph.param_shapes());
    // Another job (another hash), the same computation.
    assert_ne!(mlp.job_hash(), graph.job_hash());
    let (a, b) = (
        trainer(mlp, Level::detect(), 1),
        trainer(graph, Level::detect(), 1),
    );
    assert_eq!(a.graph(3), b.graph(3));
    let (mut sa, mut sb) = (a.initial_state(), b.initial_state());
    assert_eq!(sa, sb);
    for _ in 0..3 {
        sa = a.step(&sa).unwrap().state;
        sb = b.step(&sb).unwrap().state;
    }
    assert_eq!(sa, sb);
}

/// `edit` applied to the CNN example must be refused with an error holding
/// every one of `words`.
fn refused(edit: impl Fn(&str) -> String, words: &[&str]) {
    let base = include_str!("../../../examples/digits-cnn.toml");
    crate::common::refused_edit(base, edit, words);
}

#[test]
fn shape_errors_name_the_layer_and_the_mismatch() {
    refused(
        |s| s.replace("kind = \"flatten\"", "kind = \"relu\""),
        &[
            "the last layer gives [32, 4, 10]",
            "needs [10]",
            "acts on the last dimension",
            "flatten",
        ],
    );
    refused(
        |s| s.replace("input = [1, 8, 8]", "input = [1, 8, 9]"),
        &["model.input", "72 values", "64 features"],
    );
    refused(
        |s| s.replace("input = [1, 8, 8]", "input = [64]"),
        &["layer 0 (conv2d)", "[channels, height, width]", "[64]"],
    );
    refused(
        |s| s.replacen("kernel = 3\npadding = 1", "kernel = 3\npadding = 3", 1),
        &["layer 0 (conv2d)", "padding 3 must be below the kernel 3"],
    );
    refused(
        |s| s.replacen("kernel = 2", "kernel = 9", 1),
        &[
            "layer 2 (maxpool2d)",
            "kernel 9 is larger than the input 8×8",
        ],
    );
    refused(
        |s| s.replace("out = 10", "out = 12"),
        &["the last layer gives [12]", "[10]"],
    );
    refused(
        |s| s.replace("kind = \"flatten\"", "kind = \"reshape\"\nshape = [500]"),
        &["layer 5 (reshape)", "500 values", "512"],
    );
    refused(
        |s| s.replacen("kernel = 2", "kernel = 2\nstride = 0", 1),
        &["layer 2 (maxpool2d)", "stride must be in 1..=16, got 0"],
    );
    refused(
        |s| s.replacen("out_channels = 16", "out_channels = 0", 1),
        &["layer 0 (conv2d)", "out_channels"],
    );
    refused(
        |s| {
            s.replace(
                "kind = \"flatten\"",
                "kind = \"dropout\"\np = 1.0\n[[model.layers]]\nkind = \"flatten\"",
            )
        },
        &["layer 5 (dropout)", "p must be in [0, 1), got 1"],
    );
    refused(
        |s| s.replace("kind = \"flatten\"", "kind = \"softmax\""),
        &["does not parse", "softmax"],
    );
    refused(
        |s| s.replacen("padding = 1", "padding = 1\ngroups = 2", 1),
        &["does not parse", "groups"],
    );
}

/// `layer_norm` and `gelu`: the default ε, the parameters (a gain and a
/// shift of the last dimension, initially 1 and 0), the encoding, and the
/// errors that name the layer.
#[test]
fn layer_norm_and_gelu_layers_plan_encode_and_initialise() {
    let model = ModelSpec::from_toml(
        r#"kind = "graph"
input = [4, 16]
layers = [
  { kind = "layer_norm" },
  { kind = "gelu" },
  { kind = "flatten" },
  { kind = "linear", out = 10 },
]"#,
    )
    .unwrap();
    let ModelSpec::Graph { layers, .. } = &model else {
        panic!("a graph")
    };
    assert_eq!(layers[0], Layer::LayerNorm { eps: 1e-5 });
    assert_eq!(layers[1], Layer::Gelu {});
    let mut spec = digits_spec();
    spec.model = model;
    let plan = spec.model_plan().unwrap();
    assert_eq!(plan.param_shapes[..2], [vec![16], vec![16]]);
    let norm = plan.layers[0].norm(32).unwrap();
    assert_eq!((norm.rows, norm.width), (32 * 4, 16));
    assert_eq!(
        JobSpec::from_canonical_bytes(&spec.canonical_bytes()).unwrap(),
        spec
    );
    let trainer = trainer(spec, Level::Scalar, 1);
    let s0 = trainer.initial_state();
    assert!(s0.params[0].iter().all(|&g| g == 1.0));
    assert!(s0.params[1].iter().all(|&b| b.to_bits() == 0));
    let gain = trainer.init_element_trace(0, 3).unwrap();
    assert!(gain.steps.is_empty());
    assert_eq!(gain.value, 1.0f32.to_bits());
    assert_eq!(trainer.init_element_trace(2, 3).unwrap().steps.len(), 4);

    let norm_before_flatten = |eps: &'static str| {
        move |s: &str| {
            s.replace(
                "kind = \"flatten\"",
                &format!("kind = \"layer_norm\"\n{eps}\n[[model.layers]]\nkind = \"flatten\""),
            )
        }
    };
    refused(
        norm_before_flatten("eps = 0.0"),
        &[
            "layer 5 (layer_norm)",
            "eps must be a finite number above 0, got 0",
        ],
    );
    refused(
        norm_before_flatten("eps = -1.0"),
        &["layer 5 (layer_norm)", "got -1"],
    );
    refused(
        norm_before_flatten("eps = nan"),
        &["layer 5 (layer_norm)", "got NaN"],
    );
    refused(
        norm_before_flatten("gain = 2.0"),
        &["does not parse", "gain"],
    );
    refused(
        |s| {
            s.replace(
                "kind = \"flatten\"",
                "kind = \"gelu\"\napproximate = \"none\"",
            )
        },
        &["does not parse", "approximate"],
    );
    // A field-less layer refuses fields too (an operator asking for the erf
    // GELU, or an in-place ReLU, is told, not silently given another thing).
    refused(
        |s| s.replacen("kind = \"relu\"", "kind = \"relu\"\ninplace = true", 1),
        &["does not parse", "inplace"],
    );
}

#[test]
fn a_model_table_parses_alone_and_refuses_unknown_kinds() {
    let ModelSpec::Graph { layers, .. } = ModelSpec::from_toml(
        "kind = \"graph\"\ninput = [64]\nlayers = [{ kind = \"linear\", out = 10 }]",
    )
    .unwrap() else {
        panic!("a graph")
    };
    assert_eq!(layers, [Layer::Linear { out: 10 }]);
    let error = ModelSpec::from_toml("kind = \"transformer\"").unwrap_err();
    assert!(error.to_string().contains("does not parse"), "{error}");
}

#[test]
fn canonical_decoding_refuses_unknown_layers_and_oversized_lists() {
    let spec = digits_cnn_spec();
    let bytes = spec.canonical_bytes();
    // The model tag follows the header, the dataset root and its fields; the
    // first layer's tag follows the model tag, the input list and the layer count.
    let head = 4 + 8 + 4 + 4 + 4 + 32 + 1 + 16;
    assert_eq!(bytes[head], 2, "the graph tag");
    let first_layer = head + 1 + 4 + 3 * 4 + 4;
    assert_eq!(bytes[first_layer], 2, "conv2d");
    let mut unknown = bytes.clone();
    unknown[first_layer] = 99;
    assert!(
        JobSpec::from_canonical_bytes(&unknown)
            .unwrap_err()
            .to_string()
            .contains("layer tag 99")
    );
    let mut many = bytes.clone();
    many[first_layer - 4..first_layer].copy_from_slice(&1000u32.to_be_bytes());
    assert!(
        JobSpec::from_canonical_bytes(&many)
            .unwrap_err()
            .to_string()
            .contains("1000 layers")
    );
}

/// Gradient clipping in the step graph: after the backward pass a chained
/// sum of squares per parameter, the scale, and one clipped gradient per
/// parameter, which the optimizer reads. On the reference job's first step the
/// norm is above 1, so every gradient is scaled by `1 / (norm + 1e-6)`, the
/// same factor for all.
#[test]
fn clipping_scales_every_gradient_by_one_factor() {
    let spec = crate::common::digits_ln_gelu_spec();
    assert_eq!(spec.clip_grad_norm, Some(1.0));
    // The TOML a spec writes (a top-level key after its tables) reads back.
    assert_eq!(JobSpec::from_toml(&spec.to_toml()).unwrap(), spec);
    let trainer = trainer(spec.clone(), Level::detect(), 1);
    let graph = trainer.graph(0);
    let s0 = trainer.initial_state();
    let outputs = trainer.execute(&graph, &s0);
    let find = |name: &str| {
        graph
            .nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    };
    let params = trainer.param_shapes().len();
    let scale = outputs[find("clip")][0];
    let squares = outputs[find(&format!("gsq{}", params - 1))][0];
    let norm = f64::from(squares).sqrt();
    assert!(
        norm > 1.0,
        "the first step's gradient norm {norm} is clipped"
    );
    assert!((f64::from(scale) - 1.0 / (norm + 1e-6)).abs() < 1e-6);
    for p in 0..params {
        let clipped = &graph.nodes[find(&format!("g'{p}"))];
        let vtrain_proof_of_learning::train::TensorRef::Node(grad) = clipped.inputs[0] else {
            panic!("a clipped gradient reads a node")
        };
        let expected: Vec<f32> = outputs[grad].iter().map(|g| g * scale).collect();
        assert_eq!(outputs[find(&format!("g'{p}"))], expected, "parameter {p}");
    }
    // Without clipping the optimizer reads the raw gradients: no such nodes.
    let mut unclipped = spec;
    unclipped.clip_grad_norm = None;
    let graph = crate::common::trainer(unclipped, Level::detect(), 1).graph(0);
    assert!(!graph.nodes.iter().any(|n| n.name == "clip"));
}
