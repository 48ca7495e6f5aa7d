//! `vtrain-gpu-check`: the GPU check of `scripts/gpu-check.sh` (the logic is
//! `vtrain_cuda::check`). `--write-ptx DIR` compiles the kernels for a GPU
//! machine without NVRTC; the check itself needs a CUDA GPU.

use clap::Parser;
use eyre::WrapErr;
use std::path::PathBuf;
use std::sync::Arc;
use vtrain_cuda::check::{CheckSettings, reference_jobs, run_check};
use vtrain_cuda::{CudaDevice, DeviceBackend, nvrtc};

/// Checks a CUDA GPU against the CPU reference, bit for bit, and times it.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Only compile the kernels' PTX into this folder (needs NVRTC) and exit.
    #[arg(long)]
    write_ptx: Option<PathBuf>,
    /// Load the kernels' PTX from this folder instead of compiling them.
    #[arg(long)]
    ptx: Option<PathBuf>,
    /// The GPU.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Where the report goes (report.json, report.txt).
    #[arg(long, env = "OUT", default_value = "target/gpu-check")]
    out: PathBuf,
    /// Train each reference job for at most this many steps.
    #[arg(long, default_value_t = u32::MAX)]
    max_steps: u32,
    /// Timed steps of the large MLP (0: none).
    #[arg(long, default_value_t = 50)]
    large_mlp_steps: u32,
    /// The large MLP's batch.
    #[arg(long, default_value_t = 1024)]
    large_mlp_batch: u32,
    /// The Shakespeare corpus, for the GPT job (left out if missing).
    #[arg(long, default_value = "examples/data/shakespeare.txt.gz")]
    corpus: PathBuf,
}

fn main() -> eyre::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.write_ptx {
        for path in nvrtc::write_ptx(dir)? {
            println!("wrote {}", path.display());
        }
        return Ok(());
    }
    let device = CudaDevice::open_with(args.device, args.ptx.as_deref())?;
    println!("device: {}", vtrain_cuda::Device::describe(&device));
    let corpus = args.corpus.is_file().then_some(args.corpus.as_path());
    let jobs = reference_jobs(corpus)?;
    let settings = CheckSettings {
        max_steps: args.max_steps,
        large_mlp_steps: args.large_mlp_steps,
        large_mlp_batch: args.large_mlp_batch,
    };
    let report = run_check(Arc::new(DeviceBackend::new(device)), &jobs, &settings)?;
    std::fs::create_dir_all(&args.out)
        .wrap_err_with(|| format!("cannot create {}", args.out.display()))?;
    std::fs::write(args.out.join("report.json"), report.to_json())?;
    std::fs::write(args.out.join("report.txt"), report.summary())?;
    print!("{}", report.summary());
    if !report.passed() {
        eyre::bail!("the GPU does not give the CPU reference's bits (see the report)");
    }
    Ok(())
}
