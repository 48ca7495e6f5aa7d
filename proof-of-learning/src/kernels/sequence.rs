//! Fast kernels of the embedding ops: the token table is read (forward) and
//! scattered into (backward) by index instead of running the reference
//! programs' select over the whole vocabulary. Bit-identical: in the
//! reference, every entry but the token's adds `+0` to an accumulator that
//! starts at `+0` and so is never `−0`, which leaves it unchanged.

use crate::repops::EmbeddingGeometry;
use crate::repops::prim::add;

/// The vocabulary entry `token` selects: the `v` with `token == v`, if any.
#[inline(always)]
fn entry(token: f32, vocab: usize) -> Option<usize> {
    (token >= 0.0 && token < vocab as f32 && token.fract() == 0.0).then_some(token as usize)
}

/// `embed`, output elements `offset..offset + out.len()`.
pub(super) fn embed(g: &EmbeddingGeometry, inputs: &[&[f32]], offset: usize, out: &mut [f32]) {
    let (tokens, table, positions) = (inputs[0], inputs[1], inputs[2]);
    for (i, value) in out.iter_mut().enumerate() {
        let e = offset + i;
        let (bt, j) = (e / g.dim, e % g.dim);
        let picked = match entry(tokens[bt], g.vocab) {
            Some(v) => add(0.0, table[v * g.dim + j]),
            None => 0.0,
        };
        *value = add(picked, positions[bt % g.seq * g.dim + j]);
    }
}

/// `embed_grad`: the token table's gradient, each `(b, t)`'s row added into
/// its token's row in ascending `(b, t)` order.
pub(super) fn embed_grad(g: &EmbeddingGeometry, inputs: &[&[f32]], out: &mut [f32]) {
    let (tokens, dy) = (inputs[0], inputs[1]);
    out.fill(0.0);
    for bt in 0..g.batch * g.seq {
        let Some(v) = entry(tokens[bt], g.vocab) else {
            continue;
        };
        let row = &mut out[v * g.dim..(v + 1) * g.dim];
        for (acc, &d) in row.iter_mut().zip(&dy[bt * g.dim..(bt + 1) * g.dim]) {
            *acc = add(*acc, d);
        }
    }
}
