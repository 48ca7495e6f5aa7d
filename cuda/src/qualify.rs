//! Device qualification: before a solver trains on a GPU, the GPU must give
//! the CPU reference's bits on the cases where devices differ, and on one
//! short real job. A device that fails is refused with the first case it got
//! wrong (docs/gpu.md § Qualification).

use crate::backend::DeviceBackend;
use crate::device::{Device, Launch, Param, words_of};
use crate::error::{Error, Result};
use std::sync::Arc;
use vtrain_proof_of_learning::hash::Hash32;
use vtrain_proof_of_learning::repops::{Direct, Opcode, exp, log};
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

/// The `vtk_primitive` code of the exp program (after the 12 opcodes).
const EXP: u32 = 13;
/// The `vtk_primitive` code of the log program.
const LOG: u32 = 14;

/// What a qualification checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qualification {
    /// The device.
    pub device: String,
    /// Known-answer cases of the primitives and of exp and log.
    pub primitive_cases: usize,
    /// The golden jobs' steps, trained on the device and on the CPU.
    pub job_steps: u32,
    /// The Merkle root of their trace roots, the same on both.
    pub trace_root: Hash32,
}

/// Operand values where devices go wrong: signed zeros, subnormals at both
/// ends, the normal range's ends, infinities, NaNs with payloads, the
/// neighbours of 1, and ordinary values.
const EDGE_BITS: [u32; 28] = [
    0x0000_0000,
    0x8000_0000,
    0x0000_0001,
    0x8000_0001,
    0x0000_0003,
    0x007F_FFFF,
    0x807F_FFFF,
    0x0080_0000,
    0x0080_0001,
    0x00C0_0000,
    0x7F7F_FFFF,
    0xFF7F_FFFF,
    0x7F80_0000,
    0xFF80_0000,
    0x7FC0_0000,
    0x7FA0_0001,
    0xFFC0_1234,
    0x3F80_0000,
    0xBF80_0000,
    0x3F80_0001,
    0x3F7F_FFFF,
    0x3DCC_CCCD, // 0.1
    0x4040_0000, // 3
    0x1E3C_E508, // 1e-20
    0x60AD_78EC, // 1e20
    0x42B1_7218, // 88.72: exp's overflow edge
    0xC2CF_0000, // -103.5: exp's underflow edge
    0x2000_0000, // 2^-63: squares and products go subnormal
];

/// A xorshift stream for the random cases (fixed seed: the same cases on
/// every device).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A float with random sign, significand and an exponent in `range`.
    fn float(&mut self, exponents: std::ops::Range<u32>) -> f32 {
        let r = self.next();
        let exponent = exponents.start + (r >> 32) as u32 % (exponents.end - exponents.start);
        f32::from_bits(((r as u32) & 0x807F_FFFF) | (exponent << 23))
    }
}

/// Every known-answer case: `(code, operands)`.
pub fn primitive_cases() -> Vec<(u32, [f32; 4])> {
    let edges: Vec<f32> = EDGE_BITS.iter().map(|&b| f32::from_bits(b)).collect();
    let mut cases = Vec::new();
    let mut stream = Stream(0x005E_ED0F_DEC1_5105);
    for opcode in Opcode::ALL {
        let code = opcode as u32;
        match opcode.arity() {
            1 => {
                for &a in &edges {
                    cases.push((code, [a, 0.0, 0.0, 0.0]));
                }
                for _ in 0..2000 {
                    cases.push((code, [stream.float(1..254), 0.0, 0.0, 0.0]));
                }
            }
            2 | 4 => {
                for &a in &edges {
                    for &b in &edges {
                        cases.push((code, [a, b, 1.5, -2.5]));
                    }
                }
                // The selects' chosen operands are NaNs with payloads, signed
                // zeros and subnormals too: the result must be canonical.
                if opcode.arity() == 4 {
                    for &a in &edges[..4] {
                        for &c in &edges {
                            for &d in &edges[12..18] {
                                cases.push((code, [a, a, c, d]));
                                cases.push((code, [a, edges[17], c, d]));
                            }
                        }
                    }
                }
                for _ in 0..2000 {
                    let (a, b) = (stream.float(60..190), stream.float(60..190));
                    cases.push((code, [a, b, a, b]));
                }
            }
            _ => {
                for &a in &edges[..14] {
                    for &b in &edges[14..] {
                        for &c in &edges[7..21] {
                            cases.push((code, [a, b, c, 0.0]));
                        }
                    }
                }
                // Products whose fused and unfused sums differ: c cancels
                // the rounded product, so the fma returns its rounding error.
                for _ in 0..2000 {
                    let (a, b) = (stream.float(100..150), stream.float(100..150));
                    cases.push((code, [a, b, -(a * b), 0.0]));
                }
                // Results in the subnormal range.
                for _ in 0..500 {
                    let (a, b) = (stream.float(40..70), stream.float(40..70));
                    cases.push((code, [a, b, stream.float(1..3), 0.0]));
                }
            }
        }
    }
    // Quotients and roots in the subnormal range, and near halfway: x·(1 ± ulp).
    for _ in 0..1000 {
        let a = stream.float(1..40);
        cases.push((Opcode::Div as u32, [a, stream.float(120..140), 0.0, 0.0]));
        cases.push((Opcode::Sqrt as u32, [a, 0.0, 0.0, 0.0]));
        let s = stream.float(100..150);
        let square = f32::from_bits((s * s).to_bits().wrapping_add(1));
        cases.push((Opcode::Sqrt as u32, [square, 0.0, 0.0, 0.0]));
    }
    for &a in &edges {
        cases.push((EXP, [a, 0.0, 0.0, 0.0]));
        cases.push((LOG, [a, 0.0, 0.0, 0.0]));
    }
    for i in 0..4000 {
        let x = -110.0 + 205.0 * (i as f32) / 4000.0;
        cases.push((EXP, [x, 0.0, 0.0, 0.0]));
        cases.push((LOG, [stream.float(1..255).abs(), 0.0, 0.0, 0.0]));
    }
    cases
}

/// The CPU reference's answer to a case.
pub fn expected(code: u32, operands: [f32; 4]) -> f32 {
    match code {
        EXP => exp(&mut Direct, operands[0]),
        LOG => log(&mut Direct, operands[0]),
        _ => Opcode::ALL
            .into_iter()
            .find(|opcode| *opcode as u32 == code)
            .map_or(f32::NAN, |opcode| opcode.eval(operands)),
    }
}

/// Runs every known-answer case on `device`; the first disagreement, if any.
pub fn check_primitives<D: Device>(device: &D) -> Result<std::result::Result<usize, String>> {
    let cases = primitive_cases();
    let codes: Vec<u32> = cases.iter().map(|(code, _)| *code).collect();
    let operands: Vec<f32> = cases.iter().flat_map(|(_, operands)| *operands).collect();
    let codes_buffer = device.upload(&words_of(&codes))?;
    let operands_buffer = device.upload(&operands)?;
    let out = device.alloc(cases.len())?;
    let n = crate::ops::count(cases.len())?;
    device.launch(
        "vtk_primitive",
        Launch::linear(cases.len(), crate::ops::BLOCK, crate::ops::MAX_BLOCKS),
        &[
            Param::Ptr(device.address(&codes_buffer)),
            Param::Ptr(device.address(&operands_buffer)),
            Param::U32(n),
            Param::Ptr(device.address(&out)),
        ],
    )?;
    let got = device.download(&out)?;
    for ((code, operands), value) in cases.iter().zip(&got) {
        let want = expected(*code, *operands);
        if value.to_bits() != want.to_bits() {
            let name = match *code {
                EXP => "exp".to_owned(),
                LOG => "log".to_owned(),
                code => format!("{:?}", Opcode::ALL[(code - 1) as usize]),
            };
            let bits: Vec<String> = operands
                .iter()
                .map(|o| format!("{:#010x}", o.to_bits()))
                .collect();
            return Ok(Err(format!(
                "{name}({}) gave {:#010x}, the CPU reference {:#010x}",
                bits.join(", "),
                value.to_bits(),
                want.to_bits()
            )));
        }
    }
    Ok(Ok(cases.len()))
}

/// The golden jobs, each a few steps, that together run every kernel: the
/// reference MLP (`examples/digits-mlp.toml`, 20 steps, a checkpoint every
/// 10), the CNN, the layer-norm net (3 steps each) and a small GPT on
/// synthetic tokens (3 steps).
pub fn golden_jobs() -> Result<Vec<(&'static str, JobSpec, Dataset)>> {
    let cut = |toml: &str, steps: u32, k: u32| -> Result<JobSpec> {
        let mut spec = JobSpec::from_toml(toml)?;
        spec.steps = steps;
        spec.checkpoint_interval = k;
        if let vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupDecay { warmup_steps }
        | vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupCosine { warmup_steps } =
            &mut spec.schedule
        {
            *warmup_steps = (*warmup_steps).min(steps - 1);
        }
        Ok(spec)
    };
    let digits = Dataset::digits()?;
    let mut jobs = vec![
        (
            "digits-mlp",
            cut(include_str!("../../examples/digits-mlp.toml"), 20, 10)?,
            digits.clone(),
        ),
        (
            "digits-cnn",
            cut(include_str!("../../examples/digits-cnn.toml"), 3, 3)?,
            digits.clone(),
        ),
        (
            "digits-ln-gelu",
            cut(include_str!("../../examples/digits-ln-gelu.toml"), 3, 3)?,
            digits,
        ),
    ];
    // A small GPT (examples/models/small-gpt.toml: every transformer op) on
    // 32-token text made of words from a fixed PRNG stream.
    let mut text = Vec::new();
    for i in 0..1600u64 {
        let r = vtrain_proof_of_learning::prng::draw(42, i);
        text.extend((0..2 + r % 5).map(|j| 1 + ((r >> (8 * j)) % 26) as u8));
        text.push(if r.is_multiple_of(5) { 27 } else { 0 });
    }
    let dataset = Dataset::from_text_bytes(std::path::Path::new("golden-gpt"), &text, 9)?;
    let mut spec = cut(include_str!("../../examples/digits-ln-gelu.toml"), 3, 3)?;
    spec.model = vtrain_proof_of_learning::spec::ModelSpec::from_toml(include_str!(
        "../../examples/models/small-gpt.toml"
    ))?;
    spec.batch_size = 16;
    spec.dataset.format = vtrain_proof_of_learning::spec::DatasetFormat::Text;
    spec.dataset.root = dataset.root().to_hex();
    spec.dataset.samples = dataset.samples as u32;
    spec.dataset.features = 9;
    spec.dataset.classes = 32;
    spec.dataset.holdout = 100;
    jobs.push(("small-gpt", spec, dataset));
    Ok(jobs)
}

/// Qualifies the device of `backend`: the known-answer cases, then every
/// golden job on the device against the CPU. `Err(Disqualified)` names the
/// first disagreement.
pub fn qualify<D: Device + 'static>(backend: Arc<DeviceBackend<D>>) -> Result<Qualification> {
    let device = backend.device().describe();
    let disqualified = |reason: String| Error::Disqualified {
        device: device.clone(),
        reason,
    };
    let primitive_cases = check_primitives(backend.device())?.map_err(disqualified)?;
    let mut job_steps = 0;
    let mut roots = Vec::new();
    for (name, spec, dataset) in golden_jobs()? {
        let trainer = || -> Result<Trainer> {
            Ok(Trainer::new(
                spec.clone(),
                dataset.clone(),
                Kernels::new(Level::detect(), 0)?,
            )?)
        };
        let cpu = trainer()?.train(|_, _, _| Ok(()))?;
        let on_device = trainer()?
            .with_backend(Arc::clone(&backend) as _)
            .train(|_, _, _| Ok(()))?;
        if let Some(first) = (0..cpu.checkpoint_roots.len())
            .find(|&i| on_device.checkpoint_roots.get(i) != cpu.checkpoint_roots.get(i))
        {
            return Err(disqualified(format!(
                "the golden job {name}'s checkpoint {first} has root {} on the device, {} on the CPU",
                on_device
                    .checkpoint_roots
                    .get(first)
                    .map_or_else(|| "none".to_owned(), |root| root.to_hex()),
                cpu.checkpoint_roots[first]
            )));
        }
        job_steps += spec.steps;
        roots.push(cpu.trace_root);
    }
    let trace_root = vtrain_proof_of_learning::commit::merkle_root(&roots);
    Ok(Qualification {
        device,
        primitive_cases,
        job_steps,
        trace_root,
    })
}
