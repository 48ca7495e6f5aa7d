#![doc = include_str!("../README.md")]

pub mod bindings;
mod deployment;
mod error;
pub mod game;

pub use deployment::{Deployment, DeploymentCheck};
pub use error::{Error, Result};
