//! Atomic, durable file writes: write to a temporary file beside the target,
//! sync it, rename it over the target, then sync the folder.
//!
//! An interrupted run never leaves a half-written file under its final name,
//! and a write that returned survives a crash of the machine: the file's data
//! and the folder entry the rename made are both on disk.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What the name of a temporary file holds (`NAME.tmp-PID`).
pub const TEMP_MARK: &str = ".tmp-";

/// The temporary path used while `path` is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!("{TEMP_MARK}{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `path` atomically with the bytes produced by `fill`.
///
/// `fill` writes into a temporary file next to `path`; on success the file is
/// flushed, synced, renamed over `path`, and the folder synced. On failure the
/// temporary file is removed and `path` is left as it was.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = io::BufWriter::new(File::create(&tmp)?);
        fill(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_folder_of(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Syncs the folder holding `path`, which makes a rename into it durable.
#[cfg(unix)]
pub fn sync_folder_of(path: &Path) -> io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(folder)?.sync_all()
}

/// Elsewhere a rename is made durable by the file system itself (NTFS logs it).
#[cfg(not(unix))]
pub fn sync_folder_of(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn the_folder_of_a_written_file_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_folder_of(&dir.path().join("f.txt")).is_ok());
        // It opens the folder itself: one that does not exist is an error, not skipped.
        let gone = dir.path().join("gone/f.txt");
        assert_eq!(
            sync_folder_of(&gone).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn write_replaces_whole_file_and_leaves_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("f.txt");
        write(&path, b"first").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert!(!temp_path(&path).exists());
        let failed = write_with(&path, |_| Err(io::Error::other("boom")));
        assert!(failed.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert!(!temp_path(&path).exists());
    }
}
