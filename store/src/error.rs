//! The one error type of `vtrain-store`.

use std::path::PathBuf;
use vtrain_proof_of_learning::Hash32;

/// Everything that can go wrong with artifacts and datadirs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store location is not a path or a URL this build can open.
    #[error("cannot open artifact store {location}: {reason}")]
    Location {
        /// The location as given.
        location: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The store failed to read or write.
    #[error("artifact store: {0}")]
    Store(#[from] object_store::Error),
    /// An artifact's bytes do not hash to the root it is named by.
    #[error("artifact {key} is corrupt: its root is {actual}, expected {expected}")]
    RootMismatch {
        /// The artifact's key or URI.
        key: String,
        /// The root it is named by.
        expected: Hash32,
        /// The root of the bytes found.
        actual: Hash32,
    },
    /// An artifact's bytes could not be decoded.
    #[error("artifact {key} is unreadable: {reason}")]
    Corrupt {
        /// The artifact's key or URI.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The training engine refused the data.
    #[error(transparent)]
    Training(#[from] vtrain_proof_of_learning::Error),
    /// An HTTP fetch failed.
    #[error("fetching {uri}: {reason}")]
    Http {
        /// The URI.
        uri: String,
        /// What went wrong.
        reason: String,
        /// Whether trying again later may work (a network error, a 5xx).
        retryable: bool,
    },
    /// A datadir file could not be read or written.
    #[error("datadir {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A datadir record is not valid JSON of the expected shape.
    #[error("datadir record {path} is malformed: {reason}")]
    Record {
        /// The file.
        path: PathBuf,
        /// The parse failure.
        reason: String,
    },
}

impl Error {
    /// Whether the error says the artifact's bytes are bad (they do not hash
    /// to their root, or do not decode), as opposed to the store failing.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Self::RootMismatch { .. } | Self::Corrupt { .. } | Self::Training(_)
        )
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http { retryable, .. } => *retryable,
            Self::Store(object_store::Error::NotFound { .. }) => false,
            Self::Store(_) => true,
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
