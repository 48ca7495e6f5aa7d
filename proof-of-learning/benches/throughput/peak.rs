//! The machine's fp32 FMA peak, measured: every bench figure is also given
//! as a fraction of what this CPU can do at all.
//!
//! Each thread runs 12 independent chains of vector fmas (enough to cover a
//! 4-cycle latency on two FMA ports) and nothing else; threads run at once,
//! so the 2-thread figure shows whether the cores are real cores or two
//! hyperthreads of one.

use std::time::Instant;
use vtrain_proof_of_learning::Level;

/// Fused multiply-adds per chain per timed run.
const ITERATIONS: u64 = 20_000_000;

/// GFLOP/s (2 per fma lane) of `threads` threads running fma chains at
/// `level` at once: the best of three runs.
pub(crate) fn fma_peak(level: Level, threads: usize) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let flops: u64 = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| scope.spawn(move || chains(level)))
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().unwrap_or(0))
                    .sum()
            });
            flops as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// Runs the chains; returns the flops done.
fn chains(level: Level) -> u64 {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level is only passed when the CPU supports it.
        Level::Avx512 => unsafe { avx512() },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2Fma => unsafe { avx2() },
        _ => scalar(),
    }
}

fn scalar() -> u64 {
    let mut acc = [1.0f32; 12];
    for _ in 0..ITERATIONS / 8 {
        for value in &mut acc {
            *value = value.mul_add(0.999_999, 1e-7);
        }
    }
    std::hint::black_box(acc);
    2 * 12 * (ITERATIONS / 8)
}

macro_rules! fma_chains {
    ($name:ident, $feature:literal, $lanes:expr, $set1:ident, $fmadd:ident, $vec:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        unsafe fn $name() -> u64 {
            use std::arch::x86_64::*;
            let (a, b) = ($set1(0.999_999), $set1(1e-7));
            let mut acc: [$vec; 12] = [$set1(1.0); 12];
            for _ in 0..ITERATIONS {
                for value in &mut acc {
                    *value = $fmadd(*value, a, b);
                }
            }
            std::hint::black_box(acc);
            2 * 12 * $lanes * ITERATIONS
        }
    };
}

fma_chains!(avx2, "avx2,fma", 8, _mm256_set1_ps, _mm256_fmadd_ps, __m256);
fma_chains!(
    avx512,
    "avx512f,avx2,fma",
    16,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    __m512
);

/// The CPU's model name and the SIMD flags that matter here, from
/// `/proc/cpuinfo` (Linux; "unknown" elsewhere).
pub(crate) fn cpu_description() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_once(':'))
            .map(|(_, value)| value.trim().to_owned())
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".into());
    let flags = field("flags").unwrap_or_default();
    let simd: Vec<&str> = flags
        .split_whitespace()
        .filter(|flag| ["avx2", "fma", "avx512f", "avx512vl", "avx512bw"].contains(flag))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} logical CPUs, flags: {}", simd.join(" "))
}
