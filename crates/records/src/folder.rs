//! One lifecycle for every run folder: created with its lock for a new run,
//! or reopened with it for an interrupted one (its complete generations
//! kept, the rest discarded), each generation marked complete last, the lock
//! held until the writer is done.

use std::path::{Path, PathBuf};

use crate::contract::{generation_dir, generation_of};
use crate::lock::{LockError, RunLock};
use crate::view::{COMPLETE, complete_generations};

/// Why a run folder cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder already holds a run.
    #[error("{}: already holds a run (manifest.json)", .0.display())]
    Exists(PathBuf),
    /// A file or folder could not be made or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another process writes the folder.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// A run folder this process writes, holding its lock until dropped.
#[derive(Debug)]
pub struct RunFolder {
    dir: PathBuf,
    _lock: RunLock,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FolderError + '_ {
    move |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl RunFolder {
    /// The folder `dir` for a new run, made if need be and locked; refused
    /// where it already holds a run.
    pub fn create(dir: &Path) -> Result<Self, FolderError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = RunLock::acquire(dir)?;
        if dir.join("manifest.json").exists() {
            return Err(FolderError::Exists(dir.to_path_buf()));
        }
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The interrupted run in `dir`, locked, and how many of its generations
    /// are complete (from generation 0 on); every later generation's folder
    /// and every temporary file a killed write left, in the run's folder or a
    /// complete generation's, are removed.
    pub fn reopen(dir: &Path) -> Result<(Self, usize), FolderError> {
        let lock = RunLock::acquire(dir)?;
        let complete = complete_generations(dir);
        remove_temporary_files(dir)?;
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            match generation_of(&path) {
                Some(g) if g >= complete && path.is_dir() => {
                    std::fs::remove_dir_all(&path).map_err(io(&path))?
                }
                Some(_) if path.is_dir() => remove_temporary_files(&path)?,
                _ => {}
            }
        }
        let folder = RunFolder {
            dir: dir.to_path_buf(),
            _lock: lock,
        };
        Ok((folder, complete))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Marks generation `g` complete: its [`COMPLETE`] marker, written after
    /// every other file of its folder.
    pub fn mark_complete(&self, g: usize) -> Result<(), FolderError> {
        let marker = generation_dir(&self.dir, g).join(COMPLETE);
        let stamp = crate::time::now_rfc3339();
        crate::atomic::write(&marker, stamp.as_bytes()).map_err(io(&marker))
    }
}

/// Removes the files in `dir` (not below it) that a killed atomic write or
/// a killed step left, marked as temporary by their names.
fn remove_temporary_files(dir: &Path) -> Result<(), FolderError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.contains(crate::atomic::TEMP_MARK) && path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_written_by_one_process_and_reopened_at_its_complete_generations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let folder = RunFolder::create(&dir).unwrap();
        assert!(matches!(RunFolder::create(&dir), Err(FolderError::Lock(_))));
        for g in 0..3 {
            std::fs::create_dir_all(generation_dir(&dir, g)).unwrap();
        }
        folder.mark_complete(0).unwrap();
        folder.mark_complete(1).unwrap();
        std::fs::write(dir.join("metrics.csv.tmp-1"), "half").unwrap();
        let draw = generation_dir(&dir, 1).join("sample-00ff.tmp-.npy");
        std::fs::write(&draw, "a draw a killed step left").unwrap();
        std::fs::write(generation_dir(&dir, 1).join("probe.json"), "{}").unwrap();
        std::fs::write(dir.join("manifest.json"), "{}").unwrap();
        drop(folder);
        assert!(matches!(
            RunFolder::create(&dir),
            Err(FolderError::Exists(_))
        ));
        let (_folder, complete) = RunFolder::reopen(&dir).unwrap();
        assert_eq!(complete, 2);
        assert!(generation_dir(&dir, 1).is_dir());
        assert!(
            !generation_dir(&dir, 2).exists(),
            "the incomplete generation goes"
        );
        assert!(
            !dir.join("metrics.csv.tmp-1").exists(),
            "a killed write's file goes"
        );
        assert!(
            !draw.exists(),
            "a killed step's file in a complete generation goes"
        );
        assert!(generation_dir(&dir, 1).join("probe.json").is_file());
    }
}
