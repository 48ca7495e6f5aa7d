//! Reading an announced artifact location: another agent's HTTP server, or a
//! store URL.

use crate::error::{Error, Result};

/// Reads the bytes at `uri`: `http(s)://…`, or a `file://` path. The caller
/// checks them against the root they are named by.
pub async fn fetch(uri: &str) -> Result<bytes::Bytes> {
    if let Some(path) = uri.strip_prefix("file://") {
        return std::fs::read(path)
            .map(bytes::Bytes::from)
            .map_err(|source| Error::Io {
                path: path.into(),
                source,
            });
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
    let response = client
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
    response
        .bytes()
        .await
        .map_err(|e| http_error(e.to_string(), true))
}

/// The dataset with root `root`: from `store` if it holds it, else from the
/// first announced location in `uris` that serves bytes with that root (which
/// is then cached in `store`). Every candidate is checked against the root.
pub async fn fetch_dataset(
    store: &crate::ArtifactStore,
    uris: &[String],
    root: &vtrain_proof_of_learning::Hash32,
) -> Result<vtrain_proof_of_learning::Dataset> {
    if let Some(dataset) = store.get_dataset(root).await? {
        return Ok(dataset);
    }
    let mut last_error = None;
    for uri in uris {
        match fetch(uri).await {
            Ok(bytes) => match crate::artifacts::decode_dataset(uri, &bytes, root) {
                Ok(dataset) => {
                    store.put_dataset(&dataset).await?;
                    return Ok(dataset);
                }
                Err(e) => {
                    tracing::warn!(target: "store::fetch", %uri, error = %e, "announced dataset is not the committed one");
                    last_error = Some(e);
                }
            },
            Err(e) => {
                tracing::warn!(target: "store::fetch", %uri, error = %e, "dataset location unreachable");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Http {
        uri: format!("dataset {root}"),
        reason: "no location is announced for it".into(),
        retryable: true,
    }))
}
