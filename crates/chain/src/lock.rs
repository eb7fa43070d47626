//! One writer per run folder: `outputs/NAME/.lock` names the process that
//! writes the run. A lock whose process is gone (killed, crashed, machine
//! rebooted) is detected and taken over.
//!
//! A process is identified by its PID and its start time (from
//! `/proc/PID/stat` on Linux), so a recycled PID does not keep a stale lock
//! alive. Where `/proc` is missing, a lock is taken as held; remove the file by
//! hand once you know its writer is gone.

use std::fs;
use std::path::{Path, PathBuf};

/// File name of the lock inside a run folder.
pub const LOCK: &str = ".lock";

/// Who holds a lock: a PID and, where known, its start time in clock ticks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Start time of the process (field 22 of `/proc/PID/stat`).
    pub start: Option<u64>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {}", self.pid)
    }
}

/// Start time of process `pid`, if it is running and `/proc` can tell.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Holder {
    /// This process.
    fn me() -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            start: start_time(pid),
        }
    }

    fn parse(text: &str) -> Option<Holder> {
        let mut parts = text.split_whitespace();
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next().and_then(|s| s.parse().ok());
        Some(Holder { pid, start })
    }

    fn line(&self) -> String {
        match self.start {
            Some(s) => format!("{} {s}\n", self.pid),
            None => format!("{}\n", self.pid),
        }
    }

    /// Whether the process that wrote this holder is still running.
    fn alive(&self) -> bool {
        if !Path::new("/proc").is_dir() {
            return true;
        }
        match (start_time(self.pid), self.start) {
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// The live process holding `dir`'s lock, if any.
pub fn holder(dir: &Path) -> Option<Holder> {
    let text = fs::read_to_string(dir.join(LOCK)).ok()?;
    Holder::parse(&text).filter(Holder::alive)
}

/// Exclusive ownership of a run folder, released when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// Why a run folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process writes this run.
    #[error("{}: in use by {holder} (its lock is {}); wait for it or stop it", dir.display(), dir.join(LOCK).display())]
    Held {
        /// The run folder.
        dir: PathBuf,
        /// Its writer.
        holder: Holder,
    },
    /// The lock file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl RunLock {
    /// Takes `dir`'s lock, taking over one left by a process that is gone.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let path = dir.join(LOCK);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let me = Holder::me();
        // Written whole under a temporary name, then linked into place: the
        // link fails if a lock exists, and a reader never sees a partial one.
        let tmp = collapse_data::atomic::temp_path(&path);
        fs::write(&tmp, me.line()).map_err(io)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(holder) = holder(dir) {
                    return Err(LockError::Held {
                        dir: dir.to_path_buf(),
                        holder,
                    });
                }
                collapse_data::atomic::write(&path, me.line().as_bytes()).map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
        Ok(RunLock { path })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_a_dead_holder_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("collapse-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let lock = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(!dir.join(LOCK).exists());
        // A lock naming a process that does not exist (PID far above pid_max).
        fs::write(dir.join(LOCK), "4194999 12345\n").unwrap();
        assert!(holder(&dir).is_none());
        let taken = RunLock::acquire(&dir).unwrap();
        assert_eq!(holder(&dir), Some(Holder::me()));
        drop(taken);
        fs::remove_dir_all(&dir).unwrap();
    }
}
