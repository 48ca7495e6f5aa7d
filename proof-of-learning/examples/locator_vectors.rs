//! Writes differential test vectors for the on-chain step semantics
//! (`contracts/src/semantics/GraphSemantics.sol`): for a few jobs and a few
//! transitions of each, every tensor the transition produces (its list, index,
//! shape and input sources, as `train::step_graph` builds them) and, for some of
//! its elements, the full micro-trace the reference `Recorder` records: each
//! micro-step's opcode, operand locators, operand values and result. The forge
//! test `contracts/test/semantics/GraphSemantics.t.sol` checks the contract's
//! `counts`, `shapeOf`, `inputOf`, `programLength` and `instruction` against
//! them and replays every micro-step through the fp32 ALU;
//! `scripts/locator-diff.sh` runs both.
//!
//! ```text
//! cargo run --release -p vtrain-proof-of-learning --example locator_vectors -- \
//!     --out target/locator-vectors [--random 3]
//! ```
//!
//! The jobs (on the bundled digits set but the last):
//!
//! - `digits`: `examples/digits-mlp.toml` (64-128-10, SGD with momentum,
//!   constant schedule): the init transition and steps 0, 1 and 22 (whose batch
//!   crosses from epoch 0 into epoch 1);
//! - `small`: `tests/it/common.rs::small_spec` (64-24-16-10, AdamW, linear
//!   warm-up over 5 steps) with 50 steps instead of 40, so that step 44 (decay
//!   phase, batch crossing into epoch 1) exists: init, steps 0, 1 and 44;
//! - `linear`: no hidden layer (64-10), SGD, step schedule (every 3, γ = 0.5),
//!   gradients clipped to norm 2 (the `mlp` shorthand with clipping): init,
//!   steps 0, 7 and 22;
//! - `cnn`: `examples/digits-cnn.toml` (conv, relu, max-pool, conv, relu,
//!   flatten, linear; SGD) at batch 16: init, steps 0, 1 and 89;
//! - `small-cnn`: every image op (padding, stride 2, average and overlapping
//!   max pooling, dropout, a reshape) with `small`'s AdamW, batch 8 and 200
//!   steps: init, steps 0, 1 and 179;
//! - `norm`: layer norms (over a flat input and over the rows of a `[3, 4]`
//!   reshape) and GELUs between linears, `small-cnn`'s AdamW, batch and
//!   steps, with warm-up and cosine decay and gradients clipped to norm 0.5:
//!   init, steps 0, 5 (the first cosine step) and 179;
//! - `norm-first`: a layer norm as the first trained layer (no input
//!   gradient), GELU, linear; SGD at batch 8: init, steps 0 and 180;
//! - `gpt`: the small GPT (`examples/models/small-gpt.toml`: embeddings, a
//!   pre-norm attention block and a pre-norm MLP block, each a residual, a
//!   final layer norm) with a head over 128 bytes, on 9-token windows of the
//!   bundled Shakespeare corpus, with `norm`'s optimizer, schedule and
//!   clipping at batch 4: init, steps 0, 1 and 31.
//!
//! Of each produced tensor the first and last elements and `--random` seeded
//! random ones are written (every element of a tensor of at most 16). The
//! output is a pure function of the arguments.
//!
//! # File format
//!
//! `--out` holds `manifest.bin` and one `case-NNN.bin` per transition (stale
//! `case-*.bin` files are removed first). All integers are big-endian; values
//! are f32 bit patterns.
//!
//! `manifest.bin`: magic `"VTLOCM01"`, `u32` cases, `u32` tensors, `u32`
//! elements, `u32` micro-steps (totals over every case).
//!
//! `case-NNN.bin`:
//!
//! ```text
//! magic "VTLOCV01"
//! u32 spec length, spec bytes (the canonical spec)
//! u8 init, u64 step
//! u32 intermediates, u32 optimizer, u32 weights      (the list counts)
//! u32 tensors, then per tensor:
//!   u8 list, u32 index, shape
//!   u8 inputs, per input: u8 source, u32 index, shape  (IStepSemantics.Source)
//!   u32 elements, per element:
//!     u64 element, u32 value, u32 program length n
//!     n = 0: one operand (the copied source)
//!     n > 0: n × (u8 opcode, 4 operands, u32 result)
//! shape   = u8 ndim, ndim × u64
//! operand = u8 kind (0 none, 1 input, 2 step, 3 const), u8 slot, u64 index,
//!           u32 bits, u32 value
//! ```
//!
//! Operands past a primitive's arity are `none` (all zero).

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use vtrain_proof_of_learning::repops::{
    ElementTrace, Fp, LrSchedule, Operand, Recorder, replay_trace,
};
use vtrain_proof_of_learning::spec::{DatasetFormat, ModelSpec, OptimizerSpec};
use vtrain_proof_of_learning::train::TensorRef;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, State, Trainer, prng};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const CASE_MAGIC: &[u8; 8] = b"VTLOCV01";
const MANIFEST_MAGIC: &[u8; 8] = b"VTLOCM01";
/// The seed of the random element choice ("VTLOCSED").
const SEED: u64 = 0x5654_4C4F_4353_4544;

/// `IStepSemantics.Source`.
mod source {
    pub(crate) const INTERMEDIATES: u8 = 0;
    pub(crate) const NEW_OPTIMIZER: u8 = 1;
    pub(crate) const NEW_WEIGHTS: u8 = 2;
    pub(crate) const OLD_OPTIMIZER: u8 = 3;
    pub(crate) const OLD_WEIGHTS: u8 = 4;
    pub(crate) const DATASET_FEATURES: u8 = 5;
    pub(crate) const DATASET_LABELS: u8 = 6;
}

struct Job {
    name: &'static str,
    spec: JobSpec,
    dataset: Dataset,
    steps: Vec<u32>,
}

fn jobs() -> Result<Vec<Job>> {
    let digits = JobSpec::from_toml(include_str!("../../examples/digits-mlp.toml"))?;

    let mut small = digits.clone();
    small.steps = 50;
    small.checkpoint_interval = 10;
    small.batch_size = 32;
    small.model = ModelSpec::Mlp {
        hidden: vec![24, 16],
        activation: Default::default(),
    };
    small.optimizer = OptimizerSpec::Adamw {
        learning_rate: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    small.schedule = LrSchedule::LinearWarmupDecay { warmup_steps: 5 };
    small.validate()?;

    let mut linear = digits.clone();
    linear.model = ModelSpec::Mlp {
        hidden: vec![],
        activation: Default::default(),
    };
    linear.schedule = LrSchedule::Step {
        every: 3,
        gamma: 0.5,
    };
    linear.clip_grad_norm = Some(2.0);
    linear.validate()?;

    // The reference CNN at batch 16, so that its longest programs (a weight
    // gradient element sums batch × 64 positions) stay short enough to
    // replay every micro-step on chain; step 89 crosses into epoch 1.
    let mut cnn = JobSpec::from_toml(include_str!("../../examples/digits-cnn.toml"))?;
    cnn.batch_size = 16;
    cnn.validate()?;

    // Every image op: padding, stride 2, average and overlapping max pooling,
    // dropout, a reshape; AdamW with warm-up.
    let mut small_cnn = small.clone();
    small_cnn.batch_size = 8;
    small_cnn.steps = 200;
    small_cnn.model = ModelSpec::from_toml(SMALL_CNN_MODEL)?;
    small_cnn.validate()?;

    // Layer norms (one over a flat input, one over the rows of a reshape)
    // and GELUs between linears, with the small jobs' AdamW.
    let mut norm = small_cnn.clone();
    norm.model = ModelSpec::from_toml(include_str!("../../examples/models/small-norm.toml"))?;
    norm.schedule = LrSchedule::LinearWarmupCosine { warmup_steps: 5 };
    norm.clip_grad_norm = Some(0.5);
    norm.validate()?;

    // A layer norm as the first trained layer (no input gradient), SGD.
    let mut norm_first = digits.clone();
    norm_first.batch_size = 8;
    norm_first.model = ModelSpec::from_toml(
        r#"kind = "graph"
input = [64]
layers = [{ kind = "layer_norm" }, { kind = "gelu" }, { kind = "linear", out = 10 }]"#,
    )?;
    norm_first.validate()?;

    // The transformer: the small GPT's layers (embedding, two pre-norm residual
    // blocks, one of causal self-attention, a final layer norm) with a head
    // over the 128 ASCII bytes, on 9-token windows of the bundled corpus;
    // `norm`'s AdamW, cosine schedule and clipping.
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/shakespeare.txt.gz"
    ));
    let text = Dataset::from_text_file(corpus, 9)?;
    let mut gpt = norm.clone();
    gpt.steps = 40;
    gpt.batch_size = 4;
    gpt.dataset.format = DatasetFormat::Text;
    gpt.dataset.root = text.root().to_hex();
    gpt.dataset.samples = text.samples as u32;
    gpt.dataset.features = 9;
    gpt.dataset.classes = 128;
    gpt.dataset.holdout = 1000;
    gpt.model = ModelSpec::from_toml(
        &include_str!("../../examples/models/small-gpt.toml").replace(
            r#"{ kind = "linear", out = 32 }"#,
            r#"{ kind = "linear", out = 128 }"#,
        ),
    )?;
    gpt.validate()?;

    let digits_set = Dataset::digits()?;
    let job = |name, spec, steps| Job {
        name,
        spec,
        dataset: digits_set.clone(),
        steps,
    };
    Ok(vec![
        Job {
            name: "gpt",
            spec: gpt,
            dataset: text,
            steps: vec![0, 1, 31],
        },
        job("norm", norm, vec![0, 5, 179]),
        job("norm-first", norm_first, vec![0, 180]),
        job("cnn", cnn, vec![0, 1, 89]),
        job("small-cnn", small_cnn, vec![0, 1, 179]),
        job("digits", digits, vec![0, 1, 22]),
        job("small", small, vec![0, 1, 44]),
        job("linear", linear, vec![0, 7, 22]),
    ])
}

/// The model of the `small-cnn` job.
const SMALL_CNN_MODEL: &str = r#"kind = "graph"
input = [1, 8, 8]
layers = [
  { kind = "conv2d", out_channels = 3, kernel = 3, padding = 1 },
  { kind = "relu" },
  { kind = "avgpool2d", kernel = 2 },
  { kind = "conv2d", out_channels = 4, kernel = 3, stride = 2, padding = 1 },
  { kind = "relu" },
  { kind = "maxpool2d", kernel = 2, stride = 1 },
  { kind = "dropout", p = 0.25 },
  { kind = "reshape", shape = [4] },
  { kind = "linear", out = 10 },
]"#;

/// A big-endian byte writer.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn shape(&mut self, shape: &[usize]) {
        self.u8(shape.len() as u8);
        for &d in shape {
            self.u64(d as u64);
        }
    }
    /// An operand and its value.
    fn operand(&mut self, operand: Option<Operand>, value: u32) {
        let (kind, slot, index, bits) = match operand {
            None => (0, 0, 0, 0),
            Some(Operand::Input { slot, index }) => (1, slot, index, 0),
            Some(Operand::Step(j)) => (2, 0, u64::from(j), 0),
            Some(Operand::Const(bits)) => (3, 0, 0, bits),
        };
        self.u8(kind);
        self.u8(slot);
        self.u64(index);
        self.u32(bits);
        self.u32(if operand.is_some() { value } else { 0 });
    }
}

#[derive(Default)]
struct Totals {
    cases: u32,
    tensors: u32,
    elements: u32,
    micro_steps: u32,
}

/// One element's record: the trace, or (for a program without steps) the
/// copied operand and its value.
fn write_element(
    out: &mut Out,
    totals: &mut Totals,
    element: usize,
    trace: &ElementTrace,
    copied: Operand,
    input: &dyn Fn(u8, u64) -> f32,
) -> Result<()> {
    replay_trace(trace, input).map_err(|k| format!("element {element}: step {k} replays wrong"))?;
    out.u64(element as u64);
    out.u32(trace.value);
    out.u32(trace.steps.len() as u32);
    let value_of = |operand: Operand| -> u32 {
        match operand {
            Operand::Input { slot, index } => input(slot, index).to_bits(),
            Operand::Const(bits) => bits,
            Operand::Step(j) => trace.steps[j as usize].result,
        }
    };
    if trace.steps.is_empty() {
        let value = value_of(copied);
        if value != trace.value {
            return Err(format!(
                "element {element}: copy of {value:#x} is {:#x}",
                trace.value
            )
            .into());
        }
        out.operand(Some(copied), value);
    }
    for step in &trace.steps {
        out.u8(step.opcode as u8);
        for (i, &operand) in step.operands.iter().enumerate() {
            if i < step.opcode.arity() {
                out.operand(Some(operand), value_of(operand));
            } else {
                out.operand(None, 0);
            }
        }
        out.u32(step.result);
    }
    totals.elements += 1;
    totals.micro_steps += trace.steps.len() as u32;
    Ok(())
}

/// Tensors this small are written whole (the schedule, biases of few units).
const WHOLE: usize = 16;

/// Every element of a small tensor; else the first, the last and `random`
/// seeded ones.
fn pick_elements(len: usize, random: usize, stream: u64) -> Vec<usize> {
    if len <= WHOLE {
        return (0..len).collect();
    }
    let mut picked = vec![0, len - 1];
    for i in 0..random as u64 {
        picked.push((prng::draw(stream, i) % len as u64) as usize);
    }
    picked.sort_unstable();
    picked.dedup();
    picked
}

fn case_header(out: &mut Out, spec: &JobSpec, init: bool, step: u32, counts: [usize; 3]) {
    out.0.extend_from_slice(CASE_MAGIC);
    let bytes = spec.canonical_bytes();
    out.u32(bytes.len() as u32);
    out.0.extend_from_slice(&bytes);
    out.u8(u8::from(init));
    out.u64(u64::from(step));
    for count in counts {
        out.u32(count as u32);
    }
    out.u32(counts.iter().sum::<usize>() as u32);
}

/// The init transition: S_0's optimizer list (zeros) and weights list.
fn init_case(
    trainer: &Trainer,
    random: usize,
    stream: u64,
    totals: &mut Totals,
) -> Result<Vec<u8>> {
    let s0 = trainer.initial_state();
    let moments = trainer.moment_shapes();
    let params = trainer.param_shapes().to_vec();
    let mut out = Out::default();
    case_header(
        &mut out,
        trainer.spec(),
        true,
        0,
        [0, moments.len(), params.len()],
    );
    let no_input = |_: u8, _: u64| -> f32 { f32::NAN };
    for (list, shapes) in [
        (source::NEW_OPTIMIZER, &moments),
        (source::NEW_WEIGHTS, &params),
    ] {
        for (index, shape) in shapes.iter().enumerate() {
            out.u8(list);
            out.u32(index as u32);
            out.shape(shape);
            out.u8(0);
            let len = shape.iter().product();
            let elements = pick_elements(len, random, prng::draw(stream, totals.tensors.into()));
            out.u32(elements.len() as u32);
            for &e in &elements {
                let (trace, copied, expected) = if list == source::NEW_OPTIMIZER {
                    let mut recorder = Recorder::default();
                    let zero = recorder.constant(0.0);
                    (recorder.finish(zero), zero.operand, s0.moments[index][e])
                } else {
                    let trace = trainer.init_element_trace(index, e)?;
                    let copied = Operand::Const(trace.value);
                    (trace, copied, s0.params[index][e])
                };
                if trace.value != expected.to_bits() {
                    return Err(format!(
                        "init list {list} tensor {index} element {e} differs from S_0"
                    )
                    .into());
                }
                write_element(&mut out, totals, e, &trace, copied, &no_input)?;
            }
            totals.tensors += 1;
        }
    }
    Ok(out.0)
}

/// Step `t`: every produced tensor of S_t → S_{t+1}.
fn step_case(
    trainer: &Trainer,
    state: &State,
    random: usize,
    stream: u64,
    totals: &mut Totals,
) -> Result<Vec<u8>> {
    let graph = trainer.graph(state.step);
    let outputs = trainer.execute(&graph, state);
    let is_state = |i: usize| graph.new_params.contains(&i) || graph.new_moments.contains(&i);
    let intermediates: Vec<usize> = (0..graph.nodes.len()).filter(|&i| !is_state(i)).collect();
    let lists = [
        (source::INTERMEDIATES, intermediates),
        (source::NEW_OPTIMIZER, graph.new_moments.clone()),
        (source::NEW_WEIGHTS, graph.new_params.clone()),
    ];
    let locate = |node: usize| -> (u8, usize) {
        lists
            .iter()
            .find_map(|(list, nodes)| nodes.iter().position(|&n| n == node).map(|p| (*list, p)))
            .unwrap_or((u8::MAX, 0))
    };
    let moment_shapes = trainer.moment_shapes();
    let dataset = trainer.dataset();

    let mut out = Out::default();
    let counts = [lists[0].1.len(), lists[1].1.len(), lists[2].1.len()];
    case_header(&mut out, trainer.spec(), false, state.step, counts);
    for (list, nodes) in &lists {
        for (index, &node_index) in nodes.iter().enumerate() {
            let node = &graph.nodes[node_index];
            out.u8(*list);
            out.u32(index as u32);
            out.shape(&node.shape);
            out.u8(node.inputs.len() as u8);
            for input in &node.inputs {
                let (source, index, shape) = match *input {
                    TensorRef::Node(i) => {
                        let (list, position) = locate(i);
                        (list, position, graph.nodes[i].shape.clone())
                    }
                    TensorRef::Param(i) => {
                        (source::OLD_WEIGHTS, i, trainer.param_shapes()[i].clone())
                    }
                    TensorRef::Moment(i) => (source::OLD_OPTIMIZER, i, moment_shapes[i].clone()),
                    TensorRef::DataFeatures => (
                        source::DATASET_FEATURES,
                        0,
                        vec![dataset.samples, dataset.features],
                    ),
                    TensorRef::DataLabels => (source::DATASET_LABELS, 0, vec![dataset.samples]),
                };
                out.u8(source);
                out.u32(index as u32);
                out.shape(&shape);
            }
            let inputs = trainer.resolve_inputs(&node.inputs, state, &outputs);
            let input = |slot: u8, index: u64| inputs[slot as usize][index as usize];
            let elements = pick_elements(
                node.len(),
                random,
                prng::draw(stream, totals.tensors.into()),
            );
            out.u32(elements.len() as u32);
            for &e in &elements {
                let mut recorder = Recorder::default();
                let value = node.op.element(&mut recorder, &inputs, e);
                let trace = recorder.finish(value);
                if trace.value != outputs[node_index][e].to_bits() {
                    return Err(format!(
                        "step {} node {} element {e}: reference {:#x}, kernels {:#x}",
                        state.step,
                        node.name,
                        trace.value,
                        outputs[node_index][e].to_bits()
                    )
                    .into());
                }
                write_element(&mut out, totals, e, &trace, value.operand, &input)?;
            }
            totals.tensors += 1;
        }
    }
    Ok(out.0)
}

fn parse_args() -> Result<(PathBuf, usize)> {
    let mut out = PathBuf::from("target/locator-vectors");
    let mut random = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().ok_or("--out needs a directory")?.into(),
            "--random" => random = args.next().ok_or("--random needs a number")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok((out, random))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn main() -> Result<()> {
    let (dir, random) = parse_args()?;
    fs::create_dir_all(&dir)?;
    for entry in fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("case-") && name.ends_with(".bin") {
            fs::remove_file(&path)?;
        }
    }
    let mut totals = Totals::default();
    let mut bytes = 0usize;
    for (j, job) in jobs()?.into_iter().enumerate() {
        let stream = prng::derive_key(SEED, j as u64);
        let trainer = Trainer::new(job.spec, job.dataset, Kernels::new(Level::detect(), 1)?)?;
        let mut cases = vec![init_case(&trainer, random, stream, &mut totals)?];
        let mut state = trainer.initial_state();
        for &t in &job.steps {
            while state.step < t {
                state = trainer.step(&state)?.state;
            }
            cases.push(step_case(&trainer, &state, random, stream, &mut totals)?);
        }
        eprintln!(
            "locator vectors: job {} ({} transitions)",
            job.name,
            cases.len()
        );
        for case in cases {
            let path = dir.join(format!("case-{:03}.bin", totals.cases));
            bytes += case.len();
            write(&path, &case)?;
            totals.cases += 1;
        }
    }
    let mut manifest = Out::default();
    manifest.0.extend_from_slice(MANIFEST_MAGIC);
    manifest.u32(totals.cases);
    manifest.u32(totals.tensors);
    manifest.u32(totals.elements);
    manifest.u32(totals.micro_steps);
    write(&dir.join("manifest.bin"), &manifest.0)?;
    eprintln!(
        "locator vectors: {} cases, {} tensors, {} elements, {} micro-steps ({} KiB) in {}",
        totals.cases,
        totals.tensors,
        totals.elements,
        totals.micro_steps,
        bytes / 1024,
        dir.display()
    );
    Ok(())
}
