//! Atomic writes with the path in the error, for every file the reports write.

use std::path::Path;

use crate::error::ReportError;

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    collapse_data::atomic::write(path, bytes).map_err(|e| ReportError::io(path, e))
}
