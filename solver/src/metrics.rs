//! The solver's Prometheus metrics (listed in `docs/metrics.md`), served at
//! `/metrics` by its HTTP server.

/// Jobs claimed (bond posted).
pub const JOBS_CLAIMED: &str = "vtrain_solver_jobs_claimed_total";
/// Results submitted.
pub const RESULTS_SUBMITTED: &str = "vtrain_solver_results_submitted_total";
/// Jobs finalized (paid).
pub const JOBS_FINALIZED: &str = "vtrain_solver_jobs_finalized_total";
/// Training steps executed.
pub const TRAINING_STEPS: &str = "vtrain_solver_training_steps_total";
/// Dispute moves sent.
pub const DISPUTE_MOVES: &str = "vtrain_solver_dispute_moves_total";
/// Disputes decided, by `outcome` (won / lost).
pub const DISPUTES_DECIDED: &str = "vtrain_solver_disputes_decided_total";
/// Games being defended right now (one task each).
pub const GAMES_DEFENDED: &str = "vtrain_solver_games_defended";
/// Jobs being trained right now.
pub const JOBS_TRAINING: &str = "vtrain_solver_jobs_training";
/// The account's balance, in ETH.
pub const BALANCE_ETH: &str = "vtrain_solver_balance_eth";
/// Wei withdrawn from the market.
pub const WITHDRAWN_WEI: &str = "vtrain_solver_withdrawn_wei_total";
/// Reorgs found under the job book (it was read again).
pub const REORGS: &str = "vtrain_solver_reorgs_total";
/// Failed chain or store operations (retried), by `kind`.
pub const ERRORS: &str = "vtrain_solver_errors_total";

/// Registers the descriptions.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(JOBS_CLAIMED, "Jobs claimed (bond posted).");
    describe_counter!(RESULTS_SUBMITTED, "Results submitted.");
    describe_counter!(JOBS_FINALIZED, "Jobs finalized and paid.");
    describe_counter!(TRAINING_STEPS, "Training steps executed.");
    describe_counter!(DISPUTE_MOVES, "Dispute moves sent.");
    describe_counter!(DISPUTES_DECIDED, "Disputes decided, by outcome.");
    describe_gauge!(JOBS_TRAINING, "Jobs being trained right now.");
    describe_gauge!(
        GAMES_DEFENDED,
        "Games being defended right now, one task each."
    );
    describe_gauge!(BALANCE_ETH, "The solver account's balance in ETH.");
    describe_counter!(WITHDRAWN_WEI, "Wei withdrawn from the market.");
    describe_counter!(
        REORGS,
        "Reorgs found under the job book, which was read again."
    );
    describe_counter!(ERRORS, "Failed operations, retried on the next tick.");
}

/// Adds `delta` to the games being defended.
pub fn gauge_games(delta: f64) {
    metrics::gauge!(GAMES_DEFENDED).increment(delta);
}
