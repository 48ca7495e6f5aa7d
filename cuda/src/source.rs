//! The kernels' CUDA source: one translation unit for NVRTC, the same files
//! `emu/emu.cpp` includes for the CPU emulation.

/// The whole source, in include order.
pub const SOURCE: &str = concat!(
    include_str!("../kernels/repops.cuh"),
    "\n",
    include_str!("../kernels/elementwise.cu"),
    "\n",
    include_str!("../kernels/gemm.cu"),
);

/// Every kernel the source defines, by its (unmangled) name.
pub const KERNELS: &[&str] = &[
    "vtk_gather",
    "vtk_relu",
    "vtk_relu_grad",
    "vtk_add",
    "vtk_log_softmax",
    "vtk_xent_grad",
    "vtk_bias_grad",
    "vtk_sgd_velocity",
    "vtk_sgd_weight",
    "vtk_adam_first_moment",
    "vtk_adam_second_moment",
    "vtk_adam_weight",
    "vtk_gemm",
];
