//! The device qualification passes the emulated kernels and refuses a
//! device that gets one primitive case, or one training step, wrong.

use std::sync::Arc;
use vtrain_cuda::{Device, DeviceBackend, EmuBuffer, EmuDevice, Error, Launch, Param, qualify};

#[test]
fn the_emulated_kernels_qualify() {
    let report = qualify(Arc::new(DeviceBackend::new(EmuDevice))).expect("qualifies");
    eprintln!("{report:?}");
    assert!(report.primitive_cases > 20_000, "{report:?}");
    assert_eq!(
        report.job_steps,
        20 + 3 + 3 + 3,
        "the MLP, the CNN, the layer-norm net and the GPT"
    );
}

#[test]
fn the_cases_cover_every_primitive_and_fused_differs_from_unfused() {
    let cases = vtrain_cuda::qualify::primitive_cases();
    for code in 1..=14 {
        assert!(cases.iter().any(|(c, _)| *c == code), "no case for {code}");
    }
    let fused_differs = cases
        .iter()
        .filter(|(c, o)| *c == 5 && o[0].mul_add(o[1], o[2]) != o[0] * o[1] + o[2])
        .count();
    assert!(
        fused_differs > 1000,
        "only {fused_differs} fma cases tell fused from unfused"
    );
    let subnormal = cases
        .iter()
        .filter(|(c, o)| {
            let r = vtrain_cuda::qualify::expected(*c, *o);
            r != 0.0 && r.is_subnormal()
        })
        .count();
    assert!(
        subnormal > 500,
        "only {subnormal} cases have subnormal results"
    );
}

/// The emulated device, but every result of one kernel has one element's
/// lowest bit flipped: a device whose arithmetic is off by one ulp once.
#[derive(Debug)]
struct OffByOneUlp {
    kernel: &'static str,
    inner: EmuDevice,
}

impl Device for OffByOneUlp {
    type Buffer = EmuBuffer;

    fn describe(&self) -> String {
        format!("emu, one ulp off in {}", self.kernel)
    }
    fn alloc(&self, len: usize) -> vtrain_cuda::Result<EmuBuffer> {
        self.inner.alloc(len)
    }
    fn upload(&self, data: &[f32]) -> vtrain_cuda::Result<EmuBuffer> {
        self.inner.upload(data)
    }
    fn download(&self, buffer: &EmuBuffer) -> vtrain_cuda::Result<Vec<f32>> {
        self.inner.download(buffer)
    }
    fn len(&self, buffer: &EmuBuffer) -> usize {
        self.inner.len(buffer)
    }
    fn address(&self, buffer: &EmuBuffer) -> u64 {
        self.inner.address(buffer)
    }
    fn launch(
        &self,
        kernel: &'static str,
        shape: Launch,
        params: &[Param],
    ) -> vtrain_cuda::Result<()> {
        self.inner.launch(kernel, shape, params)?;
        if kernel == self.kernel {
            // The output is the last parameter of every kernel.
            let Some(Param::Ptr(address)) = params.last() else {
                panic!("{kernel}: no output pointer");
            };
            // SAFETY: the emulated device's addresses are host pointers to
            // buffers the caller holds; element 3 exists in every output
            // these tests produce.
            unsafe {
                let p = (*address as *mut u32).add(3);
                *p ^= 1;
            }
        }
        Ok(())
    }
}

#[test]
fn a_device_one_ulp_off_in_a_primitive_is_refused() {
    let device = OffByOneUlp {
        kernel: "vtk_primitive",
        inner: EmuDevice,
    };
    let error = qualify(Arc::new(DeviceBackend::new(device))).expect_err("refused");
    assert!(matches!(error, Error::Disqualified { .. }), "{error}");
    assert!(error.to_string().contains("CPU reference"), "{error}");
}

#[test]
fn a_device_one_ulp_off_in_a_matrix_product_is_refused() {
    let device = OffByOneUlp {
        kernel: "vtk_gemm",
        inner: EmuDevice,
    };
    let error = qualify(Arc::new(DeviceBackend::new(device))).expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("the golden job digits-mlp's checkpoint"),
        "{error}"
    );
}
