//! keccak256 and the domain tags that keep every committed structure distinct.
//!
//! Every hash vtrain commits to starts with a tag, so a value of one kind (a
//! leaf, an inner node, a state) can never be passed off as another. The byte
//! layouts are normative: `docs/commitments.md`.

use sha3::{Digest, Keccak256};
use std::fmt;

/// A 32-byte keccak256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The digest as `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses `0x`-prefixed (or bare) hex of exactly 32 bytes.
    pub fn from_hex(text: &str) -> Option<Self> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let bytes = hex::decode(digits).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// keccak256 over the concatenation of `parts`.
pub fn keccak(parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash32(hasher.finalize().into())
}

/// Domain tags: the first bytes of every committed preimage.
pub mod tag {
    /// A tensor Merkle leaf: `0x00 ‖ 1024 bytes`.
    pub const LEAF: u8 = 0x00;
    /// A Merkle inner node: `0x01 ‖ left ‖ right`.
    pub const NODE: u8 = 0x01;
    /// A tensor root: binds the Merkle root to the tensor's length and shape.
    pub const TENSOR: &[u8] = b"vtrain.tensor.v1";
    /// A list of tensor roots (the weights, the optimizer state, the intermediates of a step).
    pub const TENSOR_LIST: &[u8] = b"vtrain.tensors.v1";
    /// A training state at one step.
    pub const STATE: &[u8] = b"vtrain.state.v1";
    /// A trace-root leaf: one checkpoint's state root with its index.
    pub const TRACE_LEAF: &[u8] = b"vtrain.trace-leaf.v1";
    /// The root over all checkpoint state roots.
    pub const TRACE: &[u8] = b"vtrain.trace.v1";
    /// A job spec's canonical encoding.
    pub const JOB: &[u8] = b"vtrain.job.v1";
    /// A dataset: its feature and label tensors.
    pub const DATASET: &[u8] = b"vtrain.dataset.v1";
}
