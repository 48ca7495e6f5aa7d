//! A fine-tuning job's initial model: `vtrain job model-root`, and how
//! `vtrain job post` finds and checks the model a spec starts from.

use std::path::{Path, PathBuf};

use alloy::providers::Provider;
use clap::Args;
use serde::Serialize;
use vtrain_proof_of_learning::{Hash32, JobSpec};
use vtrain_store::{ArtifactStore, Error as StoreError};

use super::{book, read_spec};
use crate::exit::{Classify, CliResult, Failure, fail};
use crate::output::emit;

/// `vtrain job model-root` flags.
#[derive(Args, Clone, Debug)]
pub struct ModelRootArgs {
    /// The job spec the model is for (its parameter shapes; `[init]` may be absent).
    #[arg(long)]
    pub spec: PathBuf,
    /// The model: safetensors with F32 tensors `param.0`, `param.1`, … in the
    /// spec's parameter order (what `vtrain job fetch` writes).
    #[arg(long)]
    pub model: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ModelRoot {
    model_root: String,
    parameters: usize,
    tensors: usize,
}

impl ModelRootArgs {
    /// Prints the model root of the file for the spec's shapes: the value of
    /// `init.root` for a job that fine-tunes it.
    pub fn run(self) -> CliResult<()> {
        let spec = read_spec(&self.spec)?;
        let shapes = spec.param_shapes();
        let bytes = read_model_file(&self.model)?;
        let params = vtrain_store::read_model(&self.model.display().to_string(), &bytes, &shapes)
            .or_fail(
            Failure::Input,
            format!(
                "{} is not a model of this spec's shape",
                self.model.display()
            ),
        )?;
        let root = vtrain_store::model_root(&shapes, &params);
        let report = ModelRoot {
            model_root: root.to_hex(),
            parameters: spec.param_count(),
            tensors: shapes.len(),
        };
        emit(self.json, &report, || {
            format!(
                "{}\n  {} parameters in {} tensors; fine-tune it with\n  [init]\n  from = \"model\"\n  root = \"{}\"\n",
                report.model_root, report.parameters, report.tensors, report.model_root
            )
        });
        Ok(())
    }
}

/// The bytes of the model file at `path`: a regular file of at most
/// `MAX_ARTIFACT_BYTES` (a device or a pipe would be read forever).
fn read_model_file(path: &Path) -> CliResult<Vec<u8>> {
    let cannot = format!("cannot read the model {}", path.display());
    let meta = std::fs::metadata(path).or_fail(Failure::Input, cannot.clone())?;
    if !meta.is_file() || meta.len() > vtrain_store::MAX_ARTIFACT_BYTES {
        return Err(fail(
            Failure::Input,
            format!(
                "{cannot}: not a regular file of at most {} bytes",
                vtrain_store::MAX_ARTIFACT_BYTES
            ),
        ));
    }
    std::fs::read(path).or_fail(Failure::Input, cannot)
}

/// The initial model of a fine-tuning job, found and checked, and where it
/// is to be announced from.
pub(crate) struct InitialModel {
    /// Its model root (`init.root`).
    pub root: Hash32,
    /// The weights.
    pub params: Vec<Vec<f32>>,
}

/// The initial model `spec` names, if any: from `file` (`--init-model`), else
/// from `store` or a location announced on chain. Every candidate is checked
/// against `init.root` and the spec's parameter shapes. Sends nothing.
pub(crate) async fn resolve<P: Provider + Clone>(
    spec: &JobSpec,
    file: Option<&Path>,
    store: &ArtifactStore,
    market: &vtrain_dispute::Market<P>,
) -> CliResult<Option<InitialModel>> {
    let shapes = spec.param_shapes();
    let named = spec
        .initial_model_root()
        .or_fail(Failure::Input, "the spec's init.root")?;
    let Some(root) = named else {
        let Some(file) = file else {
            return Ok(None);
        };
        // A model given for a job drawn from the seed: say how to use it.
        let bytes = read_model_file(file)?;
        let hint = vtrain_store::read_model(&file.display().to_string(), &bytes, &shapes)
            .map(|params| {
                format!(
                    ": to fine-tune it, add to the spec\n  [init]\n  from = \"model\"\n  root = \"{}\"",
                    vtrain_store::model_root(&shapes, &params)
                )
            })
            .unwrap_or_default();
        return Err(fail(
            Failure::Input,
            format!(
                "--init-model is given but the spec draws its initial weights from the seed{hint}"
            ),
        ));
    };
    if let Some(file) = file {
        let bytes = read_model_file(file)?;
        let name = file.display().to_string();
        return match vtrain_store::decode_model(&name, &bytes, &shapes, &root) {
            Ok(params) => Ok(Some(InitialModel { root, params })),
            Err(StoreError::RootMismatch { actual, .. }) => Err(fail(
                Failure::Input,
                format!(
                    "{name} is not the model the spec starts from: its model root is {actual}, the spec's init.root is {root}"
                ),
            )),
            Err(e) => Err(fail(
                Failure::Input,
                format!("{name} is not a model of this spec's shape: {e}"),
            )),
        };
    }
    let book = book(market).await?;
    let uris = book.uris(&alloy::primitives::B256::from(root.0));
    match vtrain_store::fetch_model(store, &uris, &root, &shapes).await {
        Ok(params) => Ok(Some(InitialModel { root, params })),
        Err(e) => Err(fail(
            Failure::Input,
            format!(
                "the initial model {root} is not available ({} announced location(s); {e}): give its weights with --init-model FILE",
                uris.len()
            ),
        )),
    }
}
