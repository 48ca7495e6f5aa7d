#![doc = include_str!("../README.md")]

pub mod checkpoint;
pub mod commit;
pub mod dataset;
pub mod durable;
mod error;
pub mod hash;
pub mod kernels;
pub mod prng;
pub mod repops;
pub mod spec;
pub mod tensors;
pub mod train;

pub use dataset::Dataset;
pub use error::{Error, Result};
pub use hash::Hash32;
pub use kernels::{Kernels, Level};
pub use spec::JobSpec;
pub use train::{State, Trainer};
