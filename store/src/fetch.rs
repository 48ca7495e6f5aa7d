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
