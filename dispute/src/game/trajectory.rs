//! A party's whole training run, replayed on demand: the state at any step
//! and the transition of any step, honest or corrupted by a [`Tamper`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Weak};

use parking_lot::{FairMutex, FairMutexGuard, Mutex};
use vtrain_proof_of_learning::{Hash32, State, Trainer};

use super::tamper::Tamper;
use super::world::Transition;

/// How many states a trajectory keeps (the latest ones computed or seeded):
/// a wave of games must not grow a party's memory without bound. Each game
/// holds the state at the start of its own disputed range (`Party`), so an
/// evicted state never costs a game more than its own replay.
const KEPT_STATES: usize = 64;

/// The run a party believes in, with states cached as it goes.
pub struct Trajectory {
    trainer: Arc<Trainer>,
    tamper: Option<Tamper>,
    states: BTreeMap<u32, State>,
    order: VecDeque<u32>,
    executed: u64,
}

impl Trajectory {
    /// The honest run of `trainer`'s job, or one corrupted by `tamper`.
    pub fn new(trainer: Arc<Trainer>, tamper: Option<Tamper>) -> Self {
        Self {
            trainer,
            tamper,
            states: BTreeMap::new(),
            order: VecDeque::new(),
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
        self.keep(state.step, state);
    }

    /// The state after `step` steps.
    pub fn state(&mut self, step: u32) -> State {
        if let Some(state) = self.states.get(&step) {
            return state.clone();
        }
        let (from, mut state) = match self.states.range(..step).next_back() {
            Some((&s, state)) => (s, state.clone()),
            None => (
                0,
                Transition::initial(&self.trainer, self.tamper.as_ref()).1,
            ),
        };
        let interval = self.trainer.spec().checkpoint_interval.max(1);
        for s in from..step {
            state = Transition::step(&self.trainer, &state, self.tamper.as_ref()).1;
            self.executed += 1;
            if (s + 1) % interval == 0 {
                self.keep(s + 1, state.clone());
            }
        }
        self.keep(step, state.clone());
        state
    }

    /// Caches `state` at `step`, evicting the oldest beyond [`KEPT_STATES`].
    fn keep(&mut self, step: u32, state: State) {
        if self.states.insert(step, state).is_none() {
            self.order.push_back(step);
            while self.order.len() > KEPT_STATES {
                if let Some(old) = self.order.pop_front() {
                    self.states.remove(&old);
                }
            }
        }
    }

    /// The state root after `step` steps.
    pub fn state_root(&mut self, step: u32) -> Hash32 {
        let state = self.state(step);
        self.root_of(&state)
    }

    /// The state root this party commits to for `state` (a liar's may hash
    /// a wrong cursor or key: [`Tamper::state_root`]).
    pub fn root_of(&self, state: &State) -> Hash32 {
        super::tamper::committed_root(self.tamper.as_ref(), &self.trainer, state)
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
            return Transition::initial(&self.trainer, self.tamper.as_ref()).0;
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
    tamper: Option<Tamper>,
    trajectory: FairMutex<Trajectory>,
    transitions: Mutex<HashMap<(bool, u64), Weak<Transition>>>,
}

impl SharedRun {
    /// A run that replays `trajectory`.
    pub fn new(trajectory: Trajectory) -> Arc<Self> {
        Arc::new(Self {
            trainer: Arc::clone(trajectory.trainer()),
            tamper: trajectory.tamper,
            trajectory: FairMutex::new(trajectory),
            transitions: Mutex::new(HashMap::new()),
        })
    }

    /// The trainer.
    pub fn trainer(&self) -> &Arc<Trainer> {
        &self.trainer
    }

    /// The state root this run commits to for `state` (see
    /// [`Trajectory::root_of`]); takes no lock.
    pub fn root_of(&self, state: &State) -> Hash32 {
        super::tamper::committed_root(self.tamper.as_ref(), &self.trainer, state)
    }

    /// The trajectory itself, locked (replays of other games wait).
    pub fn trajectory(&self) -> FairMutexGuard<'_, Trajectory> {
        self.trajectory.lock()
    }

    /// Adds a checked state to replay from (see [`Trajectory::seed`]).
    pub fn seed(&self, state: State) {
        self.trajectory.lock().seed(state);
    }

    /// The state after `step` steps, replayed from `anchor` (a state the
    /// asking game holds, at or before `step`) unless the run holds a nearer
    /// one: a game never replays more than its own range, whatever other
    /// games did to the cache.
    pub fn state_from(&self, anchor: Option<&State>, step: u32) -> State {
        let mut trajectory = self.trajectory.lock();
        Self::anchor(&mut trajectory, anchor, step);
        trajectory.state(step)
    }

    /// The transition building S_0 (`init`) or the step from S_`step`,
    /// computed once while any game holds it; replayed from `anchor` as in
    /// [`SharedRun::state_from`].
    pub fn transition(&self, anchor: Option<&State>, init: bool, step: u64) -> Arc<Transition> {
        let key = (init, step);
        if let Some(cached) = self.cached(key) {
            return cached;
        }
        let mut trajectory = self.trajectory.lock();
        // Another game may have computed it while this one waited.
        if let Some(cached) = self.cached(key) {
            return cached;
        }
        Self::anchor(&mut trajectory, anchor, step as u32);
        let transition = Arc::new(trajectory.transition(init, step as u32));
        let mut cache = self.transitions.lock();
        cache.retain(|_, weak| weak.strong_count() > 0);
        cache.insert(key, Arc::downgrade(&transition));
        transition
    }

    fn anchor(trajectory: &mut Trajectory, anchor: Option<&State>, step: u32) {
        if let Some(state) = anchor.filter(|s| s.step <= step)
            && !trajectory.states.contains_key(&state.step)
        {
            trajectory.seed(state.clone());
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level};

    fn trainer(steps: u32, interval: u32) -> Arc<Trainer> {
        let text = include_str!("../../../examples/digits-mlp.toml");
        let mut spec = JobSpec::from_toml(text).expect("spec");
        spec.steps = steps;
        spec.checkpoint_interval = interval;
        spec.batch_size = 4;
        spec.model = vtrain_proof_of_learning::spec::ModelSpec::Mlp {
            hidden: vec![4],
            activation: Default::default(),
        };
        let dataset = Dataset::digits().expect("digits");
        let kernels = Kernels::new(Level::detect(), 1).expect("kernels");
        Arc::new(Trainer::new(spec, dataset, kernels).expect("trainer"))
    }

    /// However many games share the run and evict each other's states, a game
    /// that replays from its own anchor never replays more than the steps
    /// between its anchor and the state it asks for, and gets the same state
    /// as a run of its own.
    #[test]
    fn a_game_replays_at_most_its_own_range_whatever_other_games_did() {
        let trainer = trainer(400, 100);
        let run = SharedRun::new(Trajectory::new(Arc::clone(&trainer), None));
        let mut alone = Trajectory::new(Arc::clone(&trainer), None);
        let anchors: Vec<State> = (0..4).map(|c| alone.state(c * 100)).collect();
        for round in 0..3u32 {
            // 100 "games" on the four intervals, asking for states in turn:
            // far more than the run keeps, so they evict each other.
            for game in 0..100u32 {
                let anchor = &anchors[(game % 4) as usize];
                let step = anchor.step + 1 + (game * 7 + round * 13) % 99;
                let before = run.trajectory().steps_executed();
                let state = run.state_from(Some(anchor), step);
                let replayed = run.trajectory().steps_executed() - before;
                assert!(
                    replayed <= u64::from(step - anchor.step),
                    "game {game} replayed {replayed} steps for {} of range",
                    step - anchor.step
                );
                assert_eq!(state.step, step);
                assert_eq!(trainer.state_root(&state), alone.state_root(step));
            }
        }
        assert!(run.trajectory().states.len() <= KEPT_STATES);
    }
}
