//! Many elements' micro-programs side by side: an [`Fp`] whose values are
//! AVX registers of 8 f32 (`avx`) or AVX-512 registers of 16 (`avx512`),
//! each primitive one packed instruction (or a short fixed sequence of them)
//! that computes, lane by lane, exactly what the scalar primitive of
//! `repops::prim` computes, NaN canonicalisation included.
//!
//! A program written once over [`Fp`] (`repops::exp`, `norm::gelu_of`, …)
//! therefore gives every lane its element's primitive sequence and the bits
//! [`Direct`] gives, a register of elements per instruction, where the same program
//! in a loop over elements stays scalar: its chain of compare-and-blend NaN
//! canonicalisations defeats the loop vectoriser.
//!
//! Only value-level program bodies run here (a [`Program1`] or [`Program2`]):
//! their inputs come in as registers. [`Fp::input`] splats its one value, as
//! a program that loads by index has no other value to give.

use crate::repops::{Direct, Fp, exp, norm};

/// Registers a program runs on side by side in the main loop.
const UNROLL: usize = 4;

/// A value-level program of one input, written once over [`Fp`].
pub(super) trait Program1 {
    /// The program on `x`.
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V;
}

/// A value-level program of two inputs, written once over [`Fp`].
pub(super) trait Program2 {
    /// The program on `x` and `y`.
    fn run<F: Fp>(&self, fp: &mut F, x: F::V, y: F::V) -> F::V;
}

/// `exp(x)`.
pub(super) struct Exp;

impl Program1 for Exp {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
        exp(fp, x)
    }
}

/// `exp(sub(x, m))`: a softmax row's terms after its max `m`.
pub(super) struct ShiftedExp(pub(super) f32);

impl Program1 for ShiftedExp {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
        let m = fp.constant(self.0);
        let shifted = fp.sub(x, m);
        exp(fp, shifted)
    }
}

/// `gelu(x)`.
pub(super) struct Gelu;

impl Program1 for Gelu {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
        norm::gelu_of(fp, x)
    }
}

/// `gelu_grad(x, dy)`.
pub(super) struct GeluGrad;

impl Program2 for GeluGrad {
    #[inline(always)]
    fn run<F: Fp>(&self, fp: &mut F, x: F::V, dy: F::V) -> F::V {
        norm::gelu_grad_of(fp, x, dy)
    }
}

/// Where a kernel runs its value-level programs. Only [`Wide::SCALAR`] is
/// safe to make: a register width comes from an `unsafe` constructor whose
/// caller vouches for the CPU, so no safe code can hand [`map1`] a width the
/// CPU lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wide(Width);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Width {
    /// One element at a time on [`Direct`].
    Scalar,
    /// AVX registers of 8 lanes.
    Avx2,
    /// AVX-512 registers of 16 lanes.
    Avx512,
}

impl Wide {
    /// One element at a time on [`Direct`].
    pub(super) const SCALAR: Self = Self(Width::Scalar);

    /// AVX registers.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    pub(super) const unsafe fn avx2() -> Self {
        Self(Width::Avx2)
    }

    /// AVX-512 registers.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX2 and FMA.
    pub(super) const unsafe fn avx512() -> Self {
        Self(Width::Avx512)
    }
}

/// `out[i] = f(x[i])` where `wide` says: on registers, [`UNROLL`] of them at
/// a time (independent chains the CPU overlaps), then one at a time, then the
/// tail in a register padded with zeros (lanes never mix); or one element at
/// a time on [`Direct`].
#[inline(always)]
pub(super) fn map1(wide: Wide, f: &impl Program1, x: &[f32], out: &mut [f32]) {
    match wide.0 {
        // SAFETY (both): made only by the unsafe constructors, whose callers
        // vouch for the CPU.
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { avx::map1(f, x, out) },
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { avx512::map1(f, x, out) },
        _ => {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = f.run(&mut Direct, x);
            }
        }
    }
}

/// `out[i] = f(x[i], y[i])`, as [`map1`].
#[inline(always)]
pub(super) fn map2(wide: Wide, f: &impl Program2, x: &[f32], y: &[f32], out: &mut [f32]) {
    match wide.0 {
        // SAFETY (both): made only by the unsafe constructors, whose callers
        // vouch for the CPU.
        #[cfg(target_arch = "x86_64")]
        Width::Avx2 => unsafe { avx::map2(f, x, y, out) },
        #[cfg(target_arch = "x86_64")]
        Width::Avx512 => unsafe { avx512::map2(f, x, y, out) },
        _ => {
            for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
                *o = f.run(&mut Direct, x, y);
            }
        }
    }
}

/// `$body` with `$x…` bound to operands 0, 1, … of each of the `K`
/// registers in turn, for `register_fp!` (a plain loop: the closures of a
/// generic helper would not inline into the target-feature builds).
#[cfg(target_arch = "x86_64")]
macro_rules! each {
    ($operands:ident, |$($x:ident),+| $body:expr) => {{
        let mut out = [zero(); K];
        for (k, out) in out.iter_mut().enumerate() {
            let mut slot = 0;
            $(
                let $x = $operands[slot][k];
                slot += 1;
            )+
            let _ = slot;
            *out = $body;
        }
        out
    }};
}

/// A register module's [`Fp`] and maps, from its primitives: the module
/// defines `LANES`, `Reg`, `load`, `store`, `zero`, `splat`, `first`, the
/// rounded IEEE operations `add`, `sub`, `mul`, `div`, `fma`, `sqrt`, the
/// ordered compares `gt`, `lt`, `eq` (as the masks its `select` takes),
/// `canon`, and the canonicalising `ldexp` and `getexp`. This declares
/// `$name<K>` (`K` registers a value), whose `Fp` composes them exactly as
/// `repops::prim` defines each primitive, and the module's `map1` and `map2`
/// (blocks of [`UNROLL`] registers, then of one, then the tail in a register
/// padded with zeros).
#[cfg(target_arch = "x86_64")]
macro_rules! register_fp {
    ($name:ident, $features:literal) => {
        /// Runs programs on `K` registers at once. Made only by its `new`,
        /// whose caller vouches for the CPU: no value of it exists where the
        /// instructions would fault.
        #[derive(Clone, Copy, Debug)]
        pub(in crate::kernels) struct $name<const K: usize>(());

        impl<const K: usize> $name<K> {
            #[doc = concat!("# Safety\nThe CPU must support ", $features, ".")]
            #[inline(always)]
            pub(in crate::kernels) unsafe fn new() -> Self {
                Self(())
            }

            /// `K · LANES` values of `x` from `at`.
            #[inline(always)]
            pub(in crate::kernels) fn load(&self, x: &[f32], at: usize) -> [Reg; K] {
                assert!(at + K * LANES <= x.len());
                // SAFETY: in bounds (above); the instructions by `new`'s contract.
                std::array::from_fn(|k| unsafe { load(x.as_ptr().add(at + k * LANES)) })
            }

            /// Writes `v` to `K · LANES` values of `out` from `at`.
            #[inline(always)]
            pub(in crate::kernels) fn store(&self, v: [Reg; K], out: &mut [f32], at: usize) {
                assert!(at + K * LANES <= out.len());
                for (k, v) in v.into_iter().enumerate() {
                    // SAFETY: in bounds (above); the instructions by `new`'s contract.
                    unsafe { store(out.as_mut_ptr().add(at + k * LANES), v) }
                }
            }
        }

        impl<const K: usize> Fp for $name<K> {
            type V = [Reg; K];

            #[inline(always)]
            fn input(&mut self, _slot: u8, _index: usize, value: f32) -> [Reg; K] {
                self.constant(value)
            }

            #[inline(always)]
            fn constant(&mut self, value: f32) -> [Reg; K] {
                [splat(value); K]
            }

            #[inline(always)]
            fn value(&self, v: [Reg; K]) -> f32 {
                first(v[0])
            }

            #[inline(always)]
            fn op(&mut self, opcode: Opcode, operands: &[[Reg; K]]) -> [Reg; K] {
                assert_eq!(operands.len(), opcode.arity());
                match opcode {
                    Opcode::Add => each!(operands, |a, b| canon(add(a, b))),
                    Opcode::Sub => each!(operands, |a, b| canon(sub(a, b))),
                    Opcode::Mul => each!(operands, |a, b| canon(mul(a, b))),
                    Opcode::Div => each!(operands, |a, b| canon(div(a, b))),
                    Opcode::Fma => each!(operands, |a, b, c| canon(fma(a, b, c))),
                    Opcode::Sqrt => each!(operands, |a| canon(sqrt(a))),
                    // `b > a ? b : a`, `b < a ? b : a`, with `a` canonicalised.
                    Opcode::Max => each!(operands, |a, b| select(gt(b, a), b, canon(a))),
                    Opcode::Min => each!(operands, |a, b| select(lt(b, a), b, canon(a))),
                    Opcode::SelGt => each!(operands, |a, b, c, d| canon(select(gt(a, b), c, d))),
                    Opcode::SelEq => each!(operands, |a, b, c, d| canon(select(eq(a, b), c, d))),
                    Opcode::Ldexp => each!(operands, |a, k| ldexp(a, k)),
                    Opcode::Getexp => each!(operands, |a| getexp(a)),
                }
            }
        }

        /// Runs `f` on `x[at..]` into `out[at..]`, `K` registers at a time, as
        /// far as whole blocks go; returns where it stopped.
        #[inline(always)]
        fn blocks1<const K: usize>(
            mut fp: $name<K>,
            f: &impl Program1,
            x: &[f32],
            out: &mut [f32],
            mut at: usize,
        ) -> usize {
            let len = x.len().min(out.len());
            while at + K * LANES <= len {
                let v = fp.load(x, at);
                let y = f.run(&mut fp, v);
                fp.store(y, out, at);
                at += K * LANES;
            }
            at
        }

        /// [`blocks1`] for a program of two inputs.
        #[inline(always)]
        fn blocks2<const K: usize>(
            mut fp: $name<K>,
            f: &impl Program2,
            x: &[f32],
            y: &[f32],
            out: &mut [f32],
            mut at: usize,
        ) -> usize {
            let len = x.len().min(y.len()).min(out.len());
            while at + K * LANES <= len {
                let (u, v) = (fp.load(x, at), fp.load(y, at));
                let z = f.run(&mut fp, u, v);
                fp.store(z, out, at);
                at += K * LANES;
            }
            at
        }

        /// `out[i] = f(x[i])` for the whole of `x` (see `lanes::map1`).
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[inline(always)]
        pub(super) unsafe fn map1(f: &impl Program1, x: &[f32], out: &mut [f32]) {
            let len = x.len().min(out.len());
            // SAFETY (every `new`): the caller's contract.
            let done = blocks1(unsafe { $name::<{ super::UNROLL }>::new() }, f, x, out, 0);
            let done = blocks1(unsafe { $name::<1>::new() }, f, x, out, done);
            if done < len {
                let mut padded = [[0.0f32; LANES]; 2];
                padded[0][..len - done].copy_from_slice(&x[done..len]);
                let [x, tail] = &mut padded;
                blocks1(unsafe { $name::<1>::new() }, f, x, tail, 0);
                out[done..len].copy_from_slice(&tail[..len - done]);
            }
        }

        /// `out[i] = f(x[i], y[i])` for the whole of `x` and `y`.
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[inline(always)]
        pub(super) unsafe fn map2(f: &impl Program2, x: &[f32], y: &[f32], out: &mut [f32]) {
            let len = x.len().min(y.len()).min(out.len());
            // SAFETY (every `new`): the caller's contract.
            let done = blocks2(
                unsafe { $name::<{ super::UNROLL }>::new() },
                f,
                x,
                y,
                out,
                0,
            );
            let done = blocks2(unsafe { $name::<1>::new() }, f, x, y, out, done);
            if done < len {
                let mut padded = [[0.0f32; LANES]; 3];
                padded[0][..len - done].copy_from_slice(&x[done..len]);
                padded[1][..len - done].copy_from_slice(&y[done..len]);
                let [x, y, tail] = &mut padded;
                blocks2(unsafe { $name::<1>::new() }, f, x, y, tail, 0);
                out[done..len].copy_from_slice(&tail[..len - done]);
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx;
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512;

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::repops::log;
    use crate::repops::prim::Opcode;

    /// The register widths this CPU has.
    fn levels() -> Vec<Wide> {
        let mut levels = Vec::new();
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY (both): just checked.
            levels.push(unsafe { Wide::avx2() });
            if is_x86_feature_detected!("avx512f") {
                levels.push(unsafe { Wide::avx512() });
            }
        }
        levels
    }

    /// Values where the programs branch by select: NaNs of both signs and
    /// payloads, infinities, zeros, subnormals, the exp clamps, √2, and a
    /// sweep; 1,016 of them, so the blocks of 32 and 64 lanes leave tails.
    fn edges() -> Vec<f32> {
        let mut v = vec![
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7FA0_0001),
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1.1754942e-38,
            -3e-42,
            -104.0,
            -103.9,
            89.0,
            88.8,
            f32::MAX,
            f32::MIN,
            std::f32::consts::SQRT_2,
            1.0,
            -1.0,
            600.0,
            -600.0,
            512.7,
            -512.7,
        ];
        v.extend((0..992).map(|i| (i as f32 - 498.0) * 0.173));
        v
    }

    fn same(a: &[f32], b: &[f32], what: &str) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{what} element {i}: {x:e} vs {y:e}"
            );
        }
    }

    struct Log;

    impl Program1 for Log {
        fn run<F: Fp>(&self, fp: &mut F, x: F::V) -> F::V {
            log(fp, x)
        }
    }

    fn check1(wide: Wide, f: &impl Program1, x: &[f32], what: &str) {
        let slow: Vec<f32> = x.iter().map(|&v| f.run(&mut Direct, v)).collect();
        let mut fast = vec![0.0; x.len()];
        map1(wide, f, x, &mut fast);
        same(&fast, &slow, &format!("{what} on {wide:?}"));
    }

    #[test]
    fn programs_on_registers_give_the_direct_bits() {
        let x = edges();
        for wide in levels() {
            check1(wide, &Exp, &x, "exp");
            check1(wide, &ShiftedExp(1.5), &x, "exp(x − m)");
            check1(wide, &Log, &x, "log");
            check1(wide, &Gelu, &x, "gelu");
            let y: Vec<f32> = x.iter().rev().copied().collect();
            let slow: Vec<f32> = x
                .iter()
                .zip(&y)
                .map(|(&v, &d)| GeluGrad.run(&mut Direct, v, d))
                .collect();
            let mut fast = vec![0.0; x.len()];
            map2(wide, &GeluGrad, &x, &y, &mut fast);
            same(&fast, &slow, &format!("gelu_grad on {wide:?}"));
            // Shorter than a register: the padded tail alone.
            check1(wide, &Gelu, &x[..5], "gelu (tail)");
        }
    }

    /// Every primitive on `$fp` registers of `$lanes` lanes against the
    /// scalar primitive. Operand k of lane i is `x[start + 7k + i]`: every
    /// pairing of edge values meets somewhere in the sweep of `start`.
    macro_rules! primitives_match {
        ($fp:expr, $lanes:expr) => {{
            let mut fp = $fp;
            let x = edges();
            for opcode in Opcode::ALL {
                for start in 0..x.len() - 4 * $lanes - 21 {
                    let operand = |k: usize| &x[start + 7 * k..start + 7 * k + $lanes];
                    let regs = [0, 1, 2, 3].map(|k| fp.load(operand(k), 0));
                    let mut got = [0.0f32; $lanes];
                    let result = fp.op(opcode, &regs[..opcode.arity()]);
                    fp.store(result, &mut got, 0);
                    for (i, value) in got.iter().enumerate() {
                        let want = opcode.eval([0, 1, 2, 3].map(|k| operand(k)[i]));
                        assert_eq!(
                            value.to_bits(),
                            want.to_bits(),
                            "{opcode:?} lane {i} at {start}"
                        );
                    }
                }
            }
        }};
    }

    #[test]
    fn every_primitive_on_registers_is_the_scalar_primitive() {
        for wide in levels() {
            // SAFETY (both): the CPU has the level (`levels`).
            match wide.0 {
                Width::Avx2 => primitives_match!(unsafe { avx::Avx::<1>::new() }, avx::LANES),
                Width::Avx512 => {
                    primitives_match!(unsafe { avx512::Avx512::<1>::new() }, avx512::LANES)
                }
                Width::Scalar => {}
            }
        }
    }
}
