//! Dispute games played by the Rust players on a real anvil chain, against the
//! production contracts (fp32 ALU, MLP semantics).
#![allow(clippy::unwrap_used)]

mod l4_on_anvil;
mod transformer_on_anvil;
