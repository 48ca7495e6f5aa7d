//! Fast kernels of the layer norm, bit-identical to the element programs of
//! `repops::norm`: every output is computed by its own program's primitive
//! sequence, but a row's statistics and gradient means are computed once and
//! shared, [`ROWS`] rows' sequential sums run side by side (independent
//! chains that the CPU overlaps, where one row's chain would wait on each
//! add), and the per-element work runs as straight loops along a row, which
//! vectorise.
//!
//! The sums' links leave NaN payloads alone and the sums are canonicalised
//! at their ends (`fma_link`, `add_link`), which gives the same bits.
//!
//! Every function takes whole rows: `first_row` is the row of `out`'s first.

use super::{add_link, fma_link};
use crate::repops::prim::{add, div, fma, mul, sqrt, sub};
use crate::repops::{NormGeometry, canon};

/// Rows whose sequential sums run side by side.
const ROWS: usize = 8;

/// `x̂ = mul(sub(x, mean), rstd)`, as every layer-norm program computes it.
#[inline(always)]
fn normalised(x: f32, mean: f32, rstd: f32) -> f32 {
    mul(sub(x, mean), rstd)
}

/// `layer_norm_stats` of rows `first_row..`: `out[2r]` the mean, `out[2r + 1]`
/// the reciprocal standard deviation. Input: X.
#[inline(always)]
pub(super) fn stats(g: &NormGeometry, x: &[f32], first_row: usize, out: &mut [f32]) {
    let rows = out.len() / 2;
    let mut row = 0;
    while row + ROWS <= rows {
        stats_block::<ROWS>(g, x, first_row, row, out);
        row += ROWS;
    }
    while row < rows {
        stats_block::<1>(g, x, first_row, row, out);
        row += 1;
    }
}

/// [`stats`] of `N` rows from `row` (of `out`), their sums side by side.
#[inline(always)]
fn stats_block<const N: usize>(
    g: &NormGeometry,
    x: &[f32],
    first_row: usize,
    row: usize,
    out: &mut [f32],
) {
    let w = g.width;
    let width = w as f32;
    let rows: [&[f32]; N] = std::array::from_fn(|l| {
        let r = first_row + row + l;
        &x[r * w..(r + 1) * w]
    });
    // The mean: acc = +0, acc = add(acc, x_j) in j order, div(acc, D).
    let mut mean = [0.0f32; N];
    for j in 0..w {
        for (acc, x) in mean.iter_mut().zip(&rows) {
            *acc = add_link(*acc, x[j]);
        }
    }
    let mean = mean.map(|acc| div(acc, width));
    // The variance of the centred values, then 1/√(var + ε).
    let mut var = [0.0f32; N];
    for j in 0..w {
        for ((acc, x), &mean) in var.iter_mut().zip(&rows).zip(&mean) {
            let d = sub(x[j], mean);
            *acc = fma_link(d, d, *acc);
        }
    }
    for l in 0..N {
        let deviation = sqrt(add(div(var[l], width), g.eps));
        out[2 * (row + l)] = mean[l];
        out[2 * (row + l) + 1] = div(1.0, deviation);
    }
}

/// `layer_norm` of rows `first_row..`: `fma(x̂, γ[j], β[j])`. Inputs: X, S, γ, β.
#[inline(always)]
pub(super) fn forward(g: &NormGeometry, inputs: &[&[f32]], first_row: usize, out: &mut [f32]) {
    let (gain, shift) = (&inputs[2][..g.width], &inputs[3][..g.width]);
    for (i, row) in out.chunks_exact_mut(g.width).enumerate() {
        let r = first_row + i;
        let x = &inputs[0][r * g.width..(r + 1) * g.width];
        let (mean, rstd) = (inputs[1][2 * r], inputs[1][2 * r + 1]);
        for (((y, &x), &gain), &shift) in row.iter_mut().zip(x).zip(gain).zip(shift) {
            *y = fma(normalised(x, mean, rstd), gain, shift);
        }
    }
}

/// `layer_norm_input_grad` of rows `first_row..`: each row's means
/// `mean(dy·γ)` and `mean(dy·γ·x̂)` once, then every element's
/// `mul(sub(sub(dy·γ, ma), x̂·mb), ρ)`. Inputs: X, S, γ, dY.
#[inline(always)]
pub(super) fn input_grad(g: &NormGeometry, inputs: &[&[f32]], first_row: usize, out: &mut [f32]) {
    let rows = out.len() / g.width.max(1);
    let mut row = 0;
    while row + ROWS <= rows {
        input_grad_block::<ROWS>(g, inputs, first_row, row, out);
        row += ROWS;
    }
    while row < rows {
        input_grad_block::<1>(g, inputs, first_row, row, out);
        row += 1;
    }
}

/// [`input_grad`] of `N` rows from `row` (of `out`), their sums side by side.
#[inline(always)]
fn input_grad_block<const N: usize>(
    g: &NormGeometry,
    inputs: &[&[f32]],
    first_row: usize,
    row: usize,
    out: &mut [f32],
) {
    let w = g.width;
    let width = w as f32;
    let (s, gain) = (inputs[1], &inputs[2][..w]);
    let slice = |slot: usize, l: usize| {
        let r = first_row + row + l;
        &inputs[slot][r * w..(r + 1) * w]
    };
    let x: [&[f32]; N] = std::array::from_fn(|l| slice(0, l));
    let dy: [&[f32]; N] = std::array::from_fn(|l| slice(3, l));
    let mean: [f32; N] = std::array::from_fn(|l| s[2 * (first_row + row + l)]);
    let rstd: [f32; N] = std::array::from_fn(|l| s[2 * (first_row + row + l) + 1]);
    let (mut a, mut b) = ([0.0f32; N], [0.0f32; N]);
    for (j, &gj) in gain.iter().enumerate() {
        for (acc, dy) in a.iter_mut().zip(&dy) {
            *acc = fma_link(dy[j], gj, *acc);
        }
    }
    for (j, &gj) in gain.iter().enumerate() {
        for l in 0..N {
            let xh = normalised(x[l][j], mean[l], rstd[l]);
            b[l] = fma_link(mul(dy[l][j], gj), xh, b[l]);
        }
    }
    for l in 0..N {
        let (mean_a, mean_b) = (div(a[l], width), div(b[l], width));
        let values = &mut out[(row + l) * w..(row + l + 1) * w];
        for (((value, &x), &dy), &gj) in values.iter_mut().zip(x[l]).zip(dy[l]).zip(gain) {
            let t = sub(mul(dy, gj), mean_a);
            let t = sub(t, mul(normalised(x, mean[l], rstd[l]), mean_b));
            *value = mul(t, rstd[l]);
        }
    }
}

/// `layer_norm_weight_grad`: `dγ[j] = Σ_r fma(dY[r,j], x̂[r,j], acc)` in row
/// order, a row at a time so the fmas run side by side along `j`. Inputs:
/// X, S, dY.
#[inline(always)]
pub(super) fn weight_grad(g: &NormGeometry, inputs: &[&[f32]], out: &mut [f32]) {
    let w = g.width;
    out.fill(0.0);
    for r in 0..g.rows {
        let (mean, rstd) = (inputs[1][2 * r], inputs[1][2 * r + 1]);
        let x = &inputs[0][r * w..(r + 1) * w];
        let dy = &inputs[2][r * w..(r + 1) * w];
        for ((acc, &x), &dy) in out.iter_mut().zip(x).zip(dy) {
            *acc = fma_link(dy, normalised(x, mean, rstd), *acc);
        }
    }
    for acc in out.iter_mut() {
        *acc = canon(*acc);
    }
}
