//! The blocked, threaded matrix product behind every matmul-shaped repop:
//! `C[m×n] ← C + A[m×k]·B[k×n]` (or `A·B` from zero) where each C element
//! accumulates its k terms with one fma each, in increasing k, starting from
//! the value already in C.
//!
//! GotoBLAS's loop nest: k in blocks of KC, each block of B packed into
//! NR-column panels and A in chunks of MC rows packed into MR-row strips, a
//! register-tile micro-kernel per (strip, panel). An element's partial sum
//! goes from one k block to the next through C, an exact fp32 store and
//! reload, so its chain of fmas is the reference's. Threads take disjoint
//! blocks of C. None of this touches the order of any element's reduction,
//! so every blocking, thread count and SIMD level gives the same bits.

use super::Level;
use super::microkernel::{self, TileIo};
use crate::repops::canon;

/// Where every output element's chain of fmas starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// From the value already in C (a bias).
    FromC,
    /// From +0: C's contents are ignored and need not be zeroed first.
    Zero,
}

/// A strided read-only matrix view: element (r, c) is `data[r·rs + c·cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatView<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

/// Packs a block of `m` into `dst`, k-major with `width` lanes: for A strips
/// (`a_side`, block rows × k) `dst[kk·width + i] = m(r0 + i, kk)`, for B panels
/// (k × block columns) `dst[kk·width + j] = m(kk, c0 + j)`; lanes past the
/// block are zero.
fn pack(
    dst: &mut [f32],
    width: usize,
    m: MatView<'_>,
    (r0, c0): (usize, usize),
    (rows, cols): (usize, usize),
    a_side: bool,
    transpose8: bool,
) {
    // Lanes run along rows of A strips and along columns of B panels.
    let (lanes, depth) = if a_side { (rows, cols) } else { (cols, rows) };
    let lane_stride = if a_side { m.rs } else { m.cs };
    let depth_stride = if a_side { m.cs } else { m.rs };
    let base = r0 * m.rs + c0 * m.cs;
    if lane_stride != 1 && depth_stride == 1 {
        // A transpose: each lane is a contiguous source run.
        let done = if transpose8 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `transpose8` is only set at the SIMD levels, which are
            // only constructed on CPUs with AVX2.
            unsafe {
                transpose_avx2(dst, width, m.data, base, lane_stride, (lanes, depth))
            }
            #[cfg(not(target_arch = "x86_64"))]
            (0, 0)
        } else {
            (0, 0)
        };
        transpose_rest(dst, width, m.data, base, lane_stride, (lanes, depth), done);
        for out in dst.chunks_exact_mut(width).take(depth) {
            out[lanes..].fill(0.0);
        }
        return;
    }
    for (kk, out) in dst.chunks_exact_mut(width).take(depth).enumerate() {
        let origin = base + kk * depth_stride;
        if lane_stride == 1 {
            // In runs of 8: copies of a constant length compile to vector
            // moves, where one of `lanes` floats is a call to memmove per k.
            let (src, dst) = (&m.data[origin..origin + lanes], &mut out[..lanes]);
            let mut dst_runs = dst.chunks_exact_mut(8);
            let mut src_runs = src.chunks_exact(8);
            for (d, s) in (&mut dst_runs).zip(&mut src_runs) {
                d.copy_from_slice(s);
            }
            for (d, s) in dst_runs
                .into_remainder()
                .iter_mut()
                .zip(src_runs.remainder())
            {
                *d = *s;
            }
        } else {
            for (lane, value) in out[..lanes].iter_mut().enumerate() {
                *value = m.data[origin + lane * lane_stride];
            }
        }
        out[lanes..].fill(0.0);
    }
}

/// The transposing pack's scalar part: `dst[t·width + lane] =
/// data[base + lane·lane_stride + t]` for every (lane, t) outside the
/// `done` = (lanes, depth) corner that [`transpose_avx2`] already wrote.
fn transpose_rest(
    dst: &mut [f32],
    width: usize,
    data: &[f32],
    base: usize,
    lane_stride: usize,
    (lanes, depth): (usize, usize),
    (done_lanes, done_depth): (usize, usize),
) {
    for lane in 0..lanes {
        let src = &data[base + lane * lane_stride..][..depth];
        let from = if lane < done_lanes { done_depth } else { 0 };
        for (t, &value) in src.iter().enumerate().skip(from) {
            dst[t * width + lane] = value;
        }
    }
}

/// The transposing pack in 8×8 blocks through AVX registers (pure data
/// movement: no value changes): writes every whole 8×8 block of the
/// (lanes, depth) block and returns the corner it covered.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(
    dst: &mut [f32],
    width: usize,
    data: &[f32],
    base: usize,
    lane_stride: usize,
    (lanes, depth): (usize, usize),
) -> (usize, usize) {
    use std::arch::x86_64::*;
    let (full_lanes, full_depth) = (lanes / 8 * 8, depth / 8 * 8);
    for lane0 in (0..full_lanes).step_by(8) {
        for t0 in (0..full_depth).step_by(8) {
            let row = |i: usize| {
                let src = &data[base + (lane0 + i) * lane_stride + t0..][..8];
                // SAFETY: `src` holds 8 floats.
                unsafe { _mm256_loadu_ps(src.as_ptr()) }
            };
            let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
            let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
            let (t0a, t1a) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2a, t3a) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            let (t4a, t5a) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
            let (t6a, t7a) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
            let s0 = _mm256_shuffle_ps::<0x44>(t0a, t2a);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0a, t2a);
            let s2 = _mm256_shuffle_ps::<0x44>(t1a, t3a);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1a, t3a);
            let s4 = _mm256_shuffle_ps::<0x44>(t4a, t6a);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4a, t6a);
            let s6 = _mm256_shuffle_ps::<0x44>(t5a, t7a);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5a, t7a);
            let columns = [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ];
            for (j, column) in columns.into_iter().enumerate() {
                let out = &mut dst[(t0 + j) * width + lane0..][..8];
                // SAFETY: `out` holds 8 floats.
                unsafe { _mm256_storeu_ps(out.as_mut_ptr(), column) };
            }
        }
    }
    (full_lanes, full_depth)
}

/// Reuses a per-thread buffer of at least `len` floats, starting on a
/// 64-byte boundary: a vector load of a packed panel that straddles two
/// cache lines costs two, and malloc only promises 16 bytes (which of the
/// two a run got varied with the allocator's layout: 52–108 GFLOP/s for one
/// 512³ product). Every element the caller reads is written by [`pack`]
/// first, so stale contents never leak.
fn with_scratch<R>(
    cell: &'static std::thread::LocalKey<std::cell::RefCell<Vec<f32>>>,
    len: usize,
    body: impl FnOnce(&mut [f32]) -> R,
) -> R {
    const ALIGN_FLOATS: usize = 64 / std::mem::size_of::<f32>();
    let aligned = |buffer: &mut Vec<f32>| {
        if buffer.len() < len + ALIGN_FLOATS {
            buffer.resize(len + ALIGN_FLOATS, 0.0);
        }
        buffer.as_ptr().align_offset(64).min(ALIGN_FLOATS)
    };
    cell.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            let offset = aligned(&mut buffer);
            body(&mut buffer[offset..offset + len])
        }
        // Re-entered on this thread (a nested product): use a fresh buffer.
        Err(_) => {
            let mut buffer = Vec::new();
            let offset = aligned(&mut buffer);
            body(&mut buffer[offset..offset + len])
        }
    })
}

thread_local! {
    static PACKED_A: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    static PACKED_B: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Below this many fmas a product runs on the calling thread.
const PARALLEL_THRESHOLD: usize = 1 << 22;

/// The largest register tile of any kernel (AVX-512's 8×32).
const MAX_TILE: usize = microkernel::AVX512_MR * microkernel::AVX512_NR;

/// A level's register tile (MR×NR) and cache blocks: KC
/// rows of k per block (a KC×NR panel of B fits L1 beside an A strip), MC
/// rows of A per packed chunk (MC×KC fits L2).
#[derive(Clone, Copy)]
struct Blocking {
    mr: usize,
    nr: usize,
    kc: usize,
    mc: usize,
    /// Whether packing may transpose through AVX2 registers.
    transpose8: bool,
}

fn blocking(level: Level) -> Blocking {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => Blocking {
            mr: microkernel::AVX512_MR,
            nr: microkernel::AVX512_NR,
            kc: 256,
            mc: 192,
            transpose8: true,
        },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => Blocking {
            mr: microkernel::AVX2_MR,
            nr: microkernel::AVX2_NR,
            kc: 256,
            mc: 192,
            transpose8: true,
        },
        _ => Blocking {
            mr: microkernel::SCALAR_MR,
            nr: microkernel::SCALAR_NR,
            kc: 256,
            mc: 192,
            transpose8: false,
        },
    }
}

/// `c ← c + a·b` with `c` row-major m×n.
///
/// On several threads the product splits into one block of C per thread:
/// by rows when C has at least as many rows as columns, by column blocks
/// otherwise (a batch of 128 rows against 1,024 outputs). Each thread packs
/// the parts of A and B its block reads, so threads share nothing but the
/// inputs; the split along C's longer side keeps the packing they duplicate
/// (all of B for a row split, all of A for a column split) the smaller one.
pub(crate) fn gemm(
    level: Level,
    pool: &rayon::ThreadPool,
    (m, n, k): (usize, usize, usize),
    a: MatView<'_>,
    b: MatView<'_>,
    c: &mut [f32],
    start: Start,
) {
    assert_eq!(c.len(), m * n, "output is m×n");
    if m == 0 || n == 0 {
        return;
    }
    let threads = pool.current_num_threads().max(1);
    let Blocking { mr, nr, .. } = blocking(level);
    let parallel = m * n * k >= PARALLEL_THRESHOLD && threads > 1;
    if !parallel || (m >= n && m < 2 * mr) || (m < n && n < 2 * nr) {
        return gemm_block(level, (m, n, k), a, b, OutBlock::of(c, n), start);
    }
    // One block per thread, whole tiles each (the last may be short).
    let whole = OutBlock::of(c, n);
    let tasks: Vec<(OutBlock, MatView<'_>, MatView<'_>)> = if m >= n {
        thread_ranges(m, threads, mr)
            .map(|rows| {
                let a_part = MatView {
                    data: &a.data[rows.start * a.rs..],
                    ..a
                };
                (whole.block(rows, 0..n), a_part, b)
            })
            .collect()
    } else {
        thread_ranges(n, threads, nr)
            .map(|cols| {
                let b_part = MatView {
                    data: &b.data[cols.start * b.cs..],
                    ..b
                };
                (whole.block(0..m, cols), a, b_part)
            })
            .collect()
    };
    pool.install(|| {
        use rayon::prelude::*;
        tasks.into_par_iter().for_each(|(block, a, b)| {
            let (rows, cols) = (block.rows, block.cols);
            gemm_block(level, (rows, cols, k), a, b, block, start);
        });
    });
}

/// `0..len` cut into one range per thread, each a whole number of `unit`s
/// (the last may be short).
fn thread_ranges(
    len: usize,
    threads: usize,
    unit: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    let size = len.div_ceil(threads).div_ceil(unit) * unit;
    (0..len.div_ceil(size)).map(move |t| t * size..((t + 1) * size).min(len))
}

/// A block of the output: `rows × cols` floats, row r starting at
/// `ptr + r·ld`. Blocks of one output handed to different threads are
/// disjoint (different rows, or different columns of the same rows), so the
/// threads write straight into C; a block's memory span may hold other
/// blocks' elements, so it is a pointer and never a slice over that span.
#[derive(Clone, Copy)]
struct OutBlock {
    ptr: *mut f32,
    ld: usize,
    rows: usize,
    cols: usize,
}

// SAFETY: an `OutBlock` is only made from a `&mut` output that outlives the
// product (`OutBlock::of`), and the blocks sent to different threads are
// disjoint (`gemm`); no element is reachable from two threads.
unsafe impl Send for OutBlock {}
// SAFETY: as above; a block is only read or written by the thread it was
// sent to.
unsafe impl Sync for OutBlock {}

impl OutBlock {
    /// All of `c`, rows of `ld` floats.
    fn of(c: &mut [f32], ld: usize) -> Self {
        Self {
            ptr: c.as_mut_ptr(),
            ld,
            rows: c.len() / ld.max(1),
            cols: ld,
        }
    }

    /// The sub-block of these rows and columns.
    fn block(self, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) -> Self {
        assert!(rows.end <= self.rows && cols.end <= self.cols);
        Self {
            // SAFETY: the offset stays inside the block (asserted above).
            ptr: unsafe { self.ptr.add(rows.start * self.ld + cols.start) },
            ld: self.ld,
            rows: rows.len(),
            cols: cols.len(),
        }
    }

    /// Row `r`'s elements of the block.
    fn row(&mut self, r: usize) -> &mut [f32] {
        assert!(r < self.rows);
        // SAFETY: the row's `cols` elements belong to this block alone (see
        // the type), and `&mut self` keeps this slice the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.ld), self.cols) }
    }

    /// The address of element (r, c), the corner of a whole tile.
    fn tile(self, r: usize, c: usize, (mr, nr): (usize, usize)) -> *mut f32 {
        assert!(r + mr <= self.rows && c + nr <= self.cols);
        // SAFETY: inside the block (asserted above).
        unsafe { self.ptr.add(r * self.ld + c) }
    }
}

/// The product on the calling thread, blocked for the caches (GotoBLAS's
/// loop nest, without its outermost column loop):
///
/// - k in blocks of KC, in increasing order; every output tile is carried
///   from one block to the next through C, so each element's chain of fmas
///   is the reference's, only stored and reloaded between blocks (an exact
///   fp32 round trip);
/// - per k block, B's KC rows packed into NR-column panels (KC·NR floats: L1
///   while a panel is in use) and A in chunks of MC rows packed into MR-row
///   strips (MC·KC floats: L2);
/// - per A chunk, panels in the outer loop and strips in the inner one, so a
///   panel stays in L1 while every strip of the chunk passes over it.
fn gemm_block(
    level: Level,
    dims: (usize, usize, usize),
    a: MatView<'_>,
    b: MatView<'_>,
    c: OutBlock,
    start: Start,
) {
    let blocking = blocking(level);
    match level {
        // SAFETY (both): a level is only constructed on CPUs that have it.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { gemm_blocked_avx512(blocking, dims, a, b, c, start) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => unsafe { gemm_blocked_avx2(blocking, dims, a, b, c, start) },
        _ => {
            let kernel = |k, a: &[f32], b: (&[f32], usize), c: *mut f32, ldc, io| {
                // SAFETY: `c` is a whole tile of the block.
                unsafe { microkernel::scalar(k, a, b, c, ldc, io) }
            };
            gemm_blocked(blocking, kernel, dims, a, b, c, start)
        }
    }
}

/// Defines `$name`, the loop nest compiled for `$features` with the
/// micro-kernel `$kernel` inlined. Called through a pointer from baseline
/// code instead, the kernel's argument shuffling ran as legacy SSE beside
/// AVX-512 state and cost a fifth of a training step.
macro_rules! gemm_blocked_at {
    ($name:ident, $features:literal, $kernel:path) => {
        /// The loop nest at one SIMD level (see `gemm_blocked_at!`).
        ///
        /// # Safety
        /// The CPU must support the level's features.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            blocking: Blocking,
            dims: (usize, usize, usize),
            a: MatView<'_>,
            b: MatView<'_>,
            c: OutBlock,
            start: Start,
        ) {
            let kernel = |k, a: &[f32], b: (&[f32], usize), c: *mut f32, ldc, io| {
                // SAFETY: this function's own contract; `a` and `b` are
                // asserted inside, `c` is a whole tile of the block.
                unsafe { $kernel(k, a, b, c, ldc, io) }
            };
            gemm_blocked(blocking, kernel, dims, a, b, c, start);
        }
    };
}

gemm_blocked_at!(gemm_blocked_avx512, "avx512f,avx2,fma", microkernel::avx512);
gemm_blocked_at!(gemm_blocked_avx2, "avx2,fma", microkernel::avx2);

#[inline(always)]
fn gemm_blocked(
    blocking: Blocking,
    kernel: impl Fn(usize, &[f32], (&[f32], usize), *mut f32, usize, TileIo),
    (m, n, k): (usize, usize, usize),
    a: MatView<'_>,
    b: MatView<'_>,
    mut c: OutBlock,
    start: Start,
) {
    let Blocking {
        mr,
        nr,
        kc: kc_max,
        mc: mc_max,
        transpose8,
    } = blocking;
    if k == 0 {
        // No fma at all: each element is its start value.
        for r in 0..m {
            for value in c.row(r) {
                *value = if start == Start::Zero {
                    0.0
                } else {
                    canon(*value)
                };
            }
        }
        return;
    }
    let panels = n.div_ceil(nr);
    let kc_cap = kc_max.min(k).max(1);
    let mut tile = [0.0f32; MAX_TILE];
    with_scratch(&PACKED_B, panels * kc_cap * nr, |packed_b| {
        with_scratch(
            &PACKED_A,
            mc_max.min(m).div_ceil(mr) * kc_cap * mr,
            |packed_a| {
                for k0 in (0..k).step_by(kc_max) {
                    let kc = kc_max.min(k - k0);
                    let io = TileIo {
                        load: k0 > 0 || start == Start::FromC,
                        canon: k0 + kc == k,
                    };
                    for (p, panel) in packed_b.chunks_exact_mut(kc * nr).take(panels).enumerate() {
                        let j0 = p * nr;
                        pack(
                            panel,
                            nr,
                            b,
                            (k0, j0),
                            (kc, nr.min(n - j0)),
                            false,
                            transpose8,
                        );
                    }
                    for i0 in (0..m).step_by(mc_max) {
                        let mc = mc_max.min(m - i0);
                        let strips = mc.div_ceil(mr);
                        for (s, strip) in
                            packed_a.chunks_exact_mut(kc * mr).take(strips).enumerate()
                        {
                            let r0 = i0 + s * mr;
                            pack(
                                strip,
                                mr,
                                a,
                                (r0, k0),
                                (mr.min(i0 + mc - r0), kc),
                                true,
                                transpose8,
                            );
                        }
                        for p in 0..panels {
                            let j0 = p * nr;
                            let valid_n = nr.min(n - j0);
                            let panel = (&packed_b[p * kc * nr..(p + 1) * kc * nr], nr);
                            for s in 0..strips {
                                let r0 = i0 + s * mr;
                                let valid_m = mr.min(i0 + mc - r0);
                                let strip = &packed_a[s * kc * mr..(s + 1) * kc * mr];
                                if valid_m == mr && valid_n == nr {
                                    let corner = c.tile(r0, j0, (mr, nr));
                                    kernel(kc, strip, panel, corner, c.ld, io);
                                    continue;
                                }
                                // An edge tile: through a scratch tile of full size.
                                let tile = &mut tile[..mr * nr];
                                if io.load {
                                    tile.fill(0.0);
                                    for i in 0..valid_m {
                                        tile[i * nr..i * nr + valid_n]
                                            .copy_from_slice(&c.row(r0 + i)[j0..j0 + valid_n]);
                                    }
                                }
                                kernel(kc, strip, panel, tile.as_mut_ptr(), nr, io);
                                for i in 0..valid_m {
                                    c.row(r0 + i)[j0..j0 + valid_n]
                                        .copy_from_slice(&tile[i * nr..i * nr + valid_n]);
                                }
                            }
                        }
                    }
                }
            },
        );
    });
    // Every tile's last k block stored it canonicalised (see `TileIo`).
}
