//! Playing the dispute game: each party's view of the disputed training
//! ([`world`], [`trajectory`]), the honest strategies as pure decisions
//! ([`player`]), and the transactions that carry them out ([`client`]).
//! `docs/dispute-game.md` describes the game itself.

pub mod client;
pub mod duty;
pub mod player;
pub mod tamper;
pub mod trajectory;
pub mod world;

pub use client::GameClient;
pub use duty::{Duty, JobOutcome, Side, duty};
pub use player::{Move, Opening, Party, Revealed, opening_at, solver_moves};
pub use tamper::{Lie, Tamper, committed_root};
pub use trajectory::{SharedRun, Trajectory, replay_start};
pub use world::Transition;
