//! The columns of `metrics.csv`: one line each says a column's name, how its
//! values are written, where they live in a [`MetricsRow`], and whether and
//! how the reports chart it against generation. The CSV writer and reader,
//! the report's tables and charts, `compare` and the seed aggregate all read
//! their columns from [`COLUMNS`], so a new metric is a field of its record
//! and one line here.

use std::path::Path;

use crate::contract::{MetricsRow, ModelFit};
use crate::error::RecordError;
use crate::evaluation::EvalSummary;
use crate::table::{Cell, Column, Format, Metric, read_table, uncharted, write_table};

/// A column of a [`MetricsRow`] field.
macro_rules! row {
    ($field:ident, $format:ident) => {
        Column::<MetricsRow> {
            format: Format::$format,
            group: None,
            get: |r| Some(Cell::to_cell(r.$field)),
            set: |r, v| r.$field = Cell::from_cell(v),
            metric: uncharted(stringify!($field)),
        }
    };
}

/// A column of the optional `Option<T>` field `$field` of a [`MetricsRow`],
/// a group of its own.
macro_rules! optional {
    ($field:ident, $format:ident) => {
        Column::<MetricsRow> {
            format: Format::$format,
            group: Some(stringify!($field)),
            get: |r| r.$field.map(Cell::to_cell),
            set: |r, v| r.$field = Some(Cell::from_cell(v)),
            metric: uncharted(stringify!($field)),
        }
    };
}

/// A column of the model's fit of the test set ([`ModelFit`]).
macro_rules! fit {
    ($field:ident, $format:ident) => {
        Column::<MetricsRow> {
            format: Format::$format,
            group: Some("fit"),
            get: |r| r.fit.as_ref().map(|f| Cell::to_cell(f.$field)),
            set: |r, v| r.fit.get_or_insert_with(ModelFit::default).$field = Cell::from_cell(v),
            metric: uncharted(stringify!($field)),
        }
    };
}

/// A column of the row's evaluation figures ([`EvalSummary`]).
macro_rules! eval {
    ($field:ident) => {
        Column::<MetricsRow> {
            format: Format::Real,
            group: Some("eval"),
            get: |r| r.eval.as_ref().map(|e| e.$field),
            set: |r, v| r.eval.get_or_insert_with(EvalSummary::default).$field = v,
            metric: uncharted(stringify!($field)),
        }
    };
}

/// An end (`lo` or `hi`) of the profile's interval of the headline figure
/// `$field`, the column `FIELD_lo` or `FIELD_hi`; a figure's two ends are a
/// group of their own.
macro_rules! bound {
    ($field:ident, $end:ident) => {
        Column::<MetricsRow> {
            format: Format::Real,
            group: Some(concat!(stringify!($field), "_interval")),
            get: |r| r.intervals.get(stringify!($field)).map(|i| i.$end),
            set: |r, v| {
                r.intervals
                    .entry(stringify!($field).to_string())
                    .or_default()
                    .$end = v
            },
            metric: uncharted(concat!(stringify!($field), "_", stringify!($end))),
        }
    };
}

/// Every column of `metrics.csv`, in file order; a charted column's first
/// argument is its place in the reports.
#[rustfmt::skip]
pub const COLUMNS: &[Column<MetricsRow>] = &[
    row!(generation, Count),
    row!(train_size, Count),
    row!(real_fraction, Real),
    optional!(train_loss, Real),
    fit!(test_nelbo, Real).chart(2, "Negative ELBO on the real test set", "nats per image", true),
    fit!(test_recon, Real),
    fit!(test_kl, Real),
    fit!(active_units, Count).chart(3, "Active latent units on the real test set", "active units", false),
    row!(probe_mu_mean, Real),
    row!(probe_mu_std, Real).chart(0, "Spread of the generation-0 encoder's μ on each generation's samples", "probe μ std", true),
    row!(probe_tail_mass, Real).chart(1, "Tail mass |μ| > 2 of the probe", "fraction of |μ| > 2", true),
    row!(seconds, Seconds),
    eval!(class_entropy),
    eval!(class_entropy_norm).chart(4, "Entropy of the predicted classes (1 = uniform)", "entropy / ln(classes)", true),
    eval!(rarest_class_share).chart(5, "Share of the rarest predicted class", "fraction of samples", false),
    eval!(mean_confidence),
    eval!(unconfident_share).chart(6, "Samples the classifier is unsure of (top probability < 0.5)", "fraction of samples", false),
    eval!(fd).chart(7, "Fréchet distance to the real test set (classifier features)", "FD", true),
    eval!(precision).chart(8, "Precision: samples inside the real data's manifold", "precision", true),
    eval!(recall).chart(9, "Recall: real data inside the samples' manifold", "recall", true),
    eval!(density).chart(10, "Density of samples in real neighbourhoods", "density", true),
    eval!(coverage).chart(11, "Coverage: real neighbourhoods holding a sample", "coverage", true),
    eval!(nelbo0_median).chart(12, "Median negative ELBO of the samples under the generation-0 VAE", "nats per image", true),
    eval!(nelbo0_spread),
    eval!(ink_spread).chart(13, "1–99 % spread of ink mass", "ink spread", true),
    eval!(slant_spread).chart(14, "1–99 % spread of slant", "slant spread", true),
    eval!(width_spread).chart(15, "1–99 % spread of bounding-box width", "width spread", true),
    eval!(height_spread).chart(16, "1–99 % spread of bounding-box height", "height spread", true),
    eval!(thickness_spread).chart(17, "1–99 % spread of stroke thickness", "thickness spread", true),
    bound!(probe_mu_std, lo), bound!(probe_mu_std, hi),
    bound!(probe_tail_mass, lo), bound!(probe_tail_mass, hi),
    bound!(class_entropy_norm, lo), bound!(class_entropy_norm, hi),
    bound!(rarest_class_share, lo), bound!(rarest_class_share, hi),
    bound!(fd, lo), bound!(fd, hi),
    bound!(precision, lo), bound!(precision, hi),
    bound!(recall, lo), bound!(recall, hi),
    bound!(density, lo), bound!(density, hi),
    bound!(coverage, lo), bound!(coverage, hi),
    bound!(nelbo0_median, lo), bound!(nelbo0_median, hi),
    bound!(nelbo0_spread, lo), bound!(nelbo0_spread, hi),
    bound!(ink_spread, lo), bound!(ink_spread, hi),
    bound!(slant_spread, lo), bound!(slant_spread, hi),
    bound!(width_spread, lo), bound!(width_spread, hi),
    bound!(height_spread, lo), bound!(height_spread, hi),
    bound!(thickness_spread, lo), bound!(thickness_spread, hi),
];

/// Whether `column` is an end of a figure's interval (`FIELD_lo`, `FIELD_hi`).
pub fn is_bound(column: &str) -> bool {
    COLUMNS
        .iter()
        .any(|c| c.metric.column == column && c.group.is_some_and(|g| g.ends_with("_interval")))
}

impl MetricsRow {
    /// Every column of `metrics.csv`, in file order.
    pub fn header() -> Vec<&'static str> {
        COLUMNS.iter().map(|c| c.metric.column).collect()
    }
}

/// Writes `metrics.csv` atomically (header, then one row per generation).
pub fn write_metrics_csv(path: &Path, rows: &[MetricsRow]) -> Result<(), RecordError> {
    write_table(path, COLUMNS, rows)
}

/// Reads `metrics.csv` back.
pub fn read_metrics_csv(path: &Path) -> Result<Vec<MetricsRow>, RecordError> {
    read_table(path, COLUMNS)
}

/// The column named `name`.
fn column(name: &str) -> Option<&'static Column<MetricsRow>> {
    COLUMNS.iter().find(|c| c.metric.column == name)
}

/// The columns charted against generation, in report order.
pub fn charted() -> impl Iterator<Item = &'static Metric> {
    let mut charted: Vec<&'static Metric> = COLUMNS
        .iter()
        .map(|c| &c.metric)
        .filter(|m| m.charted())
        .collect();
    charted.sort_by_key(|m| m.rank);
    charted.into_iter()
}

/// The headline metrics, in report order.
pub fn headline() -> impl Iterator<Item = &'static Metric> {
    charted().filter(|m| m.headline)
}

/// The value of `column` in `row`; `None` for an unknown column or an
/// evaluation column of a row that was not evaluated.
pub fn value(row: &MetricsRow, column: &str) -> Option<f64> {
    self::column(column).and_then(|c| (c.get)(row))
}

/// The value of evaluation column `column` in `summary`.
pub fn summary_value(summary: &EvalSummary, column: &str) -> Option<f64> {
    let row = MetricsRow {
        eval: Some(summary.clone()),
        ..MetricsRow::default()
    };
    self::column(column)
        .filter(|c| c.group == Some("eval"))
        .and_then(|c| (c.get)(&row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_a_column_of_metrics_csv() {
        let header = MetricsRow::header();
        for m in charted() {
            assert!(header.contains(&m.column), "{}", m.column);
        }
        assert_eq!(headline().count(), 15);
        // Every field of both records has its column, and no column is listed twice.
        let mut row = MetricsRow {
            eval: Some(EvalSummary::default()),
            ..MetricsRow::default()
        };
        for (i, c) in COLUMNS.iter().enumerate() {
            (c.set)(&mut row, i as f64);
        }
        let json = serde_json::to_value(&row).unwrap();
        let mut fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        fields.retain(|f| f != "eval" && f != "intervals");
        fields.extend(json["eval"].as_object().unwrap().keys().cloned());
        for figure in json["intervals"].as_object().unwrap().keys() {
            fields.extend(["lo", "hi"].map(|end| format!("{figure}_{end}")));
        }
        fields.sort();
        let mut names: Vec<String> = header.iter().map(|c| c.to_string()).collect();
        names.sort();
        names.dedup();
        assert_eq!(fields, names);
        for (i, c) in COLUMNS.iter().enumerate() {
            assert_eq!((c.get)(&row), Some(i as f64), "{}", c.metric.column);
        }
    }

    #[test]
    fn metrics_csv_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("metrics.csv");
        let row = MetricsRow {
            generation: 3,
            train_size: 512,
            real_fraction: 0.1,
            // A model that reports no loss and has no encoder: its cells stay empty.
            train_loss: None,
            fit: None,
            probe_mu_mean: -0.01,
            probe_mu_std: 0.75,
            probe_tail_mass: 0.02,
            seconds: 1.5,
            eval: None,
            intervals: Default::default(),
        };
        let mut evaluated = row.clone();
        evaluated.generation = 4;
        for (i, c) in COLUMNS.iter().filter(|c| c.group.is_some()).enumerate() {
            (c.set)(&mut evaluated, i as f64 * 0.25 - 1.0);
        }
        let rows = vec![row, evaluated];
        write_metrics_csv(&path, &rows).unwrap();
        assert_eq!(read_metrics_csv(&path).unwrap(), rows);
        std::fs::write(&path, "generation,train_size\n1,x\n").unwrap();
        let err = read_metrics_csv(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn values_by_column() {
        let row = MetricsRow {
            generation: 2,
            train_size: 100,
            real_fraction: 0.5,
            train_loss: Some(1.0),
            fit: Some(ModelFit {
                test_nelbo: 2.0,
                test_recon: 1.5,
                test_kl: 0.5,
                active_units: 7,
            }),
            probe_mu_mean: 0.0,
            probe_mu_std: 0.8,
            probe_tail_mass: 0.01,
            seconds: 3.0,
            eval: None,
            intervals: Default::default(),
        };
        assert_eq!(value(&row, "active_units"), Some(7.0));
        assert_eq!(value(&row, "fd"), None);
        assert_eq!(value(&row, "nonsense"), None);
        let evaluated = MetricsRow {
            eval: Some(EvalSummary {
                fd: 12.5,
                ..EvalSummary::default()
            }),
            ..row
        };
        assert_eq!(value(&evaluated, "fd"), Some(12.5));
        assert_eq!(
            summary_value(evaluated.eval.as_ref().unwrap(), "fd"),
            Some(12.5)
        );
        assert_eq!(
            summary_value(evaluated.eval.as_ref().unwrap(), "test_nelbo"),
            None
        );
    }
}
