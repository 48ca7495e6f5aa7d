//! The CUDA backend's errors.

/// What can go wrong compiling, qualifying or running the kernels.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// NVRTC's library could not be found or loaded.
    #[error(
        "NVRTC (libnvrtc.so.12) is not available: {0}; run scripts/setup.sh (it installs NVRTC \
         into .tools/nvrtc) or set VTRAIN_NVRTC_DIR to the folder holding libnvrtc.so.12 and \
         libnvrtc-builtins.so.12.9"
    )]
    NvrtcMissing(String),
    /// NVRTC refused the source.
    #[error("NVRTC could not compile the kernels for {arch}: {log}")]
    Compile {
        /// The target architecture (`compute_90`).
        arch: String,
        /// NVRTC's log.
        log: String,
    },
    /// The PTX holds an instruction that could change the bits.
    #[error("the PTX for {arch} fails the lint: {findings}")]
    Lint {
        /// The target architecture.
        arch: String,
        /// One finding per line.
        findings: String,
    },
    /// The CUDA driver (libcuda) is missing or the device cannot be used.
    #[error("{device}: {reason}")]
    Device {
        /// The device, e.g. `cuda:0`.
        device: String,
        /// What went wrong.
        reason: String,
    },
    /// A kernel launch or copy failed.
    #[error("{device}: kernel {kernel}: {reason}")]
    Launch {
        /// The device.
        device: String,
        /// The kernel.
        kernel: String,
        /// What went wrong.
        reason: String,
    },
    /// The job uses an op the CUDA backend has no kernel for yet.
    #[error("the CUDA backend has no kernel for {0} yet; train this job with --device cpu")]
    UnsupportedOp(String),
    /// A tensor or product too large for the kernels' counts or grids.
    #[error("{0}")]
    TooLarge(String),
    /// The device gave other bits than the CPU reference: it is refused.
    #[error("{device} failed qualification: {reason}")]
    Disqualified {
        /// The device.
        device: String,
        /// The first disagreement.
        reason: String,
    },
    /// The trainer failed (a CPU-side check).
    #[error(transparent)]
    Trainer(#[from] vtrain_proof_of_learning::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
