//! Dishonest behaviours (`--fault`), for the end-to-end tests and the demo.
//! They exist only in a build with the `faults` feature (`modes.rs`). Without
//! it `Fault` is a type with no values (`none.rs`): `--fault` is refused with
//! a clear error, and no code that cheats is in the binary. CI checks that a
//! release build refuses the flag (`scripts/test.sh`).

#[cfg(feature = "faults")]
mod modes;
#[cfg(feature = "faults")]
pub use modes::Fault;

#[cfg(not(feature = "faults"))]
mod none;
#[cfg(not(feature = "faults"))]
pub use none::Fault;
