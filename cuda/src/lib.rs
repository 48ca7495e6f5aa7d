//! vtrain's CUDA backend: the repops kernels in CUDA C (`kernels/`), compiled
//! at run time by NVRTC with bit-exact options and linted at the PTX level,
//! run by a step executor that gives the CPU reference's bits.
//!
//! The same kernel source also compiles as C++ for the CPU ([`EmuDevice`]),
//! so the kernels and the executor's dispatch are tested against the
//! reference evaluator on machines without a GPU. `docs/gpu.md` says what
//! is checked where.

mod backend;
pub mod check;
mod choice;
mod cuda;
mod device;
mod emu;
mod error;
pub mod lint;
pub mod nvrtc;
mod ops;
pub mod qualify;
pub mod source;

pub use backend::DeviceBackend;
pub use choice::{DeviceChoice, driver_present, start};
pub use cuda::{CudaBuffer, CudaDevice};
pub use device::{Device, Launch, Param, words_of};
pub use emu::{EmuBuffer, EmuDevice};
pub use error::{Error, Result};
pub use ops::{OpOutput, op_name, run_op, supports};
pub use qualify::{Qualification, qualify};
