#![doc = include_str!("../README.md")]

pub mod bindings;
mod deployment;
pub mod game;
mod error;

pub use deployment::{Deployment, DeploymentCheck};
pub use error::{Error, Result};
