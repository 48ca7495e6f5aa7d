//! Playing the dispute game: each party's view of the disputed training
//! ([`world`], [`trajectory`]), the honest strategies as pure decisions
//! ([`player`]), and the transactions that carry them out ([`client`]).
//! `docs/dispute-game.md` describes the game itself.

pub mod client;
pub mod duty;
pub mod player;
pub mod stage;
// The lies of the adversarial test modes exist only with the `faults`
// feature; without it `Tamper` is a type with no values (`no_tamper.rs`), so
// every `Option<Tamper>` is `None` and no code that lies is compiled.
#[cfg(feature = "faults")]
pub mod tamper;
#[cfg(not(feature = "faults"))]
#[path = "no_tamper.rs"]
pub mod tamper;
pub mod trajectory;
pub mod world;

pub use client::GameClient;
pub use duty::{Duty, JobOutcome, Side, duty};
pub use player::{Move, Opening, Party, Revealed, opening_at, solver_moves};
pub use stage::{GameStage, Tracker, game_tracker};
#[cfg(feature = "faults")]
pub use tamper::Lie;
pub use tamper::{Tamper, committed_root};
pub use trajectory::{SharedRun, Trajectory, replay_start};
pub use world::Transition;
