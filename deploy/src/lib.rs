#![doc = include_str!("../README.md")]

pub mod cmd;
mod contracts;
mod devnet;
mod error;
mod toolchain;

pub use contracts::{MAX_CLOCK_SECS, MAX_MOVES_PER_SIDE, MarketConfig, deploy_contracts};
pub use devnet::{Devnet, DevnetConfig};
pub use error::{Error, Result};
pub use toolchain::find_tool;
