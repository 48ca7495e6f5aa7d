#![doc = include_str!("../README.md")]

pub mod bindings;
pub mod book;
mod deployment;
mod error;
pub mod game;
pub mod market;
pub mod sender;
pub mod token;

pub use book::{GameEntry, JobBook, JobEntry, JobPhase, JobResult, Reorg, Synced, progress_key};
pub use deployment::{Deployment, DeploymentCheck};
pub use error::{Error, Result, Revert, decode_revert};
pub use market::{Head, Market};
pub use sender::{SendPolicy, send_simulated, send_with, simulate};
pub use token::{Currency, ETH};
