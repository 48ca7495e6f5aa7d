//! A job's training progress and losses, relayed from the route its solver
//! announced (`/v1/jobs/{id}/progress` on the solver's server). A page
//! cannot fetch it itself (another origin, and the explorer's pages may load
//! only from the explorer), and the location is untrusted: the explorer
//! fetches only what the job's own solver announced, over http(s), with a
//! bound on time and size, and passes on only a well-formed progress report
//! of that job.

use std::time::Duration;

use alloy::primitives::Address;
use alloy::transports::http::reqwest;
use serde::{Deserialize, Serialize};
use vtrain_dispute::JobBook;

/// The longest the solver's server may take to answer.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes read of an answer: a 4-byte loss a step, as JSON, for a
/// million steps is well under this.
pub const MAX_BYTES: usize = 32 << 20;

/// What the solver reports (its `Progress`), and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The job.
    pub job_id: u64,
    /// Steps trained so far.
    pub step: u32,
    /// Steps in all.
    pub steps: u32,
    /// The loss of each step trained (null where it was not finite).
    pub losses: Vec<Option<f32>>,
    /// The location it was read from.
    #[serde(default)]
    pub source: String,
}

/// Why there is no progress to show.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// No such job.
    #[error("no job {0}")]
    NoJob(u64),
    /// Nobody claimed it, or its solver announced no progress route.
    #[error("job {0}'s solver announced no progress route")]
    NotAnnounced(u64),
    /// Every announced route failed.
    #[error("job {job}'s solver did not serve its progress: {reason}")]
    Unavailable {
        /// The job.
        job: u64,
        /// Why the last route failed.
        reason: String,
    },
}

/// The http(s) progress routes that job `id`'s own solver announced.
pub fn routes(book: &JobBook, id: u64) -> Result<Vec<String>, ProgressError> {
    let job = book.job(id).ok_or(ProgressError::NoJob(id))?;
    let solver: Address = job.solver.ok_or(ProgressError::NotAnnounced(id))?;
    let routes: Vec<String> = book
        .locations(&vtrain_dispute::progress_key(id))
        .iter()
        .filter(|l| l.publisher == solver)
        .map(|l| l.uri.clone())
        .filter(|uri| uri.starts_with("http://") || uri.starts_with("https://"))
        .collect();
    if routes.is_empty() {
        return Err(ProgressError::NotAnnounced(id));
    }
    Ok(routes)
}

/// Checks a report read for job `id`: its job, and no more losses than steps.
pub fn check(id: u64, bytes: &[u8], source: &str) -> Result<Progress, String> {
    let mut progress: Progress =
        serde_json::from_slice(bytes).map_err(|_| "not a progress report".to_owned())?;
    if progress.job_id != id {
        return Err(format!("a report of job {}, not {id}", progress.job_id));
    }
    if progress.losses.len() > progress.steps as usize || progress.step > progress.steps {
        return Err("more steps than the job has".into());
    }
    progress.source = source.to_owned();
    Ok(progress)
}

/// The client the routes are read with: [`FETCH_TIMEOUT`], no redirects.
pub fn client() -> eyre::Result<reqwest::Client> {
    use eyre::WrapErr;
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .wrap_err("cannot build the HTTP client for the solvers' progress routes")
}

/// Reads job `id`'s progress, with `client` (see [`client`]), from the first
/// of its solver's routes that serves a well-formed report.
pub async fn fetch(
    client: &reqwest::Client,
    book: &JobBook,
    id: u64,
) -> Result<Progress, ProgressError> {
    let mut reason = String::new();
    for route in routes(book, id)? {
        match read_bounded(client, &route, FETCH_TIMEOUT, MAX_BYTES).await {
            Ok(bytes) => match check(id, &bytes, &route) {
                Ok(progress) => return Ok(progress),
                Err(why) => reason = why,
            },
            Err(why) => reason = why,
        }
    }
    Err(ProgressError::Unavailable { job: id, reason })
}

/// The body at `url`, read with `client` within `timeout` and at most
/// `max_bytes` (the locations are untrusted); why not, in words, otherwise.
pub(crate) async fn read_bounded(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|_| "no answer".to_owned())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status().as_u16()));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "the answer broke off".to_owned())?
    {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(format!("more than {max_bytes} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{B256, Bytes, U256};
    use vtrain_dispute::book::ArtifactLocation;
    use vtrain_dispute::{JobEntry, JobPhase};

    const SOLVER: Address = Address::repeat_byte(0x5A);
    const OTHER: Address = Address::repeat_byte(0x07);

    fn book(solver: Option<Address>, announced: &[(Address, &str)]) -> JobBook {
        let mut book = JobBook::starting_at(0);
        book.jobs.insert(
            1,
            JobEntry {
                id: 1,
                submitter: OTHER,
                job_hash: B256::ZERO,
                dataset_root: B256::ZERO,
                token: Address::ZERO,
                reward: U256::ZERO,
                solver_bond: U256::ZERO,
                claim_deadline: 0,
                submit_deadline: 0,
                challenge_window: 0,
                spec: Bytes::new(),
                spec_error: None,
                posted_block: 1,
                phase: JobPhase::Claimed,
                solver,
                result: None,
                games: Vec::new(),
            },
        );
        book.artifacts.insert(
            vtrain_dispute::progress_key(1),
            announced
                .iter()
                .map(|(publisher, uri)| ArtifactLocation {
                    publisher: *publisher,
                    size: 1,
                    uri: (*uri).to_owned(),
                })
                .collect(),
        );
        book
    }

    #[test]
    fn only_the_jobs_own_solvers_http_routes_are_read() {
        let announced = [
            (OTHER, "http://attacker/progress"),
            (SOLVER, "file:///etc/passwd"),
            (SOLVER, "http://solver:7070/v1/jobs/1/progress"),
        ];
        assert_eq!(
            routes(&book(Some(SOLVER), &announced), 1).expect("a route"),
            ["http://solver:7070/v1/jobs/1/progress"]
        );
        assert!(matches!(
            routes(&book(None, &announced), 1),
            Err(ProgressError::NotAnnounced(1))
        ));
        assert!(matches!(
            routes(&book(Some(SOLVER), &announced[..2]), 1),
            Err(ProgressError::NotAnnounced(1))
        ));
        assert!(matches!(
            routes(&book(Some(SOLVER), &announced), 2),
            Err(ProgressError::NoJob(2))
        ));
    }

    #[test]
    fn a_report_is_passed_on_only_when_it_is_this_jobs_and_consistent() {
        let good = br#"{"job_id":1,"step":2,"steps":4,"losses":[2.5,null]}"#;
        let progress = check(1, good, "http://s").expect("good");
        assert_eq!(progress.losses, [Some(2.5), None]);
        assert_eq!(progress.source, "http://s");
        assert!(check(2, good, "").is_err(), "another job's");
        let long = br#"{"job_id":1,"step":2,"steps":1,"losses":[1,2]}"#;
        assert!(check(1, long, "").is_err());
        assert!(check(1, b"<html>secret page</html>", "").is_err());
    }
}
