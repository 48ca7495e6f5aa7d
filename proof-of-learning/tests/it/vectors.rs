//! The commitment vectors shared with the contracts (`contracts/test/vectors/commitments.json`).
//!
//! The Rust side computes every layout of `docs/commitments.md` here and the Solidity side
//! (`contracts/test/Commitments.t.sol`) recomputes them from the same inputs, so both sides
//! are tested against one file. The file is checked in; this test fails when it drifts, and
//! `VTRAIN_BLESS=1 cargo test -p vtrain-proof-of-learning --test it vectors` rewrites it.

use serde_json::{Value, json};
use vtrain_proof_of_learning::commit::{
    ElementProof, leaf_hash, merkle_root, micro_leaf_bytes, micro_leaf_hash, micro_leaves,
    state_root, tensor_leaves, tensor_list_root, tensor_root, trace_proof, trace_root,
};
use vtrain_proof_of_learning::prng::{derive_key, draw, purpose};
use vtrain_proof_of_learning::{Dataset, Hash32, JobSpec};

fn hex(bytes: &[u8]) -> String {
    format!(
        "0x{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn h(hash: &Hash32) -> String {
    hex(&hash.0)
}

/// 300 values over two leaves, with the awkward ones: −0, a NaN with a payload, ±∞, subnormals.
fn sample_tensor() -> Vec<f32> {
    (0..300u32)
        .map(|i| match i {
            3 => -0.0,
            5 => f32::from_bits(0x7FA0_0001),
            7 => f32::INFINITY,
            11 => f32::NEG_INFINITY,
            13 => f32::from_bits(1),
            _ => (i as f32 - 150.0) * 0.37,
        })
        .collect()
}

fn leaf_bytes(values: &[f32]) -> String {
    let mut bytes = vec![0u8; 1024];
    for (i, v) in values.iter().enumerate() {
        let bits = vtrain_proof_of_learning::commit::canonical_bits(*v);
        bytes[4 * i..4 * i + 4].copy_from_slice(&bits.to_le_bytes());
    }
    hex(&bytes)
}

fn vectors() -> Value {
    let spec_text = include_str!("../../../examples/digits-mlp.toml");
    let spec = JobSpec::from_toml(spec_text).unwrap();
    let dataset = Dataset::digits().unwrap();

    let values = sample_tensor();
    let shape = [3usize, 100];
    let root = tensor_root(&shape, &values);
    let proof = ElementProof::new(&shape, &values, 257).unwrap();
    assert!(proof.verify(&root));
    let leaves = tensor_leaves(&values);

    let list: Vec<Hash32> = (0..3)
        .map(|i| tensor_root(&[i + 1], &values[..i + 1]))
        .collect();
    let checkpoints: Vec<Hash32> = (0..5u8).map(|i| Hash32([i + 1; 32])).collect();
    let rng_key = derive_key(spec.seed, purpose::SHUFFLE);
    let job_hash = spec.job_hash();
    let weights = tensor_list_root(&list[..2]);
    let optimizer = tensor_list_root(&list[2..]);

    json!({
        "spec": hex(&spec.canonical_bytes()),
        "jobHash": h(&job_hash),
        "seed": spec.seed.to_string(),
        "rngKey": rng_key.to_string(),
        "draws": [draw(1_234_567, 0).to_string(), draw(1_234_567, 1).to_string(), draw(1_234_567, 2).to_string()],
        "tensor": {
            "leaf0": leaf_bytes(&values[..256]),
            "leaf1": leaf_bytes(&values[256..]),
            "leafHash0": h(&leaf_hash(&values[..256])),
            "merkle": h(&merkle_root(&leaves)),
            "root": h(&root),
            "proofSibling": h(&proof.siblings[0]),
            "element257Bits": vtrain_proof_of_learning::commit::canonical_bits(values[257]),
            "nanBits": vtrain_proof_of_learning::commit::canonical_bits(values[5]),
        },
        // A micro-trace of 70 results x_0 … x_69 (its committed prefix): three
        // 128-byte leaves, the last one zero-padded.
        "micro": {
            "leaf2": hex(&micro_leaf_bytes(&values[..70], 2)),
            "leafHash2": h(&micro_leaf_hash(&values[64..70])),
            "merkle": h(&merkle_root(&micro_leaves(&values[..70]))),
            "value65Bits": vtrain_proof_of_learning::commit::canonical_bits(values[65]),
        },
        "list": {
            "roots": list.iter().map(h).collect::<Vec<_>>(),
            "root": h(&tensor_list_root(&list)),
            "merkle": h(&merkle_root(&list)),
        },
        "state": {
            "step": 100u64,
            "cursor": 100u64 * u64::from(spec.batch_size),
            "weights": h(&weights),
            "optimizer": h(&optimizer),
            "root": h(&state_root(&job_hash, 100, 100 * u64::from(spec.batch_size), rng_key, &weights, &optimizer)),
        },
        "trace": {
            "checkpoints": checkpoints.iter().map(h).collect::<Vec<_>>(),
            "root": h(&trace_root(&checkpoints)),
            "proof3": trace_proof(&checkpoints, 3).iter().map(h).collect::<Vec<_>>(),
        },
        "dataset": {
            "samples": dataset.samples,
            "features": dataset.features,
            "classes": dataset.classes,
            "featuresRoot": h(&tensor_root(&[dataset.samples, dataset.features], &dataset.x)),
            "labelsRoot": h(&tensor_root(&[dataset.samples], &dataset.y)),
            "root": h(&dataset.root()),
        },
    })
}

#[test]
fn commitment_vectors_match_the_contracts_copy() {
    let text = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
    crate::common::check_vector_file("contracts/test/vectors/commitments.json", &text, "vectors");
}
