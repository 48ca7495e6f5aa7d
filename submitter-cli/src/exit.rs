//! Exit codes that mean something, and errors a person can act on.
//!
//! | code | meaning | what to do |
//! |---|---|---|
//! | 0 | success | |
//! | 1 | unexpected failure | read the message |
//! | 2 | bad command line (clap) | see `--help` |
//! | 3 | bad input: spec, dataset, file | fix the input |
//! | 4 | chain or network unreachable | retry later; nothing was sent or lost |
//! | 5 | the chain refused the transaction | read the decoded reason |
//! | 6 | no such job, or not yet available | check the job id / wait |
//! | 7 | an artifact failed its check against the chain | do not use it; report the server |
//! | 8 | the job ended without a model (slashed or cancelled; the escrow was refunded) | post it again |

use std::fmt;

/// What kind of failure, hence the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Anything else (1).
    Other = 1,
    /// Bad input (3).
    Input = 3,
    /// Chain or network unreachable (4).
    Unreachable = 4,
    /// The chain refused a transaction (5).
    Refused = 5,
    /// Not found or not yet available (6).
    NotFound = 6,
    /// An artifact failed its check (7).
    Integrity = 7,
    /// The job ended without a model (8).
    Ended = 8,
}

/// An error with its exit code.
pub struct CliError {
    /// The kind.
    pub failure: Failure,
    /// The report.
    pub report: eyre::Report,
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.report)
    }
}

/// `Result` with [`CliError`].
pub type CliResult<T> = Result<T, CliError>;

/// Attaches a failure kind to any error.
pub trait Classify<T> {
    /// Classifies the error as `failure`, with a message.
    fn or_fail(self, failure: Failure, message: impl fmt::Display) -> CliResult<T>;
}

impl<T, E: Into<eyre::Report>> Classify<T> for Result<T, E> {
    fn or_fail(self, failure: Failure, message: impl fmt::Display) -> CliResult<T> {
        self.map_err(|e| CliError {
            failure,
            report: e.into().wrap_err(message.to_string()),
        })
    }
}

/// A failure from a message alone.
pub fn fail(failure: Failure, message: impl fmt::Display) -> CliError {
    CliError {
        failure,
        report: eyre::eyre!("{message}"),
    }
}

/// The failure kind of a chain error.
pub fn chain_failure(error: &vtrain_dispute::Error) -> Failure {
    if error.is_retryable() {
        Failure::Unreachable
    } else {
        Failure::Refused
    }
}

/// Converts a chain error.
pub fn from_chain(error: vtrain_dispute::Error, doing: &str) -> CliError {
    let failure = chain_failure(&error);
    let hint = match failure {
        Failure::Unreachable => {
            " (the RPC endpoint did not answer: is the node up? nothing was lost)"
        }
        _ => "",
    };
    CliError {
        failure,
        report: eyre::Report::new(error).wrap_err(format!("{doing} failed{hint}")),
    }
}
