//! Convolution on the GEMM: im2col, the blocked matrix product, col2im.
//!
//! The patch matrix `col [(n, oy, ox), (ci, ky, kx)]` holds every input
//! value an output position reads, and +0 where a tap falls in the padding,
//! exactly the operands of the element programs of `repops::conv`. Each GEMM
//! accumulates one output over its reduction index in increasing order with
//! one fma per term, from the value already in the output, so:
//! - the forward pass is `Zᵀ = bias + col · Wᵀ` (reduction over (ci, ky, kx));
//! - the weight gradient is `dW = dZᵀᵀ · col` from +0 (over (n, oy, ox));
//! - the input gradient is `dcol = dZᵀ · W` from +0 (over co), then col2im
//!   adds each tap's sum into a +0 `dX` in increasing (ky, kx).

use super::Level;
use super::gemm::{MatView, Start, gemm};
use crate::repops::prim::add;
use crate::spec::ConvGeometry;
use rayon::prelude::*;

/// The input row (or column) of output position `out` and tap `k`, if it is
/// not in the padding.
#[inline(always)]
fn tap(out: usize, k: usize, g: &ConvGeometry, size: usize) -> Option<usize> {
    (out * g.stride + k)
        .checked_sub(g.padding)
        .filter(|&position| position < size)
}

/// The patch matrix of `x [b, c_in, h, w]`: `b·oh·ow` rows of `c_in·k²`.
fn im2col(pool: &rayon::ThreadPool, g: &ConvGeometry, x: &[f32]) -> Vec<f32> {
    let (oh, ow, patch) = (g.oh(), g.ow(), g.patch());
    let mut col = vec![0.0f32; g.batch * oh * ow * patch];
    let sample = g.c_in * g.h * g.w;
    let fill = |(n, rows): (usize, &mut [f32])| {
        let x = &x[n * sample..(n + 1) * sample];
        for (p, row) in rows.chunks_exact_mut(patch).enumerate() {
            let (oy, ox) = (p / ow, p % ow);
            for ci in 0..g.c_in {
                for ky in 0..g.kernel {
                    let iy = tap(oy, ky, g, g.h);
                    for kx in 0..g.kernel {
                        let value = match (iy, tap(ox, kx, g, g.w)) {
                            (Some(iy), Some(ix)) => x[(ci * g.h + iy) * g.w + ix],
                            _ => 0.0,
                        };
                        row[(ci * g.kernel + ky) * g.kernel + kx] = value;
                    }
                }
            }
        }
    };
    pool.install(|| {
        col.par_chunks_mut(oh * ow * patch)
            .enumerate()
            .for_each(fill)
    });
    col
}

/// `[b, c, p]` → `[(b, p), c]`.
fn to_rows(values: &[f32], batch: usize, channels: usize, positions: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    for n in 0..batch {
        for c in 0..channels {
            let src = &values[(n * channels + c) * positions..][..positions];
            for (p, &value) in src.iter().enumerate() {
                out[(n * positions + p) * channels + c] = value;
            }
        }
    }
    out
}

/// `Z [b, c_out, oh, ow]` of `conv::conv2d`. Inputs: X, W, b.
pub(crate) fn conv2d(
    level: Level,
    pool: &rayon::ThreadPool,
    g: &ConvGeometry,
    inputs: &[&[f32]],
    out: &mut [f32],
) {
    let (positions, patch) = (g.oh() * g.ow(), g.patch());
    let rows = g.batch * positions;
    let col = im2col(pool, g, inputs[0]);
    let mut z_rows = vec![0.0f32; rows * g.c_out];
    for row in z_rows.chunks_exact_mut(g.c_out) {
        row.copy_from_slice(&inputs[2][..g.c_out]);
    }
    let a = MatView {
        data: &col,
        rs: patch,
        cs: 1,
    };
    let w = MatView {
        data: inputs[1],
        rs: 1,
        cs: patch,
    };
    gemm(
        level,
        pool,
        (rows, g.c_out, patch),
        a,
        w,
        &mut z_rows,
        Start::FromC,
    );
    for n in 0..g.batch {
        for c in 0..g.c_out {
            let dst = &mut out[(n * g.c_out + c) * positions..][..positions];
            for (p, value) in dst.iter_mut().enumerate() {
                *value = z_rows[(n * positions + p) * g.c_out + c];
            }
        }
    }
}

/// `dW [c_out, c_in, k, k]` of `conv::conv2d_weight_grad`. Inputs: dZ, X.
pub(crate) fn conv2d_weight_grad(
    level: Level,
    pool: &rayon::ThreadPool,
    g: &ConvGeometry,
    inputs: &[&[f32]],
    out: &mut [f32],
) {
    let (positions, patch) = (g.oh() * g.ow(), g.patch());
    let rows = g.batch * positions;
    let dz_rows = to_rows(inputs[0], g.batch, g.c_out, positions);
    let col = im2col(pool, g, inputs[1]);
    let dz_t = MatView {
        data: &dz_rows,
        rs: 1,
        cs: g.c_out,
    };
    let col = MatView {
        data: &col,
        rs: patch,
        cs: 1,
    };
    gemm(
        level,
        pool,
        (g.c_out, patch, rows),
        dz_t,
        col,
        out,
        Start::Zero,
    );
}

/// `dX [b, c_in, h, w]` of `conv::conv2d_input_grad`. Inputs: dZ, W.
pub(crate) fn conv2d_input_grad(
    level: Level,
    pool: &rayon::ThreadPool,
    g: &ConvGeometry,
    inputs: &[&[f32]],
    out: &mut [f32],
) {
    let (oh, ow, patch) = (g.oh(), g.ow(), g.patch());
    let positions = oh * ow;
    let rows = g.batch * positions;
    let dz_rows = to_rows(inputs[0], g.batch, g.c_out, positions);
    let mut dcol = vec![0.0f32; rows * patch];
    let dz = MatView {
        data: &dz_rows,
        rs: g.c_out,
        cs: 1,
    };
    let w = MatView {
        data: inputs[1],
        rs: patch,
        cs: 1,
    };
    gemm(
        level,
        pool,
        (rows, patch, g.c_out),
        dz,
        w,
        &mut dcol,
        Start::Zero,
    );
    let sample = g.c_in * g.h * g.w;
    let scatter = |(n, dx): (usize, &mut [f32])| {
        dx.fill(0.0);
        let dcol = &dcol[n * positions * patch..(n + 1) * positions * patch];
        for ci in 0..g.c_in {
            for ky in 0..g.kernel {
                for kx in 0..g.kernel {
                    let column = (ci * g.kernel + ky) * g.kernel + kx;
                    for oy in 0..oh {
                        let Some(iy) = tap(oy, ky, g, g.h) else {
                            continue;
                        };
                        for ox in 0..ow {
                            let Some(ix) = tap(ox, kx, g, g.w) else {
                                continue;
                            };
                            let target = &mut dx[(ci * g.h + iy) * g.w + ix];
                            *target = add(*target, dcol[(oy * ow + ox) * patch + column]);
                        }
                    }
                }
            }
        }
    };
    pool.install(|| out.par_chunks_mut(sample).enumerate().for_each(scatter));
}
