//! End-to-end: the shipped binaries against a real anvil.

mod adversarial;
mod bad_input;
mod cast;
mod cli_output;
mod cnn;
mod common;
mod economics;
mod explorer;
mod fine_tuning;
mod fork;
mod honest;
mod own_store;
mod reorg;
mod restart;
mod s3;
mod sender;
mod step_flood;
mod tokens;
