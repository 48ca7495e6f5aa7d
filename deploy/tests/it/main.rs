//! Integration tests of vtrain-deploy against a real anvil.

mod devnet_cli;
mod round_trip;
