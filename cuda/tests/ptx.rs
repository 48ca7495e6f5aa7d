//! The kernels compile to PTX with NVRTC for every architecture, the PTX
//! passes the lint, and the lint refuses what plain C operators compile to.
//! NVRTC needs no GPU: these run everywhere scripts/setup.sh has run.

use vtrain_cuda::{EmuDevice, lint, nvrtc, source};

#[test]
fn every_kernel_compiles_and_passes_the_lint_for_every_architecture() {
    assert_eq!(nvrtc::version().expect("NVRTC loads"), (12, 9));
    for &arch in nvrtc::ARCHS {
        let ptx = nvrtc::compile(arch).expect("the kernels compile");
        let findings = lint::lint(&ptx);
        assert!(
            findings.is_empty(),
            "{arch}: {}",
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        for kernel in source::kernels() {
            assert!(
                ptx.contains(&format!(".entry {kernel}(")),
                "{arch}: no entry {kernel}"
            );
        }
        // The arithmetic is there, and rounded as written.
        for instruction in ["fma.rn.f32", "add.rn.f32", "div.rn.f32", "sqrt.rn.f32"] {
            assert!(ptx.contains(instruction), "{arch}: no {instruction}");
        }
        let target = arch.replace("compute_", "sm_");
        assert!(
            ptx.contains(&format!(".target {target}")),
            "{arch}: wrong target"
        );
    }
}

#[test]
fn the_lint_refuses_what_nvrtc_makes_of_plain_operators() {
    let plain = r#"extern "C" __global__ void axpy(float a, const float* x, float* y, float* z) {
        z[0] = a * x[0] + y[0];
        z[1] = x[1] / y[1];
        z[2] = x[2] + y[2];
        z[3] = __expf(x[3]);
    }"#;
    let ptx = nvrtc::compile_source(plain, "compute_90", true).expect("compiles");
    let findings = lint::lint(&ptx);
    let reasons: Vec<String> = findings.iter().map(|f| f.instruction.clone()).collect();
    assert!(
        reasons.iter().any(|i| i.starts_with("add.f32")),
        "an unsuffixed add: {reasons:?}"
    );
    assert!(
        reasons.iter().any(|i| i.starts_with("ex2.approx")),
        "an approximate exp: {reasons:?}"
    );
}

#[test]
fn the_emulator_and_the_ptx_have_the_same_kernels() {
    assert_eq!(EmuDevice::kernel_names(), source::kernels());
}

#[test]
fn ptx_files_load_only_unchanged_and_from_this_source() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let written = nvrtc::write_ptx(dir.path()).expect("written");
    assert_eq!(written.len(), nvrtc::ARCHS.len());
    let ptx = nvrtc::read_ptx(dir.path(), "compute_90").expect("reads back");
    assert!(lint::lint(&ptx).is_empty());
    // One instruction edited after the fact: refused.
    let path = dir.path().join(nvrtc::ptx_file_name("compute_90"));
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replacen("fma.rn.f32", "fma.rz.f32", 1)).expect("write");
    let error = nvrtc::read_ptx(dir.path(), "compute_90").expect_err("refused");
    assert!(error.to_string().contains("edited since"), "{error}");
    // Another source's file: refused.
    std::fs::write(
        &path,
        "// vtrain kernels, source keccak 0x00, ptx keccak 0x00\n.version 8.8",
    )
    .expect("write");
    assert!(nvrtc::read_ptx(dir.path(), "compute_90").is_err());
    assert!(
        nvrtc::read_ptx(dir.path(), "compute_75").is_err(),
        "no such file"
    );
}
