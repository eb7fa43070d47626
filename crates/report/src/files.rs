//! Small file helpers shared by the report writers: atomic writes with the
//! path in the error, CSV tables, and records that old runs lack.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::contract::read_json;
use crate::error::ReportError;

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    collapse_data::atomic::write(path, bytes).map_err(|e| ReportError::io(path, e))
}

/// Writes a CSV table atomically, quoting fields that need it.
pub(crate) fn write_csv(
    path: &Path,
    header: &[String],
    rows: &[Vec<String>],
) -> Result<(), ReportError> {
    let line = |fields: &[String]| {
        let mut line = fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
        line.push('\n');
        line
    };
    let text: String = std::iter::once(line(header))
        .chain(rows.iter().map(|r| line(r)))
        .collect();
    write_atomic(path, text.as_bytes())
}

/// One CSV field, in double quotes (doubled inside) when it holds a comma,
/// quote or line break.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A number as written into the report's CSV files: shortest round-trip form,
/// empty when absent.
pub(crate) fn csv_number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_number(Some(0.25)), "0.25");
        assert_eq!(csv_number(None), "");
    }
}
