//! Small file helpers shared by the report writers: atomic writes with the
//! path in the error, and records that old runs lack.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::contract::read_json;
use crate::error::ReportError;

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    collapse_data::atomic::write(path, bytes).map_err(|e| ReportError::io(path, e))
}

/// Reads the JSON record at `path`, or `None` when there is no such file
/// (a run made before the record existed).
pub(crate) fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ReportError> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}
