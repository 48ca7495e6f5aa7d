//! Register-tile micro-kernels: `C[MR×NR] ← fma(A[i,k], B[k,j], C)` for
//! k = 0, 1, … in order. Every accumulator is one output element's running
//! sum, carried across the whole reduction, so each element sees exactly the
//! sequence of the reference: vectorisation is across outputs, never across k.
//!
//! `a` is an MR-row panel packed k-major (`a[k·MR + i]`), `b` an NR-column
//! panel whose k-th row of NR values starts at `b[k·ldb]` (a packed panel with
//! `ldb = NR`; any `ldb ≥ NR` works), `c` an MR×NR tile whose
//! rows are `ldc` apart (the output itself, or a scratch tile at its edges),
//! passed as a pointer: threads write disjoint column blocks of the same
//! rows, so a tile's span of memory may hold other threads' elements, which
//! a slice would claim too.
//!
//! [`TileIo`] says whether the accumulators start from C or from +0 (the
//! first k block of a product that starts from zero, so C need not be zeroed
//! first) and whether the stores replace a NaN by the canonical NaN (the last
//! k block: the fmas keep the CPU's NaN payload, and NaN is absorbing in an
//! fma chain, so canonicalising once at the end gives the reference's bits).

use crate::repops::canon;

/// How a kernel call reads and writes its C tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TileIo {
    /// Start every accumulator from C (else from +0).
    pub(crate) load: bool,
    /// Store every NaN as the canonical NaN.
    pub(crate) canon: bool,
}

/// The scalar kernel's tile.
pub(crate) const SCALAR_MR: usize = 4;
/// The scalar kernel's tile.
pub(crate) const SCALAR_NR: usize = 4;
/// The AVX2+FMA kernel's tile: 12 ymm accumulators.
pub(crate) const AVX2_MR: usize = 6;
/// The AVX2+FMA kernel's tile.
pub(crate) const AVX2_NR: usize = 16;
/// The AVX-512 kernel's tile: 16 zmm accumulators.
pub(crate) const AVX512_MR: usize = 8;
/// The AVX-512 kernel's tile.
pub(crate) const AVX512_NR: usize = 32;

/// Portable kernel: `f32::mul_add` is a correctly rounded fma everywhere.
///
/// # Safety
/// `c` points to 4 rows of 4 floats, `ldc` apart, that nothing else reads
/// or writes during the call.
pub(crate) unsafe fn scalar(
    k: usize,
    a: &[f32],
    (b, ldb): (&[f32], usize),
    c: *mut f32,
    ldc: usize,
    io: TileIo,
) {
    let (mr, nr) = (SCALAR_MR, SCALAR_NR);
    let row_of = |i: usize| {
        // SAFETY: the function's contract: row i of the tile is ours.
        unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), nr) }
    };
    let mut acc = [[0.0f32; SCALAR_NR]; SCALAR_MR];
    if io.load {
        for (i, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(row_of(i));
        }
    }
    for kk in 0..k {
        let a = &a[kk * mr..(kk + 1) * mr];
        let b = &b[kk * ldb..kk * ldb + nr];
        for i in 0..mr {
            for j in 0..nr {
                acc[i][j] = a[i].mul_add(b[j], acc[i][j]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (out, &value) in row_of(i).iter_mut().zip(row) {
            *out = if io.canon { canon(value) } else { value };
        }
    }
}

/// AVX2+FMA kernel.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a` holds `k·6`, `b` `k·16` floats;
/// `c` points to 6 rows of 16 floats, `ldc` apart, that nothing else reads
/// or writes during the call.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn avx2(
    k: usize,
    a: &[f32],
    (b, ldb): (&[f32], usize),
    c: *mut f32,
    ldc: usize,
    io: TileIo,
) {
    use std::arch::x86_64::*;
    const MR: usize = AVX2_MR;
    const NR: usize = AVX2_NR;
    assert!(a.len() >= k * MR && ldc >= NR);
    assert!(ldb >= NR && (k == 0 || b.len() >= (k - 1) * ldb + NR));
    // SAFETY: the asserts above bound every load of `a` and `b`; the
    // function's contract every load and store of `c`.
    unsafe {
        let cp = c;
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        if io.load {
            for (i, row) in acc.iter_mut().enumerate() {
                row[0] = _mm256_loadu_ps(cp.add(i * ldc));
                row[1] = _mm256_loadu_ps(cp.add(i * ldc + 8));
            }
        }
        let (mut ap, mut bp) = (a.as_ptr(), b.as_ptr());
        for _ in 0..k {
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
            ap = ap.add(MR);
            bp = bp.add(ldb);
        }
        if io.canon {
            for row in acc.iter_mut() {
                for value in row.iter_mut() {
                    *value = super::lanes::avx::canon(*value);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            _mm256_storeu_ps(cp.add(i * ldc), row[0]);
            _mm256_storeu_ps(cp.add(i * ldc + 8), row[1]);
        }
    }
}

/// AVX-512 kernel.
///
/// # Safety
/// The CPU must support AVX-512F; `a` holds `k·8`, `b` `k·32` floats;
/// `c` points to 8 rows of 32 floats, `ldc` apart, that nothing else reads
/// or writes during the call.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn avx512(
    k: usize,
    a: &[f32],
    (b, ldb): (&[f32], usize),
    c: *mut f32,
    ldc: usize,
    io: TileIo,
) {
    use std::arch::x86_64::*;
    const MR: usize = AVX512_MR;
    const NR: usize = AVX512_NR;
    assert!(a.len() >= k * MR && ldc >= NR);
    assert!(ldb >= NR && (k == 0 || b.len() >= (k - 1) * ldb + NR));
    // SAFETY: the asserts above bound every load of `a` and `b`; the
    // function's contract every load and store of `c`.
    unsafe {
        let cp = c;
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        if io.load {
            for (i, row) in acc.iter_mut().enumerate() {
                row[0] = _mm512_loadu_ps(cp.add(i * ldc));
                row[1] = _mm512_loadu_ps(cp.add(i * ldc + 16));
            }
        }
        let (mut ap, mut bp) = (a.as_ptr(), b.as_ptr());
        for _ in 0..k {
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(i));
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
            ap = ap.add(MR);
            bp = bp.add(ldb);
        }
        if io.canon {
            for row in acc.iter_mut() {
                for value in row.iter_mut() {
                    *value = super::lanes::avx512::canon(*value);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            _mm512_storeu_ps(cp.add(i * ldc), row[0]);
            _mm512_storeu_ps(cp.add(i * ldc + 16), row[1]);
        }
    }
}
