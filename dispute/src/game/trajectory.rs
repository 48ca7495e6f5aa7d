//! A party's whole training run, replayed on demand: the state at any step
//! and the transition of any step, honest or corrupted by a [`Tamper`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Weak};

use parking_lot::{FairMutex, FairMutexGuard, Mutex};
use vtrain_proof_of_learning::{Hash32, State, Trainer};

use super::world::{Tamper, Transition};

/// How many states between checkpoints a trajectory keeps (the latest ones
/// asked for): a game's bisection asks for about log₂ k of them, and a wave of
/// games must not grow the solver's memory without bound. Checkpoint states
/// (at multiples of k) are kept.
const KEPT_BETWEEN_CHECKPOINTS: usize = 64;

/// The run a party believes in, with checkpoints cached as it goes.
pub struct Trajectory {
    trainer: Arc<Trainer>,
    tamper: Option<Tamper>,
    states: BTreeMap<u32, State>,
    between: VecDeque<u32>,
    executed: u64,
}

impl Trajectory {
    /// The honest run of `trainer`'s job, or one corrupted by `tamper`.
    pub fn new(trainer: Arc<Trainer>, tamper: Option<Tamper>) -> Self {
        Self {
            trainer,
            tamper,
            states: BTreeMap::new(),
            between: VecDeque::new(),
            executed: 0,
        }
    }

    /// The trainer.
    pub fn trainer(&self) -> &Arc<Trainer> {
        &self.trainer
    }

    /// Adds a state this party already holds (a checkpoint it checked against
    /// its root), so that later states are replayed from it rather than from
    /// S_0: a verifier replays one interval, not the whole job.
    pub fn seed(&mut self, state: State) {
        self.states.insert(state.step, state);
    }

    /// The state after `step` steps.
    pub fn state(&mut self, step: u32) -> State {
        if let Some(state) = self.states.get(&step) {
            return state.clone();
        }
        let (from, mut state) = match self.states.range(..step).next_back() {
            Some((&s, state)) => (s, state.clone()),
            None => (0, Transition::initial(&self.trainer).1),
        };
        let interval = self.trainer.spec().checkpoint_interval.max(1);
        for s in from..step {
            state = Transition::step(&self.trainer, &state, self.tamper.as_ref()).1;
            self.executed += 1;
            if (s + 1) % interval == 0 {
                self.states.insert(s + 1, state.clone());
            }
        }
        self.keep(step, state.clone());
        state
    }

    /// Caches `state` at `step`, evicting the oldest state between checkpoints
    /// beyond [`KEPT_BETWEEN_CHECKPOINTS`].
    fn keep(&mut self, step: u32, state: State) {
        let interval = self.trainer.spec().checkpoint_interval.max(1);
        if self.states.insert(step, state).is_none() && !step.is_multiple_of(interval) {
            self.between.push_back(step);
            while self.between.len() > KEPT_BETWEEN_CHECKPOINTS {
                if let Some(old) = self.between.pop_front() {
                    self.states.remove(&old);
                }
            }
        }
    }

    /// The state root after `step` steps.
    pub fn state_root(&mut self, step: u32) -> Hash32 {
        let state = self.state(step);
        self.trainer.state_root(&state)
    }

    /// The checkpoint state roots 0, k, …, T.
    pub fn checkpoint_roots(&mut self) -> Vec<Hash32> {
        let spec = self.trainer.spec();
        let (steps, k) = (spec.steps, spec.checkpoint_interval.max(1));
        (0..=steps / k).map(|c| self.state_root(c * k)).collect()
    }

    /// The transition building S_0 (`init`) or the step from S_`step`.
    pub fn transition(&mut self, init: bool, step: u32) -> Transition {
        if init {
            return Transition::initial(&self.trainer).0;
        }
        let state = self.state(step);
        self.executed += 1;
        Transition::step(&self.trainer, &state, self.tamper.as_ref()).0
    }

    /// How many training steps this trajectory has executed so far: what a
    /// party's part in a dispute cost it in replay.
    pub fn steps_executed(&self) -> u64 {
        self.executed
    }
}

/// One party's run of a job, shared by all of its games on that job, so that a
/// wave of games costs one replay per disputed interval, not one per game
/// (`docs/dispute-game.md` § Clocks): the states a game replays serve every
/// other game's bisection, and the instrumented transition of a step is
/// computed once for every game that reaches it and kept while one holds it.
///
/// Replays take the run's lock, which is fair: they are served in the order
/// they were asked for, the order the contract's clock allowance assumes.
pub struct SharedRun {
    trainer: Arc<Trainer>,
    trajectory: FairMutex<Trajectory>,
    transitions: Mutex<HashMap<(bool, u64), Weak<Transition>>>,
}

impl SharedRun {
    /// A run that replays `trajectory`.
    pub fn new(trajectory: Trajectory) -> Arc<Self> {
        Arc::new(Self {
            trainer: Arc::clone(trajectory.trainer()),
            trajectory: FairMutex::new(trajectory),
            transitions: Mutex::new(HashMap::new()),
        })
    }

    /// The trainer.
    pub fn trainer(&self) -> &Arc<Trainer> {
        &self.trainer
    }

    /// The trajectory itself, locked (replays of other games wait).
    pub fn trajectory(&self) -> FairMutexGuard<'_, Trajectory> {
        self.trajectory.lock()
    }

    /// Adds a checked state to replay from (see [`Trajectory::seed`]).
    pub fn seed(&self, state: State) {
        self.trajectory.lock().seed(state);
    }

    /// The state root after `step` steps.
    pub fn state_root(&self, step: u32) -> Hash32 {
        self.trajectory.lock().state_root(step)
    }

    /// The transition building S_0 (`init`) or the step from S_`step`,
    /// computed once while any game holds it.
    pub fn transition(&self, init: bool, step: u64) -> Arc<Transition> {
        let key = (init, step);
        if let Some(cached) = self.cached(key) {
            return cached;
        }
        let mut trajectory = self.trajectory.lock();
        // Another game may have computed it while this one waited.
        if let Some(cached) = self.cached(key) {
            return cached;
        }
        let transition = Arc::new(trajectory.transition(init, step as u32));
        let mut cache = self.transitions.lock();
        cache.retain(|_, weak| weak.strong_count() > 0);
        cache.insert(key, Arc::downgrade(&transition));
        transition
    }

    fn cached(&self, key: (bool, u64)) -> Option<Arc<Transition>> {
        self.transitions.lock().get(&key).and_then(Weak::upgrade)
    }
}

/// The committed checkpoint at or before the start of game `g`'s disputed
/// range, as (step, root): the state a party seeds its [`Trajectory`] with,
/// so that it replays at most one interval (after a restart mid-game too).
/// `None` for a game over the initial state.
pub fn replay_start(
    g: &crate::bindings::dispute_game::DisputeGame::Game,
    interval: u32,
    checkpoint_roots: &[alloy::primitives::B256],
) -> Option<(u32, Hash32)> {
    if g.setup.init {
        return None;
    }
    let c = u32::try_from(g.range.lo).ok()? / interval.max(1);
    let root = checkpoint_roots.get(c as usize)?;
    Some((c * interval.max(1), Hash32(root.0)))
}
