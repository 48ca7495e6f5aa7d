//! Reading an announced artifact location: another agent's HTTP server, or a
//! store URL.

use crate::error::{Error, Result};

/// The most bytes one fetch reads: an announced location is untrusted, and a
/// location that streams forever (a device file, a hostile server) must cost a
/// failed fetch, not the agent's memory.
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// Reads the bytes at `uri`: `http(s)://…`, or a regular file at `file://…`,
/// at most [`MAX_ARTIFACT_BYTES`]. The caller checks them against the root
/// they are named by.
pub async fn fetch(uri: &str) -> Result<bytes::Bytes> {
    let too_large = || Error::Http {
        uri: uri.to_owned(),
        reason: format!("larger than {MAX_ARTIFACT_BYTES} bytes"),
        retryable: false,
    };
    if let Some(path) = uri.strip_prefix("file://") {
        let io = |source| Error::Io {
            path: path.into(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(Error::Http {
                uri: uri.to_owned(),
                reason: "not a regular file".into(),
                retryable: false,
            });
        }
        if meta.len() > MAX_ARTIFACT_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_ARTIFACT_BYTES + 1),
            &mut bytes,
        )
        .map_err(io)?;
        if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
            return Err(too_large());
        }
        return Ok(bytes.into());
    }
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(Error::Http {
            uri: uri.to_owned(),
            reason: "only http(s):// and file:// locations can be fetched".into(),
            retryable: false,
        });
    }
    let http_error = |reason: String, retryable: bool| Error::Http {
        uri: uri.to_owned(),
        reason,
        retryable,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| http_error(e.to_string(), false))?;
    let mut response = client
        .get(uri)
        .send()
        .await
        .map_err(|e| http_error(e.to_string(), true))?;
    let status = response.status();
    if !status.is_success() {
        return Err(http_error(
            format!("HTTP {status}"),
            status.is_server_error(),
        ));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ARTIFACT_BYTES)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| http_error(e.to_string(), true))?
    {
        if (body.len() + chunk.len()) as u64 > MAX_ARTIFACT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// The dataset with root `root`: from `store` if it holds it, else from the
/// first announced location in `uris` that serves bytes with that root (which
/// is then cached in `store`). Every candidate is checked against the root.
pub async fn fetch_dataset(
    store: &crate::ArtifactStore,
    uris: &[String],
    root: &vtrain_proof_of_learning::Hash32,
) -> Result<vtrain_proof_of_learning::Dataset> {
    let found = store.get_dataset(root).await;
    let key = crate::ArtifactKey::Dataset(*root);
    if let Some(dataset) = store.set_aside_if_corrupt(&key, found).await? {
        return Ok(dataset);
    }
    let dataset = first_good(uris, "dataset", root, |uri, bytes| {
        crate::artifacts::decode_dataset(uri, bytes, root)
    })
    .await?;
    store.put_dataset(&dataset).await?;
    Ok(dataset)
}

/// The model with root `root` and tensor shapes `shapes` (a fine-tuning job's
/// initial weights): from `store` if it holds a good copy, else from the first
/// announced location in `uris` that serves it (then cached in `store`).
/// Every candidate is checked against the root.
pub async fn fetch_model(
    store: &crate::ArtifactStore,
    uris: &[String],
    root: &vtrain_proof_of_learning::Hash32,
    shapes: &[Vec<usize>],
) -> Result<Vec<Vec<f32>>> {
    let found = store.get_model(shapes, root).await;
    let key = crate::ArtifactKey::Model(*root);
    if let Some(params) = store.set_aside_if_corrupt(&key, found).await? {
        return Ok(params);
    }
    let params = first_good(uris, "model", root, |uri, bytes| {
        crate::artifacts::decode_model(uri, bytes, shapes, root)
    })
    .await?;
    store.put_model(shapes, &params).await?;
    Ok(params)
}

/// What a job trains from, fetched and checked: its dataset and, when it
/// fine-tunes a model, that model's weights (S₀'s).
#[derive(Debug)]
pub struct JobInputs {
    /// The dataset.
    pub dataset: vtrain_proof_of_learning::Dataset,
    /// The initial weights of a fine-tuning job.
    pub initial_model: Option<Vec<Vec<f32>>>,
}

/// The inputs of `spec`'s job, from `store` or from the locations `uris`
/// announces for each root.
pub async fn fetch_job_inputs(
    store: &crate::ArtifactStore,
    spec: &vtrain_proof_of_learning::JobSpec,
    uris: impl Fn(&vtrain_proof_of_learning::Hash32) -> Vec<String>,
) -> Result<JobInputs> {
    let dataset_root = spec.dataset_root()?;
    let dataset = fetch_dataset(store, &uris(&dataset_root), &dataset_root).await?;
    let initial_model = match spec.initial_model_root()? {
        Some(root) => Some(fetch_model(store, &uris(&root), &root, &spec.param_shapes()).await?),
        None => None,
    };
    Ok(JobInputs {
        dataset,
        initial_model,
    })
}

/// The first location of `uris` whose bytes `decode` accepts; `kind` and
/// `root` name the artifact in logs and when none does.
async fn first_good<T>(
    uris: &[String],
    kind: &str,
    root: &vtrain_proof_of_learning::Hash32,
    decode: impl Fn(&str, &[u8]) -> Result<T>,
) -> Result<T> {
    let mut last_error = None;
    for uri in uris {
        match fetch(uri).await {
            Ok(bytes) => match decode(uri, &bytes) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    tracing::warn!(target: "store::fetch", %uri, %root, error = %e, "announced {kind} is not the committed one");
                    last_error = Some(e);
                }
            },
            Err(e) => {
                tracing::warn!(target: "store::fetch", %uri, %root, error = %e, "{kind} location unreachable");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Http {
        uri: format!("{kind} {root}"),
        reason: "no location is announced for it".into(),
        retryable: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_device_or_a_missing_file_is_refused_not_read() {
        let error = fetch("file:///dev/zero").await.expect_err("a device");
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert!(fetch("file:///nonexistent/x").await.is_err());
        assert!(fetch("ftp://example.invalid/x").await.is_err());
    }

    /// A fine-tuning job's initial model: a corrupt copy in the agent's own
    /// store counts as none (it is fetched again and repaired), a location
    /// serving another model is skipped, and nothing anywhere is an error.
    #[tokio::test]
    async fn a_model_is_fetched_checked_and_a_corrupt_local_copy_repaired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::ArtifactStore::open(&dir.path().join("store").display().to_string())
            .expect("store");
        let shapes = vec![vec![2, 3], vec![2]];
        let params = vec![
            vec![0.5, -1.0, 2.0, 0.0, -0.0, 3.5],
            vec![1.0, f32::MIN_POSITIVE],
        ];
        let root = crate::model_root(&shapes, &params);
        let mut other = params.clone();
        other[1][0] = 2.0;
        let write = |name: &str, params: &[Vec<f32>]| {
            let path = dir.path().join(name);
            let bytes = crate::encode_model(&shapes, params).expect("encode");
            std::fs::write(&path, bytes).expect("write");
            format!("file://{}", path.display())
        };
        let (wrong, right) = (
            write("other.safetensors", &other),
            write("model.safetensors", &params),
        );

        let nowhere = fetch_model(&store, &[], &root, &shapes).await;
        assert!(nowhere.is_err());
        // A corrupt local copy (one flipped byte at the end of the data).
        let key = crate::ArtifactKey::Model(root);
        let mut bytes = crate::encode_model(&shapes, &params).expect("encode");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        store.put(&key, bytes).await.expect("put");
        assert!(store.get_model(&shapes, &root).await.is_err(), "corrupt");
        let fetched = fetch_model(&store, &[wrong, right], &root, &shapes)
            .await
            .expect("fetched from the good location");
        assert_eq!(fetched, params);
        assert_eq!(
            store.get_model(&shapes, &root).await.expect("repaired"),
            Some(params)
        );
        // The corrupt copy was moved aside for the operator, not lost.
        let aside = dir.path().join("store/quarantine/models");
        let kept: Vec<_> = std::fs::read_dir(&aside).expect("quarantine").collect();
        assert_eq!(kept.len(), 1);
    }

    /// A corrupt state in the store counts as absent (so the agent rebuilds it)
    /// and is quarantined; a good one is returned; a missing one is `None`.
    #[tokio::test]
    async fn a_corrupt_state_is_quarantined_and_counts_as_missing() {
        use vtrain_proof_of_learning::{Dataset, JobSpec, Kernels, Level, Trainer};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::ArtifactStore::open(&dir.path().join("store").display().to_string())
            .expect("store");
        let spec =
            JobSpec::from_toml(include_str!("../../examples/digits-mlp.toml")).expect("spec");
        let kernels = Kernels::new(Level::detect(), 1).expect("kernels");
        let trainer =
            Trainer::new(spec, Dataset::digits().expect("digits"), kernels).expect("trainer");
        let s0 = trainer.initial_state();
        let root = store.put_state(&trainer, &s0).await.expect("put");
        assert_eq!(
            store.intact_state(&trainer, 0, &root).await.expect("read"),
            Some(s0.clone())
        );
        let key = crate::ArtifactKey::State(root);
        let mut bytes = store
            .get_raw(&key)
            .await
            .expect("raw")
            .expect("there")
            .to_vec();
        let at = bytes.len() - 3;
        bytes[at] ^= 0x40;
        store.put(&key, bytes).await.expect("put");
        assert!(
            store.get_state(&trainer, 0, &root).await.is_err(),
            "corrupt"
        );
        assert_eq!(
            store.intact_state(&trainer, 0, &root).await.expect("read"),
            None
        );
        assert_eq!(store.get_raw(&key).await.expect("raw"), None, "moved aside");
        let aside = dir.path().join("store/quarantine/states");
        assert_eq!(std::fs::read_dir(&aside).expect("quarantine").count(), 1);
        // Rebuilt and stored again, it reads back.
        store.put_state(&trainer, &s0).await.expect("put");
        assert_eq!(
            store.intact_state(&trainer, 0, &root).await.expect("read"),
            Some(s0)
        );
    }

    #[tokio::test]
    async fn a_regular_file_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a");
        std::fs::write(&path, b"bytes").expect("write");
        let bytes = fetch(&format!("file://{}", path.display()))
            .await
            .expect("read");
        assert_eq!(&bytes[..], b"bytes");
    }
}
