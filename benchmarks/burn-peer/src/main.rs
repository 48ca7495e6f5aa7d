//! Peer benchmark: CPU training throughput of burn 0.22 (Flex backend + autodiff) on two MLPs,
//! the digits CNN of `examples/digits-cnn.toml` and the character-level GPT of
//! `examples/shakespeare-gpt.toml`.
//!
//! Each timed step is forward, softmax cross-entropy (mean over the batch, or over all B·T
//! positions for the GPT), backward, and an optimizer update: SGD with momentum for the MLPs
//! and the CNN, AdamW with gradient clipping for the GPT. See README.md for how to run it and
//! what was verified.

use std::time::Instant;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    Embedding, EmbeddingConfig, Gelu, Initializer, LayerNorm, LayerNormConfig, Linear,
    LinearConfig, PaddingConfig2d, Relu,
};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::softmax;

const LEARNING_RATE: f64 = 0.01;
const MOMENTUM: f64 = 0.9;
const NUM_CLASSES: usize = 10;

/// The GPT of `examples/shakespeare-gpt.toml`: byte tokens below 128, a context of 64, width
/// 64, 4 heads of 16, two pre-norm blocks with an MLP of width 256; AdamW at lr 3e-3.
const GPT_VOCAB: usize = 128;
const GPT_CONTEXT: usize = 64;
const GPT_WIDTH: usize = 64;
const GPT_HEADS: usize = 4;
const GPT_MLP: usize = 256;
const GPT_BLOCKS: usize = 2;
const GPT_LEARNING_RATE: f64 = 3e-3;
const DEFAULT_REPETITIONS: usize = 3;

/// An MLP with ReLU between its linear layers and raw logits out.
#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
    activation: Relu,
}

impl Mlp {
    fn new(widths: &[usize], device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self {
            layers,
            activation: Relu::new(),
        }
    }

    fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut x = input;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x
    }
}

/// The convolutional net of `examples/digits-cnn.toml` on 8×8 one-channel images:
/// conv 3×3 ×16 (padding 1) → relu → max-pool 2 → conv 3×3 ×32 (padding 1) → relu →
/// flatten → linear 10.
#[derive(Module, Debug)]
struct DigitsCnn {
    conv1: Conv2d,
    pool: MaxPool2d,
    conv2: Conv2d,
    linear: Linear,
    activation: Relu,
}

impl DigitsCnn {
    fn new(device: &Device) -> Self {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            conv1: conv(1, 16),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            conv2: conv(16, 32),
            linear: LinearConfig::new(32 * 4 * 4, NUM_CLASSES).init(device),
            activation: Relu::new(),
        }
    }

    /// `input` is the flat batch `[n, 64]`, viewed as `[n, 1, 8, 8]`.
    fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let [n, _] = input.dims();
        let x = input.reshape([n, 1, 8, 8]);
        let x = self.activation.forward(self.conv1.forward(x));
        let x = self.pool.forward(x);
        let x = self.activation.forward(self.conv2.forward(x));
        self.linear.forward(x.reshape([n, 32 * 4 * 4]))
    }
}

/// Causal self-attention as `docs/repops.md` § "Embeddings, attention and residuals" defines
/// it, written out with the same shapes: separate q, k, v and output projections (with
/// bias), per head `softmax((q·k)·1/√d)` over key positions `j ≤ i`, then `P·V`, the heads
/// concatenated and projected. (burn's `MultiHeadAttention` would do the same work but masks
/// with a finite `min_float` and adds dropout; this is the model as vtrain defines it.)
#[derive(Module, Debug)]
struct CausalSelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
}

impl CausalSelfAttention {
    fn new(device: &Device) -> Self {
        let linear = || LinearConfig::new(GPT_WIDTH, GPT_WIDTH).init(device);
        Self {
            query: linear(),
            key: linear(),
            value: linear(),
            output: linear(),
        }
    }

    /// `x` is `[B, T, D]`; `mask` is `[1, 1, T, T]`, true above the diagonal (the future).
    fn forward(&self, x: Tensor<3>, mask: Tensor<4, Bool>) -> Tensor<3> {
        let [batch, time, width] = x.dims();
        let head_dim = width / GPT_HEADS;
        // [B, T, D] → [B, H, T, d]
        let heads = |linear: &Linear| {
            linear
                .forward(x.clone())
                .reshape([batch, time, GPT_HEADS, head_dim])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (heads(&self.query), heads(&self.key), heads(&self.value));
        let scale = 1.0 / (head_dim as f32).sqrt();
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
        let probs = softmax(scores.mask_fill(mask, f32::NEG_INFINITY), 3);
        let context = probs
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, time, width]);
        self.output.forward(context)
    }
}

/// One pre-norm block: `x + attn(ln(x))`, then `x + W2·gelu_tanh(W1·ln(x))`.
#[derive(Module, Debug)]
struct Block {
    norm_attention: LayerNorm,
    attention: CausalSelfAttention,
    norm_mlp: LayerNorm,
    up: Linear,
    down: Linear,
    gelu: Gelu,
}

impl Block {
    fn new(device: &Device) -> Self {
        Self {
            norm_attention: LayerNormConfig::new(GPT_WIDTH).init(device),
            attention: CausalSelfAttention::new(device),
            norm_mlp: LayerNormConfig::new(GPT_WIDTH).init(device),
            up: LinearConfig::new(GPT_WIDTH, GPT_MLP).init(device),
            down: LinearConfig::new(GPT_MLP, GPT_WIDTH).init(device),
            // The tanh approximation, as vtrain's `gelu` (`F.gelu(approximate="tanh")`).
            gelu: Gelu::new_approximate(),
        }
    }

    fn forward(&self, x: Tensor<3>, mask: Tensor<4, Bool>) -> Tensor<3> {
        let x = x.clone() + self.attention.forward(self.norm_attention.forward(x), mask);
        let h = self
            .gelu
            .forward(self.up.forward(self.norm_mlp.forward(x.clone())));
        x + self.down.forward(h)
    }
}

/// The GPT of `examples/shakespeare-gpt.toml`: token table `[128, 64]` plus position table
/// `[64, 64]`, two blocks, a final layer norm (eps 1e-5) and a linear head over 128 bytes.
#[derive(Module, Debug)]
struct Gpt {
    tokens: Embedding,
    positions: Param<Tensor<2>>,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Linear,
}

impl Gpt {
    fn new(device: &Device) -> Self {
        Self {
            tokens: EmbeddingConfig::new(GPT_VOCAB, GPT_WIDTH).init(device),
            positions: Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            }
            .init([GPT_CONTEXT, GPT_WIDTH], device),
            blocks: (0..GPT_BLOCKS).map(|_| Block::new(device)).collect(),
            norm: LayerNormConfig::new(GPT_WIDTH).init(device),
            head: LinearConfig::new(GPT_WIDTH, GPT_VOCAB).init(device),
        }
    }

    /// Tokens `[B, T]` → logits `[B·T, 128]`.
    fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [batch, time] = tokens.dims();
        let device = tokens.device();
        let mask =
            Tensor::<2, Bool>::tril_mask([time, time], 0, &device).reshape([1, 1, time, time]);
        let positions = self.positions.val().reshape([1, time, GPT_WIDTH]);
        let mut x = self.tokens.forward(tokens) + positions;
        for block in &self.blocks {
            x = block.forward(x, mask.clone());
        }
        self.head
            .forward(self.norm.forward(x))
            .reshape([batch * time, GPT_VOCAB])
    }
}

/// A case's input batch: features `[n, features]`, or a language model's tokens `[B, T]`.
enum Inputs {
    Features(Tensor<2>),
    Tokens(Tensor<2, Int>),
}

/// A model the benchmark trains: logits `[rows, classes]` from a batch, one row per target.
trait Classifier: Module {
    fn logits(&self, input: &Inputs) -> Tensor<2>;
}

fn features(input: &Inputs) -> Tensor<2> {
    match input {
        Inputs::Features(x) => x.clone(),
        Inputs::Tokens(_) => panic!("this model reads features, not tokens"),
    }
}

impl Classifier for Mlp {
    fn logits(&self, input: &Inputs) -> Tensor<2> {
        self.forward(features(input))
    }
}

impl Classifier for DigitsCnn {
    fn logits(&self, input: &Inputs) -> Tensor<2> {
        self.forward(features(input))
    }
}

impl Classifier for Gpt {
    fn logits(&self, input: &Inputs) -> Tensor<2> {
        match input {
            Inputs::Tokens(tokens) => self.forward(tokens.clone()),
            Inputs::Features(_) => panic!("the GPT reads tokens"),
        }
    }
}

/// Which model a case trains.
#[derive(Clone, Copy)]
enum Net {
    Mlp(&'static [usize]),
    DigitsCnn,
    Gpt,
}

struct Case {
    name: &'static str,
    net: Net,
    batch: usize,
    warmup_steps: usize,
    timed_steps: usize,
}

const CASES: [Case; 5] = [
    Case {
        name: "digits 64-128-10, batch 64",
        net: Net::Mlp(&[64, 128, 10]),
        batch: 64,
        warmup_steps: 20,
        timed_steps: 200,
    },
    Case {
        name: "784-1024-1024-10, batch 128",
        net: Net::Mlp(&[784, 1024, 1024, 10]),
        batch: 128,
        warmup_steps: 3,
        timed_steps: 10,
    },
    Case {
        name: "digits CNN (examples/digits-cnn.toml), batch 64",
        net: Net::DigitsCnn,
        batch: 64,
        warmup_steps: 10,
        timed_steps: 50,
    },
    Case {
        name: "digits CNN (examples/digits-cnn.toml), batch 256",
        net: Net::DigitsCnn,
        batch: 256,
        warmup_steps: 5,
        timed_steps: 20,
    },
    // One sample is one sequence of 64 tokens (tokens/s = 64 × samples/s).
    Case {
        name: "shakespeare GPT (examples/shakespeare-gpt.toml), batch 16 × 64 tokens",
        net: Net::Gpt,
        batch: 16,
        warmup_steps: 5,
        timed_steps: 20,
    },
];

/// Optimizer, loss and one fixed synthetic batch; the model is passed through by value
/// because burn's `ModuleOptimizer::step` consumes it and returns the updated one.
struct Trainer {
    optim: ModuleOptimizer,
    learning_rate: f64,
    loss_fn: CrossEntropyLoss,
    inputs: Inputs,
    targets: Tensor<1, Int>,
}

/// `count` pseudo-random integers below `below`, from a fixed LCG.
fn lcg_labels(count: usize, below: usize) -> Vec<i64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % below as u64) as i64
        })
        .collect()
}

impl Trainer {
    fn new(case: &Case, device: &Device) -> Self {
        let loss_fn = CrossEntropyLossConfig::new().init(device);
        if let Net::Gpt = case.net {
            // AdamW as the spec has it: lr 3e-3, betas 0.9/0.999, eps 1e-8, weight decay
            // 0.01; gradients clipped to norm 1. burn clips each parameter tensor by its own
            // norm, vtrain and PyTorch by the global norm: the same few reductions and scales.
            let optim = AdamWConfig::new()
                .with_beta_1(0.9)
                .with_beta_2(0.999)
                .with_epsilon(1e-8)
                .with_weight_decay(0.01)
                .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
                .init();
            // Random tokens: rows of T + 1, inputs the first T, targets tokens 1..=T.
            let rows = lcg_labels(case.batch * (GPT_CONTEXT + 1), GPT_VOCAB);
            let (mut inputs, mut targets) = (Vec::new(), Vec::new());
            for row in rows.chunks(GPT_CONTEXT + 1) {
                inputs.extend_from_slice(&row[..GPT_CONTEXT]);
                targets.extend_from_slice(&row[1..]);
            }
            let inputs = Tensor::<2, Int>::from_data(
                TensorData::new(inputs, [case.batch, GPT_CONTEXT]),
                device,
            );
            let targets = Tensor::<1, Int>::from_data(
                TensorData::new(targets, [case.batch * GPT_CONTEXT]),
                device,
            );
            return Self {
                optim,
                learning_rate: GPT_LEARNING_RATE,
                loss_fn,
                inputs: Inputs::Tokens(inputs),
                targets,
            };
        }
        // Dampening 0 gives the textbook (PyTorch-style) momentum update
        // v = 0.9 v + g; burn's default dampening is 0.1. Same cost either way.
        let optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(MOMENTUM)
                    .with_dampening(0.0),
            ))
            .init();
        let features = match case.net {
            Net::Mlp(widths) => widths[0],
            Net::DigitsCnn => 64,
            Net::Gpt => unreachable!(),
        };
        // Synthetic data: features uniform in [0, 1), labels from a fixed LCG.
        let inputs = Tensor::<2>::random([case.batch, features], Distribution::Default, device);
        let labels = lcg_labels(case.batch, NUM_CLASSES);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [case.batch]), device);
        Self {
            optim,
            learning_rate: LEARNING_RATE,
            loss_fn,
            inputs: Inputs::Features(inputs),
            targets,
        }
    }

    /// One full training step; returns the updated model and the loss, read back to the host.
    fn step<M: Classifier>(&mut self, model: M) -> (M, f32) {
        let logits = model.logits(&self.inputs);
        let loss = self.loss_fn.forward(logits, self.targets.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = self.optim.step(self.learning_rate, model, grads);
        (model, loss.into_scalar::<f32>())
    }

    /// Runs `steps` steps; returns the updated model, the elapsed wall-clock seconds and the
    /// last step's loss.
    fn timed_block<M: Classifier>(&mut self, mut model: M, steps: usize) -> (M, f64, f32) {
        let start = Instant::now();
        let mut loss = 0.0;
        for _ in 0..steps {
            (model, loss) = self.step(model);
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!(loss.is_finite(), "loss diverged: {loss}");
        (model, elapsed, loss)
    }
}

/// Command-line options.
struct Options {
    /// Size of rayon's global pool; `None` keeps rayon's default.
    threads: Option<usize>,
    /// Timed repetitions per model; the median is reported.
    reps: usize,
    /// Only the cases whose name contains this (case-insensitive); `None`: all.
    only: Option<String>,
}

const USAGE: &str = "usage: vtrain-bench-burn [--threads N] [--reps N] [--only SUBSTRING]";

fn parse_positive(flag: &str, value: Option<String>) -> usize {
    let value = value.unwrap_or_else(|| panic!("{flag} needs a value ({USAGE})"));
    match value.parse() {
        Ok(n) if n > 0 => n,
        _ => panic!("{flag} must be a positive integer, got {value:?}"),
    }
}

fn parse_options() -> Options {
    let mut options = Options {
        threads: None,
        reps: DEFAULT_REPETITIONS,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = Some(parse_positive("--threads", args.next())),
            "--reps" => options.reps = parse_positive("--reps", args.next()),
            "--only" => {
                let value = args.next();
                options.only = Some(
                    value
                        .unwrap_or_else(|| panic!("--only needs a value ({USAGE})"))
                        .to_lowercase(),
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} ({USAGE})"),
        }
    }
    options
}

/// CPU time (user + system, all threads) this process has used so far, in seconds.
/// Linux only, from /proc/self/stat; `None` elsewhere. Resolution is one clock tick.
fn process_cpu_seconds() -> Option<f64> {
    const TICKS_PER_SECOND: f64 = 100.0; // USER_HZ, fixed at 100 on Linux
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Number of OS threads in this process, from /proc (Linux only).
fn os_thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

fn main() {
    let options = parse_options();
    // burn-flex parallelises matmuls (gemm `Parallelism::Rayon(0)`) and large reductions
    // through rayon's *global* pool, so sizing that pool sets the backend's thread count.
    // Without `--threads`, rayon's default applies (RAYON_NUM_THREADS, else all cores).
    if let Some(n) = options.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .expect("failed to configure the global rayon thread pool");
    }
    let threads = rayon::current_num_threads();
    let reps = options.reps;

    let device = Device::flex().autodiff();

    println!("| model | engine | threads | samples/s | ms/step |");
    println!("|---|---|---:|---:|---:|");
    let selected = |case: &&Case| {
        options
            .only
            .as_ref()
            .is_none_or(|only| case.name.to_lowercase().contains(only))
    };
    for case in CASES.iter().filter(selected) {
        match case.net {
            Net::Mlp(widths) => run_case(case, Mlp::new(widths, &device), &device, threads, reps),
            Net::DigitsCnn => run_case(case, DigitsCnn::new(&device), &device, threads, reps),
            Net::Gpt => run_case(case, Gpt::new(&device), &device, threads, reps),
        }
    }

    let os_threads = os_thread_count().map_or_else(|| "unknown".to_string(), |n| n.to_string());
    eprintln!("rayon global pool: {threads} threads; OS threads in process: {os_threads}");
}

/// Warms up, then times `reps` blocks of one case; prints its row and diagnostics.
fn run_case<M: Classifier>(case: &Case, model: M, device: &Device, threads: usize, reps: usize) {
    let mut trainer = Trainer::new(case, device);
    let (mut model, _, warmup_loss) = trainer.timed_block(model, case.warmup_steps);
    let cpu_start = process_cpu_seconds();
    let mut times = Vec::with_capacity(reps);
    let mut loss = warmup_loss;
    for _ in 0..reps {
        let elapsed;
        (model, elapsed, loss) = trainer.timed_block(model, case.timed_steps);
        times.push(elapsed);
    }
    let cpu = cpu_start.zip(process_cpu_seconds()).map(|(a, b)| b - a);
    times.sort_by(f64::total_cmp);
    let median = times[reps / 2];
    let samples_per_s = (case.timed_steps * case.batch) as f64 / median;
    let ms_per_step = median * 1e3 / case.timed_steps as f64;
    println!(
        "| {} | burn 0.22 flex | {threads} | {samples_per_s:.0} | {ms_per_step:.3} |",
        case.name
    );
    // Diagnostics on stderr so the table on stdout stays clean: the spread of the timed
    // repetitions, CPU time / wall time over them (about 1.0 when single-threaded), and the
    // loss after warm-up and at the end (it falls: the fixed batch is being fitted).
    let wall: f64 = times.iter().sum();
    let cpu_ratio = cpu.map_or_else(|| "unknown".to_string(), |c| format!("{:.2}", c / wall));
    eprintln!(
        "  {}: {reps} reps, ms/step min {:.3} max {:.3}, cpu/wall {cpu_ratio}, \
         loss {warmup_loss:.4} -> {loss:.4}",
        case.name,
        times[0] * 1e3 / case.timed_steps as f64,
        times[reps - 1] * 1e3 / case.timed_steps as f64,
    );
}
