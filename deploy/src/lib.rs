#![doc = include_str!("../README.md")]

pub mod cmd;
mod contracts;
mod devnet;
mod error;
mod toolchain;

pub use contracts::{
    DEV_TOKEN_FUNDING, MAX_CLOCK_SECS, MAX_MOVES_PER_SIDE, MarketConfig, deploy_contracts,
    deploy_dev_token,
};
pub use devnet::{Devnet, DevnetConfig};
pub use error::{Error, Result};
pub use toolchain::find_tool;
