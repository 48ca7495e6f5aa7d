//! `vtrain job fetch`: the final model, checked against the chain.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use vtrain_proof_of_learning::spec::InitSpec;
use vtrain_proof_of_learning::{Hash32, JobSpec, Kernels, Level, State, Trainer};
use vtrain_store::ArtifactStore;

use super::watch::progress;
use super::{Common, book};
use crate::exit::{Classify, CliResult, Failure, fail};
use crate::output::emit;
use crate::plot::{HeldOut, LossChart};

/// `vtrain job fetch` flags.
#[derive(Args, Clone, Debug)]
pub struct FetchArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The job id.
    pub job_id: u64,
    /// Where to write the model (safetensors) [default: model-<id>.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also save a PNG of the training loss curve here.
    #[arg(long)]
    pub loss_png: Option<PathBuf>,
    /// The artifact store to read the dataset from (for the test accuracy).
    #[arg(long, env = "VTRAIN_STORE", default_value = "vtrain-store")]
    pub store: String,
    /// For a language model (`loss = "next_token"`): sample this many tokens
    /// (bytes) of text from the fetched model after `--prompt`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub generate: Option<u32>,
    /// The text the sample continues (byte-level tokens).
    #[arg(long, default_value = "\n", requires = "generate")]
    pub prompt: String,
    /// The sampling seed: the same model, prompt and seed give the same text
    /// on every machine.
    #[arg(long, default_value_t = 0, requires = "generate")]
    pub seed: u64,
}

#[derive(Serialize)]
struct Fetched {
    job_id: u64,
    model_root: String,
    path: String,
    bytes: usize,
    parameters: usize,
    test_accuracy: Option<f64>,
    test_loss: Option<f32>,
    test_samples: usize,
    loss_png: Option<String>,
    generated: Option<String>,
}

impl FetchArgs {
    /// Fetches, checks and saves the model.
    pub async fn run(self) -> CliResult<()> {
        let market = self.common.market().await?;
        let book = book(&market).await?;
        let Some(job) = book.job(self.job_id).cloned() else {
            return Err(fail(
                Failure::NotFound,
                format!("there is no job {}", self.job_id),
            ));
        };
        let Some(result) = job.result.clone() else {
            return Err(fail(
                Failure::NotFound,
                format!(
                    "job {} has no result yet (it is {:?})",
                    self.job_id, job.phase
                ),
            ));
        };
        if job.phase == vtrain_dispute::JobPhase::Slashed {
            return Err(fail(
                Failure::Ended,
                format!(
                    "job {}'s result was proven wrong and its solver slashed: there is no model to fetch",
                    self.job_id
                ),
            ));
        }
        let spec = JobSpec::from_canonical_bytes(&job.spec)
            .or_fail(Failure::Other, "the posted spec does not decode")?;
        let prompt = self.prompt_tokens(&spec)?;
        let shapes = spec.param_shapes();
        let model_root = Hash32(result.model_root.0);
        let locations = book.locations(&result.model_root);
        if locations.is_empty() {
            return Err(fail(
                Failure::NotFound,
                "the solver has not announced where its model is (yet): try again shortly",
            ));
        }
        let mut last_error = None;
        let mut fetched = None;
        for location in locations {
            match vtrain_store::fetch(&location.uri).await {
                Ok(bytes) => {
                    match vtrain_store::decode_model(&location.uri, &bytes, &shapes, &model_root) {
                        Ok(params) => {
                            fetched = Some((bytes, params));
                            break;
                        }
                        Err(e) => last_error = Some((Failure::Integrity, eyre::Report::new(e))),
                    }
                }
                Err(e) => last_error = Some((Failure::Unreachable, eyre::Report::new(e))),
            }
        }
        let Some((bytes, params)) = fetched else {
            let (failure, report) = last_error.unwrap_or((
                Failure::NotFound,
                eyre::eyre!("no location served the model"),
            ));
            return Err(crate::CliError {
                failure,
                report: report.wrap_err("no announced location served the committed model"),
            });
        };
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| format!("model-{}.safetensors", self.job_id).into());
        std::fs::write(&out, &bytes)
            .or_fail(Failure::Input, format!("cannot write {}", out.display()))?;

        let generated = match (self.generate, &prompt) {
            (Some(count), Some(prompt)) => {
                let kernels = Kernels::new(Level::detect(), 0)
                    .or_fail(Failure::Other, "no CPU kernels for sampling")?;
                let tokens = vtrain_proof_of_learning::train::generate(
                    &spec,
                    &params,
                    &kernels,
                    prompt,
                    count as usize,
                    self.seed,
                )
                .or_fail(Failure::Input, "cannot sample from the model")?;
                let bytes: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => None,
        };
        let evaluation = self.evaluate(&spec, &book, &job.dataset_root, params).await;
        let loss_png = match &self.loss_png {
            Some(path) => {
                let progress = progress(&book, self.job_id).await.ok_or_else(|| {
                    fail(
                        Failure::NotFound,
                        "the solver does not serve its loss curve",
                    )
                })?;
                let held_out = evaluation.map(|(accuracy, loss)| HeldOut {
                    loss,
                    accuracy,
                    samples: spec.dataset.holdout as usize,
                });
                let title = format!(
                    "job {}: training loss ({} steps, batch {})",
                    self.job_id, spec.steps, spec.batch_size
                );
                let chart = LossChart::new(title, &progress.losses, held_out);
                crate::plot::write_loss_png(path, &chart)
                    .or_fail(Failure::Input, format!("cannot write {}", path.display()))?;
                Some(path.display().to_string())
            }
            None => None,
        };
        let report = Fetched {
            job_id: self.job_id,
            model_root: model_root.to_hex(),
            path: out.display().to_string(),
            bytes: bytes.len(),
            parameters: spec.param_count(),
            test_accuracy: evaluation.as_ref().map(|e| e.0),
            test_loss: evaluation.as_ref().map(|e| e.1),
            test_samples: spec.dataset.holdout as usize,
            loss_png,
            generated,
        };
        emit(self.common.json, &report, || {
            let mut text = format!(
                "model of job {} saved to {} ({} parameters, {} bytes)\n  matches the on-chain modelRoot {}\n",
                report.job_id, report.path, report.parameters, report.bytes, report.model_root
            );
            match (report.test_accuracy, report.test_loss) {
                (Some(accuracy), Some(loss)) => {
                    text += &format!(
                        "  test accuracy {:.2}% (loss {loss:.4}) on {} held-out samples\n",
                        accuracy * 100.0,
                        report.test_samples
                    );
                }
                _ => text += "  test accuracy: the dataset is not available here\n",
            }
            if let Some(png) = &report.loss_png {
                text += &format!("  loss curve saved to {png}\n");
            }
            if let Some(generated) = &report.generated {
                text += &format!(
                    "  sampled with seed {}:\n{}{generated}\n",
                    self.seed, self.prompt
                );
            }
            text
        });
        Ok(())
    }

    /// The prompt's tokens when sampling was asked for, checked before
    /// anything is fetched: the job must be a language model whose
    /// vocabulary holds every byte of the prompt.
    fn prompt_tokens(&self, spec: &JobSpec) -> CliResult<Option<Vec<u32>>> {
        if self.generate.is_none() {
            return Ok(None);
        }
        let plan = spec
            .model_plan()
            .or_fail(Failure::Other, "the posted spec does not plan")?;
        if plan.loss != vtrain_proof_of_learning::spec::Loss::NextToken {
            return Err(fail(
                Failure::Input,
                format!(
                    "job {} does not train a language model (loss = \"next_token\"): there is no text to --generate",
                    self.job_id
                ),
            ));
        }
        if self.prompt.is_empty() {
            return Err(fail(Failure::Input, "--prompt needs at least one byte"));
        }
        let vocabulary = spec.dataset.classes;
        if vocabulary > 256 {
            return Err(fail(
                Failure::Input,
                format!(
                    "job {}'s vocabulary has {vocabulary} tokens: --generate writes bytes, so it reads byte-level models (at most 256 tokens)",
                    self.job_id
                ),
            ));
        }
        let tokens: Vec<u32> = self.prompt.bytes().map(u32::from).collect();
        if let Some(bad) = tokens.iter().find(|&&t| t >= vocabulary) {
            return Err(fail(
                Failure::Input,
                format!(
                    "the prompt holds byte {bad}, outside the model's vocabulary of {vocabulary} bytes"
                ),
            ));
        }
        Ok(Some(tokens))
    }

    /// Test accuracy and loss of the model on the job's held-out split.
    async fn evaluate(
        &self,
        spec: &JobSpec,
        book: &vtrain_dispute::JobBook,
        dataset_root: &alloy::primitives::B256,
        params: Vec<Vec<f32>>,
    ) -> Option<(f64, f32)> {
        let store = ArtifactStore::open(&self.store).ok()?;
        let uris: Vec<String> = book.uris(dataset_root);
        let dataset = vtrain_store::fetch_dataset(&store, &uris, &Hash32(dataset_root.0))
            .await
            .map_err(|e| tracing::warn!(error = %e, "no dataset for the test accuracy"))
            .ok()?;
        // The held-out evaluation reads the model plan and the split, never
        // S₀: a fine-tuning job's initial model is not needed for it.
        let mut evaluated = spec.clone();
        evaluated.init = InitSpec::Seed;
        let trainer =
            Trainer::new(evaluated, dataset, Kernels::new(Level::detect(), 1).ok()?).ok()?;
        let moments = trainer
            .moment_shapes()
            .iter()
            .map(|s| vec![0.0; s.iter().product()])
            .collect();
        let state = State {
            step: spec.steps,
            params,
            moments,
        };
        let metrics = trainer.evaluate(&state, &trainer.order().test_rows());
        Some((metrics.accuracy, metrics.loss))
    }
}
