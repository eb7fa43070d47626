//! Runs side by side in groups: the one page behind `collapse compare` (a
//! group per run), `--seeds` and a study's report (a group per condition,
//! its seeds the group's runs).
//!
//! Per group, generation and headline metric it writes the mean and sample
//! standard deviation over the group's runs and the difference of that mean
//! to the first group's, as [`SUMMARY`]; one chart per metric with a line per
//! group (and a ± std band where a group has several runs); and an
//! `index.html` with the groups, links to every run, each group's last
//! generation and the charts with their tables.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use collapse_records::Group;

use crate::error::ReportError;
use crate::html;
use crate::plots::{Series, line_plot, metric_axes, palette};
use crate::runs::{ReadRun, generations, present_headline, read_runs};
use crate::stats::mean_sample_std;
use crate::table::{Metric, csv_number, write_csv};

/// The grouped page's table, in long form.
pub const SUMMARY: &str = "summary.csv";

/// What [`report_groups`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouped {
    /// Each group's legend label, for the groups that have runs.
    pub labels: Vec<String>,
    /// Files written, relative to the output folder.
    pub files: Vec<String>,
}

/// One metric of a group in one generation.
#[derive(Clone, Copy)]
struct Cell {
    /// The group's runs that hold a value.
    n: usize,
    /// Mean of their finite values; NaN where every value is non-finite.
    mean: Option<f64>,
    /// Sample standard deviation (n − 1) of their finite values; none under two.
    std: Option<f64>,
}

/// A group's runs read back and summarised.
struct Summary<'g> {
    group: &'g Group,
    label: String,
    runs: Vec<ReadRun>,
    /// Per generation any of its runs reached: that generation and one cell per metric.
    table: Vec<(usize, Vec<Option<Cell>>)>,
}

impl Summary<'_> {
    fn cell(&self, generation: usize, metric: usize) -> Option<Cell> {
        let (_, cells) = self.table.iter().find(|(g, _)| *g == generation)?;
        cells[metric]
    }
}

/// Writes the grouped page of `groups` titled `title` into `out`. Groups
/// without runs are left out; none with runs is refused, as are runs of
/// different experiments.
pub fn report_groups(out: &Path, title: &str, groups: &[Group]) -> Result<Grouped, ReportError> {
    let with_runs: Vec<&Group> = groups.iter().filter(|g| !g.runs.is_empty()).collect();
    let paths: Vec<&Path> = with_runs
        .iter()
        .flat_map(|g| g.runs.iter().map(|(_, p)| p.as_path()))
        .collect();
    let mut all = read_runs(&paths, 1, "reporting runs")?.into_iter();
    let summaries: Vec<Summary<'_>> = with_runs
        .iter()
        .map(|&group| {
            let runs: Vec<ReadRun> = all.by_ref().take(group.runs.len()).collect();
            Summary {
                group,
                label: legend(group),
                runs,
                table: Vec::new(),
            }
        })
        .collect();
    let every: Vec<&ReadRun> = summaries.iter().flat_map(|s| &s.runs).collect();
    let metrics = present_headline(&every);
    let summaries: Vec<Summary<'_>> = summaries
        .into_iter()
        .map(|mut s| {
            s.table = summarise(&s.runs, &metrics);
            s
        })
        .collect();

    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    let mut files = vec![SUMMARY.to_string()];
    write_summary(&out.join(SUMMARY), &metrics, &summaries)?;
    for (i, metric) in metrics.iter().enumerate() {
        let rel = format!("plots/{}.png", metric.column);
        let series: Vec<Series> = summaries
            .iter()
            .enumerate()
            .map(|(k, s)| series(s, i, k))
            .collect();
        line_plot(&out.join(&rel), &metric_axes(metric), &series, None)?;
        files.push(rel);
    }
    let page = page(out, title, &metrics, &summaries)?;
    html::write(&out.join(html::INDEX), &page)?;
    files.push(html::INDEX.to_string());
    Ok(Grouped {
        labels: summaries.into_iter().map(|s| s.label).collect(),
        files,
    })
}

/// A group of each run of `runs` (at least two), for comparing them: named
/// by its folder (with as many parent folders as it takes to tell the names
/// apart), its settings the backend, or the experiment, and those of mode,
/// real fraction, sample size and bias in which the runs differ.
pub fn each_run(runs: &[PathBuf]) -> Result<Vec<Group>, ReportError> {
    let paths: Vec<&Path> = runs.iter().map(PathBuf::as_path).collect();
    let read = read_runs(&paths, 2, "comparing")?;
    let names = names(&read)?;
    let settings = settings(&read);
    Ok(read
        .into_iter()
        .zip(names)
        .zip(settings)
        .map(|((run, name), settings)| Group {
            runs: vec![(name.clone(), run.path)],
            name,
            settings,
        })
        .collect())
}

/// A group's legend label: its name, with its run count where it has
/// several, or else its settings.
fn legend(group: &Group) -> String {
    match group.runs.len() {
        1 if group.settings.is_empty() => group.name.clone(),
        1 => format!("{} ({})", group.name, group.settings),
        n => format!("{} ({n} runs)", group.name),
    }
}

/// Every generation any of `runs` reached, with a cell per metric where a run holds a value.
fn summarise(runs: &[ReadRun], metrics: &[&Metric]) -> Vec<(usize, Vec<Option<Cell>>)> {
    let runs: Vec<&ReadRun> = runs.iter().collect();
    generations(&runs)
        .into_iter()
        .map(|generation| {
            let cells = metrics
                .iter()
                .map(|m| {
                    let values: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.value_at(generation, m.column))
                        .collect();
                    if values.is_empty() {
                        return None;
                    }
                    let (mean, std) = mean_sample_std(&values);
                    Some(Cell {
                        n: values.len(),
                        mean: mean.or(Some(f64::NAN)),
                        std,
                    })
                })
                .collect();
            (generation, cells)
        })
        .collect()
}

/// The difference of `cell`'s mean to the first group's in the same generation.
fn difference(
    summaries: &[Summary<'_>],
    k: usize,
    generation: usize,
    metric: usize,
) -> Option<f64> {
    if k == 0 {
        return None;
    }
    let first = summaries[0].cell(generation, metric)?.mean?;
    Some(summaries[k].cell(generation, metric)?.mean? - first)
}

/// [`SUMMARY`]: `group,generation,metric,n,mean,std,difference`, a row
/// wherever a group's run holds the metric in that generation.
fn write_summary(
    path: &Path,
    metrics: &[&Metric],
    summaries: &[Summary<'_>],
) -> Result<(), ReportError> {
    let header: Vec<String> = [
        "group",
        "generation",
        "metric",
        "n",
        "mean",
        "std",
        "difference",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for (k, s) in summaries.iter().enumerate() {
        for (generation, cells) in &s.table {
            for (i, (metric, cell)) in metrics.iter().zip(cells).enumerate() {
                let Some(cell) = cell else { continue };
                rows.push(vec![
                    s.group.name.clone(),
                    generation.to_string(),
                    metric.column.to_string(),
                    cell.n.to_string(),
                    csv_number(cell.mean),
                    csv_number(cell.std),
                    csv_number(difference(summaries, k, *generation, i)),
                ]);
            }
        }
    }
    write_csv(path, &header, &rows)?;
    Ok(())
}

/// Group `k`'s line of metric `i`, with its ± std band where it has one.
fn series(s: &Summary<'_>, i: usize, k: usize) -> Series {
    let finite = |v: f64| v.is_finite().then_some(v);
    let cells = || {
        s.table
            .iter()
            .filter_map(move |(g, cells)| Some((*g as f64, cells[i]?)))
    };
    Series {
        label: s.label.clone(),
        color: palette(k),
        points: cells()
            .filter_map(|(g, c)| Some((g, finite(c.mean?)?)))
            .collect(),
        band: cells()
            .filter_map(|(g, c)| {
                let (mean, std) = (finite(c.mean?)?, c.std?);
                Some((g, mean - std, mean + std))
            })
            .collect(),
        dashed: false,
    }
}

/// A table cell: the mean, with `± std` where there is one.
fn shown(cell: Option<Cell>) -> String {
    cell.map(|c| html::mean_std(c.mean, c.std))
        .unwrap_or_default()
}

/// The page: the groups and their runs, each group's last generation, then
/// per metric its chart and a table of generations against groups (with
/// each later group's difference to the first).
fn page(
    out: &Path,
    title: &str,
    metrics: &[&Metric],
    summaries: &[Summary<'_>],
) -> Result<String, ReportError> {
    let body = maud::html! {
        h2 { "Groups" }
        (groups_table(out, summaries)?)
        p {
            "Data: " a href=(SUMMARY) { (SUMMARY) }
            " (per group, generation and metric: the runs holding it, mean and sample std over them, and the mean's difference to the first group)"
        }
        h2 { "Last generation, mean ± sample std" }
        div class="scroll" { (last_generations(metrics, summaries)) }
        @for (i, metric) in metrics.iter().enumerate() {
            h2 { (metric.title) }
            (html::plots(&[format!("plots/{}.png", metric.column)]))
            details {
                summary { "Per generation: each group's mean ± sample std, and its difference to the first" }
                div class="scroll" { (metric_table(summaries, i)) }
            }
        }
    };
    Ok(html::page(title, body))
}

/// Each group with its settings and its runs, linked from the page in `out`.
fn groups_table(out: &Path, summaries: &[Summary<'_>]) -> Result<maud::Markup, ReportError> {
    let mut links = Vec::new();
    for s in summaries {
        let runs = s
            .group
            .runs
            .iter()
            .zip(&s.runs)
            .map(|((name, path), run)| {
                let href = html::relative_href(out, path, html::INDEX)?;
                let mut about = format!(
                    "{}, seed {}, {} generations",
                    run.manifest.tool,
                    run.manifest.seed,
                    run.rows.len()
                );
                if let Some(d) = &run.manifest.device {
                    let _ = write!(about, ", on {} ({})", d.adapter, d.kind);
                }
                Ok((name.clone(), href, about))
            })
            .collect::<Result<Vec<_>, ReportError>>()?;
        links.push(runs);
    }
    Ok(maud::html! {
        table {
            tr { th { "group" } th { "settings" } th { "runs" } }
            @for (s, runs) in summaries.iter().zip(&links) {
                tr {
                    td { (s.group.name) }
                    td { code { (s.group.settings) } }
                    td {
                        @for (name, href, about) in runs {
                            a href=(href) { (name) } " (" (about) ") "
                        }
                    }
                }
            }
        }
    })
}

/// Each group's last generation: mean ± sample std of every metric.
fn last_generations(metrics: &[&Metric], summaries: &[Summary<'_>]) -> maud::Markup {
    let mut header = vec!["group".to_string(), "generation".to_string()];
    header.extend(metrics.iter().map(|m| m.column.to_string()));
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .filter_map(|s| {
            let (g, cells) = s.table.last()?;
            let mut row = vec![s.group.name.clone(), g.to_string()];
            row.extend(cells.iter().map(|c| shown(*c)));
            Some(row)
        })
        .collect();
    html::table(&header, &rows)
}

/// Metric `i` per generation: each group's mean ± sample std, then each later
/// group's difference to the first.
fn metric_table(summaries: &[Summary<'_>], i: usize) -> maud::Markup {
    let names: Vec<&str> = summaries.iter().map(|s| s.group.name.as_str()).collect();
    let mut header = vec!["generation".to_string()];
    header.extend(names.iter().map(|n| n.to_string()));
    header.extend(names[1..].iter().map(|n| format!("{n} - {}", names[0])));
    let generations: BTreeSet<usize> = summaries
        .iter()
        .flat_map(|s| s.table.iter().map(|(g, _)| *g))
        .collect();
    let rows: Vec<Vec<String>> = generations
        .into_iter()
        .filter(|&g| summaries.iter().any(|s| s.cell(g, i).is_some()))
        .map(|g| {
            let mut row = vec![g.to_string()];
            row.extend(summaries.iter().map(|s| shown(s.cell(g, i))));
            row.extend((1..summaries.len()).map(|k| html::number(difference(summaries, k, g, i))));
            row
        })
        .collect();
    html::table(&header, &rows)
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

/// Each run's settings in words: where it ran, then the settings of the
/// manifests' config in which the runs differ.
fn settings(runs: &[ReadRun]) -> Vec<String> {
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
        .map(|run| {
            let mut words = run.manifest.runs_on().to_string();
            for (key, name) in &differing {
                let _ = write!(words, ", {name} {}", setting(run, key));
            }
            words
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{eval_record, row, write_run};

    fn read(path: &Path) -> Vec<Vec<String>> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(String::from).collect())
            .collect()
    }

    /// The cells of `group`, `generation` and `metric` in a summary: n, mean, std, difference.
    fn at(csv: &[Vec<String>], key: [&str; 3]) -> Option<Vec<String>> {
        csv.iter().find(|r| r[..3] == key).map(|r| r[3..].to_vec())
    }

    /// Expected cells.
    fn cells(c: &[&str]) -> Option<Vec<String>> {
        Some(c.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn runs_compared_one_group_each_with_differences_to_the_first() {
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
            &[row(0, 0.75, evaluated(0)), row(1, f64::NAN, evaluated(1))],
            serde_json::json!({"mode": "accumulate", "real_fraction": 0.0}),
            false,
        );
        let out = tmp.path().join("cmp");
        let groups = each_run(&[a, b]).unwrap();
        let grouped = report_groups(&out, "two runs", &groups).unwrap();
        assert_eq!(
            grouped.labels,
            ["a (flex, mode replace)", "b (flex, mode accumulate)"]
        );
        let csv = read(&out.join(SUMMARY));
        assert_eq!(
            csv[0],
            [
                "group",
                "generation",
                "metric",
                "n",
                "mean",
                "std",
                "difference"
            ]
        );
        assert_eq!(
            at(&csv, ["a", "0", "probe_mu_std"]),
            cells(&["1", "1", "", ""])
        );
        assert_eq!(
            at(&csv, ["b", "0", "probe_mu_std"]),
            cells(&["1", "0.75", "", "-0.25"])
        );
        assert_eq!(
            at(&csv, ["b", "1", "probe_mu_std"]),
            cells(&["1", "NaN", "", "NaN"]),
            "a non-finite value stays visible"
        );
        assert_eq!(at(&csv, ["b", "1", "fd"]), cells(&["1", "10", "", ""]));
        assert_eq!(at(&csv, ["a", "1", "fd"]), None, "a run without the metric");
        assert_eq!(
            at(&csv, ["b", "2", "probe_mu_std"]),
            None,
            "nor the generation"
        );
        for f in &grouped.files {
            assert!(out.join(f).is_file(), "{f}");
        }
        assert!(grouped.files.contains(&"plots/recall.png".to_string()));
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(page.contains("href=\"../a/index.html\""), "{page}");
        assert!(page.contains("<td>-0.2500</td>"), "{page}");
        assert!(page.contains("<th>b - a</th>"), "{page}");
    }

    #[test]
    fn a_group_of_several_runs_gives_their_mean_and_sample_deviation() {
        let tmp = tempfile::tempdir().unwrap();
        let run = |name: &str, mu: &[f64]| {
            let dir = tmp.path().join("runs").join(name);
            let rows: Vec<_> = mu
                .iter()
                .enumerate()
                .map(|(g, &m)| row(g, m, None))
                .collect();
            write_run(&dir, &rows, serde_json::json!({}), false);
            (name.to_string(), dir)
        };
        let groups = [
            Group {
                name: "mode-replace".into(),
                settings: "mode = \"replace\"".into(),
                runs: vec![
                    run("mode-replace_seed-1", &[1.0, 0.5]),
                    run("mode-replace_seed-2", &[3.0, 1.5]),
                    run("mode-replace_seed-3", &[2.0]),
                ],
            },
            Group {
                name: "mode-accumulate".into(),
                settings: "mode = \"accumulate\"".into(),
                runs: vec![run("mode-accumulate_seed-1", &[2.5])],
            },
            Group {
                name: "not-started".into(),
                settings: String::new(),
                runs: Vec::new(),
            },
        ];
        let out = tmp.path().join("report");
        let grouped = report_groups(&out, "modes", &groups).unwrap();
        assert_eq!(
            grouped.labels,
            [
                "mode-replace (3 runs)",
                "mode-accumulate (mode = \"accumulate\")"
            ]
        );
        let csv = read(&out.join(SUMMARY));
        assert_eq!(
            at(&csv, ["mode-replace", "0", "probe_mu_std"]),
            cells(&["3", "2", "1", ""])
        );
        assert_eq!(
            at(&csv, ["mode-replace", "1", "probe_mu_std"]),
            cells(&["2", "1", "0.7071067811865476", ""]),
            "the seeds that reached the generation"
        );
        assert_eq!(
            at(&csv, ["mode-accumulate", "0", "probe_mu_std"]),
            cells(&["1", "2.5", "", "0.5"])
        );
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(
            page.contains("href=\"../runs/mode-replace_seed-2/index.html\""),
            "{page}"
        );
        assert!(page.contains("<td>2 ± 1</td>"), "{page}");
        assert!(!page.contains("not-started"));
        let none = report_groups(&out, "modes", &groups[2..]).unwrap_err();
        assert!(matches!(none, ReportError::TooFewRuns { given: 0, .. }));
    }

    #[test]
    fn comparing_refuses_one_run_and_a_folder_that_is_not_a_run() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        write_run(&a, &[row(0, 1.0, None)], serde_json::json!({}), false);
        let err = each_run(std::slice::from_ref(&a)).unwrap_err();
        assert!(
            matches!(err, ReportError::TooFewRuns { given: 1, .. }),
            "{err}"
        );
        let err = each_run(&[a, tmp.path().to_path_buf()]).unwrap_err();
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
        let groups = each_run(&[a, b]).unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["x/seed-1", "y/seed-1"]);
    }
}
