//! The GPU check (`scripts/gpu-check.sh`, binary `vtrain-gpu-check`): what
//! only a real GPU can confirm, in one run that writes its results to a
//! folder. Generic over the device, so CI runs it on the emulated kernels
//! with small settings and a GPU machine runs it whole.
//!
//! 1. Qualification (the primitives' hard cases, golden jobs that run
//!    every kernel).
//! 2. Every op of every reference job's step, node by node: the device's
//!    output from the CPU's inputs against the CPU's output, on the real
//!    inputs and again with edge values mixed into them.
//! 3. Every reference job trained on the device: its checkpoint roots and
//!    trace root against the CPU's.
//! 4. Throughput: steps a second of each reference job and of the large MLP
//!    (784-1024-1024-10 at batch 1024) on the device.

use crate::backend::DeviceBackend;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::run_op;
use crate::qualify::qualify;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use vtrain_proof_of_learning::train::TensorRef;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, State, Trainer};

/// A job the check trains: its name, spec and data.
pub struct CheckJob {
    /// The name in the report (`digits-mlp`).
    pub name: String,
    /// The spec (its steps possibly cut by the settings).
    pub spec: JobSpec,
    /// The data.
    pub dataset: Dataset,
}

/// How much the check does.
#[derive(Clone, Debug)]
pub struct CheckSettings {
    /// Train each job for at most this many steps (a whole job: `u32::MAX`).
    pub max_steps: u32,
    /// Timed steps of the large MLP (0: leave it out).
    pub large_mlp_steps: u32,
    /// The large MLP's batch.
    pub large_mlp_batch: u32,
}

/// One op's node-by-node comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCheck {
    /// The job.
    pub job: String,
    /// The node's name in the step graph.
    pub node: String,
    /// The op.
    pub op: String,
    /// Whether the inputs had edge values mixed in.
    pub edge_inputs: bool,
    /// Output elements compared.
    pub elements: usize,
    /// Elements whose bits differ (0: the op passes).
    pub mismatches: usize,
}

/// One job trained on both.
#[derive(Clone, Debug, PartialEq)]
pub struct JobCheck {
    /// The job.
    pub job: String,
    /// Steps trained.
    pub steps: u32,
    /// The trace root on the CPU.
    pub cpu_trace_root: String,
    /// The trace root on the device.
    pub device_trace_root: String,
    /// Steps a second on the device (including the checkpoints' downloads).
    pub device_steps_per_second: f64,
    /// Steps a second on the CPU kernels, all cores.
    pub cpu_steps_per_second: f64,
}

/// Everything the check found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckReport {
    /// The device.
    pub device: String,
    /// Qualification: known-answer cases passed, or the failure.
    pub qualification: String,
    /// Node-by-node comparisons.
    pub nodes: Vec<NodeCheck>,
    /// Whole jobs.
    pub jobs: Vec<JobCheck>,
    /// The large MLP's samples a second on the device, if timed.
    pub large_mlp_samples_per_second: Option<f64>,
    /// Whether the timed run ended in the CPU's state, bit for bit.
    pub large_mlp_bits_equal: Option<bool>,
}

impl CheckReport {
    /// Whether every comparison gave equal bits.
    pub fn passed(&self) -> bool {
        self.qualification.starts_with("passed")
            && self.nodes.iter().all(|n| n.mismatches == 0)
            && self
                .jobs
                .iter()
                .all(|j| j.cpu_trace_root == j.device_trace_root)
            && self.large_mlp_bits_equal != Some(false)
    }

    /// The report as JSON (hand-written: no serde in this crate).
    pub fn to_json(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{{\"job\":{},\"node\":{},\"op\":{},\"edge_inputs\":{},\"elements\":{},\"mismatches\":{}}}",
                    quote(&n.job),
                    quote(&n.node),
                    quote(&n.op),
                    n.edge_inputs,
                    n.elements,
                    n.mismatches
                )
            })
            .collect();
        let jobs: Vec<String> = self
            .jobs
            .iter()
            .map(|j| {
                format!(
                    "{{\"job\":{},\"steps\":{},\"cpu_trace_root\":{},\"device_trace_root\":{},\"device_steps_per_second\":{:.3},\"cpu_steps_per_second\":{:.3}}}",
                    quote(&j.job),
                    j.steps,
                    quote(&j.cpu_trace_root),
                    quote(&j.device_trace_root),
                    j.device_steps_per_second,
                    j.cpu_steps_per_second
                )
            })
            .collect();
        format!(
            "{{\"device\":{},\"passed\":{},\"qualification\":{},\"large_mlp_samples_per_second\":{},\"large_mlp_bits_equal\":{},\"jobs\":[{}],\"nodes\":[{}]}}\n",
            quote(&self.device),
            self.passed(),
            quote(&self.qualification),
            self.large_mlp_samples_per_second
                .map_or("null".to_owned(), |v| format!("{v:.1}")),
            self.large_mlp_bits_equal
                .map_or("null".to_owned(), |v| v.to_string()),
            jobs.join(","),
            nodes.join(",")
        )
    }

    /// A short human summary.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "device: {}\nqualification: {}\n",
            self.device, self.qualification
        );
        let failing: Vec<&NodeCheck> = self.nodes.iter().filter(|n| n.mismatches > 0).collect();
        out += &format!(
            "ops node by node: {} comparisons, {} with differing bits\n",
            self.nodes.len(),
            failing.len()
        );
        for n in failing.iter().take(20) {
            out += &format!(
                "  DIFFERS {} {} ({}{}): {} of {} elements\n",
                n.job,
                n.node,
                n.op,
                if n.edge_inputs { ", edge inputs" } else { "" },
                n.mismatches,
                n.elements
            );
        }
        for j in &self.jobs {
            out += &format!(
                "job {}: {} steps, trace root {} ({}); device {:.1} steps/s, CPU {:.1} steps/s ({:.2}x)\n",
                j.job,
                j.steps,
                j.device_trace_root,
                if j.device_trace_root == j.cpu_trace_root {
                    "= CPU"
                } else {
                    "DIFFERS from the CPU's"
                },
                j.device_steps_per_second,
                j.cpu_steps_per_second,
                j.device_steps_per_second / j.cpu_steps_per_second.max(f64::MIN_POSITIVE)
            );
        }
        if let Some(rate) = self.large_mlp_samples_per_second {
            let bits = match self.large_mlp_bits_equal {
                Some(true) => "its state = the CPU's",
                Some(false) => "its state DIFFERS from the CPU's",
                None => "not compared",
            };
            out +=
                &format!("large MLP 784-1024-1024-10: {rate:.0} samples/s on the device; {bits}\n");
        }
        out += if self.passed() {
            "PASSED\n"
        } else {
            "FAILED\n"
        };
        out
    }
}

/// The reference jobs: the digits MLP, CNN and layer-norm nets, and the
/// Shakespeare GPT when its corpus is at `corpus`.
pub fn reference_jobs(corpus: Option<&Path>) -> Result<Vec<CheckJob>> {
    let job = |name: &str, toml: &str| -> Result<CheckJob> {
        Ok(CheckJob {
            name: name.into(),
            spec: JobSpec::from_toml(toml)?,
            dataset: Dataset::digits()?,
        })
    };
    let mut jobs = vec![
        job("digits-mlp", include_str!("../../examples/digits-mlp.toml"))?,
        job("digits-cnn", include_str!("../../examples/digits-cnn.toml"))?,
        job(
            "digits-ln-gelu",
            include_str!("../../examples/digits-ln-gelu.toml"),
        )?,
    ];
    if let Some(corpus) = corpus {
        let spec = JobSpec::from_toml(include_str!("../../examples/shakespeare-gpt.toml"))?;
        let dataset = Dataset::from_text_file(corpus, spec.dataset.features as usize)?;
        jobs.push(CheckJob {
            name: "shakespeare-gpt".into(),
            spec,
            dataset,
        });
    }
    Ok(jobs)
}

/// Edge values mixed into inputs: NaNs with payloads, signed zeros,
/// subnormals, infinities, the neighbours of 1.
const EDGES: [u32; 10] = [
    0x7FA0_0001,
    0xFFC0_1234,
    0x8000_0000,
    0x0000_0001,
    0x807F_FFFF,
    0x7F80_0000,
    0xFF80_0000,
    0x3F80_0001,
    0x3F7F_FFFF,
    0x0080_0000,
];

/// Every 13th value of a float input replaced by an edge value. Inputs that
/// hold indices (tokens, labels, the data a Gather reads) are left alone.
fn with_edges(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if i % 13 == 5 {
                f32::from_bits(EDGES[(i / 13) % EDGES.len()])
            } else {
                v
            }
        })
        .collect()
}

/// Compares every node of `trainer`'s first step on `device` with the CPU.
fn check_nodes<D: Device>(device: &D, job: &str, trainer: &Trainer) -> Result<Vec<NodeCheck>> {
    let state = trainer.initial_state();
    let graph = trainer.graph(0);
    let outputs = trainer.execute(&graph, &state);
    let mut checks = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let inputs = trainer.resolve_inputs(&node.inputs, &state, &outputs);
        // Indices and data stay as they are; edge values go into tensors of
        // values only.
        let holds_values = |r: &TensorRef| {
            !matches!(r, TensorRef::DataFeatures | TensorRef::DataLabels)
                && !matches!(
                    node.op,
                    vtrain_proof_of_learning::repops::Op::Embed(_)
                        | vtrain_proof_of_learning::repops::Op::EmbedGrad(_)
                        | vtrain_proof_of_learning::repops::Op::XentGrad { .. }
                        | vtrain_proof_of_learning::repops::Op::Gather { .. }
                )
        };
        for edge_inputs in [false, true] {
            let values: Vec<Vec<f32>> = inputs
                .iter()
                .zip(&node.inputs)
                .map(|(slice, r)| {
                    if edge_inputs && holds_values(r) {
                        with_edges(slice)
                    } else {
                        slice.to_vec()
                    }
                })
                .collect();
            let slices: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
            let expected = if edge_inputs {
                let mut out = vec![0.0; node.len()];
                trainer.kernels().run(&node.op, &slices, &mut out);
                out
            } else {
                outputs[i].clone()
            };
            let buffers = values
                .iter()
                .map(|v| device.upload(v))
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&D::Buffer> = buffers.iter().collect();
            let output = run_op(device, &node.op, &refs, node.len())?;
            let got = device.download(&output.out)?;
            let mismatches = got
                .iter()
                .zip(&expected)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count()
                + got.len().abs_diff(expected.len());
            checks.push(NodeCheck {
                job: job.into(),
                node: node.name.clone(),
                op: node.op.name(),
                edge_inputs,
                elements: expected.len(),
                mismatches,
            });
        }
    }
    Ok(checks)
}

/// Trains `job` (cut to `max_steps`) on the CPU and on the device.
fn check_job<D: Device + 'static>(
    backend: &Arc<DeviceBackend<D>>,
    job: &CheckJob,
    max_steps: u32,
) -> Result<JobCheck> {
    let mut spec = job.spec.clone();
    if spec.steps > max_steps {
        spec.steps = max_steps;
        spec.checkpoint_interval = spec.checkpoint_interval.min(max_steps).max(1);
        while !spec.steps.is_multiple_of(spec.checkpoint_interval) {
            spec.checkpoint_interval -= 1;
        }
        // A warm-up must end before the last step: cut it with the job.
        use vtrain_proof_of_learning::repops::LrSchedule;
        if let LrSchedule::LinearWarmupDecay { warmup_steps }
        | LrSchedule::LinearWarmupCosine { warmup_steps } = &mut spec.schedule
        {
            *warmup_steps = (*warmup_steps).min(spec.steps - 1);
        }
    }
    let trainer = || -> Result<Trainer> {
        Ok(Trainer::new(
            spec.clone(),
            job.dataset.clone(),
            Kernels::new(Level::detect(), 0)?,
        )?)
    };
    let started = Instant::now();
    let cpu = trainer()?.train(|_, _, _| Ok(()))?;
    let cpu_seconds = started.elapsed().as_secs_f64();
    let on_device = trainer()?.with_backend(Arc::clone(backend) as _);
    let started = Instant::now();
    let device = on_device.train(|_, _, _| Ok(()))?;
    let device_seconds = started.elapsed().as_secs_f64();
    Ok(JobCheck {
        job: job.name.clone(),
        steps: spec.steps,
        cpu_trace_root: cpu.trace_root.to_hex(),
        device_trace_root: device.trace_root.to_hex(),
        device_steps_per_second: f64::from(spec.steps) / device_seconds.max(1e-9),
        cpu_steps_per_second: f64::from(spec.steps) / cpu_seconds.max(1e-9),
    })
}

/// The large MLP of the benchmarks at `batch`, on synthetic data.
pub fn large_mlp(batch: u32, steps: u32) -> Result<(JobSpec, Dataset)> {
    let mut spec = JobSpec::from_toml(include_str!("../../benchmarks/mlp-784-1024-1024-10.toml"))?;
    let dataset = Dataset::synthetic(8 * batch as usize, 784, 10);
    spec.batch_size = batch;
    spec.steps = steps.max(1);
    spec.checkpoint_interval = spec.steps;
    spec.dataset.samples = dataset.samples as u32;
    spec.dataset.root = dataset.root().to_hex();
    Ok((spec, dataset))
}

/// Times `steps` steps of the large MLP on the device (after one warm-up
/// step): samples a second, and whether the state it ends in is the CPU's.
fn time_large_mlp<D: Device + 'static>(
    backend: &DeviceBackend<D>,
    settings: &CheckSettings,
) -> Result<(f64, bool)> {
    let (spec, dataset) = large_mlp(settings.large_mlp_batch, settings.large_mlp_steps + 1)?;
    let trainer = Trainer::new(spec, dataset, Kernels::new(Level::detect(), 0)?)?;
    let (warm, _) = backend.run_steps(&trainer, trainer.initial_state(), 1)?;
    let started = Instant::now();
    let (end, losses): (State, Vec<f32>) =
        backend.run_steps(&trainer, warm, settings.large_mlp_steps)?;
    let seconds = started.elapsed().as_secs_f64();
    if losses.iter().any(|l| !l.is_finite()) {
        return Err(Error::Device {
            device: backend.device().describe(),
            reason: "the large MLP's loss is not finite".into(),
        });
    }
    let mut cpu = trainer.initial_state();
    while cpu.step < end.step {
        cpu = trainer.step(&cpu)?.state;
    }
    let same = trainer.state_root(&cpu) == trainer.state_root(&end);
    Ok((
        f64::from(settings.large_mlp_steps) * f64::from(settings.large_mlp_batch) / seconds,
        same,
    ))
}

/// Runs the whole check on `backend`'s device for `jobs`.
pub fn run_check<D: Device + 'static>(
    backend: Arc<DeviceBackend<D>>,
    jobs: &[CheckJob],
    settings: &CheckSettings,
) -> Result<CheckReport> {
    let mut report = CheckReport {
        device: backend.device().describe(),
        ..CheckReport::default()
    };
    report.qualification = match qualify(Arc::clone(&backend)) {
        Ok(q) => format!(
            "passed: {} known-answer cases, golden jobs of {} steps in all (root {})",
            q.primitive_cases, q.job_steps, q.trace_root
        ),
        Err(Error::Disqualified { reason, .. }) => format!("FAILED: {reason}"),
        Err(other) => return Err(other),
    };
    for job in jobs {
        let trainer = Trainer::new(
            job.spec.clone(),
            job.dataset.clone(),
            Kernels::new(Level::detect(), 0)?,
        )?;
        report
            .nodes
            .extend(check_nodes(backend.device(), &job.name, &trainer)?);
        report
            .jobs
            .push(check_job(&backend, job, settings.max_steps)?);
    }
    if settings.large_mlp_steps > 0 {
        let (rate, same) = time_large_mlp(&backend, settings)?;
        report.large_mlp_samples_per_second = Some(rate);
        report.large_mlp_bits_equal = Some(same);
    }
    Ok(report)
}
