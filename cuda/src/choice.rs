//! The `--device` choice of the agents: the CPU kernels, or a CUDA GPU that
//! has passed qualification.

use crate::backend::DeviceBackend;
use crate::cuda::CudaDevice;
use crate::error::Result;
use crate::qualify::{Qualification, qualify};
use std::sync::Arc;
use vtrain_proof_of_learning::train::StepBackend;

/// Where training steps run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU kernels.
    #[default]
    Cpu,
    /// CUDA GPU number N (`cuda:N`; `cuda` is `cuda:0`).
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("unknown device {other:?}: expected cpu, cuda or cuda:N")),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Whether this machine has the CUDA driver library (not whether it has a
/// usable GPU).
pub fn driver_present() -> bool {
    // SAFETY: only probes dlopen with the driver library's names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// The backend for `choice`: none for the CPU; for a GPU, the device opened,
/// its kernels compiled and linted, and qualified against the CPU reference
/// (an error, and no backend, if any of that fails).
pub fn start(choice: DeviceChoice) -> Result<Option<(Arc<dyn StepBackend>, Qualification)>> {
    match choice {
        DeviceChoice::Cpu => Ok(None),
        DeviceChoice::Cuda(ordinal) => {
            let backend = Arc::new(DeviceBackend::new(CudaDevice::open(ordinal)?));
            let report = qualify(Arc::clone(&backend))?;
            Ok(Some((backend, report)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_print() {
        for (text, choice) in [
            ("cpu", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
        ] {
            assert_eq!(text.parse::<DeviceChoice>(), Ok(choice));
        }
        assert_eq!(DeviceChoice::Cuda(2).to_string(), "cuda:2");
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", ""] {
            assert!(bad.parse::<DeviceChoice>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_gpu_on_a_machine_without_cuda_is_refused_with_a_reason() {
        if driver_present() {
            return; // a machine with a driver: the GPU check covers it
        }
        let Err(error) = start(DeviceChoice::Cuda(0)) else {
            panic!("a GPU without a driver must be refused");
        };
        assert!(error.to_string().contains("CUDA driver"), "{error}");
    }
}
