//! Training: the state, one step over the fixed op list, checkpointed runs,
//! interval replay, instrumented replay and evaluation.

mod attention_graph;
mod backend;
mod generate;
mod graph;
mod layout;

pub use backend::StepBackend;
pub use generate::generate;
pub(crate) use graph::step_ops;
pub use graph::{Node, StepGraph, TensorRef, forward_graph, planned_step_graph, step_graph};
pub use layout::StateLayout;

use crate::commit::{merkle_root, tensor_root, trace_root};
use crate::dataset::{DataOrder, Dataset};
use crate::error::{Error, Result};
use crate::hash::Hash32;
use crate::kernels::Kernels;
use crate::prng::{derive_key, purpose, uniform01};
use crate::repops::{Direct, ElementTrace, Fp, Op, Operand, Recorder, prim};
use crate::spec::{JobSpec, Loss, ModelPlan, ParamInit};

/// Everything that influences the next step (together with the job itself).
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// The number of steps taken.
    pub step: u32,
    /// Parameter tensors, in [`JobSpec::param_shapes`] order.
    pub params: Vec<Vec<f32>>,
    /// Optimizer moments: SGD `[v₀…]`, AdamW `[m₀…, v₀…]`.
    pub moments: Vec<Vec<f32>>,
}

/// The result of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    /// S_{t+1}.
    pub state: State,
    /// The batch's mean cross-entropy, computed from the step's log-softmax.
    pub loss: f32,
}

/// One step replayed with every intermediate tensor committed.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentedStep {
    /// Each node's name, in op order.
    pub names: Vec<String>,
    /// Each node's tensor root, in op order.
    pub tensor_roots: Vec<Hash32>,
    /// The roots of the intermediate nodes (every node that is not part of S_{t+1}), in
    /// op order.
    pub intermediate_roots: Vec<Hash32>,
    /// The step commitment the dispute game's L2 descends (`docs/commitments.md` § Step
    /// commitment): the Merkle roots over the intermediates, the S_{t+1} optimizer list
    /// and the S_{t+1} weights list.
    pub produced_merkles: [Hash32; 3],
    /// S_{t+1}.
    pub next: State,
}

/// A whole run's commitments.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    /// State roots of checkpoints 0, k, 2k, …, T.
    pub checkpoint_roots: Vec<Hash32>,
    /// The trace root over them.
    pub trace_root: Hash32,
    /// S_T.
    pub final_state: State,
    /// The loss of every step.
    pub losses: Vec<f32>,
}

/// Loss and accuracy on a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Mean cross-entropy.
    pub loss: f32,
    /// Fraction classified correctly (first maximal logit wins).
    pub accuracy: f64,
}

/// Recycled tensor buffers: a step allocates ~20 outputs, and reusing the
/// previous step's memory avoids a page fault per 4 KiB on every step.
#[derive(Default)]
struct BufferPool(std::sync::Mutex<Vec<Vec<f32>>>);

impl BufferPool {
    /// Keeps at most this many idle buffers.
    const MAX_IDLE: usize = 256;

    /// A buffer of `len` values, from the smallest idle one that fits. Its
    /// contents are unspecified (old values): every kernel writes every
    /// element of its output before anything reads it.
    fn take(&self, len: usize) -> Vec<f32> {
        let mut idle = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let best = idle
            .iter()
            .enumerate()
            .filter(|(_, buffer)| buffer.capacity() >= len)
            .min_by_key(|(_, buffer)| buffer.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let mut buffer = idle.swap_remove(i);
                buffer.resize(len, 0.0);
                buffer
            }
            None => vec![0.0; len],
        }
    }

    /// Returns buffers for reuse.
    fn give(&self, buffers: impl IntoIterator<Item = Vec<f32>>) {
        let mut idle = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.extend(buffers.into_iter().filter(|buffer| buffer.capacity() > 0));
        if idle.len() > Self::MAX_IDLE {
            idle.sort_by_key(|buffer| std::cmp::Reverse(buffer.capacity()));
            idle.truncate(Self::MAX_IDLE);
        }
    }
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.0.lock().map(|idle| idle.len()).unwrap_or(0);
        write!(f, "BufferPool({idle} idle)")
    }
}

/// A job ready to train: the spec, its data and the kernels to run it on.
#[derive(Debug)]
pub struct Trainer {
    spec: JobSpec,
    job_hash: Hash32,
    dataset: Dataset,
    order: DataOrder,
    kernels: Kernels,
    plan: ModelPlan,
    param_shapes: Vec<Vec<usize>>,
    rng_key: u64,
    /// S₀'s weights when the job fine-tunes a model (checked against its root).
    initial_model: Option<Vec<Vec<f32>>>,
    buffers: BufferPool,
    /// Where `train_from` and `replay_interval` run their steps: the CPU
    /// kernels when `None`.
    backend: Option<std::sync::Arc<dyn StepBackend>>,
}

impl Trainer {
    /// Validates `spec` and checks `dataset` against its content root. A job
    /// that fine-tunes a model needs [`Trainer::with_initial_model`].
    pub fn new(spec: JobSpec, dataset: Dataset, kernels: Kernels) -> Result<Self> {
        Self::with_initial_model(spec, dataset, None, kernels)
    }

    /// [`Trainer::new`] with S₀'s weights for a job that fine-tunes a model
    /// (`init.from = "model"`): `initial` must then be given, with the job's
    /// parameter shapes and the model root the spec names. A job whose
    /// weights are drawn from the seed takes none.
    pub fn with_initial_model(
        spec: JobSpec,
        dataset: Dataset,
        initial: Option<Vec<Vec<f32>>>,
        kernels: Kernels,
    ) -> Result<Self> {
        spec.validate()?;
        dataset.check_against(&spec)?;
        let plan = spec.model_plan()?;
        let initial_model = check_initial_model(&spec, &plan.param_shapes, initial)?;
        Ok(Self {
            job_hash: spec.job_hash(),
            order: DataOrder::new(&spec),
            param_shapes: plan.param_shapes.clone(),
            plan,
            rng_key: derive_key(spec.seed, purpose::SHUFFLE),
            spec,
            dataset,
            kernels,
            initial_model,
            buffers: BufferPool::default(),
            backend: None,
        })
    }

    /// A trainer that runs this trainer's job but commits as `job`'s (its job
    /// hash and rng key in every state root): only for the adversarial test
    /// modes, where a solver trains something else than it claims (a wrong
    /// learning rate, say) and must still post roots that look like `job`'s.
    #[cfg(feature = "faults")]
    pub fn committing_as(mut self, job: &JobSpec) -> Self {
        self.job_hash = job.job_hash();
        self.rng_key = derive_key(job.seed, purpose::SHUFFLE);
        self
    }

    /// A trainer that reads its batches in the order of `shuffle_key` instead
    /// of the job's: only for the adversarial test modes (a wrong shuffle).
    #[cfg(feature = "faults")]
    pub fn with_shuffle_key(mut self, shuffle_key: u64) -> Self {
        self.order = self.order.with_shuffle_key(shuffle_key);
        self
    }

    /// A trainer whose runs ([`Trainer::train_from`], [`Trainer::replay_interval`])
    /// take their steps on `backend` (a GPU); single steps and instrumented
    /// replays stay on the CPU kernels.
    pub fn with_backend(mut self, backend: std::sync::Arc<dyn StepBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The backend runs take their steps on, if not the CPU kernels.
    pub fn backend(&self) -> Option<&dyn StepBackend> {
        self.backend.as_deref()
    }

    /// The job.
    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// The job hash.
    pub fn job_hash(&self) -> Hash32 {
        self.job_hash
    }

    /// The data order (split, batches).
    pub fn order(&self) -> &DataOrder {
        &self.order
    }

    /// The kernels the trainer runs on.
    pub fn kernels(&self) -> &Kernels {
        &self.kernels
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// Shapes of the moment tensors.
    pub fn moment_shapes(&self) -> Vec<Vec<usize>> {
        let copies = self.spec.optimizer.moments_per_param();
        (0..copies)
            .flat_map(|_| self.param_shapes.iter().cloned())
            .collect()
    }

    /// Shapes of the parameter tensors.
    pub fn param_shapes(&self) -> &[Vec<usize>] {
        &self.param_shapes
    }

    /// S₀, with zero moments and weights either loaded (a fine-tuning job:
    /// the model given to [`Trainer::with_initial_model`]) or drawn from the
    /// seed: PyTorch-style uniform(±1/√fan_in) weights
    /// and biases. Element e of parameter p is `(2u − 1)·bound` with
    /// `u = uniform01(derive_key(seed, INIT + p), e)` and
    /// `bound = 1/√fan_in`, each op one rounding: the micro-program of
    /// [`Trainer::init_element_trace`] (`docs/repops.md` § The initial state).
    pub fn initial_state(&self) -> State {
        let moments = self
            .moment_shapes()
            .iter()
            .map(|shape| vec![0.0; shape.iter().product()])
            .collect();
        if let Some(params) = &self.initial_model {
            return State {
                step: 0,
                params: params.clone(),
                moments,
            };
        }
        let params = self
            .param_shapes
            .iter()
            .zip(&self.plan.param_inits)
            .enumerate()
            .map(|(p, (shape, init))| {
                let len = shape.iter().product::<usize>();
                let fan_in = match *init {
                    ParamInit::Uniform { fan_in } => fan_in,
                    ParamInit::Constant(value) => return vec![value; len],
                };
                let mut fp = Direct;
                let bound = init_bound(&mut fp, fan_in);
                let key = derive_key(self.spec.seed, purpose::INIT + p as u64);
                (0..len)
                    .map(|e| init_weight(&mut fp, uniform01(key, e as u64), bound))
                    .collect()
            })
            .collect();
        State {
            step: 0,
            params,
            moments,
        }
    }

    /// The micro-trace of element `element` of parameter `param` of S₀, as the
    /// dispute game checks it for the transition "nothing → S₀": `sqrt(fan_in)`,
    /// `div(1, ·)`, `fma(u, 2, −1)`, `mul(·, bound)`, with `fan_in` and `u`
    /// constants (`docs/repops.md` § The initial state). It runs the very code
    /// [`Trainer::initial_state`] computes S₀ with, so its value is that
    /// element's bits. Moments of S₀ have no program: they are the constant 0;
    /// nor have the weights of a fine-tuning job (they are the named model's,
    /// bound on chain by its root, never disputed element by element): this
    /// is an error for them.
    pub fn init_element_trace(&self, param: usize, element: usize) -> Result<ElementTrace> {
        if self.initial_model.is_some() {
            return Err(Error::InitialModel(
                "the weights of S₀ are the loaded model's: they have no program".into(),
            ));
        }
        let Some(shape) = self.param_shapes.get(param) else {
            return Err(Error::OutOfRange(format!(
                "parameter {param} of {}",
                self.param_shapes.len()
            )));
        };
        let len = shape.iter().product::<usize>();
        if element >= len {
            return Err(Error::OutOfRange(format!(
                "element {element} of parameter {param} ({len} elements)"
            )));
        }
        let mut recorder = Recorder::default();
        let fan_in = match self.plan.param_inits[param] {
            ParamInit::Uniform { fan_in } => fan_in,
            ParamInit::Constant(value) => {
                return Ok(ElementTrace {
                    steps: Vec::new(),
                    value: value.to_bits(),
                    copied: Some(Operand::Const(value.to_bits())),
                });
            }
        };
        let bound = init_bound(&mut recorder, fan_in);
        let key = derive_key(self.spec.seed, purpose::INIT + param as u64);
        let value = init_weight(&mut recorder, uniform01(key, element as u64), bound);
        Ok(recorder.finish(value))
    }

    /// The state root of `state` (see `docs/commitments.md`).
    pub fn state_root(&self, state: &State) -> Hash32 {
        self.state_header(state).root()
    }

    /// What the state root of `state` hashes.
    pub fn state_header(&self, state: &State) -> crate::commit::StateHeader {
        layout::header_of(
            self.job_hash,
            self.order.cursor(u64::from(state.step)),
            self.rng_key,
            (&self.param_shapes, &self.moment_shapes()),
            state,
        )
    }

    /// The op list of step `step`.
    pub fn graph(&self, step: u32) -> StepGraph {
        planned_step_graph(
            &self.spec,
            &self.plan,
            step,
            self.order.batch_rows(u64::from(step)),
        )
    }

    /// Runs every node of `graph` on `state` with the fast kernels.
    pub fn execute(&self, graph: &StepGraph, state: &State) -> Vec<Vec<f32>> {
        self.execute_with(graph, state, |_, _| {})
    }

    /// [`Trainer::execute`], handing each node's output to `after_node`
    /// (node index, values) before any later node reads it: an observer, or
    /// a fault injected mid-step whose consequences the rest of the step
    /// computes (the adversarial test modes).
    pub fn execute_with(
        &self,
        graph: &StepGraph,
        state: &State,
        mut after_node: impl FnMut(usize, &mut [f32]),
    ) -> Vec<Vec<f32>> {
        let mut outputs: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            let mut out = self.buffers.take(node.len());
            {
                let inputs = self.resolve_inputs(&node.inputs, state, &outputs);
                self.kernels.run(&node.op, &inputs, &mut out);
            }
            after_node(i, &mut out);
            outputs.push(out);
        }
        outputs
    }

    /// The slices a node reads.
    pub fn resolve_inputs<'a>(
        &'a self,
        refs: &[TensorRef],
        state: &'a State,
        outputs: &'a [Vec<f32>],
    ) -> Vec<&'a [f32]> {
        refs.iter()
            .map(|r| match *r {
                TensorRef::DataFeatures => self.dataset.x.as_slice(),
                TensorRef::DataLabels => self.dataset.y.as_slice(),
                TensorRef::Param(i) => state.params[i].as_slice(),
                TensorRef::Moment(i) => state.moments[i].as_slice(),
                TensorRef::Node(i) => outputs[i].as_slice(),
            })
            .collect()
    }

    /// S_{t+1} from the outputs of step `state.step`'s graph (the nodes listed in
    /// `new_params` and `new_moments`); the other buffers go back to the pool.
    pub fn next_state(
        &self,
        graph: &StepGraph,
        state: &State,
        mut outputs: Vec<Vec<f32>>,
    ) -> State {
        let next = State {
            step: state.step + 1,
            params: graph
                .new_params
                .iter()
                .map(|&i| std::mem::take(&mut outputs[i]))
                .collect(),
            moments: graph
                .new_moments
                .iter()
                .map(|&i| std::mem::take(&mut outputs[i]))
                .collect(),
        };
        self.buffers.give(outputs);
        next
    }

    /// Hands a state that is no longer needed back for reuse by later steps.
    pub fn recycle(&self, state: State) {
        self.buffers
            .give(state.params.into_iter().chain(state.moments));
    }

    fn batch_loss(&self, graph: &StepGraph, outputs: &[Vec<f32>]) -> f32 {
        match Self::loss_nodes(graph) {
            Some((log_probs, labels)) => self.loss_of(&outputs[log_probs], &outputs[labels]),
            None => f32::NAN,
        }
    }

    /// The nodes a step's batch loss reads: the log-softmax and the labels.
    pub fn loss_nodes(graph: &StepGraph) -> Option<(usize, usize)> {
        let log_probs = graph
            .nodes
            .iter()
            .position(|node| matches!(node.op, Op::LogSoftmax { .. }))?;
        Some((log_probs, 2))
    }

    /// The batch loss from a step's log-softmax output and labels (the
    /// nodes of [`Trainer::loss_nodes`]).
    pub fn loss_of(&self, log_probs: &[f32], labels: &[f32]) -> f32 {
        mean_nll(log_probs, labels, self.spec.dataset.classes as usize)
    }

    /// One step: S_t → S_{t+1}.
    pub fn step(&self, state: &State) -> Result<StepOutcome> {
        self.check_step(state.step)?;
        let graph = self.graph(state.step);
        let outputs = self.execute(&graph, state);
        let loss = self.batch_loss(&graph, &outputs);
        Ok(StepOutcome {
            state: self.next_state(&graph, state, outputs),
            loss,
        })
    }

    /// One step with the root of every intermediate tensor, in op order: the
    /// solver's and challenger's view for operator-level bisection.
    pub fn step_instrumented(&self, state: &State) -> Result<InstrumentedStep> {
        self.check_step(state.step)?;
        let graph = self.graph(state.step);
        let outputs = self.execute(&graph, state);
        let tensor_roots: Vec<Hash32> = graph
            .nodes
            .iter()
            .zip(&outputs)
            .map(|(node, values)| tensor_root(&node.shape, values))
            .collect();
        let is_state = |i: usize| graph.new_params.contains(&i) || graph.new_moments.contains(&i);
        let intermediate_roots: Vec<Hash32> = (0..tensor_roots.len())
            .filter(|&i| !is_state(i))
            .map(|i| tensor_roots[i])
            .collect();
        let pick =
            |nodes: &[usize]| -> Vec<Hash32> { nodes.iter().map(|&i| tensor_roots[i]).collect() };
        let produced_merkles = [
            merkle_root(&intermediate_roots),
            merkle_root(&pick(&graph.new_moments)),
            merkle_root(&pick(&graph.new_params)),
        ];
        Ok(InstrumentedStep {
            names: graph.nodes.iter().map(|node| node.name.clone()).collect(),
            intermediate_roots,
            produced_merkles,
            tensor_roots,
            next: self.next_state(&graph, state, outputs),
        })
    }

    fn check_step(&self, step: u32) -> Result<()> {
        if step >= self.spec.steps {
            return Err(Error::OutOfRange(format!(
                "step {step} is past the job's {} steps",
                self.spec.steps
            )));
        }
        Ok(())
    }

    /// Trains from `start` (S₀ or a loaded checkpoint) to step T, calling
    /// `on_checkpoint(index, state, root)` at every checkpoint from `start` on
    /// (including `start` itself). `earlier_roots` are the checkpoint roots
    /// before `start`, so a resumed run ends with the same trace root.
    pub fn train_from(
        &self,
        start: State,
        earlier_roots: Vec<Hash32>,
        mut on_checkpoint: impl FnMut(u32, &State, Hash32) -> Result<()>,
    ) -> Result<TrainOutcome> {
        let k = self.spec.checkpoint_interval;
        if !start.step.is_multiple_of(k) || earlier_roots.len() != (start.step / k) as usize {
            return Err(Error::OutOfRange(format!(
                "a run resumes at a checkpoint with every earlier root: step {} with {} roots",
                start.step,
                earlier_roots.len()
            )));
        }
        let mut roots = earlier_roots;
        let mut losses = Vec::new();
        let mut state = start;
        loop {
            if state.step.is_multiple_of(k) {
                let root = self.state_root(&state);
                on_checkpoint(state.step / k, &state, root)?;
                roots.push(root);
            }
            if state.step == self.spec.steps {
                break;
            }
            if let Some(backend) = &self.backend {
                // To the next checkpoint in one call: the state stays on the
                // device in between.
                let count = k - state.step % k;
                let (next, step_losses) = backend.run(self, state, count)?;
                losses.extend(step_losses);
                state = next;
                continue;
            }
            let outcome = self.step(&state)?;
            losses.push(outcome.loss);
            self.recycle(std::mem::replace(&mut state, outcome.state));
        }
        Ok(TrainOutcome {
            trace_root: trace_root(&roots),
            checkpoint_roots: roots,
            final_state: state,
            losses,
        })
    }

    /// Trains the whole job from S₀.
    pub fn train(
        &self,
        on_checkpoint: impl FnMut(u32, &State, Hash32) -> Result<()>,
    ) -> Result<TrainOutcome> {
        self.train_from(self.initial_state(), Vec::new(), on_checkpoint)
    }

    /// Replays one checkpoint interval from checkpoint state `start`, returning
    /// the state and state root at the next checkpoint.
    pub fn replay_interval(&self, start: &State) -> Result<(State, Hash32)> {
        let k = self.spec.checkpoint_interval;
        if !start.step.is_multiple_of(k) {
            return Err(Error::OutOfRange(format!(
                "step {} is not a checkpoint (k = {k})",
                start.step
            )));
        }
        if let Some(backend) = &self.backend {
            let (state, _) = backend.run(self, start.clone(), k)?;
            let root = self.state_root(&state);
            return Ok((state, root));
        }
        let mut state = start.clone();
        for _ in 0..k {
            let next = self.step(&state)?.state;
            self.recycle(std::mem::replace(&mut state, next));
        }
        let root = self.state_root(&state);
        Ok((state, root))
    }

    /// Loss and accuracy of `state`'s model on dataset rows `rows` (for a
    /// language model, over every position of every row: the loss in nats
    /// per token and the share of next tokens it ranks first). The rows are
    /// evaluated in chunks (every op is row-wise, so the bits do not depend on
    /// the chunking); the mean sums the rows' losses in order.
    pub fn evaluate(&self, state: &State, rows: &[u32]) -> Metrics {
        const CHUNK: usize = 256;
        let classes = self.spec.dataset.classes as usize;
        let failed = Metrics {
            loss: f32::NAN,
            accuracy: 0.0,
        };
        let Ok(plan) = self.spec.model_plan() else {
            return failed;
        };
        let positions = graph::loss_positions(&plan);
        let features = self.dataset.features;
        let mut log_probs = Vec::with_capacity(rows.len() * positions * classes);
        let mut labels = Vec::with_capacity(rows.len() * positions);
        let mut correct = 0usize;
        for chunk in rows.chunks(CHUNK) {
            let Ok(graph) = forward_graph(&self.spec, chunk.to_vec()) else {
                return failed;
            };
            let outputs = self.execute(&graph, state);
            let logits = outputs.last().map(Vec::as_slice).unwrap_or_default();
            let first = labels.len();
            for &r in chunk {
                let r = r as usize;
                match plan.loss {
                    Loss::SoftmaxCrossEntropy => labels.push(self.dataset.y[r]),
                    Loss::NextToken => labels.extend_from_slice(
                        &self.dataset.x[r * features + 1..r * features + 1 + positions],
                    ),
                }
            }
            correct += logits
                .chunks_exact(classes)
                .zip(&labels[first..])
                .filter(|(logits, label)| argmax(logits) as f32 == **label)
                .count();
            let start = log_probs.len();
            log_probs.resize(start + logits.len(), 0.0);
            self.kernels.run(
                &Op::LogSoftmax {
                    rows: logits.len() / classes,
                    classes,
                },
                &[logits],
                &mut log_probs[start..],
            );
            self.buffers.give(outputs);
        }
        Metrics {
            loss: mean_nll(&log_probs, &labels, classes),
            accuracy: correct as f64 / labels.len().max(1) as f64,
        }
    }
}

/// `bound = div(1, sqrt(fan_in))`, the scale of a parameter's initial values
/// (`fan_in` is below 2^24, so an exact f32).
fn init_bound<F: Fp>(fp: &mut F, fan_in: usize) -> F::V {
    let fan_in = fp.constant(fan_in as f32);
    let root = fp.sqrt(fan_in);
    let one = fp.constant(1.0);
    fp.div(one, root)
}

/// One initial parameter value, `mul(fma(u, 2, −1), bound)`.
#[inline(always)]
fn init_weight<F: Fp>(fp: &mut F, u: f32, bound: F::V) -> F::V {
    let u = fp.constant(u);
    let two = fp.constant(2.0);
    let minus_one = fp.constant(-1.0);
    let centred = fp.fma(u, two, minus_one);
    fp.mul(centred, bound)
}

/// `−(1/n) Σ_i LS[i, y_i]`, summed in row order.
fn mean_nll(log_probs: &[f32], labels: &[f32], classes: usize) -> f32 {
    let mut acc = 0.0f32;
    for (row, &label) in log_probs.chunks_exact(classes).zip(labels) {
        let picked = if label >= 0.0 && label.fract() == 0.0 {
            row.get(label as usize).copied().unwrap_or(f32::NAN)
        } else {
            f32::NAN
        };
        acc = prim::sub(acc, picked);
    }
    prim::div(acc, labels.len() as f32)
}

/// The index of the first maximal value.
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &value) in values.iter().enumerate() {
        if value > values[best] {
            best = i;
        }
    }
    best
}

/// The initial weights of `spec`'s job, checked: `None` for a job drawn from
/// the seed (which takes none), the weights of the named model for a
/// fine-tuning job (which needs them, with `shapes` and the spec's root).
fn check_initial_model(
    spec: &JobSpec,
    shapes: &[Vec<usize>],
    initial: Option<Vec<Vec<f32>>>,
) -> Result<Option<Vec<Vec<f32>>>> {
    let (root, params) = match (spec.initial_model_root()?, initial) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(Error::InitialModel(
                "the job draws its initial weights from the seed, it loads no model".into(),
            ));
        }
        (Some(root), None) => return Err(Error::InitialModelMissing(root)),
        (Some(root), Some(params)) => (root, params),
    };
    if params.len() != shapes.len() {
        return Err(Error::InitialModel(format!(
            "{} tensors, the job's model has {}",
            params.len(),
            shapes.len()
        )));
    }
    for (p, (shape, values)) in shapes.iter().zip(&params).enumerate() {
        let len = shape.iter().product::<usize>();
        if values.len() != len {
            return Err(Error::InitialModel(format!(
                "tensor {p} has {} values, the job's parameter {p} {shape:?} has {len}",
                values.len()
            )));
        }
    }
    let actual = crate::commit::model_root(shapes, &params);
    if actual != root {
        return Err(Error::InitialModel(format!(
            "the weights have model root {actual}, the job names {root}"
        )));
    }
    Ok(Some(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Level;
    use crate::repops::{Opcode, Operand, replay_trace};

    #[test]
    fn init_traces_are_the_initial_state() {
        let spec = JobSpec::from_toml(include_str!("../../../examples/digits-mlp.toml")).unwrap();
        let kernels = Kernels::new(Level::Scalar, 1).unwrap();
        let trainer = Trainer::new(spec, Dataset::digits().unwrap(), kernels).unwrap();
        let s0 = trainer.initial_state();
        for (p, values) in s0.params.iter().enumerate() {
            for e in (0..values.len()).step_by(37).chain([values.len() - 1]) {
                let trace = trainer.init_element_trace(p, e).unwrap();
                assert_eq!(trace.value, values[e].to_bits(), "param {p} element {e}");
                let opcodes: Vec<Opcode> = trace.steps.iter().map(|s| s.opcode).collect();
                assert_eq!(
                    opcodes,
                    [Opcode::Sqrt, Opcode::Div, Opcode::Fma, Opcode::Mul]
                );
                let fan_in = if p < 2 { 64.0f32 } else { 128.0 };
                assert_eq!(trace.steps[0].operands[0], Operand::Const(fan_in.to_bits()));
                assert_eq!(replay_trace(&trace, |_, _| f32::NAN), Ok(()));
            }
        }
        assert!(trainer.init_element_trace(4, 0).is_err());
        assert!(trainer.init_element_trace(0, 128 * 64).is_err());
    }
}
