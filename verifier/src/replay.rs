//! Checking a committed trace by re-execution. The watchtower replays a sample
//! of checkpoint intervals from the solver's own checkpoints (each checked
//! against its committed root); where a checkpoint is not served it rebuilds
//! the start state itself from the nearest state it holds, checking every
//! committed root on the way. Training is bit-exact, so withholding a
//! checkpoint hides nothing: it only costs the watchtower some replay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vtrain_proof_of_learning::hash::keccak;
use vtrain_proof_of_learning::{Hash32, State, Trainer};

/// What the watchtower concluded about one result (datadir `verdict-<id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The job.
    pub job_id: u64,
    /// The intervals replayed (interval i runs from checkpoint i to i + 1).
    pub replayed: Vec<u32>,
    /// Checkpoints fetched from the solver and found intact.
    pub fetched: Vec<u32>,
    /// Checkpoints the solver did not serve (rebuilt locally instead).
    pub withheld: Vec<u32>,
    /// The first checkpoint found wrong, if any: the one to challenge.
    pub dispute: Option<u32>,
    /// The trace root of the result verified: a verdict on another result
    /// under the same job id (a reorg replaced it) is not this one's (`None`
    /// in older records).
    #[serde(default)]
    pub trace_root: Option<alloy::primitives::B256>,
}

/// The intervals of a job with `intervals` intervals that a watchtower replays
/// at `rate` (0..=1): each is chosen when `keccak(salt ‖ i)`, as a fraction, is
/// below the rate, so every watchtower (its salt) checks its own sample and a
/// restart checks the same one. The last interval, which produces the model
/// the submitter pays for, is always chosen.
pub fn sample(intervals: u32, rate: f64, salt: &[u8]) -> Vec<u32> {
    if rate >= 1.0 {
        return (0..intervals).collect();
    }
    let score = |i: u32| {
        let h = keccak(&[salt, &i.to_be_bytes()]);
        let mut word = [0u8; 8];
        word.copy_from_slice(&h.0[..8]);
        u64::from_be_bytes(word) as f64 / u64::MAX as f64
    };
    let last = intervals.saturating_sub(1);
    (0..intervals)
        .filter(|&i| i == last || score(i) < rate)
        .collect()
}

/// Where checkpoint states come from: the solver's server (checked against
/// the committed root by the implementation), or nowhere.
pub trait CheckpointSource {
    /// The state of checkpoint `c`, checked against `root`; `None` if it is not served.
    fn checkpoint(&mut self, c: u32, root: &Hash32) -> Option<State>;
}

/// Replays `sample` of `trainer`'s job against the committed checkpoint roots
/// `posted`, and returns the verdict and the state at the start of the
/// disputed interval (the challenger plays from it).
pub fn verify(
    job_id: u64,
    trainer: &Trainer,
    posted: &[Hash32],
    sample: &[u32],
    source: &mut impl CheckpointSource,
) -> (Verdict, Option<State>) {
    let mut verdict = Verdict {
        job_id,
        replayed: Vec::new(),
        fetched: Vec::new(),
        withheld: Vec::new(),
        dispute: None,
        trace_root: None,
    };
    let s0 = trainer.initial_state();
    if posted.first() != Some(&trainer.state_root(&s0)) {
        verdict.dispute = Some(0);
        return (verdict, None);
    }
    let mut known: BTreeMap<u32, State> = BTreeMap::from([(0, s0)]);
    for &i in sample {
        let Some(start) = start_of(i, trainer, posted, source, &mut known, &mut verdict) else {
            // A committed root on the way was wrong (the verdict names it), or
            // the replay itself failed (then there is nothing to dispute).
            let start = verdict.dispute.and_then(|c| known.remove(&(c - 1)));
            return (verdict, start);
        };
        let (next, root) = match trainer.replay_interval(&start) {
            Ok(replayed) => replayed,
            Err(e) => {
                tracing::error!(target: "verifier::replay", job = job_id, interval = i, error = %e, "replay failed");
                return (verdict, None);
            }
        };
        verdict.replayed.push(i);
        metrics::counter!(crate::metrics::INTERVALS_REPLAYED).increment(1);
        if posted.get(i as usize + 1) != Some(&root) {
            verdict.dispute = Some(i + 1);
            return (verdict, Some(start));
        }
        known.insert(i, start);
        known.insert(i + 1, next);
        // Keep memory flat on long jobs: the latest few states suffice.
        while known.len() > 4 {
            known.pop_first();
        }
    }
    (verdict, None)
}

/// The state at checkpoint `i`: held, fetched, or rebuilt from the nearest
/// earlier state held. `None` when a root on the way is wrong (then
/// `verdict.dispute` is set and `known` holds the state before it).
fn start_of(
    i: u32,
    trainer: &Trainer,
    posted: &[Hash32],
    source: &mut impl CheckpointSource,
    known: &mut BTreeMap<u32, State>,
    verdict: &mut Verdict,
) -> Option<State> {
    if let Some(state) = known.get(&i) {
        return Some(state.clone());
    }
    let root = posted.get(i as usize)?;
    if let Some(state) = source.checkpoint(i, root) {
        verdict.fetched.push(i);
        return Some(state);
    }
    verdict.withheld.push(i);
    let (&from, state) = known.range(..i).next_back()?;
    let mut state = state.clone();
    for j in from..i {
        let (next, root) = trainer.replay_interval(&state).ok()?;
        verdict.replayed.push(j);
        metrics::counter!(crate::metrics::INTERVALS_REPLAYED).increment(1);
        if posted.get(j as usize + 1) != Some(&root) {
            verdict.dispute = Some(j + 1);
            known.insert(j, state);
            return None;
        }
        state = next;
    }
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level};

    /// The digits job shrunk to 40 steps, k = 10, one hidden layer of 8.
    fn trainer() -> Trainer {
        let text = include_str!("../../examples/digits-mlp.toml")
            .replace("steps = 800", "steps = 40")
            .replace("checkpoint_interval = 100", "checkpoint_interval = 10")
            .replace("hidden = [128]", "hidden = [8]");
        let spec = JobSpec::from_toml(&text).expect("spec");
        let kernels = Kernels::new(Level::detect(), 1).expect("kernels");
        Trainer::new(spec, Dataset::digits().expect("digits"), kernels).expect("trainer")
    }

    /// Serves the honest checkpoints, except those withheld.
    struct Served {
        states: Vec<State>,
        withheld: Vec<u32>,
    }

    impl CheckpointSource for Served {
        fn checkpoint(&mut self, c: u32, _root: &Hash32) -> Option<State> {
            let state = self.states.get(c as usize)?;
            (!self.withheld.contains(&c)).then(|| state.clone())
        }
    }

    fn honest_run(trainer: &Trainer) -> (Vec<Hash32>, Vec<State>) {
        let mut states = Vec::new();
        let outcome = trainer
            .train(|_, state, _| {
                states.push(state.clone());
                Ok(())
            })
            .expect("trains");
        (outcome.checkpoint_roots, states)
    }

    #[test]
    fn an_honest_trace_agrees_and_a_wrong_root_is_found_with_its_start_state() {
        let trainer = trainer();
        let (roots, states) = honest_run(&trainer);
        let mut source = Served {
            states: states.clone(),
            withheld: Vec::new(),
        };
        let (verdict, start) = verify(1, &trainer, &roots, &[1, 3], &mut source);
        assert_eq!(verdict.dispute, None);
        assert_eq!(
            (verdict.replayed, verdict.fetched),
            (vec![1, 3], vec![1, 3])
        );
        assert!(start.is_none());

        let mut lied = roots.clone();
        lied[2] = Hash32([7; 32]);
        // Sampling interval 1 meets the lie at its end, checkpoint 2.
        let (verdict, start) = verify(1, &trainer, &lied, &[1], &mut source);
        assert_eq!(verdict.dispute, Some(2));
        assert_eq!(
            start.map(|s| s.step),
            Some(10),
            "the state the game starts from"
        );
        // Sampling interval 3 only: checkpoint 3 is served but cannot be
        // trusted past a lie it never replays: the lie at 2 goes unseen.
        let (verdict, _) = verify(1, &trainer, &lied, &[3], &mut source);
        assert_eq!(verdict.dispute, None);
    }

    #[test]
    fn withheld_checkpoints_are_rebuilt_and_a_lie_behind_them_is_found() {
        let trainer = trainer();
        let (roots, states) = honest_run(&trainer);
        let mut lied = roots.clone();
        lied[3] = Hash32([9; 32]);
        lied[4] = Hash32([9; 32]);
        let mut source = Served {
            states,
            withheld: vec![2, 3],
        };
        let (verdict, start) = verify(1, &trainer, &lied, &[3], &mut source);
        assert_eq!(verdict.withheld, vec![3]);
        assert_eq!(verdict.dispute, Some(3), "{verdict:?}");
        assert_eq!(start.map(|s| s.step), Some(20));
        // A wrong initial state is disputed at checkpoint 0.
        let mut lied = roots;
        lied[0] = Hash32([1; 32]);
        let (verdict, _) = verify(1, &trainer, &lied, &[0], &mut source);
        assert_eq!(verdict.dispute, Some(0));
    }

    #[test]
    fn the_sample_is_stable_and_never_empty() {
        let a = sample(100, 0.1, b"watchtower-a");
        assert_eq!(a, sample(100, 0.1, b"watchtower-a"));
        assert_ne!(a, sample(100, 0.1, b"watchtower-b"));
        assert!((3..=25).contains(&a.len()), "{}", a.len());
        assert_eq!(a.last(), Some(&99));
        assert_eq!(sample(8, 0.0, b"x"), vec![7], "the last interval, always");
        assert_eq!(sample(8, 1.0, b"x"), (0..8).collect::<Vec<_>>());
    }
}
