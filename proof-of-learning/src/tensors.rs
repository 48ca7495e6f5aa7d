//! The safetensors form of F32 tensors that every vtrain artifact file uses
//! (checkpoints, models, canonical datasets): each value stored as its
//! canonical bits. A module of its own, below `checkpoint`, `train` and
//! `dataset`, so that none of them imports another in a circle.

use std::path::Path;

use crate::commit::canonical_bits;
use crate::error::{Error, Result};

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// The safetensors bytes of F32 tensors `(name, shape, values)`, each value
/// stored as its canonical bits (the form every vtrain artifact file uses:
/// checkpoints, models, canonical datasets).
pub fn encode_f32_tensors(tensors: &[(String, &[usize], &[f32])]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, values)| {
            values
                .iter()
                .flat_map(|&v| canonical_bits(v).to_le_bytes())
                .collect()
        })
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.to_vec(), bytes)
                .map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| corrupt(Path::new("<memory>"), error.to_string()))?;
    safetensors::tensor::serialize(views, None)
        .map_err(|error| corrupt(Path::new("<memory>"), error.to_string()))
}

/// Reads the F32 tensor `name` of shape `shape` from `tensors`, refusing a
/// missing tensor, another dtype or another shape; `path` names the file in
/// errors.
pub fn read_f32_tensor(
    tensors: &safetensors::SafeTensors<'_>,
    path: &Path,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    let view = tensors
        .tensor(name)
        .map_err(|_| corrupt(path, format!("tensor {name} is missing")))?;
    if view.dtype() != safetensors::Dtype::F32 || view.shape() != shape {
        return Err(corrupt(
            path,
            format!(
                "tensor {name} is {:?} {:?}, expected F32 {shape:?}",
                view.dtype(),
                view.shape()
            ),
        ));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
