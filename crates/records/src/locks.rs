//! What the run lock and the evaluator cache both need to know about OS file locks.

/// Whether an error of `File::try_lock` or `File::lock` says the file system
/// has no OS locks (rather than that the lock is held or the file is unusable).
pub fn no_os_locks(e: &std::io::Error) -> bool {
    /// ENOLCK: Linux's answer on an NFS mount without a lock manager.
    const NO_LOCKS: i32 = 37;
    e.kind() == std::io::ErrorKind::Unsupported || e.raw_os_error() == Some(NO_LOCKS)
}
