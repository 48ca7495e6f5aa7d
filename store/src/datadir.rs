//! An agent's datadir: named JSON records, each written atomically.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A folder of JSON records that survive `kill -9`: every write goes to a
/// temporary file in the same folder, is synced, then renamed over the old
/// record, so a reader sees the old record or the new one, never half of one.
#[derive(Clone, Debug)]
pub struct Datadir {
    root: PathBuf,
}

impl Datadir {
    /// Opens (creating it if needed) the datadir at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Self { root })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of record `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    /// Reads record `name`, or `None` if it was never written.
    pub fn load<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.path(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Record {
                path,
                reason: e.to_string(),
            })
    }

    /// Reads record `name` like [`Datadir::load`], but a malformed record (a
    /// disk fault, a hand edit) is renamed `<name>.json.corrupt-<nanos>` and
    /// counts as never written: for records the agent can rebuild (a verdict
    /// is verified again), so one bad file costs a recomputation, not the
    /// agent's duty. Only an I/O failure is an error.
    pub fn load_or_set_aside<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        match self.load(name) {
            Err(Error::Record { path, reason }) => {
                let aside = path.with_extension(format!("json.corrupt-{}", nanos()));
                match std::fs::rename(&path, &aside) {
                    Ok(()) => {
                        tracing::warn!(target: "store::datadir", record = %path.display(), %reason, moved_to = %aside.display(), "malformed record set aside: it is rebuilt");
                        Ok(None)
                    }
                    Err(source) => Err(Error::Io { path, source }),
                }
            }
            other => other,
        }
    }

    /// The datadir's secret `name`: 32 bytes from the operating system's
    /// random source, created on first use (file mode 0600) and the same
    /// ever after; never logged. A secret file that is not 32 bytes is
    /// replaced by a new secret (and the replacement logged, not the bytes).
    pub fn secret(&self, name: &str) -> Result<[u8; 32]> {
        let path = self.root.join(format!("{name}.secret"));
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice()) {
                    return Ok(secret);
                }
                tracing::warn!(target: "store::datadir", file = %path.display(), "the secret file is not 32 bytes: making a new secret");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        // `write_atomic` creates the file with mode 0600.
        write_atomic(&path, &secret)?;
        Ok(secret)
    }

    /// Writes record `name` atomically.
    pub fn save<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let path = self.path(name);
        let json = serde_json::to_vec_pretty(value).map_err(|e| Error::Record {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &json)
    }
}

/// Writes `bytes` to `path` atomically and durably, readable by its owner
/// only (`vtrain_proof_of_learning::durable`).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use vtrain_proof_of_learning::durable::{Access, write_atomic};
    write_atomic(path, bytes, Access::Private).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it): a suffix
/// that makes a file name unique.
pub(crate) fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_missing_ones_are_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = Datadir::open(dir.path().join("agent")).expect("open");
        assert_eq!(datadir.load::<Vec<u32>>("cursor").expect("load"), None);
        datadir.save("cursor", &vec![1u32, 2, 3]).expect("save");
        datadir.save("cursor", &vec![4u32]).expect("overwrite");
        assert_eq!(
            datadir.load::<Vec<u32>>("cursor").expect("load"),
            Some(vec![4])
        );
        let leftovers = std::fs::read_dir(datadir.root())
            .expect("list")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            })
            .count();
        assert_eq!(leftovers, 0, "no temporary files remain");
    }

    #[test]
    fn a_malformed_record_is_set_aside_when_it_can_be_rebuilt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = Datadir::open(dir.path()).expect("open");
        std::fs::write(datadir.path("verdict-1"), b"{ not json").expect("write");
        assert_eq!(
            datadir
                .load_or_set_aside::<Vec<u32>>("verdict-1")
                .expect("set aside"),
            None
        );
        assert!(!datadir.path("verdict-1").exists());
        let aside: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with("verdict-1.json.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1, "kept for the operator");
        datadir.save("verdict-1", &vec![7u32]).expect("save");
        assert_eq!(
            datadir
                .load_or_set_aside::<Vec<u32>>("verdict-1")
                .expect("load"),
            Some(vec![7])
        );
    }

    #[test]
    fn a_secret_is_made_once_kept_private_and_the_same_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = Datadir::open(dir.path()).expect("open");
        let first = datadir.secret("sample").expect("secret");
        assert_ne!(first, [0u8; 32]);
        assert_eq!(datadir.secret("sample").expect("again"), first);
        let other = Datadir::open(dir.path().join("other")).expect("open");
        assert_ne!(other.secret("sample").expect("secret"), first, "random");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sample.secret"))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "no access for group or others: {mode:o}");
        }
        // A truncated secret file is replaced, not used.
        std::fs::write(dir.path().join("sample.secret"), [1u8; 5]).expect("write");
        let replaced = datadir.secret("sample").expect("secret");
        assert_ne!(replaced, first);
        assert_eq!(datadir.secret("sample").expect("again"), replaced);
    }

    #[test]
    fn a_malformed_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = Datadir::open(dir.path()).expect("open");
        std::fs::write(datadir.path("book"), b"{ not json").expect("write");
        let error = datadir.load::<Vec<u32>>("book").expect_err("malformed");
        assert!(error.to_string().contains("book.json"), "{error}");
    }
}
