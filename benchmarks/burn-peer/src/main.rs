//! Peer benchmark: CPU training throughput of burn 0.22 (Flex backend + autodiff) on two MLPs
//! and the digits CNN of `examples/digits-cnn.toml`.
//!
//! Each timed step is forward, softmax cross-entropy (mean over the batch), backward, and an
//! SGD-with-momentum update. See README.md for how to run it and what was verified.

use std::time::Instant;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::Distribution;

const LEARNING_RATE: f64 = 0.01;
const MOMENTUM: f64 = 0.9;
const NUM_CLASSES: usize = 10;
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

/// A model the benchmark trains: logits from a flat batch.
trait Classifier: Module {
    fn logits(&self, input: Tensor<2>) -> Tensor<2>;
}

impl Classifier for Mlp {
    fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input)
    }
}

impl Classifier for DigitsCnn {
    fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input)
    }
}

/// Which model a case trains.
#[derive(Clone, Copy)]
enum Net {
    Mlp(&'static [usize]),
    DigitsCnn,
}

impl Net {
    fn inputs(self) -> usize {
        match self {
            Net::Mlp(widths) => widths[0],
            Net::DigitsCnn => 64,
        }
    }
}

struct Case {
    name: &'static str,
    net: Net,
    batch: usize,
    warmup_steps: usize,
    timed_steps: usize,
}

const CASES: [Case; 4] = [
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
];

/// Optimizer, loss and one fixed synthetic batch; the model is passed through by value
/// because burn's `ModuleOptimizer::step` consumes it and returns the updated one.
struct Trainer {
    optim: ModuleOptimizer,
    loss_fn: CrossEntropyLoss,
    inputs: Tensor<2>,
    targets: Tensor<1, Int>,
}

impl Trainer {
    fn new(case: &Case, device: &Device) -> Self {
        // Dampening 0 gives the textbook (PyTorch-style) momentum update
        // v = 0.9 v + g; burn's default dampening is 0.1. Same cost either way.
        let optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(MOMENTUM)
                    .with_dampening(0.0),
            ))
            .init();
        let loss_fn = CrossEntropyLossConfig::new().init(device);
        // Synthetic data: features uniform in [0, 1), labels from a fixed LCG.
        let inputs = Tensor::<2>::random(
            [case.batch, case.net.inputs()],
            Distribution::Default,
            device,
        );
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let labels: Vec<i64> = (0..case.batch)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) % NUM_CLASSES as u64) as i64
            })
            .collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [case.batch]), device);
        Self {
            optim,
            loss_fn,
            inputs,
            targets,
        }
    }

    /// One full training step; returns the updated model and the loss, read back to the host.
    fn step<M: Classifier>(&mut self, model: M) -> (M, f32) {
        let logits = model.logits(self.inputs.clone());
        let loss = self.loss_fn.forward(logits, self.targets.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = self.optim.step(LEARNING_RATE, model, grads);
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
}

const USAGE: &str = "usage: vtrain-bench-burn [--threads N] [--reps N]";

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
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = Some(parse_positive("--threads", args.next())),
            "--reps" => options.reps = parse_positive("--reps", args.next()),
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
    for case in &CASES {
        match case.net {
            Net::Mlp(widths) => run_case(case, Mlp::new(widths, &device), &device, threads, reps),
            Net::DigitsCnn => run_case(case, DigitsCnn::new(&device), &device, threads, reps),
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
