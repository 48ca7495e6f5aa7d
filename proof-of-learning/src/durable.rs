//! The workspace's one way to write a file that must survive a crash whole:
//! checkpoints, agents' datadir records and secrets, deployment manifests.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Who may read a file written by [`write_atomic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The owner only (mode 0600): an agent's records, secrets, checkpoints.
    Private,
    /// Anyone (mode 0644): a deployment manifest.
    Public,
}

/// Writes `bytes` to `path` so that a reader, or a restart after a crash or a
/// `kill -9`, sees the old content or the new and never a part: a new
/// temporary file in the same folder (created with `access`'s mode, never
/// world-readable first), synced, renamed over `path`, then the folder synced
/// so that the rename itself is durable. Creates the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".tmp-{}-{nanos}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(
        &mut options,
        match access {
            Access::Private => 0o600,
            Access::Public => 0o644,
        },
    );
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(error);
    }
    // Some filesystems cannot sync a folder; the file itself is synced.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("record.json");
        write_atomic(&path, b"first", Access::Private).expect("write");
        write_atomic(&path, b"second", Access::Private).expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("folder"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("record.json")]);
    }

    #[cfg(unix)]
    #[test]
    fn the_mode_is_the_one_asked_for() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        for (access, mode) in [(Access::Private, 0o600), (Access::Public, 0o644)] {
            let path = dir.path().join(format!("{access:?}"));
            write_atomic(&path, b"x", access).expect("write");
            let meta = std::fs::metadata(&path).expect("metadata");
            // The umask may only take bits away.
            assert_eq!(meta.permissions().mode() & 0o777 & !mode, 0, "{access:?}");
            assert_eq!(meta.permissions().mode() & 0o077 & !(mode & 0o077), 0);
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record");
        write_atomic(&path, b"old", Access::Private).expect("write");
        // A folder where the file should go: the rename fails.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).expect("mkdir");
        std::fs::write(blocked.join("inside"), b"").expect("file");
        assert!(write_atomic(&blocked, b"new", Access::Private).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
        let temporaries = std::fs::read_dir(dir.path())
            .expect("list")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .count();
        assert_eq!(temporaries, 0);
    }
}
