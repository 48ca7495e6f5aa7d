//! An agent's datadir: named JSON records, each written atomically.

use std::io::Write;
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

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile_in(dir).map_err(io(dir))?;
    tmp.1.write_all(bytes).map_err(io(&tmp.0))?;
    tmp.1.sync_all().map_err(io(&tmp.0))?;
    std::fs::rename(&tmp.0, path).map_err(io(path))?;
    // The rename itself is durable once the folder is synced.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = dir.join(format!(".tmp-{}-{stamp}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
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
    fn a_malformed_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = Datadir::open(dir.path()).expect("open");
        std::fs::write(datadir.path("book"), b"{ not json").expect("write");
        let error = datadir.load::<Vec<u32>>("book").expect_err("malformed");
        assert!(error.to_string().contains("book.json"), "{error}");
    }
}
