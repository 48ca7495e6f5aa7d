//! What keeps `GET /v1/traces/{trace}/steps/{t}` from being a CPU drain: a
//! step report costs a replay of up to one checkpoint interval, and anyone
//! can ask. So reports are served only while a game on the trace is open
//! (when someone has a reason to want one), from a bounded cache when they
//! can be, one replay at a time (the other core stays with the games), and at
//! most [`PER_CLIENT_PER_MINUTE`] requests a minute per client address. A
//! flood gets `429 Too Many Requests`; the solver's moves never wait for it.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use serde::Serialize;
use tokio::sync::Semaphore;

/// Step reports kept.
pub const CACHED_REPORTS: usize = 256;
/// Requests one client address may make in a minute.
pub const PER_CLIENT_PER_MINUTE: u32 = 30;
/// Client addresses tracked at once (a flood from many addresses cannot grow
/// the table without bound: it is reset when full).
const TRACKED_CLIENTS: usize = 4_096;
const WINDOW: Duration = Duration::from_secs(60);

/// One step's state roots and step commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The step t.
    pub step: u32,
    /// S_t's root.
    pub state_root: B256,
    /// S_{t+1}'s root.
    pub next_state_root: B256,
    /// The five list roots of the step commitment (`docs/commitments.md`).
    pub list_roots: [B256; 5],
}

/// Why a request is not served now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client asked too often this minute.
    TooManyFromClient,
    /// Another report is being replayed.
    Busy,
}

/// A step of a trace.
type StepKey = (B256, u32);

/// Reports by step, and the order they came in (oldest first).
type Cache = (HashMap<StepKey, StepReport>, VecDeque<StepKey>);

/// The cache, the per-client counts and the one replay slot.
pub struct StepReports {
    cache: Mutex<Cache>,
    clients: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    replay: Semaphore,
}

impl Default for StepReports {
    fn default() -> Self {
        Self {
            cache: Mutex::new((HashMap::new(), VecDeque::new())),
            clients: Mutex::new(HashMap::new()),
            replay: Semaphore::new(1),
        }
    }
}

impl StepReports {
    /// Counts a request from `client` at `now`; refused past the per-minute limit.
    pub fn admit(&self, client: IpAddr, now: Instant) -> Result<(), Refusal> {
        let mut clients = self.clients.lock();
        if clients.len() >= TRACKED_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if clients.len() >= TRACKED_CLIENTS {
                return Err(Refusal::Busy);
            }
        }
        let (start, count) = clients.entry(client).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count >= PER_CLIENT_PER_MINUTE {
            return Err(Refusal::TooManyFromClient);
        }
        *count += 1;
        Ok(())
    }

    /// The cached report of step `t` of `trace`.
    pub fn cached(&self, trace: B256, t: u32) -> Option<StepReport> {
        self.cache.lock().0.get(&(trace, t)).cloned()
    }

    /// Keeps `report`, evicting the oldest beyond [`CACHED_REPORTS`].
    pub fn keep(&self, trace: B256, report: StepReport) {
        let mut cache = self.cache.lock();
        let (map, order) = &mut *cache;
        let key = (trace, report.step);
        if map.insert(key, report).is_none() {
            order.push_back(key);
            while order.len() > CACHED_REPORTS {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    /// The replay slot, if free: held while one report is replayed.
    pub fn replay_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Refusal> {
        self.replay.try_acquire().map_err(|_| Refusal::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(step: u32) -> StepReport {
        StepReport {
            step,
            state_root: B256::ZERO,
            next_state_root: B256::ZERO,
            list_roots: [B256::ZERO; 5],
        }
    }

    #[test]
    fn a_client_gets_its_share_a_minute_and_no_more() {
        let reports = StepReports::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let now = Instant::now();
        for _ in 0..PER_CLIENT_PER_MINUTE {
            assert_eq!(reports.admit(a, now), Ok(()));
        }
        assert_eq!(reports.admit(a, now), Err(Refusal::TooManyFromClient));
        assert_eq!(reports.admit(b, now), Ok(()), "per client");
        assert_eq!(reports.admit(a, now + WINDOW), Ok(()), "a new minute");
    }

    #[test]
    fn one_replay_at_a_time() {
        let reports = StepReports::default();
        let slot = reports.replay_slot().expect("free");
        assert_eq!(reports.replay_slot().err(), Some(Refusal::Busy));
        drop(slot);
        assert!(reports.replay_slot().is_ok());
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_newest() {
        let reports = StepReports::default();
        let trace = B256::repeat_byte(7);
        for t in 0..(CACHED_REPORTS as u32 + 10) {
            reports.keep(trace, report(t));
        }
        assert_eq!(reports.cached(trace, 0), None, "evicted");
        assert_eq!(reports.cached(trace, 300), None);
        let last = CACHED_REPORTS as u32 + 9;
        assert_eq!(reports.cached(trace, last), Some(report(last)));
        assert_eq!(reports.cached(B256::ZERO, last), None, "per trace");
    }
}
