#![doc = include_str!("../README.md")]

pub mod cmd;
mod contracts;
mod devnet;
mod error;
mod toolchain;

pub use contracts::{MarketConfig, deploy_contracts};
pub use devnet::{Devnet, DevnetConfig};
pub use error::{Error, Result};
pub use toolchain::find_tool;
