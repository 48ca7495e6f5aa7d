//! Commitments: tensor Merkle roots, element proofs, tensor lists, state roots
//! and trace roots. Normative text: `docs/commitments.md`.
//!
//! - A tensor's canonical bytes are its f32 values, little-endian, NaN as
//!   [`CANONICAL_NAN`]. They are cut into leaves of [`LEAF_VALUES`] values
//!   (1 KiB), the last one zero-padded; `leaf = keccak(0x00 ‖ 1024 bytes)`.
//! - A Merkle tree over `n` hashes pads to the next power of two with
//!   [`pad_node`]; `node = keccak(0x01 ‖ left ‖ right)`.
//! - `tensor root = keccak("vtrain.tensor.v1" ‖ u32 ndim ‖ u64 dim… ‖ merkle)`,
//!   so the root binds the shape and hence the length.

use crate::hash::{Hash32, keccak, tag};
use crate::repops::CANONICAL_NAN;
use rayon::prelude::*;

/// Values per Merkle leaf: 256 f32 = 1 KiB.
pub const LEAF_VALUES: usize = 256;

/// Values per leaf of a micro-trace (`docs/commitments.md` § Micro-trace
/// commitment): 32 f32 = 128 bytes. A one-step proof ships the leaf of every
/// micro-trace operand, so a small leaf keeps its calldata small; a
/// micro-trace root is made per dispute, never stored in a state or trace
/// root, so its leaf size is free of the tensors'.
pub const MICRO_LEAF_VALUES: usize = 32;

/// The hash standing in for absent leaves and subtrees: `keccak("vtrain.pad.v1")`.
pub fn pad_node() -> Hash32 {
    keccak(&[b"vtrain.pad.v1"])
}

/// The canonical little-endian bytes of one value.
#[inline(always)]
pub fn canonical_bits(value: f32) -> u32 {
    if value.is_nan() {
        CANONICAL_NAN
    } else {
        value.to_bits()
    }
}

/// The hash of one leaf of up to [`LEAF_VALUES`] values.
pub fn leaf_hash(values: &[f32]) -> Hash32 {
    hash_leaf::<{ 1 + LEAF_VALUES * 4 }>(values)
}

/// The hash of one micro-trace leaf of up to [`MICRO_LEAF_VALUES`] values:
/// `keccak(0x00 ‖ 128 bytes)`, a tensor leaf's rule at a micro leaf's size.
pub fn micro_leaf_hash(values: &[f32]) -> Hash32 {
    hash_leaf::<{ 1 + MICRO_LEAF_VALUES * 4 }>(values)
}

/// `keccak(0x00 ‖ values, zero-padded to BYTES − 1 bytes)`.
fn hash_leaf<const BYTES: usize>(values: &[f32]) -> Hash32 {
    debug_assert!(4 * values.len() < BYTES);
    let mut bytes = [0u8; BYTES];
    bytes[0] = tag::LEAF;
    for (i, &value) in values.iter().enumerate() {
        bytes[1 + 4 * i..5 + 4 * i].copy_from_slice(&canonical_bits(value).to_le_bytes());
    }
    keccak(&[&bytes])
}

/// The leaf hashes of a micro-trace's committed results (x_0 … x_{n−2}).
pub fn micro_leaves(values: &[f32]) -> Vec<Hash32> {
    if values.is_empty() {
        return vec![micro_leaf_hash(&[])];
    }
    values
        .chunks(MICRO_LEAF_VALUES)
        .map(micro_leaf_hash)
        .collect()
}

/// An inner node.
#[inline]
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    keccak(&[&[tag::NODE], &left.0, &right.0])
}

/// The leaf hashes of a tensor, hashed in parallel.
pub fn tensor_leaves(values: &[f32]) -> Vec<Hash32> {
    if values.is_empty() {
        return vec![leaf_hash(&[])];
    }
    values.par_chunks(LEAF_VALUES).map(leaf_hash).collect()
}

/// The root of a Merkle tree over `leaves`, padded to a power of two.
pub fn merkle_root(leaves: &[Hash32]) -> Hash32 {
    let mut level = leaves.to_vec();
    if level.is_empty() {
        return pad_node();
    }
    let pad = pad_node();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(pad);
        }
        level = if level.len() >= 1024 {
            level
                .par_chunks(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect()
        } else {
            level
                .chunks(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect()
        };
    }
    level[0]
}

/// The sibling path of leaf `index`, bottom-up.
pub fn merkle_proof(leaves: &[Hash32], index: usize) -> Vec<Hash32> {
    let pad = pad_node();
    let mut level = leaves.to_vec();
    let mut index = index;
    let mut siblings = Vec::new();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(pad);
        }
        siblings.push(level[index ^ 1]);
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
        index /= 2;
    }
    siblings
}

/// Folds a sibling path from `leaf` at `index` up to the root.
pub fn fold_proof(leaf: Hash32, index: usize, siblings: &[Hash32]) -> Hash32 {
    let mut node = leaf;
    let mut index = index;
    for sibling in siblings {
        node = if index.is_multiple_of(2) {
            node_hash(&node, sibling)
        } else {
            node_hash(sibling, &node)
        };
        index /= 2;
    }
    node
}

/// The root binding a Merkle root to a shape.
pub fn bind_shape(shape: &[usize], merkle: &Hash32) -> Hash32 {
    let mut header = Vec::with_capacity(4 + 8 * shape.len());
    header.extend_from_slice(&(shape.len() as u32).to_be_bytes());
    for &dim in shape {
        header.extend_from_slice(&(dim as u64).to_be_bytes());
    }
    keccak(&[tag::TENSOR, &header, &merkle.0])
}

/// The root of a tensor of `shape` holding `values` (row-major).
pub fn tensor_root(shape: &[usize], values: &[f32]) -> Hash32 {
    debug_assert_eq!(shape.iter().product::<usize>(), values.len());
    bind_shape(shape, &merkle_root(&tensor_leaves(values)))
}

/// The root of an ordered list of tensor roots (weights, optimizer moments, the
/// intermediates of a step): `keccak("vtrain.tensors.v1" ‖ u64 count ‖ merkle(roots))`.
pub fn tensor_list_root(roots: &[Hash32]) -> Hash32 {
    keccak(&[
        tag::TENSOR_LIST,
        &(roots.len() as u64).to_be_bytes(),
        &merkle_root(roots).0,
    ])
}

/// The model root of weights `params` with shapes `shapes`: the tensor-list
/// root of their tensor roots, which is the weights list root of a state and
/// what the market commits as a finished job's `modelRoot`.
pub fn model_root(shapes: &[Vec<usize>], params: &[Vec<f32>]) -> Hash32 {
    let roots: Vec<Hash32> = shapes
        .iter()
        .zip(params)
        .map(|(shape, values)| tensor_root(shape, values))
        .collect();
    tensor_list_root(&roots)
}

/// A proof that one element of a committed tensor has a given value: the
/// element's whole leaf and the leaf's sibling path.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementProof {
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// The element's flat index.
    pub index: usize,
    /// The values of the element's leaf (up to 256).
    pub leaf_values: Vec<f32>,
    /// Sibling hashes from the leaf up.
    pub siblings: Vec<Hash32>,
}

impl ElementProof {
    /// Builds the proof of element `index`.
    pub fn new(shape: &[usize], values: &[f32], index: usize) -> Option<Self> {
        if index >= values.len() {
            return None;
        }
        let leaves = tensor_leaves(values);
        let leaf = index / LEAF_VALUES;
        let start = leaf * LEAF_VALUES;
        let end = (start + LEAF_VALUES).min(values.len());
        Some(Self {
            shape: shape.to_vec(),
            index,
            leaf_values: values[start..end].to_vec(),
            siblings: merkle_proof(&leaves, leaf),
        })
    }

    /// The proven value.
    pub fn value(&self) -> f32 {
        self.leaf_values[self.index % LEAF_VALUES]
    }

    /// Whether the proof opens `root`: the index is inside the shape, the leaf
    /// has the length the shape implies, and the path folds to the root.
    pub fn verify(&self, root: &Hash32) -> bool {
        let len: usize = self.shape.iter().product();
        let leaf = self.index / LEAF_VALUES;
        let expected_len = LEAF_VALUES.min(len.saturating_sub(leaf * LEAF_VALUES));
        let leaves = len.div_ceil(LEAF_VALUES).max(1);
        let depth = leaves.next_power_of_two().trailing_zeros() as usize;
        if self.index >= len
            || self.leaf_values.len() != expected_len
            || self.siblings.len() != depth
        {
            return false;
        }
        let merkle = fold_proof(leaf_hash(&self.leaf_values), leaf, &self.siblings);
        bind_shape(&self.shape, &merkle) == *root
    }
}

/// The state root at step t (see `docs/commitments.md` § State root).
pub fn state_root(
    job_hash: &Hash32,
    step: u64,
    data_cursor: u64,
    rng_key: u64,
    weights_root: &Hash32,
    optimizer_root: &Hash32,
) -> Hash32 {
    keccak(&[
        tag::STATE,
        &job_hash.0,
        &step.to_be_bytes(),
        &data_cursor.to_be_bytes(),
        &rng_key.to_be_bytes(),
        &weights_root.0,
        &optimizer_root.0,
    ])
}

/// Everything a state root hashes, by name (`docs/commitments.md` § State
/// root): the job, the step, the data cursor and the RNG key (all fixed by the
/// job and the step, never chosen by a party), and the two list roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateHeader {
    /// The job hash.
    pub job_hash: Hash32,
    /// The steps taken.
    pub step: u64,
    /// Samples consumed so far (`step · batch`).
    pub data_cursor: u64,
    /// The key of the per-epoch shuffle stream.
    pub rng_key: u64,
    /// The weights list root.
    pub weights_root: Hash32,
    /// The optimizer-state list root.
    pub optimizer_root: Hash32,
}

impl StateHeader {
    /// The state root.
    pub fn root(&self) -> Hash32 {
        state_root(
            &self.job_hash,
            self.step,
            self.data_cursor,
            self.rng_key,
            &self.weights_root,
            &self.optimizer_root,
        )
    }
}

/// The trace-root leaf of checkpoint `index`.
pub fn trace_leaf(index: u64, state_root: &Hash32) -> Hash32 {
    keccak(&[tag::TRACE_LEAF, &index.to_be_bytes(), &state_root.0])
}

/// The trace root over the state roots of checkpoints 0, k, 2k, …, T.
pub fn trace_root(checkpoint_roots: &[Hash32]) -> Hash32 {
    let leaves = trace_leaves(checkpoint_roots);
    keccak(&[
        tag::TRACE,
        &(leaves.len() as u64).to_be_bytes(),
        &merkle_root(&leaves).0,
    ])
}

/// The inclusion proof of checkpoint `index` in a trace root: the leaf's
/// sibling path (the trace root is then `keccak(TRACE ‖ count ‖ fold)`).
pub fn trace_proof(checkpoint_roots: &[Hash32], index: usize) -> Vec<Hash32> {
    merkle_proof(&trace_leaves(checkpoint_roots), index)
}

fn trace_leaves(checkpoint_roots: &[Hash32]) -> Vec<Hash32> {
    checkpoint_roots
        .iter()
        .enumerate()
        .map(|(i, root)| trace_leaf(i as u64, root))
        .collect()
}

/// The root of the subtree at (`depth`, `index`) of a Merkle tree over
/// `leaves`, with `pad` for absent leaves.
pub fn subtree(leaves: &[Hash32], depth: u32, index: u64) -> Hash32 {
    let first = index << depth;
    if first >= leaves.len() as u64 {
        return pad_node();
    }
    if depth == 0 {
        return leaves[index as usize];
    }
    node_hash(
        &subtree(leaves, depth - 1, 2 * index),
        &subtree(leaves, depth - 1, 2 * index + 1),
    )
}

/// A 1 KiB leaf of `values` (little-endian canonical f32, zero-padded).
pub fn leaf_bytes(values: &[f32], leaf: usize) -> Vec<u8> {
    leaf_bytes_of(values, leaf, LEAF_VALUES)
}

/// A 128-byte micro-trace leaf of `values` (as [`leaf_bytes`]).
pub fn micro_leaf_bytes(values: &[f32], leaf: usize) -> Vec<u8> {
    leaf_bytes_of(values, leaf, MICRO_LEAF_VALUES)
}

fn leaf_bytes_of(values: &[f32], leaf: usize, width: usize) -> Vec<u8> {
    let mut out = vec![0u8; 4 * width];
    for (i, v) in values.iter().skip(leaf * width).take(width).enumerate() {
        let bits = canonical_bits(*v);
        out[4 * i..4 * i + 4].copy_from_slice(&bits.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_of_full_depth_is_the_merkle_root_and_leaves_are_1_kib() {
        for n in 1usize..=9 {
            let leaves: Vec<Hash32> = (0..n as u8).map(|i| keccak(&[&[i]])).collect();
            let depth = n.next_power_of_two().trailing_zeros();
            assert_eq!(
                subtree(&leaves, depth, 0),
                merkle_root(&leaves),
                "{n} leaves"
            );
        }
        assert_eq!(subtree(&[], 0, 0), pad_node());
        let values: Vec<f32> = (0..300).map(|i| i as f32).collect();
        let second = leaf_bytes(&values, 1);
        assert_eq!(second.len(), 1024);
        assert_eq!(&second[..4], &256f32.to_le_bytes());
        assert!(second[44 * 4..].iter().all(|&b| b == 0), "zero-padded");
        assert_eq!(leaf_hash(&values[256..]), keccak(&[&[tag::LEAF], &second]));
    }

    #[test]
    fn every_element_proof_verifies_and_tampering_fails() {
        for len in [1usize, 255, 256, 257, 1000, 1024, 3000] {
            let values: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 7.0).collect();
            let shape = [len];
            let root = tensor_root(&shape, &values);
            for index in [0, len / 2, len - 1] {
                let proof = ElementProof::new(&shape, &values, index).unwrap();
                assert!(proof.verify(&root), "len {len} index {index}");
                assert_eq!(proof.value(), values[index]);
                let mut tampered = proof.clone();
                tampered.leaf_values[index % LEAF_VALUES] =
                    f32::from_bits(values[index].to_bits() ^ 1);
                assert!(!tampered.verify(&root), "one ulp off must fail");
                let mut moved = proof.clone();
                moved.index = len;
                assert!(!moved.verify(&root));
            }
        }
    }

    #[test]
    fn shape_and_padding_are_bound() {
        let values = vec![1.0f32; 6];
        assert_ne!(tensor_root(&[2, 3], &values), tensor_root(&[3, 2], &values));
        assert_ne!(
            tensor_root(&[6], &values),
            tensor_root(&[7], &[values.clone(), vec![0.0]].concat())
        );
        let nan_a = f32::from_bits(0x7FC0_0000);
        let nan_b = f32::from_bits(0xFFC1_2345);
        assert_eq!(tensor_root(&[1], &[nan_a]), tensor_root(&[1], &[nan_b]));
    }

    #[test]
    fn leaf_and_node_domains_differ() {
        let a = leaf_hash(&[1.0]);
        let b = leaf_hash(&[2.0]);
        assert_ne!(node_hash(&a, &b), a);
        assert_ne!(merkle_root(&[a]), node_hash(&a, &pad_node()));
        assert_eq!(merkle_root(&[a, b]), node_hash(&a, &b));
        assert_eq!(
            merkle_root(&[a, b, a]),
            node_hash(&node_hash(&a, &b), &node_hash(&a, &pad_node()))
        );
    }

    #[test]
    fn trace_proofs_fold_to_the_root() {
        let roots: Vec<Hash32> = (0..7u8).map(|i| keccak(&[&[i]])).collect();
        let merkle = merkle_root(
            &roots
                .iter()
                .enumerate()
                .map(|(i, r)| trace_leaf(i as u64, r))
                .collect::<Vec<_>>(),
        );
        for i in 0..roots.len() {
            let path = trace_proof(&roots, i);
            assert_eq!(
                fold_proof(trace_leaf(i as u64, &roots[i]), i, &path),
                merkle
            );
        }
    }
}
