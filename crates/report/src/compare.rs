//! Comparing runs (backends, loop variants) on their headline metrics:
//! `compare.csv`, one overlaid plot per metric and an `index.html`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::html;
use crate::plots::{Series, line_plot, metric_axes, palette};
use crate::runs::{ReadRun, generations, present_headline, read_runs};
use crate::table::Metric;
use crate::table::{csv_number, write_csv};

/// What [`compare_runs`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// Each run's name in the table and CSV columns (its folder name, with
    /// parent folders where names would repeat).
    pub names: Vec<String>,
    /// Each run's legend label: name, backend, and mode and real fraction where runs differ.
    pub labels: Vec<String>,
    /// Files written, relative to the output folder.
    pub files: Vec<String>,
}

/// One metric in one generation across the runs.
struct Line<'m> {
    metric: &'m Metric,
    generation: usize,
    /// One value per run; `None` where the run lacks the generation or metric.
    values: Vec<Option<f64>>,
}

impl Line<'_> {
    /// Each run's difference to the first run, for runs 2, 3, ...
    fn differences(&self) -> Vec<Option<f64>> {
        let first = self.values[0];
        self.values[1..]
            .iter()
            .map(|v| Some((*v)? - first?))
            .collect()
    }
}

/// Compares the runs in `runs` (at least two run folders) on every headline
/// metric any of them holds, over the generations each has, and writes
/// `compare.csv`, `plots/METRIC.png` and `index.html` into `out`.
///
/// `compare.csv` is in long form: `generation,metric`, then one column per
/// run, then each later run's difference to the first (`B - A`); a run
/// without that generation or metric leaves its cells empty.
pub fn compare_runs(runs: &[PathBuf], out: &Path) -> Result<Compared, ReportError> {
    let paths: Vec<&Path> = runs.iter().map(PathBuf::as_path).collect();
    let runs = read_runs(&paths, 2, "comparing")?;
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    let names = names(&runs)?;
    let labels = labels(&runs, &names);
    let metrics = present_headline(&runs);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for &generation in &generations(&runs) {
        for metric in &metrics {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.value_at(generation, metric.column))
                .collect();
            if values.iter().any(Option::is_some) {
                lines.push(Line {
                    metric,
                    generation,
                    values,
                });
            }
        }
    }

    let mut files = vec!["compare.csv".to_string()];
    write_csv(&out.join(&files[0]), &csv_header(&names), &csv_rows(&lines))?;
    for metric in &metrics {
        let series: Vec<Series> = runs
            .iter()
            .zip(&labels)
            .enumerate()
            .map(|(i, (run, label))| {
                let points = run
                    .rows
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r.generation as f64,
                            run.value_at(r.generation, metric.column)?,
                        ))
                    })
                    .collect();
                Series::new(label.as_str(), palette(i), points)
            })
            .collect();
        let rel = format!("plots/{}.png", metric.column);
        line_plot(&out.join(&rel), &metric_axes(metric), &series, None)?;
        files.push(rel);
    }
    let page = compare_page(out, &runs, &names, &labels, &metrics, &lines)?;
    html::write(&out.join(html::INDEX), &page)?;
    files.push(html::INDEX.to_string());
    Ok(Compared {
        names,
        labels,
        files,
    })
}

/// The runs' folder names, with as many parent folders as it takes to tell
/// them apart.
fn names(runs: &[ReadRun]) -> Result<Vec<String>, ReportError> {
    let paths = runs
        .iter()
        .map(|r| {
            r.path
                .canonicalize()
                .map_err(|e| ReportError::io(&r.path, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let depth = paths
        .iter()
        .map(|p| p.components().count())
        .max()
        .unwrap_or(1);
    let tail = |n: usize| -> Vec<String> {
        paths
            .iter()
            .map(|p| {
                let parts: Vec<String> = p
                    .components()
                    .rev()
                    .take(n)
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                parts.into_iter().rev().collect::<Vec<_>>().join("/")
            })
            .collect()
    };
    let unique = |names: &Vec<String>| names.iter().collect::<HashSet<_>>().len() == names.len();
    Ok((1..=depth)
        .map(tail)
        .find(unique)
        .unwrap_or_else(|| tail(depth)))
}

/// Legend labels: name and backend, plus mode and real fraction from the
/// manifests' config where the runs differ in them.
fn labels(runs: &[ReadRun], names: &[String]) -> Vec<String> {
    let setting = |run: &ReadRun, key: &str| -> String {
        match run.manifest.config.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "?".to_string(),
        }
    };
    let keys = [
        ("mode", "mode"),
        ("real_fraction", "real fraction"),
        ("samples", "M"),
        ("bias", "bias"),
    ];
    let differing: Vec<(&str, &str)> = keys
        .into_iter()
        .filter(|(key, _)| {
            runs.iter()
                .map(|r| setting(r, key))
                .collect::<HashSet<_>>()
                .len()
                > 1
        })
        .collect();
    runs.iter()
        .zip(names)
        .map(|(run, name)| {
            let mut label = format!("{name} ({}", run.manifest.runs_on());
            for (key, words) in &differing {
                let _ = write!(label, ", {words} {}", setting(run, key));
            }
            label.push(')');
            label
        })
        .collect()
}

/// The value columns of a table: one per run, then each later run's
/// difference to the first.
fn value_columns(names: &[String]) -> Vec<String> {
    let differences = names[1..].iter().map(|n| format!("{n} - {}", names[0]));
    names.iter().cloned().chain(differences).collect()
}

/// The cells of `line` under [`value_columns`], each number written by `format`.
fn value_cells(line: &Line<'_>, format: fn(Option<f64>) -> String) -> Vec<String> {
    let values = line.values.iter().copied();
    values.chain(line.differences()).map(format).collect()
}

fn csv_header(names: &[String]) -> Vec<String> {
    let mut header = vec!["generation".to_string(), "metric".to_string()];
    header.extend(value_columns(names));
    header
}

fn csv_rows(lines: &[Line<'_>]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|line| {
            let mut row = vec![line.generation.to_string(), line.metric.column.to_string()];
            row.extend(value_cells(line, csv_number));
            row
        })
        .collect()
}

/// The comparison page: the runs, then per metric its plot and its table
/// The rows of one metric's table: generation, then each run's value and difference.
fn metric_rows(lines: &[Line<'_>], metric: &Metric) -> Vec<Vec<String>> {
    lines
        .iter()
        .filter(|l| l.metric.column == metric.column)
        .map(|l| {
            let mut row = vec![l.generation.to_string()];
            row.extend(value_cells(l, html::number));
            row
        })
        .collect()
}

/// (values side by side, then differences to the first run).
fn compare_page(
    out: &Path,
    runs: &[ReadRun],
    names: &[String],
    labels: &[String],
    metrics: &[&Metric],
    lines: &[Line<'_>],
) -> Result<String, ReportError> {
    let hrefs = runs
        .iter()
        .map(|run| html::relative_href(out, &run.path, html::INDEX))
        .collect::<Result<Vec<_>, _>>()?;
    let mut header = vec!["generation".to_string()];
    header.extend(value_columns(names));
    let body = maud::html! {
        h2 { "Runs" }
        ul {
            @for ((run, label), href) in runs.iter().zip(labels).zip(&hrefs) {
                li {
                    a href=(href) { (label) }
                    ": " (run.manifest.tool)
                    @if let Some(d) = &run.manifest.device { " on " (d.adapter) " (" (d.kind) ")" }
                    ", seed " (run.manifest.seed) ", " (run.rows.len()) " generations"
                }
            }
        }
        p { "Data: " a href="compare.csv" { "compare.csv" } }
        @for metric in metrics {
            h2 { (metric.title) }
            (html::plots(&[format!("plots/{}.png", metric.column)]))
            (html::table(&header, &metric_rows(lines, metric)))
        }
    };
    Ok(html::page(
        &format!("model collapse: {} runs compared", runs.len()),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{eval_record, row, write_run};

    #[test]
    fn compares_runs_of_different_lengths_with_differences() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let evaluated = |g: usize| Some(eval_record(Some(g)).summary());
        write_run(
            &a,
            &[row(0, 1.0, None), row(1, 0.5, None), row(2, 0.25, None)],
            serde_json::json!({"mode": "replace", "real_fraction": 0.0}),
            false,
        );
        write_run(
            &b,
            &[row(0, 0.75, evaluated(0)), row(1, 1.0, evaluated(1))],
            serde_json::json!({"mode": "accumulate", "real_fraction": 0.0}),
            false,
        );
        let out = tmp.path().join("cmp");
        let compared = compare_runs(&[a, b], &out).unwrap();
        assert_eq!(compared.names, ["a", "b"]);
        assert_eq!(
            compared.labels,
            ["a (flex, mode replace)", "b (flex, mode accumulate)"]
        );
        let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "generation,metric,a,b,b - a");
        assert!(lines.contains(&"0,probe_mu_std,1,0.75,-0.25"), "{csv}");
        assert!(lines.contains(&"1,probe_mu_std,0.5,1,0.5"), "{csv}");
        assert!(lines.contains(&"2,probe_mu_std,0.25,,"), "{csv}");
        assert!(lines.contains(&"1,fd,,10,"), "{csv}");
        assert!(!csv.contains("2,fd"), "{csv}");
        for f in &compared.files {
            assert!(out.join(f).is_file(), "{f}");
        }
        assert!(compared.files.contains(&"plots/recall.png".to_string()));
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(page.contains("href=\"../a/index.html\""), "{page}");
        assert!(page.contains("<td>-0.2500</td>"), "{page}");
    }

    #[test]
    fn refuses_one_run_and_a_folder_that_is_not_a_run() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        write_run(&a, &[row(0, 1.0, None)], serde_json::json!({}), false);
        let err = compare_runs(std::slice::from_ref(&a), &tmp.path().join("out")).unwrap_err();
        assert!(
            matches!(err, ReportError::TooFewRuns { given: 1, .. }),
            "{err}"
        );
        let err =
            compare_runs(&[a, tmp.path().to_path_buf()], &tmp.path().join("out")).unwrap_err();
        assert!(
            matches!(err, ReportError::NotARun { ref path } if *path == tmp.path()),
            "{err}"
        );
    }

    #[test]
    fn repeated_folder_names_get_their_parent() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("x/seed-1"), tmp.path().join("y/seed-1"));
        for p in [&a, &b] {
            write_run(p, &[row(0, 1.0, None)], serde_json::json!({}), false);
        }
        let compared = compare_runs(&[a, b], &tmp.path().join("out")).unwrap();
        assert_eq!(compared.names, ["x/seed-1", "y/seed-1"]);
    }
}
