#![doc = include_str!("../README.md")]

mod agent;
mod net;
mod proxy;

pub use agent::{Agent, binary, free_port, run_cli};
pub use net::{Net, advance_time, wait_status, wait_until};
pub use proxy::Proxy;

/// The anvil dev accounts' private keys (the well-known test mnemonic), by index.
pub const KEYS: [&str; 5] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/// Account 1: the submitter.
pub const SUBMITTER: usize = 1;
/// Account 2: the solver.
pub const SOLVER: usize = 2;
/// Account 3: the watchtower.
pub const VERIFIER: usize = 3;
