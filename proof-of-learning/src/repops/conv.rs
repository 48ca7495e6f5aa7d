//! The element programs of 2-D convolution and pooling, NCHW, row-major.
//! Normative text: `docs/repops.md` § conv2d and § Pooling.
//!
//! A convolution reads its zero padding as the constant +0 (so the program of
//! every output element has the same length, and a fast kernel may
//! materialise the padded patches and run the GEMM over them). The input
//! gradient is the one exception: it sums only the kernel taps that reach an
//! output position, which is what a col2im scatter computes.

use super::program::Fp;
use crate::spec::{ConvGeometry, PoolGeometry};

/// Reads input `slot` element `index` as a program value.
#[inline(always)]
fn load<F: Fp>(fp: &mut F, inputs: &[&[f32]], slot: u8, index: usize) -> F::V {
    fp.input(slot, index, inputs[slot as usize][index])
}

/// Splits a flat NCHW index into `(n, c, y, x)`.
#[inline(always)]
fn nchw(e: usize, channels: usize, h: usize, w: usize) -> (usize, usize, usize, usize) {
    let x = e % w;
    let y = e / w % h;
    let c = e / (w * h) % channels;
    (e / (w * h * channels), c, y, x)
}

/// The input row or column a kernel tap reads, or `None` in the padding.
#[inline(always)]
fn tap(out: usize, stride: usize, k: usize, padding: usize, size: usize) -> Option<usize> {
    (out * stride + k)
        .checked_sub(padding)
        .filter(|&position| position < size)
}

/// Input element `X[n, ci, iy, ix]` of output position `(oy, ox)` and tap
/// `(ky, kx)`, or +0 in the padding.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn patch_value<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    slot: u8,
    g: &ConvGeometry,
    (n, ci): (usize, usize),
    (oy, ox): (usize, usize),
    (ky, kx): (usize, usize),
) -> F::V {
    match (
        tap(oy, g.stride, ky, g.padding, g.h),
        tap(ox, g.stride, kx, g.padding, g.w),
    ) {
        (Some(iy), Some(ix)) => load(fp, inputs, slot, ((n * g.c_in + ci) * g.h + iy) * g.w + ix),
        _ => fp.constant(0.0),
    }
}

/// `Z[n,co,oy,ox] = b[co] + Σ_{ci,ky,kx} X[n,ci,oy·s+ky−p,ox·s+kx−p]·W[co,ci,ky,kx]`,
/// one fma per term in increasing (ci, ky, kx), padding read as +0.
/// Inputs: X `[b,c_in,h,w]`, W `[c_out,c_in,k,k]`, b `[c_out]`.
#[inline(always)]
pub fn conv2d<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &ConvGeometry, e: usize) -> F::V {
    let (n, co, oy, ox) = nchw(e, g.c_out, g.oh(), g.ow());
    let mut acc = load(fp, inputs, 2, co);
    for ci in 0..g.c_in {
        for ky in 0..g.kernel {
            for kx in 0..g.kernel {
                let x = patch_value(fp, inputs, 0, g, (n, ci), (oy, ox), (ky, kx));
                let w = load(
                    fp,
                    inputs,
                    1,
                    ((co * g.c_in + ci) * g.kernel + ky) * g.kernel + kx,
                );
                acc = fp.fma(x, w, acc);
            }
        }
    }
    acc
}

/// `dW[co,ci,ky,kx] = Σ_{n,oy,ox} dZ[n,co,oy,ox]·X[n,ci,oy·s+ky−p,ox·s+kx−p]`,
/// from +0, one fma per term in increasing (n, oy, ox), padding read as +0.
/// Inputs: dZ `[b,c_out,oh,ow]`, X `[b,c_in,h,w]`.
#[inline(always)]
pub fn conv2d_weight_grad<F: Fp>(
    fp: &mut F,
    inputs: &[&[f32]],
    g: &ConvGeometry,
    e: usize,
) -> F::V {
    let kx = e % g.kernel;
    let ky = e / g.kernel % g.kernel;
    let ci = e / (g.kernel * g.kernel) % g.c_in;
    let co = e / (g.kernel * g.kernel * g.c_in);
    let (oh, ow) = (g.oh(), g.ow());
    let mut acc = fp.constant(0.0);
    for n in 0..g.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                let dz = load(fp, inputs, 0, ((n * g.c_out + co) * oh + oy) * ow + ox);
                let x = patch_value(fp, inputs, 1, g, (n, ci), (oy, ox), (ky, kx));
                acc = fp.fma(dz, x, acc);
            }
        }
    }
    acc
}

/// The output position a kernel tap `k` reaches from input position `i`:
/// `o` with `o·s + k − p = i`, if there is one.
#[inline(always)]
fn reached(i: usize, k: usize, g: &ConvGeometry, outputs: usize) -> Option<usize> {
    let t = (i + g.padding).checked_sub(k)?;
    (t % g.stride == 0 && t / g.stride < outputs).then_some(t / g.stride)
}

/// `dX[n,ci,iy,ix] = +0 + Σ_{(ky,kx) reaching (oy,ox)} (Σ_co dZ[n,co,oy,ox]·W[co,ci,ky,kx])`:
/// for each tap in increasing (ky, kx) that reaches an output position, the
/// inner sum over co is one fma per term from +0, and the taps' sums are
/// added in order to a +0 start. Inputs: dZ `[b,c_out,oh,ow]`, W `[c_out,c_in,k,k]`.
#[inline(always)]
pub fn conv2d_input_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &ConvGeometry, e: usize) -> F::V {
    let (n, ci, iy, ix) = nchw(e, g.c_in, g.h, g.w);
    let (oh, ow) = (g.oh(), g.ow());
    let mut acc = fp.constant(0.0);
    for ky in 0..g.kernel {
        let Some(oy) = reached(iy, ky, g, oh) else {
            continue;
        };
        for kx in 0..g.kernel {
            let Some(ox) = reached(ix, kx, g, ow) else {
                continue;
            };
            let mut inner = fp.constant(0.0);
            for co in 0..g.c_out {
                let dz = load(fp, inputs, 0, ((n * g.c_out + co) * oh + oy) * ow + ox);
                let w = load(
                    fp,
                    inputs,
                    1,
                    ((co * g.c_in + ci) * g.kernel + ky) * g.kernel + kx,
                );
                inner = fp.fma(dz, w, inner);
            }
            acc = fp.add(acc, inner);
        }
    }
    acc
}

/// `db[co] = Σ_{n,oy,ox} dZ[n,co,oy,ox]`, added to a +0 start in increasing
/// (n, oy, ox). Input: dZ `[b,c_out,oh,ow]`.
#[inline(always)]
pub fn conv2d_bias_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &ConvGeometry, e: usize) -> F::V {
    let positions = g.oh() * g.ow();
    let mut acc = fp.constant(0.0);
    for n in 0..g.batch {
        let base = (n * g.c_out + e) * positions;
        for p in 0..positions {
            let dz = load(fp, inputs, 0, base + p);
            acc = fp.add(acc, dz);
        }
    }
    acc
}

/// The flat input index of tap `j` (row-major in the window) of window
/// `(oy, ox)` of channel `(n, c)`.
#[inline(always)]
fn window_index(
    g: &PoolGeometry,
    (n, c): (usize, usize),
    (oy, ox): (usize, usize),
    j: usize,
) -> usize {
    let (ky, kx) = (j / g.kernel, j % g.kernel);
    ((n * g.channels + c) * g.h + oy * g.stride + ky) * g.w + ox * g.stride + kx
}

/// `Y[n,c,oy,ox]`: the window's maximum, `max` folded over its taps in
/// row-major order from the first. Input: X `[b,c,h,w]`.
#[inline(always)]
pub fn maxpool2d<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &PoolGeometry, e: usize) -> F::V {
    let (n, c, oy, ox) = nchw(e, g.channels, g.oh(), g.ow());
    let mut best = load(fp, inputs, 0, window_index(g, (n, c), (oy, ox), 0));
    for j in 1..g.kernel * g.kernel {
        let x = load(fp, inputs, 0, window_index(g, (n, c), (oy, ox), j));
        best = fp.max(best, x);
    }
    best
}

/// The windows (as output rows or columns) that contain input row or column `i`.
#[inline(always)]
fn covering(i: usize, g: &PoolGeometry, outputs: usize) -> std::ops::Range<usize> {
    let first = (i + 1).saturating_sub(g.kernel).div_ceil(g.stride);
    let last = (i / g.stride + 1).min(outputs);
    first..last.max(first)
}

/// `dX[n,c,iy,ix] = +0 + Σ_{windows containing it} (argmax = its tap ? dY : +0)`,
/// windows in increasing (oy, ox). A window's argmax is its first maximal tap:
/// from `(best, idx) = (x₀, 0)`, each further tap j does
/// `idx = sel_gt(x_j, best, j, idx)` then `best = max(best, x_j)`.
/// Inputs: X `[b,c,h,w]`, dY `[b,c,oh,ow]`.
#[inline(always)]
pub fn maxpool2d_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &PoolGeometry, e: usize) -> F::V {
    let (n, c, iy, ix) = nchw(e, g.channels, g.h, g.w);
    let (oh, ow) = (g.oh(), g.ow());
    let zero = fp.constant(0.0);
    let mut acc = zero;
    for oy in covering(iy, g, oh) {
        for ox in covering(ix, g, ow) {
            let mut best = load(fp, inputs, 0, window_index(g, (n, c), (oy, ox), 0));
            let mut idx = fp.constant(0.0);
            for j in 1..g.kernel * g.kernel {
                let x = load(fp, inputs, 0, window_index(g, (n, c), (oy, ox), j));
                let tap = fp.constant(j as f32);
                idx = fp.sel_gt(x, best, tap, idx);
                best = fp.max(best, x);
            }
            let mine = fp.constant(((iy - oy * g.stride) * g.kernel + ix - ox * g.stride) as f32);
            let dy = load(fp, inputs, 1, ((n * g.channels + c) * oh + oy) * ow + ox);
            let routed = fp.sel_eq(idx, mine, dy, zero);
            acc = fp.add(acc, routed);
        }
    }
    acc
}

/// `Y[n,c,oy,ox] = (Σ window) / k²`: the taps added in row-major order from
/// the first, then one division. Input: X `[b,c,h,w]`.
#[inline(always)]
pub fn avgpool2d<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &PoolGeometry, e: usize) -> F::V {
    let (n, c, oy, ox) = nchw(e, g.channels, g.oh(), g.ow());
    let mut acc = load(fp, inputs, 0, window_index(g, (n, c), (oy, ox), 0));
    for j in 1..g.kernel * g.kernel {
        let x = load(fp, inputs, 0, window_index(g, (n, c), (oy, ox), j));
        acc = fp.add(acc, x);
    }
    let area = fp.constant((g.kernel * g.kernel) as f32);
    fp.div(acc, area)
}

/// `dX[n,c,iy,ix] = (+0 + Σ_{windows containing it} dY[n,c,oy,ox]) / k²`,
/// windows in increasing (oy, ox). Input: dY `[b,c,oh,ow]`.
#[inline(always)]
pub fn avgpool2d_grad<F: Fp>(fp: &mut F, inputs: &[&[f32]], g: &PoolGeometry, e: usize) -> F::V {
    let (n, c, iy, ix) = nchw(e, g.channels, g.h, g.w);
    let (oh, ow) = (g.oh(), g.ow());
    let mut acc = fp.constant(0.0);
    for oy in covering(iy, g, oh) {
        for ox in covering(ix, g, ow) {
            let dy = load(fp, inputs, 0, ((n * g.channels + c) * oh + oy) * ow + ox);
            acc = fp.add(acc, dy);
        }
    }
    let area = fp.constant((g.kernel * g.kernel) as f32);
    fp.div(acc, area)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_windows_are_exactly_those_that_contain_the_position() {
        for (h, kernel, stride) in [(8, 2, 2), (7, 3, 2), (9, 3, 1), (5, 2, 3), (6, 3, 3)] {
            let g = PoolGeometry {
                batch: 1,
                channels: 1,
                h,
                w: h,
                kernel,
                stride,
            };
            for i in 0..h {
                let brute: Vec<usize> = (0..g.oh())
                    .filter(|&o| o * stride <= i && i < o * stride + kernel)
                    .collect();
                assert_eq!(
                    covering(i, &g, g.oh()).collect::<Vec<_>>(),
                    brute,
                    "{h} {kernel} {stride} {i}"
                );
            }
        }
    }

    #[test]
    fn reached_output_is_the_one_whose_tap_reads_the_input() {
        let g = ConvGeometry {
            batch: 1,
            c_in: 1,
            h: 9,
            w: 9,
            c_out: 1,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        for i in 0..9 {
            for k in 0..3 {
                let brute = (0..g.oh()).find(|&o| tap(o, g.stride, k, g.padding, g.h) == Some(i));
                assert_eq!(reached(i, k, &g, g.oh()), brute, "{i} {k}");
            }
        }
    }
}
