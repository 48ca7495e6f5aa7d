//! The embedding and attention kernels, run through the CPU emulation of
//! their source by the same dispatch the GPU gets, give the reference
//! evaluator's bits: on random inputs with edge values (NaNs with payloads,
//! signed zeros, subnormals, infinities), on the realistic inputs of a
//! forward and backward pass (each op fed the reference's outputs of the
//! ops before it, so the results are mostly finite), and on token ids that
//! select no entry, or (above 2^24, where ids round) several.

mod common;

use common::{Values, check};
use vtrain_proof_of_learning::repops::{AttentionGeometry, Direct, EmbeddingGeometry, Op};

/// Batch, sequence, heads, head width: batches of 1 and several, one head
/// and several, sequences of 1, 2, odd and 17 positions, heads of 1, 4 and
/// 16 values.
const ATTENTION: [(usize, usize, usize, usize); 8] = [
    (1, 1, 1, 1),
    (1, 2, 1, 4),
    (2, 1, 3, 4),
    (2, 5, 2, 3),
    (3, 9, 3, 1),
    (2, 17, 2, 4),
    (1, 17, 1, 16),
    (2, 7, 4, 16),
];

fn geometry((batch, seq, heads, head_dim): (usize, usize, usize, usize)) -> AttentionGeometry {
    AttentionGeometry {
        batch,
        seq,
        heads,
        head_dim,
    }
}

/// The reference evaluator's output of `op`, to feed the next op.
fn reference(op: &Op, inputs: &[Vec<f32>], len: usize) -> Vec<f32> {
    let slices: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    (0..len)
        .map(|e| op.element(&mut Direct, &slices, e))
        .collect()
}

/// Asserts that most of `values` are finite and some are not zero, so a
/// realistic check compares real arithmetic, not NaNs or masked zeros.
fn assert_informative(name: &str, values: &[f32]) {
    let finite = values.iter().filter(|v| v.is_finite()).count();
    let nonzero = values.iter().filter(|&&v| v != 0.0).count();
    assert!(finite * 10 >= values.len() * 9, "{name}: {values:?}");
    assert!(nonzero > 0, "{name}: {values:?}");
}

/// Each op of `g` with its inputs at their lengths and its output length.
fn attention_ops(g: AttentionGeometry) -> [(Op, Vec<usize>, usize); 10] {
    let (acts, scores) = (g.activations(), g.scores());
    let rows = g.batch * g.heads * g.seq;
    [
        (Op::AttnScores(g), vec![acts, acts], scores),
        (Op::AttnSoftmaxStats(g), vec![scores], 2 * rows),
        (Op::AttnSoftmax(g), vec![scores, 2 * rows], scores),
        (Op::AttnContext(g), vec![scores, acts], acts),
        (Op::AttnProbsGrad(g), vec![acts, acts], scores),
        (Op::AttnValueGrad(g), vec![scores, acts], acts),
        (Op::AttnSoftmaxDot(g), vec![scores, scores], rows),
        (Op::AttnSoftmaxGrad(g), vec![scores, scores, rows], scores),
        (Op::AttnQueryGrad(g), vec![scores, acts], acts),
        (Op::AttnKeyGrad(g), vec![scores, acts], acts),
    ]
}

#[test]
fn attention_kernels_match_the_reference_on_edge_values() {
    let mut values = Values(0xA77E_4710_5EED_0001);
    for shape in ATTENTION {
        for (op, lens, len) in attention_ops(geometry(shape)) {
            let inputs: Vec<Vec<f32>> = lens.iter().map(|&n| values.tensor(n, true)).collect();
            check(&op, &inputs, len);
        }
    }
}

#[test]
fn attention_kernels_match_the_reference_through_a_forward_and_backward_pass() {
    let mut values = Values(0xA77E_4710_5EED_0002);
    for shape in ATTENTION {
        let g = geometry(shape);
        let (acts, scores, rows) = (g.activations(), g.scores(), g.batch * g.heads * g.seq);
        // Unit-sized activations, as a layer norm gives them.
        let mut unit = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let r = values.next_u64();
                    ((r >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
                })
                .collect()
        };
        let (q, k, v, d_out) = (unit(acts), unit(acts), unit(acts), unit(acts));

        let s = reference(&Op::AttnScores(g), &[q.clone(), k.clone()], scores);
        check(&Op::AttnScores(g), &[q.clone(), k.clone()], scores);
        let stats = reference(&Op::AttnSoftmaxStats(g), std::slice::from_ref(&s), 2 * rows);
        check(&Op::AttnSoftmaxStats(g), std::slice::from_ref(&s), 2 * rows);
        let p = reference(&Op::AttnSoftmax(g), &[s.clone(), stats.clone()], scores);
        check(&Op::AttnSoftmax(g), &[s, stats], scores);
        assert_informative("P", &p);
        let o = reference(&Op::AttnContext(g), &[p.clone(), v.clone()], acts);
        check(&Op::AttnContext(g), &[p.clone(), v.clone()], acts);
        assert_informative("O", &o);

        let dp = reference(&Op::AttnProbsGrad(g), &[d_out.clone(), v.clone()], scores);
        check(&Op::AttnProbsGrad(g), &[d_out.clone(), v], scores);
        check(&Op::AttnValueGrad(g), &[p.clone(), d_out.clone()], acts);
        assert_informative(
            "dV",
            &reference(&Op::AttnValueGrad(g), &[p.clone(), d_out], acts),
        );
        let dot = reference(&Op::AttnSoftmaxDot(g), &[p.clone(), dp.clone()], rows);
        check(&Op::AttnSoftmaxDot(g), &[p.clone(), dp.clone()], rows);
        let grad_inputs = [p, dp, dot];
        let ds = reference(&Op::AttnSoftmaxGrad(g), &grad_inputs, scores);
        check(&Op::AttnSoftmaxGrad(g), &grad_inputs, scores);
        check(&Op::AttnQueryGrad(g), &[ds.clone(), k.clone()], acts);
        check(&Op::AttnKeyGrad(g), &[ds.clone(), q.clone()], acts);
        if g.seq > 1 {
            // With one position the scores' gradient is exactly zero.
            assert_informative("dS", &ds);
            assert_informative("dQ", &reference(&Op::AttnQueryGrad(g), &[ds, k], acts));
        }
    }
}

/// Token ids in `[0, vocab)` with, every seventh, a value no entry selects
/// (out of range, fractional, NaN, infinite) or `−0` (which selects entry 0).
fn tokens(values: &mut Values, len: usize, vocab: usize) -> Vec<f32> {
    let odd = [
        vocab as f32,
        2.5,
        f32::NAN,
        -0.0,
        -1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e30,
        0.5,
    ];
    (0..len)
        .map(|_| {
            let r = values.next_u64();
            if r.is_multiple_of(7) {
                odd[(r >> 8) as usize % odd.len()]
            } else {
                (r % vocab as u64) as f32
            }
        })
        .collect()
}

#[test]
fn embedding_kernels_match_the_reference() {
    let mut values = Values(0xE3B3_D000_5EED_0003);
    // (batch, seq, vocab, dim): small vocabularies, so each entry's gradient
    // sums several positions.
    for (batch, seq, vocab, dim) in [
        (1, 1, 1, 1),
        (3, 4, 6, 5),
        (2, 17, 3, 4),
        (1, 9, 2, 16),
        (4, 64, 11, 33),
    ] {
        let g = EmbeddingGeometry {
            batch,
            seq,
            vocab,
            dim,
        };
        for edges in [false, true] {
            let tokens = tokens(&mut values, batch * seq, vocab);
            let table = values.tensor(vocab * dim, edges);
            let positions = values.tensor(seq * dim, edges);
            let dy = values.tensor(batch * seq * dim, edges);
            let inputs = [tokens.clone(), table, positions];
            check(&Op::Embed(g), &inputs, batch * seq * dim);
            check(&Op::EmbedGrad(g), &[tokens, dy], vocab * dim);
            if !edges {
                let grad = reference(
                    &Op::EmbedGrad(g),
                    &[inputs[0].clone(), values.tensor(batch * seq * dim, false)],
                    vocab * dim,
                );
                assert_informative("dE", &grad);
            }
        }
    }
}

#[test]
fn embedding_ids_above_2_pow_24_select_every_entry_that_rounds_to_them() {
    // Above 2^24 the ids `v as f32` round, so one token selects up to three
    // entries, summed in ascending order; at 2^24 + 4: 2^24 + 3, + 4, + 5.
    let base = 1usize << 24;
    let g = EmbeddingGeometry {
        batch: 1,
        seq: 8,
        vocab: base + 700,
        dim: 1,
    };
    let tokens: Vec<f32> = [
        base as f32,
        (base + 4) as f32,
        (base + 2) as f32,
        (base - 1) as f32,
        (base + 698) as f32,
        (base + 700) as f32,
        (base + 702) as f32,
        0.0,
    ]
    .to_vec();
    let mut values = Values(0xB16_70C3_5EED_0004);
    let table = values.tensor(g.vocab, false);
    let positions = values.tensor(g.seq, false);
    check(&Op::Embed(g), &[tokens.clone(), table, positions], g.seq);
    let dy = values.tensor(g.seq, false);
    check(&Op::EmbedGrad(g), &[tokens, dy], g.vocab);
}
