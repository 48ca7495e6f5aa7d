//! A job's training states without its data: the shapes of their tensors
//! and what their roots hash besides the tensors (the job hash, the data
//! cursor, the RNG key), all fixed by the spec. What a reader needs to check
//! a checkpoint against its committed root without the dataset or a
//! [`crate::Trainer`] (the explorer does); the trainer computes its roots with
//! the same function.

use std::path::Path;

use crate::commit::{StateHeader, tensor_list_root, tensor_root};
use crate::dataset::DataOrder;
use crate::error::Result;
use crate::hash::Hash32;
use crate::prng::{derive_key, purpose};
use crate::spec::JobSpec;
use crate::train::State;

/// The layout of a job's training states.
#[derive(Clone, Debug)]
pub struct StateLayout {
    job_hash: Hash32,
    order: DataOrder,
    rng_key: u64,
    param_shapes: Vec<Vec<usize>>,
    moment_shapes: Vec<Vec<usize>>,
}

impl StateLayout {
    /// The layout of `spec`'s job (the spec is validated first).
    pub fn of(spec: &JobSpec) -> Result<Self> {
        spec.validate()?;
        let plan = spec.model_plan()?;
        let copies = spec.optimizer.moments_per_param();
        Ok(Self {
            job_hash: spec.job_hash(),
            order: DataOrder::new(spec),
            rng_key: derive_key(spec.seed, purpose::SHUFFLE),
            moment_shapes: (0..copies)
                .flat_map(|_| plan.param_shapes.iter().cloned())
                .collect(),
            param_shapes: plan.param_shapes,
        })
    }

    /// Decodes a checkpoint file (safetensors `param.i`, `moment.i`) of the
    /// state at `step`, checking every tensor's name, dtype and shape; `path`
    /// names it in errors.
    pub fn decode(&self, path: &Path, bytes: &[u8], step: u32) -> Result<State> {
        crate::checkpoint::decode_tensors(
            &self.param_shapes,
            &self.moment_shapes,
            path,
            bytes,
            step,
        )
    }

    /// What the state root of `state` hashes.
    pub fn header(&self, state: &State) -> StateHeader {
        header_of(
            self.job_hash,
            self.order.cursor(u64::from(state.step)),
            self.rng_key,
            (&self.param_shapes, &self.moment_shapes),
            state,
        )
    }

    /// The state root of `state` (`docs/commitments.md` § State root).
    pub fn root(&self, state: &State) -> Hash32 {
        self.header(state).root()
    }
}

/// The header of `state`: its tensors' list roots, with the job hash, data
/// cursor and RNG key it is committed under; `shapes` are the parameter and
/// moment shapes.
pub(crate) fn header_of(
    job_hash: Hash32,
    data_cursor: u64,
    rng_key: u64,
    shapes: (&[Vec<usize>], &[Vec<usize>]),
    state: &State,
) -> StateHeader {
    let roots = |shapes: &[Vec<usize>], tensors: &[Vec<f32>]| -> Vec<Hash32> {
        shapes
            .iter()
            .zip(tensors)
            .map(|(shape, values)| tensor_root(shape, values))
            .collect()
    };
    StateHeader {
        job_hash,
        step: u64::from(state.step),
        data_cursor,
        rng_key,
        weights_root: tensor_list_root(&roots(shapes.0, &state.params)),
        optimizer_root: tensor_list_root(&roots(shapes.1, &state.moments)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{Kernels, Level};
    use crate::{Dataset, Trainer};

    #[test]
    fn the_layout_checks_a_checkpoint_as_the_trainer_does_without_the_data() {
        let spec = JobSpec::from_toml(include_str!("../../../examples/digits-mlp.toml"))
            .expect("example spec");
        let layout = StateLayout::of(&spec).expect("layout");
        let kernels = Kernels::new(Level::Scalar, 1).expect("kernels");
        let trainer =
            Trainer::new(spec, Dataset::digits().expect("digits"), kernels).expect("trainer");
        let s0 = trainer.initial_state();
        let s1 = trainer.step(&s0).expect("a step").state;
        for state in [&s0, &s1] {
            assert_eq!(layout.header(state), trainer.state_header(state));
            let bytes = crate::checkpoint::encode_state(&trainer, state).expect("encodes");
            let decoded = layout
                .decode(Path::new("checkpoint"), &bytes, state.step)
                .expect("decodes");
            assert_eq!(layout.root(&decoded), trainer.state_root(state));
        }
        // Another state's file at this step's root, and a file with a tensor
        // missing, do not pass.
        let bytes = crate::checkpoint::encode_state(&trainer, &s0).expect("encodes");
        let moved = layout.decode(Path::new("c"), &bytes, 1).expect("decodes");
        assert_ne!(layout.root(&moved), trainer.state_root(&s1));
        let params_only = crate::checkpoint::encode_f32_tensors(&[(
            "param.0".to_owned(),
            trainer.param_shapes()[0].as_slice(),
            s0.params[0].as_slice(),
        )])
        .expect("encodes");
        assert!(layout.decode(Path::new("c"), &params_only, 0).is_err());
    }
}
