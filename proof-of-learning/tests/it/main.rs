//! Integration tests of the training engine.
#![allow(clippy::unwrap_used)]

mod checkpoints;
mod common;
mod datasets;
mod determinism;
mod fine_tuning;
mod graph_spec;
mod kernels_vs_reference;
mod spec;
mod spec_vectors;
mod spec_vectors_graph;
mod spec_vectors_transformer;
mod transformer;
mod vectors;
