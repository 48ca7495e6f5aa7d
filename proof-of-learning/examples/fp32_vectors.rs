//! Writes differential test vectors for the on-chain fp32 ALU
//! (`contracts/src/fp32/Fp32.sol`): for each of the 12 repops primitives, `N`
//! operand tuples and the result bits the Rust reference
//! (`vtrain_proof_of_learning::repops::prim`) gives for them. The forge tests in
//! `contracts/test/fp32/` replay every case; `scripts/fp32-diff.sh` runs both.
//!
//! ```text
//! cargo run --release -p vtrain-proof-of-learning --example fp32_vectors -- \
//!     --out target/fp32-vectors --cases 20000 [--chunk 50000]
//! ```
//!
//! The cases are a pure function of `--cases` (and `--chunk` for the split):
//! a fixed seed drives the crate's SplitMix64 (`prng::draw`), one sub-stream per
//! opcode. Each opcode's cases start with every combination of a table of
//! special values (zeros, infinities, NaNs with various payloads, signalling
//! included, subnormal and normal boundaries, the largest finite, values near
//! 1), then mix uniformly random bit patterns with generators aimed at each
//! primitive's hard cases (ties, cancellation, overflow, gradual underflow,
//! exact results, `ldexp`'s non-integer / huge / NaN `k`, ...).
//!
//! # File format
//!
//! `--out` is a directory; each opcode's cases are split into chunks of at most
//! `--chunk` records, one file each, named `opOO-CCCC.bin` (`OO` the opcode in
//! two decimal digits, `CCCC` the chunk index in four). Stale `op*.bin` files in
//! the directory are removed first. All integers are big-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `"VTFP32V1"` |
//! | 8 | 4 | opcode (1..=12) |
//! | 12 | 4 | chunk index |
//! | 16 | 4 | chunk count for this opcode |
//! | 20 | 4 | index of this chunk's first case among the opcode's cases |
//! | 24 | 4 | records in this chunk |
//! | 28 | 4 | total cases for this opcode |
//! | 32 | 20 · records | records: `a`, `b`, `c`, `d`, `expected`, each a `u32` of binary32 bits |
//!
//! Operands a primitive does not read hold random bits (the ALU must ignore
//! them).

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use vtrain_proof_of_learning::prng;
use vtrain_proof_of_learning::repops::Opcode;

/// File magic.
const MAGIC: &[u8; 8] = b"VTFP32V1";
/// Bytes before the first record.
const HEADER_LEN: usize = 32;
/// Bytes per record.
const RECORD_LEN: usize = 20;
/// The fixed seed of every stream ("VTFP32D1").
const SEED: u64 = 0x5654_4650_3332_4431;

/// Every opcode, in order.
const OPCODES: [Opcode; 12] = Opcode::ALL;

/// Special values every opcode is tried on in all combinations (pairs; for fma
/// the triples of [`FMA_SPECIALS`]).
const SPECIALS: &[u32] = &[
    0x0000_0000, // +0
    0x8000_0000, // -0
    0x7F80_0000, // +inf
    0xFF80_0000, // -inf
    0x7FC0_0000, // canonical NaN
    0xFFC0_0000, // negative quiet NaN
    0x7FC0_0001, // quiet NaN with payload
    0xFFFF_FFFF, // negative quiet NaN, full payload
    0x7F80_0001, // signalling NaN
    0x7FBF_FFFF, // signalling NaN, full payload
    0xFF80_0001, // negative signalling NaN
    0x0000_0001, // smallest subnormal
    0x8000_0001,
    0x0000_0002,
    0x0000_0003,
    0x0040_0000, // 2^-127
    0x0040_0001,
    0x007F_FFFF, // largest subnormal
    0x807F_FFFF,
    0x0080_0000, // smallest normal
    0x8080_0000,
    0x0080_0001,
    0x0100_0000, // 2^-125
    0x7F7F_FFFF, // largest finite
    0xFF7F_FFFF,
    0x7F7F_FFFE,
    0x7F00_0000, // 2^127
    0x3F80_0000, // 1
    0xBF80_0000, // -1
    0x3F80_0001, // 1 + 2^-23
    0x3F7F_FFFF, // 1 - 2^-24
    0x3F00_0000, // 0.5
    0x3FC0_0000, // 1.5
    0x4000_0000, // 2
    0xC040_0000, // -3
    0x3380_0000, // 2^-24: half an ulp of 1
    0x3300_0000, // 2^-25
    0x4B80_0000, // 2^24
    0x3EAA_AAAB, // 1/3
    0x4400_0000, // 512
    0xC400_0000, // -512
    0x43FF_FFFF, // 511.99997
    0x4400_4000, // 513
    0x4F00_0000, // 2^31
    0xCF00_0001, // below i32::MIN
    0x3F7F_FFFE, // 0.99999988
    0xBF3F_FFFF, // -0.74999994
];

/// The special values whose triples `fma` is tried on.
const FMA_SPECIALS: &[u32] = &[
    0x0000_0000,
    0x8000_0000,
    0x7F80_0000,
    0xFF80_0000,
    0x7FC0_0001,
    0xFF80_0001,
    0x0000_0001,
    0x8000_0003,
    0x007F_FFFF,
    0x0080_0000,
    0x8080_0001,
    0x7F7F_FFFF,
    0xFF7F_FFFF,
    0x3F80_0000,
    0xBF80_0000,
    0x3F80_0001,
    0x3F7F_FFFF,
    0x3380_0000,
    0xB300_0000,
    0x4B80_0000,
    0x3EAA_AAAB,
    0x5F80_0000, // 2^64
    0x1F80_0000, // 2^-64
];

/// A counter-based stream of the crate's SplitMix64.
struct Rng {
    key: u64,
    counter: u64,
}

impl Rng {
    fn new(key: u64) -> Self {
        Self { key, counter: 0 }
    }

    fn next_u64(&mut self) -> u64 {
        let value = prng::draw(self.key, self.counter);
        self.counter += 1;
        value
    }

    fn bits(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n)) as u32
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((hi - lo + 1) as u32) as i32
    }

    fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    fn sign(&mut self) -> u32 {
        if self.coin() { 0x8000_0000 } else { 0 }
    }

    fn pick(&mut self, table: &[u32]) -> u32 {
        table[self.below(table.len() as u32) as usize]
    }

    /// A 23-bit fraction: uniform, or with a random number of trailing zeros
    /// (few significant bits make exact results and ties likely), or all ones
    /// but for a few low bits (carries).
    fn frac(&mut self) -> u32 {
        let f = self.bits() & 0x7F_FFFF;
        match self.below(8) {
            0..=3 => f,
            4..=5 => f & !((1u32 << self.below(24)) - 1),
            6 => 0x7F_FFFF ^ (f & ((1u32 << self.below(8)) - 1)),
            _ => f & (0x7F_FFFF << self.below(24)) & 0x7F_FFFF,
        }
    }

    /// A value with biased exponent `biased` clamped to `0..=254` (0: subnormal).
    fn with_exp(&mut self, biased: i32) -> u32 {
        let biased = biased.clamp(0, 254) as u32;
        let mut frac = self.frac();
        if biased == 0 && frac == 0 {
            frac = 1 + self.below(0x7F_FFFF);
        }
        self.sign() | (biased << 23) | frac
    }

    /// A finite normal of moderate magnitude.
    fn typical(&mut self) -> u32 {
        let e = self.range(100, 154);
        self.with_exp(e)
    }

    /// A quiet or signalling NaN with a random payload and sign.
    fn nan(&mut self) -> u32 {
        let payload = (self.bits() & 0x7F_FFFF).max(1);
        self.sign() | 0x7F80_0000 | payload
    }

    /// Any binary32, weighted towards the classes that break implementations.
    fn any(&mut self) -> u32 {
        match self.below(12) {
            0..=2 => self.bits(),
            3 => self.pick(SPECIALS),
            4 => self.with_exp(0),
            5 => {
                let e = self.range(1, 8);
                self.with_exp(e)
            }
            6 => {
                let e = self.range(246, 254);
                self.with_exp(e)
            }
            7 => self.nan(),
            _ => self.typical(),
        }
    }

    /// Something equal, opposite, adjacent or unrelated to `a` (for compares).
    fn partner(&mut self, a: u32) -> u32 {
        match self.below(8) {
            0 | 1 => a,
            2 => a ^ 0x8000_0000,
            3 => a.wrapping_add(1),
            4 => a.wrapping_sub(1),
            5 => self.nan(),
            _ => self.any(),
        }
    }
}

fn f(bits: u32) -> f32 {
    f32::from_bits(bits)
}

/// The biased exponent field of `x`.
fn exp_of(x: u32) -> i32 {
    ((x >> 23) & 0xFF) as i32
}

/// One case of `op`: its four operands (unused ones random).
fn random_case(op: Opcode, rng: &mut Rng) -> [u32; 4] {
    let mut v = [rng.bits(), rng.bits(), rng.bits(), rng.bits()];
    let class = rng.below(100);
    if class < 20 {
        // Uniformly random bit patterns.
        return v;
    }
    if class < 35 {
        for x in v.iter_mut().take(op.arity()) {
            *x = rng.any();
        }
        return v;
    }
    match op {
        Opcode::Add | Opcode::Sub => sum_case(rng, &mut v),
        Opcode::Mul => mul_case(rng, &mut v),
        Opcode::Div => div_case(rng, &mut v),
        Opcode::Fma => fma_case(rng, &mut v),
        Opcode::Sqrt => sqrt_case(rng, &mut v),
        Opcode::Max | Opcode::Min | Opcode::SelGt | Opcode::SelEq => {
            v[0] = rng.any();
            v[1] = rng.partner(v[0]);
            if rng.coin() {
                v.swap(0, 1);
            }
            if rng.below(4) == 0 {
                v[2] = rng.nan();
            }
            if rng.below(4) == 0 {
                v[3] = rng.any();
            }
        }
        Opcode::Ldexp => ldexp_case(rng, &mut v),
        Opcode::Getexp => {
            v[0] = match rng.below(3) {
                0 => {
                    // A subnormal with its leading bit at a random position.
                    let lead = 1u32 << rng.below(23);
                    rng.sign() | lead | (rng.bits() & (lead - 1))
                }
                1 => rng.sign() | (rng.below(256) << 23),
                _ => rng.any(),
            };
        }
    }
    v
}

/// add / sub: operands with nearby exponents (cancellation, ties), far apart
/// exponents (sticky), both near the subnormal boundary or near overflow.
fn sum_case(rng: &mut Rng, v: &mut [u32; 4]) {
    match rng.below(7) {
        0 => {
            // b a few binades below a: ties and near-ties at the rounding bit.
            v[0] = rng.typical();
            let e = exp_of(v[0]) - rng.range(0, 30);
            v[1] = rng.with_exp(e);
        }
        1 => {
            // Exact or near cancellation.
            v[0] = rng.any();
            v[1] = match rng.below(3) {
                0 => v[0] ^ 0x8000_0000,
                1 => v[0],
                _ => (v[0] ^ 0x8000_0000)
                    .wrapping_add(rng.below(5))
                    .wrapping_sub(2),
            };
        }
        2 => {
            // Subnormal and smallest-normal operands.
            let (ea, eb) = (rng.range(0, 3), rng.range(0, 3));
            v[0] = rng.with_exp(ea);
            v[1] = rng.with_exp(eb);
        }
        3 => {
            // Overflow: both near the largest finite.
            let (ea, eb) = (rng.range(250, 254), rng.range(225, 254));
            v[0] = rng.with_exp(ea) & 0x7FFF_FFFF;
            let negative = rng.below(4) == 0;
            v[1] = (rng.with_exp(eb) & 0x7FFF_FFFF) | if negative { 0x8000_0000 } else { 0 };
        }
        4 => {
            // Exponents far apart: the smaller only sticks (or crosses 2^24 / 2^25).
            v[0] = rng.any();
            let e = exp_of(v[0]) - rng.range(20, 60);
            v[1] = rng.with_exp(e);
        }
        5 => {
            // Nearby exponents: carries into the next binade, borrows out of it.
            v[0] = rng.typical();
            let e = exp_of(v[0]) + rng.range(-2, 2);
            v[1] = rng.with_exp(e);
        }
        _ => {
            // Signed zeros against zeros and tiny values: the sign rules of exact zeros.
            v[0] = rng.sign();
            v[1] = rng.sign() | if rng.coin() { 0 } else { rng.below(4) };
        }
    }
    if rng.coin() {
        v.swap(0, 1);
    }
}

/// mul: exponents whose sum lands near overflow or in / below the subnormal
/// range, powers of two (exact shifts, subnormal ties), short significands.
fn mul_case(rng: &mut Rng, v: &mut [u32; 4]) {
    // Biased exponent the product should land near.
    let target = match rng.below(4) {
        0 => rng.range(-30, 3),
        1 => rng.range(250, 258),
        _ => rng.range(1, 254),
    };
    let ea = rng.range(0, 254);
    v[0] = rng.with_exp(ea);
    let eb = target + 127 - ea.max(1);
    v[1] = if rng.below(4) == 0 {
        // A power of two (or a subnormal power of two).
        let sign = rng.sign();
        if eb >= 1 {
            sign | ((eb.min(254) as u32) << 23)
        } else {
            sign | (1u32 << (22 + eb.max(-22)))
        }
    } else {
        rng.with_exp(eb)
    };
    if rng.coin() {
        v.swap(0, 1);
    }
}

/// div: exact quotients (a = q · b), divisions by powers of two (subnormal ties),
/// quotients near overflow / underflow, neighbours.
fn div_case(rng: &mut Rng, v: &mut [u32; 4]) {
    match rng.below(4) {
        0 => {
            // a = q · b exactly: the quotient is q.
            loop {
                let (eq, eb) = (rng.range(60, 190), rng.range(60, 190));
                let q = rng.with_exp(eq);
                let b = rng.with_exp(eb);
                let product = f64::from(f(q)) * f64::from(f(b));
                let a = product as f32;
                if f64::from(a) == product && a.is_finite() {
                    v[0] = a.to_bits();
                    v[1] = b;
                    break;
                }
            }
        }
        1 => {
            // By a power of two, results in or near the subnormal range.
            let ea = rng.range(0, 40);
            v[0] = rng.with_exp(ea);
            v[1] = rng.sign() | ((rng.range(127, 200) as u32) << 23);
        }
        2 => {
            let target = if rng.coin() {
                rng.range(-30, 3)
            } else {
                rng.range(250, 258)
            };
            let eb = rng.range(0, 254);
            v[1] = rng.with_exp(eb);
            let ea = target - 127 + eb.max(1);
            v[0] = rng.with_exp(ea);
        }
        _ => {
            v[1] = rng.any();
            v[0] = v[1].wrapping_add(rng.below(9)).wrapping_sub(4) ^ rng.sign();
        }
    }
}

/// fma: cancellation against the product (residuals, exact zeros and their
/// signs), addends far above / below the product, underflowing products.
fn fma_case(rng: &mut Rng, v: &mut [u32; 4]) {
    match rng.below(7) {
        0 | 1 => {
            // c = -round(a · b) (± a few ulps): the result is the rounding residual.
            v[0] = rng.any();
            v[1] = rng.any();
            let p = prim_mul(v[0], v[1]);
            v[2] = (p ^ 0x8000_0000).wrapping_add(rng.below(7)).wrapping_sub(3);
        }
        2 => {
            // a · b exact (12-bit significands), c = -(a · b): an exact zero, +0
            // whatever the signs; or c = ±0: the product, with its own sign.
            v[0] = rng.sign() | ((rng.range(60, 190) as u32) << 23) | (rng.bits() & 0x7F_F000);
            v[1] = rng.sign() | ((rng.range(60, 190) as u32) << 23) | (rng.bits() & 0x7F_F000);
            v[2] = prim_mul(v[0], v[1]) ^ 0x8000_0000;
            if rng.below(3) == 0 {
                v[2] = rng.sign();
            }
        }
        3 => {
            // Underflowing products, c zero, subnormal or small.
            let ea = rng.range(0, 100);
            v[0] = rng.with_exp(ea);
            let eb = rng.range(0, 110 - ea.min(100));
            v[1] = rng.with_exp(eb);
            let ec = rng.range(0, 3);
            v[2] = match rng.below(3) {
                0 => rng.sign(),
                _ => rng.with_exp(ec),
            };
        }
        4 => {
            // The addend far above or below the product (sticky paths).
            v[0] = rng.typical();
            v[1] = rng.typical();
            let ep = exp_of(v[0]) + exp_of(v[1]) - 127;
            let d = rng.range(20, 60);
            let ec = if rng.coin() { ep + d } else { ep - d };
            v[2] = rng.with_exp(ec);
        }
        5 => {
            // Products near overflow against large addends.
            let ea = rng.range(180, 254);
            v[0] = rng.with_exp(ea);
            let eb = rng.range(127 + 252 - ea, 127 + 256 - ea);
            v[1] = rng.with_exp(eb);
            let ec = rng.range(250, 254);
            v[2] = rng.with_exp(ec);
        }
        _ => {
            // The addend within a few binades of the product.
            v[0] = rng.any();
            v[1] = rng.typical();
            let ep = exp_of(v[0]) + exp_of(v[1]) - 127;
            let ec = ep + rng.range(-26, 3);
            v[2] = rng.with_exp(ec);
        }
    }
    // The product's operand order does not matter; the addend's role does.
    if rng.coin() {
        v.swap(0, 1);
    }
}

/// sqrt: perfect squares (exact roots), near squares and near midpoints,
/// subnormals, negatives.
fn sqrt_case(rng: &mut Rng, v: &mut [u32; 4]) {
    v[0] = match rng.below(5) {
        0 => {
            // q has at most 12 significant bits, so q² is exact in f32.
            let q = ((rng.range(64, 190) as u32) << 23) | (rng.bits() & 0x7F_F000);
            prim_mul(q, q).wrapping_add(rng.below(3)).wrapping_sub(1)
        }
        1 => {
            // (r + ulp/2)² rounded: roots as close to a tie as binary32 allows.
            let r = ((rng.range(64, 190) as u32) << 23) | (rng.bits() & 0x7F_FFFF);
            let mid = (f64::from(f(r)) + f64::from(f(r + 1))) / 2.0;
            ((mid * mid) as f32)
                .to_bits()
                .wrapping_add(rng.below(3))
                .wrapping_sub(1)
        }
        2 => {
            let e = rng.range(0, 3);
            rng.with_exp(e) & 0x7FFF_FFFF
        }
        3 => rng.bits() & 0x7FFF_FFFF,
        _ => rng.any(),
    };
}

/// ldexp: every class of `k` (integers, non-integers, |k| around and beyond
/// 512, huge, infinite, NaN, zero, subnormal) and `k` aimed at the subnormal
/// boundary of `a` (ties) or at overflow.
fn ldexp_case(rng: &mut Rng, v: &mut [u32; 4]) {
    v[0] = if rng.coin() { rng.any() } else { rng.typical() };
    let ea = exp_of(v[0]).max(1);
    let k: f32 = match rng.below(9) {
        0 => rng.range(-600, 600) as f32,
        // Aimed at the smallest subnormals, the normal boundary and overflow.
        1 => (rng.range(-28, 2) - ea) as f32,
        2 => (rng.range(250, 258) - ea) as f32,
        // Non-integers: truncation toward zero.
        3 => {
            let int = rng.range(-520, 520) as f32;
            int + (rng.below(1 << 10) as f32 + 1.0) / 1025.0 * if int < 0.0 { -1.0 } else { 1.0 }
        }
        4 => f(rng.sign() | ((rng.range(127, 136) as u32) << 23) | (rng.bits() & 0x7F_FFFF)),
        5 => f(rng.sign() | ((rng.range(136, 254) as u32) << 23) | (rng.bits() & 0x7F_FFFF)),
        6 => f(rng.pick(&[
            0x7F80_0000,
            0xFF80_0000,
            0x4400_0000,
            0xC400_0000,
            0x43FF_FFFF,
            0xC3FF_FFFF,
            0x4400_0001,
            0xC400_0001,
            0x4F00_0000,
            0xCF00_0000,
            0x3F7F_FFFF,
            0xBF7F_FFFF,
            0x0000_0000,
            0x8000_0000,
        ])),
        7 => f(rng.nan()),
        _ => {
            let e = rng.range(0, 126);
            f(rng.with_exp(e))
        }
    };
    v[1] = k.to_bits();
}

/// The reference product's bits.
fn prim_mul(a: u32, b: u32) -> u32 {
    Opcode::Mul.eval([f(a), f(b), 0.0, 0.0]).to_bits()
}

/// The operands of one case and the reference result's bits.
fn record(op: Opcode, v: [u32; 4]) -> [u32; 5] {
    let r = op.eval([f(v[0]), f(v[1]), f(v[2]), f(v[3])]).to_bits();
    [v[0], v[1], v[2], v[3], r]
}

/// The deterministic special-value combinations of `op`, then `cases` in all.
fn cases(op: Opcode, count: usize) -> Vec<[u32; 5]> {
    let mut rng = Rng::new(prng::derive_key(SEED, op as u64));
    let mut out = Vec::with_capacity(count);
    let mut special = Vec::new();
    match op.arity() {
        1 => special.extend(SPECIALS.iter().map(|&a| [a, 0, 0, 0])),
        3 => {
            for &a in FMA_SPECIALS {
                for &b in FMA_SPECIALS {
                    for &c in FMA_SPECIALS {
                        special.push([a, b, c, 0]);
                    }
                }
            }
        }
        _ => {
            for &a in SPECIALS {
                for &b in SPECIALS {
                    special.push([a, b, 0, 0]);
                }
            }
        }
    }
    for mut v in special.into_iter().take(count) {
        for x in v.iter_mut().skip(op.arity()) {
            *x = rng.any();
        }
        out.push(record(op, v));
    }
    while out.len() < count {
        out.push(record(op, random_case(op, &mut rng)));
    }
    out
}

/// Parsed command line.
struct Args {
    out: PathBuf,
    cases: usize,
    chunk: usize,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        out: PathBuf::from("target/fp32-vectors"),
        cases: 20_000,
        chunk: 50_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => args.out = PathBuf::from(value()?),
            "--cases" => args.cases = value()?.parse().map_err(|e| format!("--cases: {e}"))?,
            "--chunk" => args.chunk = value()?.parse().map_err(|e| format!("--chunk: {e}"))?,
            "-h" | "--help" => {
                println!(
                    "usage: fp32_vectors [--out DIR] [--cases N per opcode] [--chunk N per file]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.cases == 0 || args.chunk == 0 {
        return Err("--cases and --chunk must be positive".into());
    }
    if u32::try_from(args.cases).is_err() {
        return Err("--cases must fit in a u32".into());
    }
    Ok(args)
}

/// Writes one chunk file.
fn write_chunk(path: &Path, header: [u32; 6], records: &[[u32; 5]]) -> Result<(), Box<dyn Error>> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + RECORD_LEN * records.len());
    bytes.extend_from_slice(MAGIC);
    for field in header {
        bytes.extend_from_slice(&field.to_be_bytes());
    }
    for record in records {
        for word in record {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
    }
    fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    fs::create_dir_all(&args.out).map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    // Remove stale chunks of an earlier, larger run.
    for entry in
        fs::read_dir(&args.out).map_err(|e| format!("reading {}: {e}", args.out.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("op") && name.ends_with(".bin") {
            fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
        }
    }
    let chunks = args.cases.div_ceil(args.chunk);
    for op in OPCODES {
        let all = cases(op, args.cases);
        for (index, records) in all.chunks(args.chunk).enumerate() {
            let header = [
                op as u32,
                index as u32,
                chunks as u32,
                (index * args.chunk) as u32,
                records.len() as u32,
                args.cases as u32,
            ];
            let path = args.out.join(format!("op{:02}-{index:04}.bin", op as u8));
            write_chunk(&path, header, records)?;
        }
    }
    println!(
        "fp32_vectors: {} cases per opcode x 12 opcodes in {} file(s) each under {}",
        args.cases,
        chunks,
        args.out.display()
    );
    Ok(())
}
