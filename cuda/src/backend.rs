//! Training steps on a device: the trainer's step graph, node by node, with
//! the state and every intermediate in device memory. The state crosses to
//! the host only where a run hands it back (a checkpoint), and each step's
//! loss from two small tensors (the log-probabilities and labels).

use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::{op_name, run_op};
use std::sync::Mutex;
use vtrain_proof_of_learning::hash::Hash32;
use vtrain_proof_of_learning::train::{StepBackend, TensorRef};
use vtrain_proof_of_learning::{State, Trainer};

/// A job's dataset in device memory.
struct DeviceDataset<B> {
    /// The job it was uploaded for.
    job: Hash32,
    features: B,
    labels: B,
}

/// A [`StepBackend`] on device `D`.
pub struct DeviceBackend<D: Device> {
    device: D,
    dataset: Mutex<Option<DeviceDataset<D::Buffer>>>,
}

impl<D: Device> std::fmt::Debug for DeviceBackend<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceBackend")
            .field("device", &self.device.describe())
            .finish()
    }
}

impl<D: Device> DeviceBackend<D> {
    /// A backend on `device`.
    pub fn new(device: D) -> Self {
        Self {
            device,
            dataset: Mutex::new(None),
        }
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// Checks that every op of `trainer`'s step has a kernel here, before
    /// any work: a job the backend cannot run is refused up front.
    pub fn check_job(&self, trainer: &Trainer) -> Result<()> {
        let graph = trainer.graph(0);
        for node in &graph.nodes {
            if !crate::ops::supports(&node.op) {
                return Err(Error::UnsupportedOp(op_name(&node.op)));
            }
        }
        Ok(())
    }

    /// Steps `state.step .. state.step + count` on the device.
    pub fn run_steps(
        &self,
        trainer: &Trainer,
        state: State,
        count: u32,
    ) -> Result<(State, Vec<f32>)> {
        let end = state
            .step
            .checked_add(count)
            .filter(|&end| end <= trainer.spec().steps);
        let Some(end) = end else {
            return Err(Error::Trainer(vtrain_proof_of_learning::Error::OutOfRange(
                format!(
                    "steps {}..{} run past the job's {} steps",
                    state.step,
                    u64::from(state.step) + u64::from(count),
                    trainer.spec().steps
                ),
            )));
        };
        self.check_job(trainer)?;
        let mut guard = self
            .dataset
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.as_ref().map(|dataset| dataset.job) != Some(trainer.job_hash()) {
            *guard = Some(DeviceDataset {
                job: trainer.job_hash(),
                features: self.device.upload(&trainer.dataset().x)?,
                labels: self.device.upload(&trainer.dataset().y)?,
            });
        }
        let Some(DeviceDataset {
            features, labels, ..
        }) = guard.as_ref()
        else {
            unreachable!("set above")
        };
        let upload_all = |tensors: &[Vec<f32>]| -> Result<Vec<D::Buffer>> {
            tensors.iter().map(|t| self.device.upload(t)).collect()
        };
        let mut params = upload_all(&state.params)?;
        let mut moments = upload_all(&state.moments)?;
        let mut losses = Vec::with_capacity(count as usize);
        for step in state.step..end {
            let graph = trainer.graph(step);
            let mut outputs: Vec<Option<D::Buffer>> = Vec::with_capacity(graph.nodes.len());
            let mut scratch = Vec::new();
            for node in &graph.nodes {
                let inputs: Vec<&D::Buffer> = node
                    .inputs
                    .iter()
                    .map(|r| match *r {
                        TensorRef::DataFeatures => features,
                        TensorRef::DataLabels => labels,
                        TensorRef::Param(i) => &params[i],
                        TensorRef::Moment(i) => &moments[i],
                        TensorRef::Node(i) => outputs[i]
                            .as_ref()
                            .unwrap_or_else(|| unreachable!("a node reads only earlier nodes")),
                    })
                    .collect();
                let output = run_op(&self.device, &node.op, &inputs, node.len())?;
                scratch.extend(output.scratch);
                outputs.push(Some(output.out));
            }
            let loss = match Trainer::loss_nodes(&graph) {
                Some((log_probs, labels)) => {
                    let download = |i: usize| -> Result<Vec<f32>> {
                        let buffer = outputs[i]
                            .as_ref()
                            .unwrap_or_else(|| unreachable!("every node ran"));
                        self.device.download(buffer)
                    };
                    trainer.loss_of(&download(log_probs)?, &download(labels)?)
                }
                None => f32::NAN,
            };
            losses.push(loss);
            let mut take = |i: usize| {
                outputs[i]
                    .take()
                    .unwrap_or_else(|| unreachable!("a state tensor is one node's output"))
            };
            params = graph.new_params.iter().map(|&i| take(i)).collect();
            moments = graph.new_moments.iter().map(|&i| take(i)).collect();
            drop(scratch);
        }
        let download_all = |buffers: &[D::Buffer]| -> Result<Vec<Vec<f32>>> {
            buffers.iter().map(|b| self.device.download(b)).collect()
        };
        Ok((
            State {
                step: end,
                params: download_all(&params)?,
                moments: download_all(&moments)?,
            },
            losses,
        ))
    }
}

impl<D: Device> Drop for DeviceBackend<D> {
    fn drop(&mut self) {
        // The cached dataset is freed on whatever thread drops the backend:
        // make the device current there first.
        if let Err(error) = self.device.bind() {
            tracing::warn!(target: "cuda", %error, "cannot bind the device to free its buffers");
        }
        let dataset = self
            .dataset
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|poisoned| poisoned.into_inner().take());
        drop(dataset);
    }
}

impl<D: Device> StepBackend for DeviceBackend<D> {
    fn describe(&self) -> String {
        self.device.describe()
    }

    fn run(
        &self,
        trainer: &Trainer,
        state: State,
        count: u32,
    ) -> vtrain_proof_of_learning::Result<(State, Vec<f32>)> {
        self.run_steps(trainer, state, count)
            .map_err(|error| match error {
                Error::Trainer(inner) => inner,
                other => vtrain_proof_of_learning::Error::Backend {
                    backend: self.device.describe(),
                    reason: other.to_string(),
                },
            })
    }
}
