//! The transformer ops and layers: every fast kernel equals the reference
//! evaluator bit for bit, and a small GPT trains to the same bits at every
//! SIMD level and thread count and learns its text.

use crate::kernels_vs_reference::{check, values};
use vtrain_proof_of_learning::repops::{AttentionGeometry, EmbeddingGeometry, Op};
use vtrain_proof_of_learning::spec::ModelSpec;
use vtrain_proof_of_learning::train::generate;
use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};

/// Token ids in `[0, vocab)` with, every seventh, a value no entry selects
/// (out of range, fractional, NaN) or `−0` (which selects entry 0).
fn tokens(seed: u64, len: usize, vocab: usize) -> Vec<f32> {
    let odd = [vocab as f32, 2.5, f32::NAN, -0.0, -1.0];
    (0..len)
        .map(|i| {
            let r = vtrain_proof_of_learning::prng::draw(seed, i as u64);
            if r.is_multiple_of(7) {
                odd[(r >> 8) as usize % odd.len()]
            } else {
                (r % vocab as u64) as f32
            }
        })
        .collect()
}

#[test]
fn transformer_kernels_match_the_reference() {
    // The second geometry's score tensors cross the parallel chunk size.
    for g in [
        AttentionGeometry {
            batch: 2,
            seq: 5,
            heads: 2,
            head_dim: 3,
        },
        AttentionGeometry {
            batch: 4,
            seq: 100,
            heads: 2,
            head_dim: 4,
        },
        // The activation-shaped ops (and the statistics) cross it too.
        AttentionGeometry {
            batch: 36,
            seq: 32,
            heads: 4,
            head_dim: 16,
        },
        // The other head widths whose sums the kernels keep in registers.
        AttentionGeometry {
            batch: 2,
            seq: 9,
            heads: 3,
            head_dim: 8,
        },
        AttentionGeometry {
            batch: 2,
            seq: 17,
            heads: 2,
            head_dim: 32,
        },
        AttentionGeometry {
            batch: 1,
            seq: 3,
            heads: 1,
            head_dim: 64,
        },
    ] {
        let (acts, scores) = (g.activations(), g.scores());
        let rows = g.batch * g.heads * g.seq;
        let ops: [(Op, Vec<usize>, usize); 10] = [
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
        ];
        for (seed, (op, lens, len)) in ops.into_iter().enumerate() {
            let inputs: Vec<Vec<f32>> = lens
                .iter()
                .enumerate()
                .map(|(slot, &n)| values(100 + 10 * seed as u64 + slot as u64, n))
                .collect();
            check(&op, &inputs, len);
        }
    }
    check(&Op::Add, &[values(1, 70_001), values(2, 70_001)], 70_001);

    // The embedding kernels index the table where the reference selects over
    // it; the forward crosses the parallel chunk size.
    for (batch, seq, vocab, dim) in [(3, 4, 6, 5), (4, 64, 11, 300)] {
        let g = EmbeddingGeometry {
            batch,
            seq,
            vocab,
            dim,
        };
        let tokens = tokens(7, batch * seq, vocab);
        let table = values(8, vocab * dim);
        let positions = values(9, seq * dim);
        check(
            &Op::Embed(g),
            &[tokens.clone(), table, positions],
            batch * seq * dim,
        );
        let dy = values(10, batch * seq * dim);
        check(&Op::EmbedGrad(g), &[tokens, dy], vocab * dim);
    }
}

/// A text of `len` bytes over a 32-letter alphabet with structure to learn:
/// words from a small list, spaces and full stops.
fn text(len: usize) -> Vec<u8> {
    const WORDS: [&str; 8] = ["to", "be", "or", "not", "that", "is", "the", "question"];
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0u64;
    while out.len() < len {
        let r = vtrain_proof_of_learning::prng::draw(42, i);
        out.extend_from_slice(WORDS[(r % 8) as usize].as_bytes());
        out.push(if r.is_multiple_of(5) { b'.' } else { b' ' });
        i += 1;
    }
    out.truncate(len);
    // Into a 32-token vocabulary: letters a..z are 1..=26, space 0, '.' 27.
    out.iter()
        .map(|&c| match c {
            b'a'..=b'z' => c - b'a' + 1,
            b'.' => 27,
            _ => 0,
        })
        .collect()
}

/// The stream cut into rows of `window` tokens sharing one token each
/// (`docs/commitments.md` § Text datasets), labels the rows' last tokens.
fn windows(tokens: &[u8], window: usize) -> Dataset {
    let stride = window - 1;
    let samples = (tokens.len() - 1) / stride;
    let mut x = Vec::with_capacity(samples * window);
    let mut y = Vec::with_capacity(samples);
    for i in 0..samples {
        let row = &tokens[i * stride..i * stride + window];
        x.extend(row.iter().map(|&t| f32::from(t)));
        y.push(f32::from(row[window - 1]));
    }
    let classes = y.iter().fold(0.0f32, |m, &v| m.max(v)) as usize + 1;
    Dataset {
        samples,
        features: window,
        classes,
        x,
        y,
    }
}

/// The small GPT (`examples/models/small-gpt.toml`) on 2,400 windows of the
/// synthetic text: AdamW with warm-up and cosine decay, clipping, 60 steps.
pub(crate) fn small_gpt() -> (JobSpec, Dataset) {
    let dataset = windows(&text(8 * 2_400 + 1), 9);
    let mut spec = crate::common::small_spec();
    spec.steps = 60;
    spec.checkpoint_interval = 20;
    spec.batch_size = 16;
    spec.clip_grad_norm = Some(1.0);
    spec.schedule =
        vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupCosine { warmup_steps: 6 };
    spec.dataset.root = dataset.root().to_hex();
    spec.dataset.samples = dataset.samples as u32;
    spec.dataset.features = 9;
    spec.dataset.classes = 32;
    spec.dataset.holdout = 200;
    spec.model =
        ModelSpec::from_toml(include_str!("../../../examples/models/small-gpt.toml")).unwrap();
    (spec, dataset)
}

fn gpt_trainer(level: Level, threads: usize) -> Trainer {
    let (spec, dataset) = small_gpt();
    Trainer::new(spec, dataset, Kernels::new(level, threads).unwrap()).unwrap()
}

const SMALL_GPT_GOLDEN: &str = "0x5f35b940afbc03486fe2184d677b79be02ff2be7920d0eb39eba7403b6e896d2";

#[test]
fn small_gpt_learns_and_gives_the_same_bits_everywhere() {
    let trainer = gpt_trainer(Level::Scalar, 1);
    let before = trainer.evaluate(&trainer.initial_state(), &trainer.order().test_rows());
    let outcome = trainer.train(|_, _, _| Ok(())).unwrap();
    let after = trainer.evaluate(&outcome.final_state, &trainer.order().test_rows());
    eprintln!(
        "small GPT: held-out loss {} -> {}, accuracy {} -> {}, root {}",
        before.loss,
        after.loss,
        before.accuracy,
        after.accuracy,
        outcome.trace_root.to_hex()
    );
    assert!(after.loss < before.loss - 0.5, "{before:?} -> {after:?}");

    // Sampling is seeded and deterministic, and stays in the vocabulary.
    let spec = trainer.spec();
    let kernels = Kernels::new(Level::Scalar, 1).unwrap();
    let params = &outcome.final_state.params;
    let sample = |seed| generate(spec, params, &kernels, &[20, 15, 0], 40, seed).unwrap();
    let first = sample(7);
    assert_eq!(first.len(), 40);
    assert!(first.iter().all(|&t| t < 32), "{first:?}");
    assert_eq!(first, sample(7));
    assert_ne!(first, sample(8));
    let letters: String = first
        .iter()
        .map(|&t| match t {
            0 => ' ',
            27 => '.',
            t => (b'a' + t as u8 - 1) as char,
        })
        .collect();
    eprintln!("small GPT says: to {letters}");
    assert!(
        generate(spec, params, &kernels, &[32], 1, 0).is_err(),
        "a token outside the vocabulary"
    );
    assert!(
        generate(spec, params, &kernels, &[], 1, 0).is_err(),
        "an empty prompt"
    );
    assert_eq!(outcome.trace_root.to_hex(), SMALL_GPT_GOLDEN);
    for level in Level::available() {
        for threads in [1, 2, 8] {
            let root = gpt_trainer(level, threads)
                .train(|_, _, _| Ok(()))
                .unwrap()
                .trace_root;
            assert_eq!(root.to_hex(), SMALL_GPT_GOLDEN, "{level} × {threads}");
        }
    }
}

/// The reference GPT job (`examples/shakespeare-gpt.toml`) on the bundled
/// corpus, shortened to `steps` steps (a quarter of them warm-up).
fn shakespeare_gpt(steps: u32) -> Trainer {
    let mut spec =
        JobSpec::from_toml(include_str!("../../../examples/shakespeare-gpt.toml")).unwrap();
    spec.steps = steps;
    spec.checkpoint_interval = steps / 2;
    spec.schedule = vtrain_proof_of_learning::repops::LrSchedule::LinearWarmupCosine {
        warmup_steps: steps / 4,
    };
    let corpus = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/data/shakespeare.txt.gz");
    let dataset = Dataset::from_text_file(&corpus, spec.dataset.features as usize).unwrap();
    Trainer::new(spec, dataset, Kernels::detect().unwrap()).unwrap()
}

/// The reference GPT job shortened to 40 steps (the whole job's root is in
/// `docs/benchmarks.md`, with the command that reproduces it).
const SHAKESPEARE_GPT_40_GOLDEN: &str =
    "0xe81aa8cca0918ae8f86dab8499a829bb58b86ddcfcc3ffe2e1ee1a9f9ae50eda";

#[test]
fn shakespeare_gpt_matches_its_golden_trace_root() {
    let trainer = shakespeare_gpt(40);
    let outcome = trainer.train(|_, _, _| Ok(())).unwrap();
    let (first, last) = (outcome.losses[0], outcome.losses[39]);
    // From about ln(128) ≈ 4.85 nats per byte at the start.
    assert!(first > 4.0 && last < first - 0.5, "{first} -> {last}");
    assert_eq!(outcome.trace_root.to_hex(), SHAKESPEARE_GPT_40_GOLDEN);
}

/// The chain's instruction word of a micro-step (`contracts/src/lib/StepWords.sol`),
/// as hex: the opcode in bits 0–7, operand `i` in the 62 bits from `8 + 62·i`
/// (its kind in bits 0–1, slot in 2–5, index or constant bits from bit 6).
fn word(opcode: u8, operands: &[vtrain_proof_of_learning::repops::Operand]) -> String {
    use vtrain_proof_of_learning::repops::Operand;
    let mut limbs = [0u64; 4]; // little-endian 64-bit limbs
    let mut put = |value: u64, offset: usize| {
        let (limb, shift) = (offset / 64, offset % 64);
        limbs[limb] |= value << shift;
        if shift > 0 && limb + 1 < 4 {
            limbs[limb + 1] |= value >> (64 - shift);
        }
    };
    put(u64::from(opcode), 0);
    for (i, operand) in operands.iter().enumerate() {
        let packed = match *operand {
            Operand::Input { slot, index } => 1 | u64::from(slot) << 2 | index << 6,
            Operand::Step(j) => 2 | u64::from(j) << 6,
            Operand::Const(bits) => 3 | u64::from(bits) << 6,
        };
        put(packed, 8 + 62 * i);
    }
    format!(
        "0x{:016x}{:016x}{:016x}{:016x}",
        limbs[3], limbs[2], limbs[1], limbs[0]
    )
}

/// Every element's program of every transformer op on small geometries, as
/// the chain's instruction words: `contracts/test/vectors/attention.json`,
/// which `AttentionPrograms.t.sol` checks `AttentionPrograms` against word for
/// word (a program without steps is one copy word).
#[test]
fn attention_program_vectors_match_the_contracts_copy() {
    // Every size distinct, so that no two can be swapped unnoticed.
    let g = AttentionGeometry {
        batch: 2,
        seq: 4,
        heads: 3,
        head_dim: 5,
    };
    let e = EmbeddingGeometry {
        batch: 2,
        seq: 3,
        vocab: 5,
        dim: 4,
    };
    let attention_word = |g: &AttentionGeometry| {
        g.batch as u128
            | (g.seq as u128) << 32
            | (g.heads as u128) << 64
            | (g.head_dim as u128) << 96
    };
    let embedding_word = |e: &EmbeddingGeometry| {
        e.batch as u128 | (e.seq as u128) << 32 | (e.vocab as u128) << 64 | (e.dim as u128) << 96
    };
    let (acts, scores, rows) = (g.activations(), g.scores(), g.batch * g.heads * g.seq);
    let tokens = e.batch * e.seq;
    // (chain opcode, geometry word, the Rust op, its input lengths, its output length)
    let cases: Vec<(u8, u128, Op, Vec<usize>, usize)> = vec![
        (35, attention_word(&g), Op::Add, vec![acts, acts], acts),
        (
            36,
            embedding_word(&e),
            Op::Embed(e),
            vec![tokens, e.vocab * e.dim, e.seq * e.dim],
            tokens * e.dim,
        ),
        (
            37,
            embedding_word(&e),
            Op::EmbedGrad(e),
            vec![tokens, tokens * e.dim],
            e.vocab * e.dim,
        ),
        (
            38,
            embedding_word(&e),
            Op::BiasGrad {
                m: e.batch,
                o: e.seq * e.dim,
            },
            vec![tokens * e.dim],
            e.seq * e.dim,
        ),
        (
            39,
            attention_word(&g),
            Op::AttnScores(g),
            vec![acts, acts],
            scores,
        ),
        (
            40,
            attention_word(&g),
            Op::AttnSoftmaxStats(g),
            vec![scores],
            2 * rows,
        ),
        (
            41,
            attention_word(&g),
            Op::AttnSoftmax(g),
            vec![scores, 2 * rows],
            scores,
        ),
        (
            42,
            attention_word(&g),
            Op::AttnContext(g),
            vec![scores, acts],
            acts,
        ),
        (
            43,
            attention_word(&g),
            Op::AttnProbsGrad(g),
            vec![acts, acts],
            scores,
        ),
        (
            44,
            attention_word(&g),
            Op::AttnValueGrad(g),
            vec![scores, acts],
            acts,
        ),
        (
            45,
            attention_word(&g),
            Op::AttnSoftmaxDot(g),
            vec![scores, scores],
            rows,
        ),
        (
            46,
            attention_word(&g),
            Op::AttnSoftmaxGrad(g),
            vec![scores, scores, rows],
            scores,
        ),
        (
            47,
            attention_word(&g),
            Op::AttnQueryGrad(g),
            vec![scores, acts],
            acts,
        ),
        (
            48,
            attention_word(&g),
            Op::AttnKeyGrad(g),
            vec![scores, acts],
            acts,
        ),
    ];
    let (mut ops, mut geometries, mut elements, mut lengths, mut words) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (opcode, geometry, op, lens, len) in &cases {
        let inputs: Vec<Vec<f32>> = lens.iter().map(|&n| values(3, n)).collect();
        let slices: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        for element in 0..*len {
            let trace = op.reference_element(&slices, element);
            ops.push(opcode.to_string());
            geometries.push(format!("\"0x{geometry:x}\""));
            elements.push(element.to_string());
            lengths.push(trace.steps.len().to_string());
            if trace.steps.is_empty() {
                let copied = trace
                    .copied
                    .expect("a program without steps copies an operand");
                words.push(format!("\"{}\"", word(0, &[copied])));
            }
            for step in &trace.steps {
                let operands = &step.operands[..step.opcode.arity()];
                words.push(format!("\"{}\"", word(step.opcode as u8, operands)));
            }
        }
    }
    let text = format!(
        "{{\n  \"ops\": [{}],\n  \"geometries\": [{}],\n  \"elements\": [{}],\n  \"lengths\": [{}],\n  \"words\": [\n    {}\n  ]\n}}\n",
        ops.join(", "),
        geometries.join(", "),
        elements.join(", "),
        lengths.join(", "),
        words.join(",\n    ")
    );
    crate::common::check_vector_file(
        "contracts/test/vectors/attention.json",
        &text,
        "attention_program_vectors",
    );
}

/// `edit` applied to the reference GPT must be refused with an error holding
/// every one of `words`.
fn gpt_refused(edit: impl Fn(&str) -> String, words: &[&str]) {
    let base = include_str!("../../../examples/shakespeare-gpt.toml");
    crate::common::refused_edit(base, edit, words);
}

#[test]
fn transformer_spec_errors_name_the_layer_and_the_mismatch() {
    gpt_refused(
        |s| s.replacen("heads = 4", "heads = 5", 1),
        &[
            "layer 1.1 (causal_self_attention)",
            "width 64 is not a multiple of 5 heads",
        ],
    );
    gpt_refused(
        |s| s.replacen("heads = 4", "heads = 0", 1),
        &["layer 1.1 (causal_self_attention)", "heads must be in"],
    );
    gpt_refused(
        |s| s.replacen("dim = 64", "dim = 0", 1),
        &["layer 0 (embedding)", "dim must be in"],
    );
    // The MLP's last linear gives 32 values: the residual add needs 64.
    gpt_refused(
        |s| {
            s.replacen(
                "{ kind = \"linear\", out = 64 }",
                "{ kind = \"linear\", out = 32 }",
                1,
            )
        },
        &["layer 2 (residual)", "[64, 32]", "[64, 64]", "same shape"],
    );
    gpt_refused(
        |s| {
            s.replacen(
                "  { kind = \"layer_norm\" },\n  { kind = \"causal_self_attention\", heads = 4 },\n]",
                "  { kind = \"residual\", layers = [{ kind = \"gelu\" }] },\n]",
                1,
            )
        },
        &["layer 1.0 (residual)", "cannot hold another"],
    );
    gpt_refused(
        |s| {
            s.replacen("layers = [\n  { kind = \"layer_norm\" },\n  { kind = \"causal_self_attention\", heads = 4 },\n]", "layers = []", 1)
        },
        &["residual block needs at least one layer"],
    );
    // An embedding reads token ids: only as the first layer.
    gpt_refused(
        |s| {
            s.replacen(
                "[[model.layers]]\nkind = \"layer_norm\"\n",
                "[[model.layers]]\nkind = \"embedding\"\ndim = 8\n",
                1,
            )
        },
        &["layer 5 (embedding)", "must be the first layer"],
    );
    // The head must give one logit per vocabulary entry at every position.
    gpt_refused(
        |s| s.replace("out = 128", "out = 100"),
        &[
            "the last layer gives [64, 100]",
            "needs [64, 128]",
            "at every position",
        ],
    );
    gpt_refused(
        |s| s.replace("input = [64]", "input = [65]"),
        &[
            "model.input",
            "a next_token model reads 64 of each row's 65",
        ],
    );
    gpt_refused(
        |s| s.replace("batch_size = 16", "batch_size = 40000000"),
        &["batch_size"],
    );
}

#[test]
fn transformer_specs_round_trip_through_canonical_bytes() {
    let spec = JobSpec::from_toml(include_str!("../../../examples/shakespeare-gpt.toml")).unwrap();
    let bytes = spec.canonical_bytes();
    assert_eq!(JobSpec::from_canonical_bytes(&bytes).unwrap(), spec);
    // A residual block inside a residual block does not decode either.
    let plan = spec.model_plan().unwrap();
    assert_eq!(plan.param_shapes.len(), 2 + 2 * (2 + 8 + 2 + 4) + 4);
    assert_eq!(spec.param_count(), 120_704);
}

#[test]
fn programs_and_prng_streams_stay_within_their_bounds() {
    // 63 attention layers after an embedding: 506 parameter tensors, more
    // than the 256 PRNG sub-streams of the initial weights.
    let base = include_str!("../../../examples/shakespeare-gpt.toml");
    let start = base.find("[[model.layers]]").unwrap();
    let end = base.find("[optimizer]").unwrap();
    let mut layers = String::from("[[model.layers]]\nkind = \"embedding\"\ndim = 8\n\n");
    for _ in 0..62 {
        layers += "[[model.layers]]\nkind = \"causal_self_attention\"\nheads = 2\n\n";
    }
    layers += "[[model.layers]]\nkind = \"linear\"\nout = 128\n\n";
    let text = format!("{}{layers}{}", &base[..start], &base[end..]);
    let error = JobSpec::from_toml(&text).unwrap_err().to_string();
    assert!(
        error.contains("parameter tensors, above the limit of 256"),
        "{error}"
    );

    // A linear layer over 2^24 rows per sample at batch 256: its weight
    // gradient would sum 2^32 steps.
    let wide = base
        .replace("features = 65", "features = 4097")
        .replace("input = [64]", "input = [4096]");
    let start = wide.find("[[model.layers]]").unwrap();
    let end = wide.find("[optimizer]").unwrap();
    let layers = "[[model.layers]]\nkind = \"embedding\"\ndim = 4096\n\n\
                  [[model.layers]]\nkind = \"reshape\"\nshape = [16777216, 1]\n\n\
                  [[model.layers]]\nkind = \"linear\"\nout = 1\n\n\
                  [[model.layers]]\nkind = \"reshape\"\nshape = [4096, 4096]\n\n\
                  [[model.layers]]\nkind = \"linear\"\nout = 128\n\n";
    let text = format!("{}{layers}{}", &wide[..start], &wide[end..])
        .replace("batch_size = 16", "batch_size = 256");
    let error = JobSpec::from_toml(&text).unwrap_err().to_string();
    assert!(
        error.contains("(linear): batch × rows = 4294967296 is above 2^31"),
        "{error}"
    );
}
