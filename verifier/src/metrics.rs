//! The watchtower's Prometheus metrics (listed in `docs/metrics.md`), served
//! at `/metrics`.

/// Results watched in their challenge window.
pub const JOBS_WATCHED: &str = "vtrain_verifier_jobs_watched_total";
/// Checkpoint intervals replayed.
pub const INTERVALS_REPLAYED: &str = "vtrain_verifier_intervals_replayed_total";
/// Checkpoints the solver did not serve.
pub const CHECKPOINTS_WITHHELD: &str = "vtrain_verifier_checkpoints_withheld_total";
/// Disputes opened.
pub const DISPUTES_OPENED: &str = "vtrain_verifier_disputes_opened_total";
/// Dispute moves sent.
pub const DISPUTE_MOVES: &str = "vtrain_verifier_dispute_moves_total";
/// Disputes decided, by `outcome` (won / lost).
pub const DISPUTES_DECIDED: &str = "vtrain_verifier_disputes_decided_total";
/// The account's balance (bond capacity), in ETH.
pub const BALANCE_ETH: &str = "vtrain_verifier_balance_eth";
/// Bonds locked in open disputes, in ETH.
pub const BONDS_LOCKED_ETH: &str = "vtrain_verifier_bonds_locked_eth";
/// Reorgs found under the job book (it was read again).
pub const REORGS: &str = "vtrain_verifier_reorgs_total";
/// Failed operations (retried), by `kind`.
pub const ERRORS: &str = "vtrain_verifier_errors_total";

/// Registers the descriptions.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(JOBS_WATCHED, "Results watched in their challenge window.");
    describe_counter!(INTERVALS_REPLAYED, "Checkpoint intervals replayed.");
    describe_counter!(
        CHECKPOINTS_WITHHELD,
        "Checkpoints the solver did not serve."
    );
    describe_counter!(DISPUTES_OPENED, "Disputes opened.");
    describe_counter!(DISPUTE_MOVES, "Dispute moves sent.");
    describe_counter!(DISPUTES_DECIDED, "Disputes decided, by outcome.");
    describe_gauge!(BALANCE_ETH, "The watchtower account's balance in ETH.");
    describe_gauge!(
        BONDS_LOCKED_ETH,
        "Challenger bonds locked in open disputes, in ETH."
    );
    describe_counter!(
        REORGS,
        "Reorgs found under the job book, which was read again."
    );
    describe_counter!(ERRORS, "Failed operations, retried on the next tick.");
}
