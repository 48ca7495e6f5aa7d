//! The blocked, threaded matrix product behind every matmul-shaped repop:
//! `C[m×n] ← C + A[m×k]·B[k×n]` where each C element accumulates its k terms
//! with one fma each, in increasing k, starting from the value already in C.
//!
//! B is split into NR-column panels: read in place when its rows are
//! contiguous, packed k-major otherwise. Each MR-row strip of A is packed
//! k-major. Each (strip, panel) pair runs one micro-kernel over the whole
//! reduction, panels in the outer loop so a panel is read once; threads take
//! disjoint row ranges of C, or disjoint column blocks when C is wider than
//! tall. None of this touches the order of any element's
//! reduction, so every blocking, thread count and SIMD level gives the same
//! bits.

use super::Level;
use super::microkernel;
use crate::repops::canon;

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
) {
    // Lanes run along rows of A strips and along columns of B panels.
    let (lanes, depth) = if a_side { (rows, cols) } else { (cols, rows) };
    let lane_stride = if a_side { m.rs } else { m.cs };
    let depth_stride = if a_side { m.cs } else { m.rs };
    let base = r0 * m.rs + c0 * m.cs;
    if lane_stride != 1 && depth_stride == 1 {
        // A transpose: each lane is a contiguous source run. Go through it in
        // blocks of 16 values (one cache line), so every line read is used at
        // once and the block written stays in L1; walking all lanes per single
        // value instead thrashes L1 when rows are 4 KiB apart.
        const BLOCK: usize = 256;
        for kk0 in (0..depth).step_by(BLOCK) {
            let len = BLOCK.min(depth - kk0);
            for lane in 0..lanes {
                let src = &m.data[base + lane * lane_stride + kk0..][..len];
                for (t, &value) in src.iter().enumerate() {
                    dst[(kk0 + t) * width + lane] = value;
                }
            }
            for t in 0..len {
                dst[(kk0 + t) * width + lanes..(kk0 + t + 1) * width].fill(0.0);
            }
        }
        return;
    }
    for (kk, out) in dst.chunks_exact_mut(width).take(depth).enumerate() {
        let origin = base + kk * depth_stride;
        if lane_stride == 1 {
            out[..lanes].copy_from_slice(&m.data[origin..origin + lanes]);
        } else {
            for (lane, value) in out[..lanes].iter_mut().enumerate() {
                *value = m.data[origin + lane * lane_stride];
            }
        }
        out[lanes..].fill(0.0);
    }
}

/// Reuses a per-thread buffer of at least `len` floats. Every element the
/// caller reads is written by [`pack`] first, so stale contents never leak.
fn with_scratch<R>(
    cell: &'static std::thread::LocalKey<std::cell::RefCell<Vec<f32>>>,
    len: usize,
    body: impl FnOnce(&mut [f32]) -> R,
) -> R {
    cell.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            body(&mut buffer[..len])
        }
        // Re-entered on this thread (a nested product): use a fresh buffer.
        Err(_) => body(&mut vec![0.0; len]),
    })
}

thread_local! {
    static PACKED_A: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    static PACKED_B: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Below this many fmas a product runs on the calling thread.
const PARALLEL_THRESHOLD: usize = 1 << 22;

type Kernel = fn(usize, &[f32], (&[f32], usize), &mut [f32], usize);

fn kernel_for(level: Level) -> (usize, usize, Kernel) {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => (
            microkernel::AVX512_MR,
            microkernel::AVX512_NR,
            |k, a, b, c, ldc| {
                // SAFETY: Level::Avx512 is only constructed when the CPU has AVX-512F
                // (see Level::is_supported); sizes are asserted inside.
                unsafe { microkernel::avx512(k, a, b, c, ldc) }
            },
        ),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => (
            microkernel::AVX2_MR,
            microkernel::AVX2_NR,
            |k, a, b, c, ldc| {
                // SAFETY: Level::Avx2Fma is only constructed when the CPU has AVX2
                // and FMA; sizes are asserted inside.
                unsafe { microkernel::avx2(k, a, b, c, ldc) }
            },
        ),
        _ => (
            microkernel::SCALAR_MR,
            microkernel::SCALAR_NR,
            microkernel::scalar,
        ),
    }
}

/// `c ← c + a·b` with `c` row-major m×n.
///
/// Threads split C by rows when it has at least as many rows as columns, and
/// by column blocks otherwise (a batch of 128 rows against 1,024 outputs):
/// then each thread packs and reads only its own part of B, where a split by
/// rows would have every thread stream all of B and one thread pack it first.
pub(crate) fn gemm(
    level: Level,
    pool: &rayon::ThreadPool,
    (m, n, k): (usize, usize, usize),
    a: MatView<'_>,
    b: MatView<'_>,
    c: &mut [f32],
) {
    assert_eq!(c.len(), m * n, "output is m×n");
    let threads = pool.current_num_threads().max(1);
    let nr = kernel_for(level).1;
    let parallel = m * n * k >= PARALLEL_THRESHOLD && threads > 1;
    if !parallel || m >= n || n < 2 * nr {
        return gemm_by_rows(level, Some(pool), (m, n, k), a, b, c);
    }
    // Column blocks of whole panels, two per thread.
    let block = n.div_ceil(threads * 2).div_ceil(nr) * nr;
    let blocks: Vec<(usize, Vec<f32>)> = pool.install(|| {
        use rayon::prelude::*;
        (0..n.div_ceil(block))
            .into_par_iter()
            .map(|t| {
                let (j0, j1) = (t * block, ((t + 1) * block).min(n));
                let width = j1 - j0;
                let mut part: Vec<f32> = c
                    .chunks_exact(n)
                    .flat_map(|row| &row[j0..j1])
                    .copied()
                    .collect();
                let b_part = MatView {
                    data: &b.data[j0 * b.cs..],
                    ..b
                };
                gemm_by_rows(level, None, (m, width, k), a, b_part, &mut part);
                (j0, part)
            })
            .collect()
    });
    for (j0, part) in blocks {
        let width = part.len() / m.max(1);
        for (row, values) in c.chunks_exact_mut(n).zip(part.chunks_exact(width)) {
            row[j0..j0 + width].copy_from_slice(values);
        }
    }
}

/// The product, split by rows among `pool`'s threads when there is a pool
/// and the product is large enough (`None`: on the calling thread).
fn gemm_by_rows(
    level: Level,
    pool: Option<&rayon::ThreadPool>,
    (m, n, k): (usize, usize, usize),
    a: MatView<'_>,
    b: MatView<'_>,
    c: &mut [f32],
) {
    assert_eq!(c.len(), m * n, "output is m×n");
    if m == 0 || n == 0 {
        return;
    }
    let (mr, nr, kernel) = kernel_for(level);
    let panels = n.div_ceil(nr);
    // B rows that are contiguous (cs = 1) are read in place by the kernel
    // (`ldb` = the row stride) for every full panel; only B's other layouts,
    // and a last partial panel, are packed.
    let in_place = b.cs == 1;
    with_scratch(&PACKED_B, panels * k * nr, |packed_b| {
        for (p, panel) in packed_b
            .chunks_exact_mut((k * nr).max(1))
            .enumerate()
            .take(panels)
        {
            let j0 = p * nr;
            if !(in_place && j0 + nr <= n) {
                pack(panel, nr, b, (0, j0), (k, nr.min(n - j0)), false);
            }
        }
        let packed_b = &*packed_b;

        let threads = pool.map_or(1, |pool| pool.current_num_threads().max(1));
        let rows_per_task = if m * n * k < PARALLEL_THRESHOLD || threads == 1 {
            m
        } else {
            m.div_ceil(threads * 2).div_ceil(mr) * mr
        };
        // Per task: pack every MR-row strip of its rows first, then walk B's
        // panels in the outer loop, so each packed B panel (k×NR) is read from
        // memory once and stays in cache while every strip of A passes over it.
        // Full tiles accumulate straight into C; edge tiles go through a
        // scratch tile.
        let task = |row0: usize, rows: &mut [f32]| {
            let row_count = rows.len() / n;
            let strips = row_count.div_ceil(mr);
            with_scratch(&PACKED_A, strips * k * mr, |packed_a| {
                for (s, strip) in packed_a
                    .chunks_exact_mut((k * mr).max(1))
                    .enumerate()
                    .take(strips)
                {
                    pack(
                        strip,
                        mr,
                        a,
                        (row0 + s * mr, 0),
                        (mr.min(row_count - s * mr), k),
                        true,
                    );
                }
                let mut tile = vec![0.0f32; mr * nr];
                for p in 0..panels {
                    let j0 = p * nr;
                    let valid_n = nr.min(n - j0);
                    let panel = if in_place && valid_n == nr {
                        (&b.data[j0..], b.rs)
                    } else {
                        (&packed_b[p * k * nr..(p + 1) * k * nr], nr)
                    };
                    for s in 0..strips {
                        let i0 = s * mr;
                        let valid_m = mr.min(row_count - i0);
                        let strip = &packed_a[s * k * mr..(s + 1) * k * mr];
                        if valid_m == mr && valid_n == nr {
                            let start = i0 * n + j0;
                            kernel(
                                k,
                                strip,
                                panel,
                                &mut rows[start..start + (mr - 1) * n + nr],
                                n,
                            );
                            continue;
                        }
                        tile.fill(0.0);
                        for i in 0..valid_m {
                            let src = (i0 + i) * n + j0;
                            tile[i * nr..i * nr + valid_n]
                                .copy_from_slice(&rows[src..src + valid_n]);
                        }
                        kernel(k, strip, panel, &mut tile, nr);
                        for i in 0..valid_m {
                            let dst = (i0 + i) * n + j0;
                            rows[dst..dst + valid_n]
                                .copy_from_slice(&tile[i * nr..i * nr + valid_n]);
                        }
                    }
                }
            });
            // The micro-kernels' fmas do not canonicalise: a NaN (∞·0, ∞ − ∞)
            // comes out with the CPU's payload (x86: 0xFFC00000). NaN is
            // absorbing in an fma chain (a NaN addend gives a NaN), so an
            // output's chain ends in a NaN exactly when the reference's
            // canonicalising chain does, and one canonicalisation at the end
            // gives the reference's bits.
            for value in rows.iter_mut() {
                *value = canon(*value);
            }
        };
        match pool {
            Some(pool) if rows_per_task < m => {
                use rayon::prelude::*;
                pool.install(|| {
                    c.par_chunks_mut(rows_per_task * n)
                        .enumerate()
                        .for_each(|(t, rows)| task(t * rows_per_task, rows));
                });
            }
            _ => task(0, c),
        }
    });
}
