//! One writer per run folder. The writer holds an OS lock on
//! `outputs/NAME/.lock` (flock on Unix, LockFileEx on Windows, through std's
//! `File::try_lock`) for as long as it writes. The OS releases it when the
//! process ends, however it ends, so the folder of a killed run is free at
//! once and a recycled PID cannot keep it locked, on this host or, through
//! the file system's lock manager (NFS, Lustre), on another. The file names
//! the writer's process and host, only for the message a second writer is
//! refused with.
//!
//! Where the file system offers no OS locks, the file alone decides: a lock
//! file naming this host's dead process is taken over, but one naming another
//! host is never taken silently; [`break_lock`] removes it on the user's word.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the lock inside a run folder.
pub const LOCK: &str = ".lock";

/// Who holds a lock, as its lock file names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Process id (0 while the holder has not written its name yet).
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            0 => write!(f, "another process"),
            pid => write!(f, "process {pid} on {}", self.host),
        }
    }
}

impl Holder {
    /// This process.
    fn me() -> Holder {
        Holder {
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }

    /// The holder a lock file names; an unnamed one where it is empty or being written.
    fn read(file: &mut File) -> Holder {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let mut parts = text.split_whitespace();
        let pid = parts.next().and_then(|p| p.parse().ok());
        match (pid, parts.next()) {
            (Some(pid), Some(host)) => Holder {
                pid,
                host: host.to_string(),
            },
            _ => Holder {
                pid: 0,
                host: String::new(),
            },
        }
    }

    fn line(&self) -> String {
        format!("{} {}\n", self.pid, self.host)
    }
}

/// The process holding `dir`'s lock, if one does (the lock is held when it cannot be taken).
pub fn holder(dir: &Path) -> Option<Holder> {
    let mut file = File::open(dir.join(LOCK)).ok()?;
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => Some(Holder::read(&mut file)),
        Ok(()) | Err(TryLockError::Error(_)) => None,
    }
}

/// Exclusive ownership of a run folder, released when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// The locked file: closing it releases the OS lock.
    _file: File,
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
    /// The file system has no OS locks, and the lock file names a process on
    /// another host, which this host cannot tell alive or gone.
    #[error("{}: locked by {holder} (its lock is {}), and this file system has no OS locks to tell whether that process still runs; if it does not, pass --break-lock", dir.display(), dir.join(LOCK).display())]
    Foreign {
        /// The run folder.
        dir: PathBuf,
        /// The writer the lock file names.
        holder: Holder,
    },
    /// The lock file could not be opened, locked or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Whether `file` is still the file at `path` (a writer that finished removes
/// its lock file, possibly after another process opened it).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Whether the process the lock file names may still run: always where it is
/// on another host, or where this host cannot say.
fn may_run(holder: &Holder) -> bool {
    if holder.host != Holder::me().host || holder.pid == 0 {
        return true;
    }
    !cfg!(target_os = "linux") || Path::new("/proc").join(holder.pid.to_string()).exists()
}

impl RunLock {
    /// Takes `dir`'s lock; refused while another process holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        RunLock::take(dir, true)
    }

    /// Takes `dir`'s lock through OS locks where `os_locks` (and the file
    /// system has them), else through the lock file alone.
    fn take(dir: &Path, os_locks: bool) -> Result<RunLock, LockError> {
        let path = dir.join(LOCK);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            let locked = match os_locks {
                true => file.try_lock(),
                false => Err(TryLockError::Error(std::io::ErrorKind::Unsupported.into())),
            };
            match locked {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        dir: dir.to_path_buf(),
                        holder: Holder::read(&mut file),
                    });
                }
                Err(TryLockError::Error(e)) if no_os_locks(&e) => {
                    let holder = Holder::read(&mut file);
                    if holder.pid != 0 && holder.host != Holder::me().host {
                        return Err(LockError::Foreign {
                            dir: dir.to_path_buf(),
                            holder,
                        });
                    }
                    if holder.pid != 0 && may_run(&holder) {
                        return Err(LockError::Held {
                            dir: dir.to_path_buf(),
                            holder,
                        });
                    }
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            if !still_at(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(Holder::me().line().as_bytes()).map_err(io)?;
            return Ok(RunLock { path, _file: file });
        }
    }
}

/// Removes `dir`'s lock file on the user's word that its writer is gone;
/// refused while a live process holds its OS lock.
pub fn break_lock(dir: &Path) -> Result<(), LockError> {
    if let Some(holder) = holder(dir) {
        return Err(LockError::Held {
            dir: dir.to_path_buf(),
            holder,
        });
    }
    let path = dir.join(LOCK);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(LockError::Io { path, source: e })
        }
        _ => Ok(()),
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the file handle after this.
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether an error of `File::try_lock` or `File::lock` says the file system
/// has no OS locks (rather than that the lock is held or the file is unusable).
pub fn no_os_locks(e: &std::io::Error) -> bool {
    /// ENOLCK: Linux's answer on an NFS mount without a lock manager.
    const NO_LOCKS: i32 = 37;
    e.kind() == std::io::ErrorKind::Unsupported || e.raw_os_error() == Some(NO_LOCKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_a_stale_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let lock = RunLock::acquire(dir).unwrap();
        let err = RunLock::acquire(dir).unwrap_err();
        let me = Holder::me();
        assert!(
            err.to_string()
                .contains(&format!("process {} on {}", me.pid, me.host)),
            "{err}"
        );
        assert_eq!(holder(dir), Some(me.clone()));
        drop(lock);
        assert!(!dir.join(LOCK).exists());
        // A lock file left by a writer that is gone names it, but nobody holds its OS lock.
        fs::write(dir.join(LOCK), "4194999 elsewhere\n").unwrap();
        assert!(holder(dir).is_none());
        let taken = RunLock::acquire(dir).unwrap();
        assert_eq!(holder(dir), Some(me));
        drop(taken);
    }

    #[test]
    fn without_os_locks_another_hosts_lock_is_refused_until_broken() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        // This host's dead process: taken over.
        fs::write(dir.join(LOCK), "4194999 ".to_string() + &Holder::me().host).unwrap();
        let taken = RunLock::take(dir, false).unwrap();
        // This host's live process (this one): refused.
        let second = RunLock::take(dir, false);
        assert!(matches!(second, Err(LockError::Held { .. })), "{second:?}");
        drop(taken);
        // Another host's: refused with the holder and --break-lock, until broken.
        fs::write(dir.join(LOCK), "77 node-b\n").unwrap();
        let err = RunLock::take(dir, false).unwrap_err();
        assert!(matches!(err, LockError::Foreign { .. }));
        let line = err.to_string();
        assert!(
            line.contains("locked by process 77 on node-b") && line.contains("--break-lock"),
            "{line}"
        );
        break_lock(dir).unwrap();
        drop(RunLock::take(dir, false).unwrap());
    }

    #[test]
    fn a_held_lock_is_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            break_lock(dir.path()),
            Err(LockError::Held { .. })
        ));
        drop(lock);
        break_lock(dir.path()).unwrap();
    }

    #[test]
    fn the_lock_of_a_killed_process_is_free_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK);
        // util-linux's flock(1) takes an OS lock on the file, then becomes `sleep` (-F).
        let Ok(mut child) = std::process::Command::new("flock")
            .arg("-F")
            .arg(&path)
            .args(["sleep", "60"])
            .spawn()
        else {
            panic!("flock(1) from util-linux is needed by this test");
        };
        let held = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            holder(dir.path()).is_some()
        });
        assert!(held, "flock never took the lock");
        assert!(matches!(
            RunLock::acquire(dir.path()),
            Err(LockError::Held { .. })
        ));
        child.kill().unwrap();
        child.wait().unwrap();
        let free = (0..300).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            RunLock::acquire(dir.path()).is_ok()
        });
        assert!(free, "the killed holder's lock was not released");
    }
}
