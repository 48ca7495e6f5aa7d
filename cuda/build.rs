//! Compiles the CPU emulation of the CUDA kernels (`emu/emu.cpp`, which
//! includes `kernels/*.cu`) into a static library: the same kernel source
//! the GPU runs, on the CPU, for the tests on machines without a GPU.

fn main() {
    println!("cargo::rerun-if-changed=emu");
    println!("cargo::rerun-if-changed=kernels");
    cc::Build::new()
        .cpp(true)
        .file("emu/emu.cpp")
        .std("c++17")
        // Round every operation as written: no contraction into fma, no
        // fast-math, SSE arithmetic (x86-64's default) without flush-to-zero.
        .flag("-ffp-contract=off")
        .flag("-fno-fast-math")
        .flag_if_supported("-fno-finite-math-only")
        .flag("-pthread")
        .warnings(true)
        .extra_warnings(true)
        .compile("vtrain_cuda_emu");
    println!("cargo::rustc-link-lib=pthread");
}
