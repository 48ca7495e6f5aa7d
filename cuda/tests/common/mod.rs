//! Shared by the kernel tests: test values and the emulated-vs-reference check.

#![allow(dead_code)]

use vtrain_cuda::{Device, EmuDevice, run_op};
use vtrain_proof_of_learning::repops::{Direct, Op};

/// A xorshift stream of test values: mostly normal floats of mixed
/// magnitudes, with edge values mixed in when `edges`.
pub(crate) struct Values(pub(crate) u64);

impl Values {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn value(&mut self, edges: bool) -> f32 {
        let r = self.next_u64();
        if edges && r.is_multiple_of(16) {
            const EDGES: [u32; 12] = [
                0x7FA0_0001, // a signalling NaN with a payload
                0xFFC0_1234, // a negative quiet NaN with a payload
                0x0000_0000,
                0x8000_0000,
                0x7F80_0000,
                0xFF80_0000,
                0x0000_0001, // the smallest subnormal
                0x807F_FFFF, // the largest negative subnormal
                0x0080_0000, // the smallest normal
                0x7F7F_FFFF,
                0x3F80_0001, // 1 + ulp: fused and unfused products differ
                0x3F7F_FFFF, // 1 − ulp/2
            ];
            return f32::from_bits(EDGES[(r >> 8) as usize % EDGES.len()]);
        }
        let unit = (r >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
        let scale = [1.0, 0.01, 100.0, 1e-30][(r >> 4) as usize % 4];
        (unit * 2.0 - 1.0) * scale
    }

    pub(crate) fn tensor(&mut self, len: usize, edges: bool) -> Vec<f32> {
        (0..len).map(|_| self.value(edges)).collect()
    }
}

/// Runs `op` on the emulator and compares every output element's bits
/// with the reference evaluator's.
pub(crate) fn check(op: &Op, inputs: &[Vec<f32>], len: usize) {
    let device = EmuDevice;
    let buffers: Vec<_> = inputs
        .iter()
        .map(|t| device.upload(t).expect("upload"))
        .collect();
    let refs: Vec<_> = buffers.iter().collect();
    let output = run_op(&device, op, &refs, len).expect("the op runs");
    let got = device.download(&output.out).expect("download");
    let slices: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    assert_eq!(got.len(), len);
    for (e, value) in got.iter().enumerate() {
        let expected = op.element(&mut Direct, &slices, e);
        assert_eq!(
            value.to_bits(),
            expected.to_bits(),
            "{}: element {e} of {len}: kernel {value:e} ({:#010x}), reference {expected:e} ({:#010x})",
            vtrain_cuda::op_name(op),
            value.to_bits(),
            expected.to_bits()
        );
    }
}
