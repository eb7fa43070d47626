//! Atomic writes with the path in the error, for every record written.

use std::path::Path;

use crate::error::RecordError;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    crate::atomic::write(path, bytes).map_err(|e| RecordError::io(path, e))
}
