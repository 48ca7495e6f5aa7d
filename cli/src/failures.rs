//! Failures logged once: an agent retries what failed at every poll, and an
//! operator reading its log wants to see each failure when it starts, when it
//! changes, and when it clears, not once a second.

use std::collections::BTreeMap;

/// The last failure of each retried duty, by key (a job, a game).
#[derive(Debug, Default)]
pub struct FailureLog {
    last: BTreeMap<String, String>,
}

/// What [`FailureLog::record`] says about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// First seen (or different from the last one): log it at warn.
    New,
    /// The same as last time: debug at most.
    Repeat,
}

impl FailureLog {
    /// Records `error` for `key`.
    fn record(&mut self, key: impl Into<String>, error: &eyre::Report) -> Seen {
        let text = format!("{error:#}");
        match self.last.insert(key.into(), text.clone()) {
            Some(previous) if previous == text => Seen::Repeat,
            _ => Seen::New,
        }
    }

    /// Records the outcome of the duty `key` and logs what an operator needs:
    /// a failure when it starts or changes (warn), and its end (info).
    pub fn report(&mut self, key: &str, result: eyre::Result<()>) {
        match result {
            Ok(()) => {
                if self.clear(key) {
                    tracing::info!(target: "agent", duty = key, "recovered");
                }
            }
            Err(e) => {
                if self.record(key, &e) == Seen::New {
                    tracing::warn!(target: "agent", duty = key, error = %format!("{e:#}"), "failed; retrying every tick (logged again when the failure changes)");
                }
            }
        }
    }

    /// `key` succeeded: returns whether it had been failing.
    fn clear(&mut self, key: &str) -> bool {
        self.last.remove(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_new_once_until_it_changes_or_clears() {
        let mut log = FailureLog::default();
        let error = eyre::eyre!("node down");
        assert_eq!(log.record("job 1", &error), Seen::New);
        assert_eq!(log.record("job 1", &error), Seen::Repeat);
        assert_eq!(log.record("job 2", &error), Seen::New, "per key");
        assert_eq!(log.record("job 1", &eyre::eyre!("revert")), Seen::New);
        assert!(log.clear("job 1"));
        assert!(!log.clear("job 1"));
        assert_eq!(log.record("job 1", &eyre::eyre!("revert")), Seen::New);
    }
}
