//! The content-addressed artifact store: datasets, training states and models,
//! each named by its root and checked against it on every read.

use std::path::Path;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
pub use vtrain_proof_of_learning::commit::model_root;
use vtrain_proof_of_learning::{Dataset, Hash32, State, Trainer, checkpoint};

use crate::error::{Error, Result};

/// What an artifact is, and so where it lives and how it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKey {
    /// A dataset in canonical safetensors form, by dataset root.
    Dataset(Hash32),
    /// A training state (a checkpoint), by state root.
    State(Hash32),
    /// A model (the final weights), by model root.
    Model(Hash32),
}

impl ArtifactKey {
    /// The object path.
    pub fn path(&self) -> String {
        match self {
            Self::Dataset(root) => format!("datasets/{root}.safetensors"),
            Self::State(root) => format!("states/{root}.safetensors"),
            Self::Model(root) => format!("models/{root}.safetensors"),
        }
    }

    /// The root the artifact is named by.
    pub fn root(&self) -> Hash32 {
        match self {
            Self::Dataset(root) | Self::State(root) | Self::Model(root) => *root,
        }
    }
}

/// A content-addressed store: a local directory, or a bucket by URL.
#[derive(Clone)]
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    url: String,
}

/// The URL only: a cloud store's client holds its credentials.
impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ArtifactStore {
    /// Opens the store at `location`: a directory path (created if missing), a
    /// `file://` URL, or `s3://…` / `gs://…` in builds with the `s3` / `gcs`
    /// feature.
    pub fn open(location: &str) -> Result<Self> {
        let location_error = |reason: String| Error::Location {
            location: location.to_owned(),
            reason,
        };
        if !location.contains("://") || location.starts_with("file://") {
            let dir = location.strip_prefix("file://").unwrap_or(location);
            std::fs::create_dir_all(dir).map_err(|e| location_error(e.to_string()))?;
            let dir = std::fs::canonicalize(dir).map_err(|e| location_error(e.to_string()))?;
            let store = LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| location_error(e.to_string()))?;
            return Ok(Self {
                store: Arc::new(store),
                url: format!("file://{}", dir.display()),
            });
        }
        let url = url::Url::parse(location).map_err(|e| location_error(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            // Not echoed: the URL would carry a secret into every log line
            // that names the store.
            let mut redacted = url.clone();
            let _ = redacted.set_username("");
            let _ = redacted.set_password(None);
            return Err(Error::Location {
                location: redacted.to_string(),
                reason: "credentials belong in the environment (AWS_ACCESS_KEY_ID, \
                         AWS_SECRET_ACCESS_KEY, …), not in the store's URL"
                    .into(),
            });
        }
        let config = cloud_config(&url, std::env::vars_os());
        let (store, prefix) = object_store::parse_url_opts(&url, config).map_err(|e| {
            location_error(format!(
                "{e} (cloud stores need a build with the `s3` or `gcs` feature)"
            ))
        })?;
        if !prefix.as_ref().is_empty() {
            let store = object_store::prefix::PrefixStore::new(store, prefix);
            return Ok(Self {
                store: Arc::new(store),
                url: location.trim_end_matches('/').to_owned(),
            });
        }
        Ok(Self {
            store: Arc::from(store),
            url: location.trim_end_matches('/').to_owned(),
        })
    }

    /// The store's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of an artifact in this store.
    pub fn uri(&self, key: &ArtifactKey) -> String {
        format!("{}/{}", self.url, key.path())
    }

    /// Writes raw artifact bytes (the store writes atomically: a local store
    /// through a temporary file and a rename).
    pub async fn put(&self, key: &ArtifactKey, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&ObjectPath::from(key.path()), bytes.into())
            .await?;
        Ok(())
    }

    /// Reads raw artifact bytes, `None` if absent. Unchecked: use the typed
    /// getters, which check the bytes against the key's root.
    pub async fn get_raw(&self, key: &ArtifactKey) -> Result<Option<bytes::Bytes>> {
        match self.store.get(&ObjectPath::from(key.path())).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores `dataset` in canonical form; returns its root and size in bytes.
    pub async fn put_dataset(&self, dataset: &Dataset) -> Result<(Hash32, u64)> {
        let root = dataset.root();
        let bytes = dataset.to_safetensors_bytes()?;
        let size = bytes.len() as u64;
        self.put(&ArtifactKey::Dataset(root), bytes).await?;
        Ok((root, size))
    }

    /// The dataset with root `root`, checked; `None` if absent.
    pub async fn get_dataset(&self, root: &Hash32) -> Result<Option<Dataset>> {
        let key = ArtifactKey::Dataset(*root);
        let Some(bytes) = self.get_raw(&key).await? else {
            return Ok(None);
        };
        decode_dataset(&self.uri(&key), &bytes, root).map(Some)
    }

    /// Stores a training state; returns its state root.
    pub async fn put_state(&self, trainer: &Trainer, state: &State) -> Result<Hash32> {
        let root = trainer.state_root(state);
        let bytes = checkpoint::encode_state(trainer, state)?;
        self.put(&ArtifactKey::State(root), bytes).await?;
        Ok(root)
    }

    /// The state at `step` with root `root`, checked; `None` if absent.
    pub async fn get_state(
        &self,
        trainer: &Trainer,
        step: u32,
        root: &Hash32,
    ) -> Result<Option<State>> {
        let key = ArtifactKey::State(*root);
        let Some(bytes) = self.get_raw(&key).await? else {
            return Ok(None);
        };
        decode_state(trainer, &self.uri(&key), &bytes, step, root).map(Some)
    }

    /// The state at `step` with root `root` if the store holds an intact copy.
    /// A copy that does not check out is [quarantined](Self::quarantine) and
    /// counts as absent, so the caller rebuilds it (from an earlier checkpoint,
    /// or S_0) instead of failing on it forever; only a failure of the store
    /// itself is an error.
    pub async fn intact_state(
        &self,
        trainer: &Trainer,
        step: u32,
        root: &Hash32,
    ) -> Result<Option<State>> {
        let found = self.get_state(trainer, step, root).await;
        self.set_aside_if_corrupt(&ArtifactKey::State(*root), found)
            .await
    }

    /// `found` (the result of reading `key`), with a corrupt copy quarantined
    /// and counted as absent.
    pub(crate) async fn set_aside_if_corrupt<T>(
        &self,
        key: &ArtifactKey,
        found: Result<Option<T>>,
    ) -> Result<Option<T>> {
        match found {
            Err(e) if e.is_corruption() => {
                match self.quarantine(key).await {
                    Ok(moved_to) => {
                        tracing::warn!(target: "store", artifact = %key.path(), error = %e, %moved_to, "corrupt artifact quarantined: it counts as missing and is rebuilt or fetched again");
                    }
                    Err(q) => {
                        tracing::warn!(target: "store", artifact = %key.path(), error = %e, quarantine_error = %q, "corrupt artifact (could not be moved aside): it counts as missing");
                    }
                }
                Ok(None)
            }
            other => other,
        }
    }

    /// Moves the object at `key` to `quarantine/<its path>.<unix nanos>`: out
    /// of the way of a good copy, kept for the operator to look at. Returns
    /// the new path.
    pub async fn quarantine(&self, key: &ArtifactKey) -> Result<String> {
        let to = format!("quarantine/{}.{}", key.path(), crate::datadir::nanos());
        self.store
            .rename(
                &ObjectPath::from(key.path()),
                &ObjectPath::from(to.as_str()),
            )
            .await?;
        Ok(to)
    }

    /// The model with root `root` whose tensors have `shapes`, checked; `None`
    /// if absent.
    pub async fn get_model(
        &self,
        shapes: &[Vec<usize>],
        root: &Hash32,
    ) -> Result<Option<Vec<Vec<f32>>>> {
        let key = ArtifactKey::Model(*root);
        let Some(bytes) = self.get_raw(&key).await? else {
            return Ok(None);
        };
        decode_model(&self.uri(&key), &bytes, shapes, root).map(Some)
    }

    /// Stores the model of `state`; returns its model root.
    pub async fn put_model(&self, shapes: &[Vec<usize>], params: &[Vec<f32>]) -> Result<Hash32> {
        let root = model_root(shapes, params);
        self.put(&ArtifactKey::Model(root), encode_model(shapes, params)?)
            .await?;
        Ok(root)
    }
}

/// The configuration of the cloud store at `url` from the environment
/// `vars`: the variables that `AmazonS3Builder::from_env` (`AWS_*`:
/// credentials, region, endpoint, `AWS_ALLOW_HTTP`…) or
/// `GoogleCloudStorageBuilder::from_env` (`GOOGLE_*`, `SERVICE_ACCOUNT`) read,
/// by the store the URL names (`s3://`, `https://…amazonaws.com/…`, `gs://`).
/// `parse_url` alone reads none, and passing the whole environment would let
/// unrelated variables (`TOKEN`, `REGION`, `ENDPOINT`) configure the store.
/// The values, credentials among them, go to the builder only: nothing here
/// logs them.
fn cloud_config(
    url: &url::Url,
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(String, String)> {
    use object_store::ObjectStoreScheme;
    let scheme = ObjectStoreScheme::parse(url).map(|(scheme, _)| scheme).ok();
    let wanted = |key: &str| match scheme {
        Some(ObjectStoreScheme::AmazonS3) => key.starts_with("AWS_"),
        Some(ObjectStoreScheme::GoogleCloudStorage) => {
            key.starts_with("GOOGLE_") || key == "SERVICE_ACCOUNT"
        }
        _ => false,
    };
    vars.filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(key, _)| wanted(key))
        .collect()
}

/// Decodes a canonical dataset file and checks it against `root`; `name` (a key
/// or URI) names it in errors.
pub fn decode_dataset(name: &str, bytes: &[u8], root: &Hash32) -> Result<Dataset> {
    let dataset = Dataset::from_safetensors_bytes(Path::new(name), bytes)?;
    let actual = dataset.root();
    if actual != *root {
        return Err(Error::RootMismatch {
            key: name.to_owned(),
            expected: *root,
            actual,
        });
    }
    Ok(dataset)
}

/// Decodes a training state of `trainer`'s job at `step` and checks it against
/// `root`; `name` names it in errors.
pub fn decode_state(
    trainer: &Trainer,
    name: &str,
    bytes: &[u8],
    step: u32,
    root: &Hash32,
) -> Result<State> {
    let state = checkpoint::decode_state(trainer, Path::new(name), bytes, step)?;
    let actual = trainer.state_root(&state);
    if actual != *root {
        return Err(Error::RootMismatch {
            key: name.to_owned(),
            expected: *root,
            actual,
        });
    }
    Ok(state)
}

/// The model file: safetensors with F32 tensors `param.<i>` (weights and biases,
/// input layer first).
pub fn encode_model(shapes: &[Vec<usize>], params: &[Vec<f32>]) -> Result<Vec<u8>> {
    let named: Vec<(String, &[usize], &[f32])> = shapes
        .iter()
        .zip(params)
        .enumerate()
        .map(|(i, (shape, values))| (format!("param.{i}"), shape.as_slice(), values.as_slice()))
        .collect();
    Ok(checkpoint::encode_f32_tensors(&named)?)
}

/// Decodes a model file of the given shapes and checks it against `root`.
pub fn decode_model(
    name: &str,
    bytes: &[u8],
    shapes: &[Vec<usize>],
    root: &Hash32,
) -> Result<Vec<Vec<f32>>> {
    let params = read_model(name, bytes, shapes)?;
    let actual = model_root(shapes, &params);
    if actual != *root {
        return Err(Error::RootMismatch {
            key: name.to_owned(),
            expected: *root,
            actual,
        });
    }
    Ok(params)
}

/// Decodes a model file of the given shapes, checking no root: for a file a
/// user gives, whose root is what is asked. Anything else goes through
/// [`decode_model`].
pub fn read_model(name: &str, bytes: &[u8], shapes: &[Vec<usize>]) -> Result<Vec<Vec<f32>>> {
    let corrupt = |reason: String| Error::Corrupt {
        key: name.to_owned(),
        reason,
    };
    let tensors = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| corrupt(format!("not a safetensors file ({e})")))?;
    if tensors.len() != shapes.len() {
        return Err(corrupt(format!(
            "{} tensors, the model has {}",
            tensors.len(),
            shapes.len()
        )));
    }
    Ok(shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            checkpoint::read_f32_tensor(&tensors, Path::new(name), &format!("param.{i}"), shape)
        })
        .collect::<vtrain_proof_of_learning::Result<Vec<Vec<f32>>>>()?)
}

#[cfg(test)]
mod tests {
    use super::cloud_config;

    fn keys(location: &str) -> Vec<String> {
        let env = [
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("GOOGLE_SERVICE_ACCOUNT_KEY", "{}"),
            ("SERVICE_ACCOUNT", "/sa.json"),
            ("TOKEN", "not for the store"),
            ("REGION", "not for the store"),
            ("ENDPOINT", "not for the store"),
        ]
        .map(|(key, value)| (key.into(), value.into()));
        let url = url::Url::parse(location).expect("URL");
        let mut keys: Vec<String> = cloud_config(&url, env.into_iter())
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn credentials_in_a_store_url_are_refused_and_not_echoed() {
        let e = super::ArtifactStore::open("s3://KEYID:SeCrEt@bucket/prefix").expect_err("refused");
        let message = e.to_string();
        assert!(message.contains("s3://bucket/prefix"), "{message}");
        assert!(message.contains("not in the store's URL"), "{message}");
        assert!(
            !message.contains("SeCrEt") && !message.contains("KEYID"),
            "{message}"
        );
    }

    #[test]
    fn a_cloud_store_reads_its_own_variables_and_no_others() {
        let aws = [
            "AWS_ACCESS_KEY_ID",
            "AWS_ENDPOINT_URL",
            "AWS_SECRET_ACCESS_KEY",
        ];
        assert_eq!(keys("s3://bucket/prefix"), aws);
        assert_eq!(keys("s3a://bucket"), aws);
        assert_eq!(
            keys("https://s3.eu-west-1.amazonaws.com/bucket/prefix"),
            aws
        );
        assert_eq!(
            keys("gs://bucket/prefix"),
            ["GOOGLE_SERVICE_ACCOUNT_KEY", "SERVICE_ACCOUNT"]
        );
        assert!(keys("https://example.com/artifacts").is_empty());
        assert!(keys("memory:///").is_empty());
    }
}
