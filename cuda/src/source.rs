//! The kernels' CUDA source: one translation unit for NVRTC, the same files
//! `emu/emu.cpp` includes for the CPU emulation.

/// The whole source, in include order.
pub const SOURCE: &str = concat!(
    include_str!("../kernels/repops.cuh"),
    "\n",
    include_str!("../kernels/elementwise.cu"),
    "\n",
    include_str!("../kernels/gemm.cu"),
    "\n",
    include_str!("../kernels/conv.cu"),
    "\n",
    include_str!("../kernels/norm.cu"),
    "\n",
    include_str!("../kernels/attention.cu"),
    "\n",
    include_str!("../kernels/qualify.cu"),
);

pub use crate::ops::kernels;
