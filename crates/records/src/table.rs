//! CSV tables of per-generation records, through the `csv` crate: one
//! writer and one reader for every table the reports write or read, with the
//! columns of a record type given by a [`Column`] table.

use std::path::Path;

use crate::error::RecordError;
use crate::files::write_atomic;

/// How a column's values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A whole number.
    Count,
    /// A real number, in its shortest form that reads back exactly.
    Real,
    /// Wall time in seconds, to the millisecond.
    Seconds,
}

/// A column of a table of per-generation records `R`.
#[derive(Clone, Copy, Debug)]
pub struct Column<R: 'static> {
    /// How the column is written.
    pub format: Format,
    /// The group of columns it is part of, which a row holds together or not
    /// at all (a row's evaluation figures); `None` for a column every row holds.
    pub group: Option<&'static str>,
    /// The value in a record; `None` where the record has none.
    pub get: fn(&R) -> Option<f64>,
    /// Stores a value read back into a record.
    pub set: fn(&mut R, f64),
    /// The column's name and chart.
    pub metric: Metric,
}

/// A column of `metrics.csv`, named and, where charted, captioned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    /// The column name, also the plot's file stem.
    pub column: &'static str,
    /// Its place among the charts of a report.
    pub rank: usize,
    /// The chart's caption; empty for a column that is not charted.
    pub title: &'static str,
    /// The y axis label.
    pub axis: &'static str,
    /// Whether runs and seeds are compared on it.
    pub headline: bool,
}

impl Metric {
    /// Whether the reports chart this column against generation.
    pub fn charted(&self) -> bool {
        !self.title.is_empty()
    }
}

impl<R> Column<R> {
    /// This column charted against generation, `rank`-th in the reports, with
    /// `title` on a `axis` axis; `headline` when runs and seeds are compared on it.
    pub const fn chart(
        self,
        rank: usize,
        title: &'static str,
        axis: &'static str,
        headline: bool,
    ) -> Self {
        let Column {
            format,
            group,
            get,
            set,
            metric,
        } = self;
        Column {
            format,
            group,
            get,
            set,
            metric: Metric {
                column: metric.column,
                rank,
                title,
                axis,
                headline,
            },
        }
    }
}

/// A field type of a record that a column holds.
pub trait Cell: Copy {
    /// The value as a cell holds it.
    fn to_cell(self) -> f64;
    /// The value from a cell read back.
    fn from_cell(value: f64) -> Self;
}

impl Cell for f64 {
    fn to_cell(self) -> f64 {
        self
    }
    fn from_cell(value: f64) -> Self {
        value
    }
}

impl Cell for usize {
    fn to_cell(self) -> f64 {
        self as f64
    }
    fn from_cell(value: f64) -> Self {
        value as usize
    }
}

/// A column named `column` that no report charts.
pub const fn uncharted(column: &'static str) -> Metric {
    Metric {
        column,
        rank: usize::MAX,
        title: "",
        axis: "",
        headline: false,
    }
}

/// Writes a CSV table of text fields atomically, quoting fields that need it.
pub fn write_csv(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<(), RecordError> {
    let csv_error = |e: csv::Error| RecordError::Csv {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(csv_error)?;
    for row in rows {
        writer.write_record(row).map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv_error(e.into_error().into()))?;
    write_atomic(path, &bytes)
}

/// A number as written into the report's CSV files: shortest round-trip form,
/// empty when absent.
pub fn csv_number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// `value` written as `format` says.
fn cell(format: Format, value: Option<f64>) -> String {
    match (format, value) {
        (_, None) => String::new(),
        (Format::Count, Some(v)) => (v as u64).to_string(),
        (Format::Real, v) => csv_number(v),
        (Format::Seconds, Some(v)) => format!("{v:.3}"),
    }
}

/// Writes `rows` as a CSV table of `columns`, atomically.
pub fn write_table<R>(path: &Path, columns: &[Column<R>], rows: &[R]) -> Result<(), RecordError> {
    let header: Vec<String> = columns.iter().map(|c| c.metric.column.into()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| cell(c.format, (c.get)(row)))
                .collect()
        })
        .collect();
    write_csv(path, &header, &cells)
}

/// One field of a record, parsed as its column's format says.
fn parse(format: Format, name: &str, field: &str) -> Result<f64, String> {
    match format {
        Format::Count => field
            .parse::<u64>()
            .map(|v| v as f64)
            .map_err(|e| e.to_string()),
        Format::Real | Format::Seconds => field.parse::<f64>().map_err(|e| e.to_string()),
    }
    .map_err(|e| format!("{name}: {e}"))
}

/// One record of a table: every column outside a group must be there; a
/// group's columns are read only where all of them are there and filled.
fn record<R: Default>(
    header: &csv::StringRecord,
    fields: &csv::StringRecord,
    columns: &[Column<R>],
) -> Result<R, String> {
    let field = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .and_then(|i| fields.get(i))
    };
    let present = |group: &str| {
        columns
            .iter()
            .filter(|c| c.group == Some(group))
            .all(|c| field(c.metric.column).is_some_and(|v| !v.is_empty()))
    };
    let mut row = R::default();
    for c in columns {
        let name = c.metric.column;
        match field(name) {
            _ if c.group.is_some_and(|g| !present(g)) => {}
            Some(text) => (c.set)(&mut row, parse(c.format, name, text)?),
            None => return Err(format!("missing column {name}")),
        }
    }
    Ok(row)
}

/// Reads the CSV table at `path`, each record through `row` (given the
/// header and the record; its error becomes the record's line in the error).
fn read_rows<T>(
    path: &Path,
    row: impl Fn(&csv::StringRecord, &csv::StringRecord) -> Result<T, String>,
) -> Result<Vec<T>, RecordError> {
    let bytes = std::fs::read(path).map_err(|e| RecordError::io(path, e))?;
    let malformed = |line: u64, message: String| RecordError::Csv {
        path: path.to_path_buf(),
        line: line as usize,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = reader
        .headers()
        .map_err(|e| malformed(1, e.to_string()))?
        .clone();
    reader
        .records()
        .map(|fields| {
            let fields = fields.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                malformed(line, e.to_string())
            })?;
            let line = fields.position().map_or(0, |p| p.line());
            row(&header, &fields).map_err(|message| malformed(line, message))
        })
        .collect()
}

/// Reads a CSV table of `columns` back into records.
pub fn read_table<R: Default>(path: &Path, columns: &[Column<R>]) -> Result<Vec<R>, RecordError> {
    read_rows(path, |header, fields| record(header, fields, columns))
}

/// One row of a table read by column name: its generation and the value of
/// each column asked for (`None` where the cell is empty or the table has no
/// such column).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedRow {
    /// The row's generation.
    pub generation: usize,
    /// Each column asked for, in the order asked.
    pub values: Vec<Option<f64>>,
}

/// Reads the columns `names` of a CSV table with a `generation` column, of
/// whatever record type wrote it.
pub fn read_named(path: &Path, names: &[&str]) -> Result<Vec<NamedRow>, RecordError> {
    read_rows(path, |header, fields| {
        let cell = |name: &str| -> Result<Option<f64>, String> {
            let text = header
                .iter()
                .position(|h| h == name)
                .and_then(|i| fields.get(i))
                .filter(|f| !f.is_empty());
            text.map(|t| parse(Format::Real, name, t)).transpose()
        };
        let generation = cell("generation")?.ok_or("generation: missing or empty")?;
        let values = names.iter().map(|n| cell(n)).collect::<Result<_, _>>()?;
        Ok(NamedRow {
            generation: generation as usize,
            values,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.csv");
        let header = ["plain", "a,b", "say \"hi\""].map(String::from);
        write_csv(&path, &header, &[]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "plain,\"a,b\",\"say \"\"hi\"\"\"\n");
        assert_eq!(csv_number(Some(0.25)), "0.25");
        assert_eq!(csv_number(None), "");
    }
}
