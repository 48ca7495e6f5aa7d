//! Fast kernels of max pooling and of the convolution's bias gradient: the
//! element programs of `repops::conv`, evaluated once per window (or channel)
//! instead of once per element, with the same primitives in the same order.

use crate::repops::prim::{add, max};
use crate::spec::{ConvGeometry, PoolGeometry};
use rayon::prelude::*;

/// Runs `body(plane, out_plane)` over the `(n, c)` planes of `out`, in parallel.
fn planes(
    pool: &rayon::ThreadPool,
    out: &mut [f32],
    plane: usize,
    body: impl Fn(usize, &mut [f32]) + Sync,
) {
    if plane == 0 {
        return;
    }
    pool.install(|| {
        out.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(i, chunk)| body(i, chunk))
    });
}

/// `Y[n,c,oy,ox] = max` folded over the window's taps in row-major order.
pub(crate) fn maxpool2d(pool: &rayon::ThreadPool, g: &PoolGeometry, x: &[f32], out: &mut [f32]) {
    let (oh, ow, k) = (g.oh(), g.ow(), g.kernel);
    planes(pool, out, oh * ow, |i, y| {
        let x = &x[i * g.h * g.w..(i + 1) * g.h * g.w];
        for oy in 0..oh {
            for ox in 0..ow {
                let at = |j: usize| x[(oy * g.stride + j / k) * g.w + ox * g.stride + j % k];
                let mut best = at(0);
                for j in 1..k * k {
                    best = max(best, at(j));
                }
                y[oy * ow + ox] = best;
            }
        }
    });
}

/// `dX` of max pooling: each window's first maximal tap (`sel_gt`/`max` from
/// tap 0) receives `add(dX, dY)`, windows in increasing (oy, ox). The element
/// program also adds `+0` for the windows whose argmax is another tap; since
/// the running sum starts at `+0` and every add rounds, it is never `−0` and
/// adding `+0` leaves it unchanged, bit for bit (NaNs are canonical already).
pub(crate) fn maxpool2d_grad(
    pool: &rayon::ThreadPool,
    g: &PoolGeometry,
    x: &[f32],
    dy: &[f32],
    out: &mut [f32],
) {
    let (oh, ow, k) = (g.oh(), g.ow(), g.kernel);
    planes(pool, out, g.h * g.w, |i, dx| {
        dx.fill(0.0);
        let x = &x[i * g.h * g.w..(i + 1) * g.h * g.w];
        let dy = &dy[i * oh * ow..(i + 1) * oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                let at = |j: usize| (oy * g.stride + j / k) * g.w + ox * g.stride + j % k;
                let (mut best, mut idx) = (x[at(0)], 0);
                for j in 1..k * k {
                    let value = x[at(j)];
                    if value > best {
                        idx = j;
                    }
                    best = max(best, value);
                }
                let target = &mut dx[at(idx)];
                *target = add(*target, dy[oy * ow + ox]);
            }
        }
    });
}

/// `db[co] = +0 + Σ_{n,oy,ox} dZ[n,co,oy,ox]` in increasing (n, oy, ox).
pub(crate) fn conv2d_bias_grad(g: &ConvGeometry, dz: &[f32], out: &mut [f32]) {
    let positions = g.oh() * g.ow();
    out.fill(0.0);
    for n in 0..g.batch {
        for (co, acc) in out.iter_mut().enumerate() {
            for &value in &dz[(n * g.c_out + co) * positions..][..positions] {
                *acc = add(*acc, value);
            }
        }
    }
}
