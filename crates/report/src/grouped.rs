//! Runs side by side in groups: the one page behind `collapse compare` (a
//! group per run), `--seeds` and a study's report (a group per condition,
//! its seeds the group's runs).
//!
//! Per group, generation and headline metric it writes the mean and sample
//! standard deviation over the group's runs with the mean's t interval, the
//! change from generation 0 paired by run (a t test over the seeds, Holm's
//! correction across generations, the onset), and the difference of that
//! mean to the first group's (Welch's interval and test, Holm, the first
//! generation where it is significant), as [`SUMMARY`]; one chart per metric
//! with a line per group (and the mean's interval as a band where a group
//! has several runs); the tail survival curves of the runs' profiles per
//! group (the `survival` module); and an `index.html` with the groups,
//! links to every run, the seed-level profile, each group's last
//! generation, the survival curves and the charts with their tables. The seeds are independent chains, so these intervals
//! and tests hold the noise of training as well as of sampling.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use collapse_records::Group;
use collapse_records::profile::{Estimate, baseline, own_encoder};
use collapse_stats::seeds::{mean_interval, paired_change, welch};
use collapse_stats::trend::{holm, onset};

use crate::contract::Experiment;
use crate::error::ReportError;
use crate::html;
use crate::plots::{Series, line_plot, metric_axes, palette};
use crate::runs::{ReadRun, generations, present_headline, read_runs};
use crate::stats::mean_sample_std;
use crate::survival::{GroupProfiles, survival_section};
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

/// The level of the seed-level intervals, and the family-wise error rate of
/// an onset or a first significant difference.
const CONFIDENCE: f64 = 0.95;
const ALPHA: f64 = 0.05;

/// One metric of a group in one generation.
#[derive(Clone, Copy)]
struct Cell {
    /// The group's runs that hold a value.
    n: usize,
    /// Mean of their finite values; NaN where every value is non-finite.
    mean: Option<f64>,
    /// Sample standard deviation (n − 1) of their finite values; none under two.
    std: Option<f64>,
    /// The mean with its t interval (no interval under two runs).
    interval: Estimate,
    /// The mean change from generation 0 over the runs holding both.
    change: Option<Change>,
}

/// A group's change from generation 0 in one generation of a metric.
#[derive(Clone, Copy)]
struct Change {
    /// The mean change with its t interval.
    estimate: Estimate,
    /// The paired t test's p-value.
    p: f64,
    /// That p-value after Holm's correction across the generations.
    p_holm: f64,
}

/// A later group's difference to the first in one generation of a metric.
#[derive(Clone, Copy)]
struct Difference {
    /// The difference of the means with its Welch interval.
    estimate: Estimate,
    /// Welch's p-value.
    p: f64,
    /// That p-value after Holm's correction across the generations.
    p_holm: f64,
}

/// A group's runs read back and summarised.
struct Summary<'g> {
    group: &'g Group,
    label: String,
    runs: Vec<ReadRun>,
    /// Per generation any of its runs reached: that generation and one cell per metric.
    table: Vec<(usize, Vec<Option<Cell>>)>,
    /// Per metric, the onset: the first generation whose change from
    /// generation 0 is significant over the seeds.
    onsets: Vec<Option<usize>>,
    /// Per metric, its difference to the first group in each generation
    /// both reached (none for the first group itself).
    differences: Vec<Vec<(usize, Difference)>>,
}

impl Summary<'_> {
    fn cell(&self, generation: usize, metric: usize) -> Option<Cell> {
        let (_, cells) = self.table.iter().find(|(g, _)| *g == generation)?;
        cells[metric]
    }

    /// Its difference to the first group in metric `i` and `generation`.
    fn difference(&self, i: usize, generation: usize) -> Option<Difference> {
        let differences = self.differences.get(i)?;
        differences
            .iter()
            .find(|(g, _)| *g == generation)
            .map(|(_, d)| *d)
    }

    /// The first generation where its difference to the first group in
    /// metric `i` is significant.
    fn first_difference(&self, i: usize) -> Option<usize> {
        let differences = self.differences.get(i)?;
        differences
            .iter()
            .find(|(_, d)| d.p_holm <= ALPHA)
            .map(|(g, _)| *g)
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
                onsets: Vec::new(),
                differences: Vec::new(),
            }
        })
        .collect();
    let every: Vec<&ReadRun> = summaries.iter().flat_map(|s| &s.runs).collect();
    let metrics = present_headline(&every);
    let mut summaries: Vec<Summary<'_>> = summaries
        .into_iter()
        .map(|mut s| {
            (s.table, s.onsets) = summarise(&s.runs, &metrics);
            s
        })
        .collect();
    for k in 1..summaries.len() {
        summaries[k].differences = metrics
            .iter()
            .enumerate()
            .map(|(i, m)| differences(&summaries, k, i, m))
            .collect();
    }

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
    let (survival_files, survival) = survival(out, &summaries)?;
    files.extend(survival_files);
    let page = page(out, title, &metrics, &summaries, survival)?;
    html::write(&out.join(html::INDEX), &page)?;
    files.push(html::INDEX.to_string());
    Ok(Grouped {
        labels: summaries.into_iter().map(|s| s.label).collect(),
        files,
    })
}

/// The survival curves of the groups' runs' profiles (files and section).
fn survival(
    out: &Path,
    summaries: &[Summary<'_>],
) -> Result<(Vec<String>, maud::Markup), ReportError> {
    let profiles: Vec<GroupProfiles<'_>> = summaries
        .iter()
        .map(|s| GroupProfiles {
            name: &s.group.name,
            label: &s.label,
            profiles: s.runs.iter().filter_map(|r| r.profile.as_ref()).collect(),
        })
        .collect();
    survival_section(out, &profiles, CONFIDENCE, ALPHA)
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

/// Every generation any of `runs` reached, with a cell per metric where a
/// run holds a value, and each metric's onset.
type Table = Vec<(usize, Vec<Option<Cell>>)>;

fn summarise(runs: &[ReadRun], metrics: &[&Metric]) -> (Table, Vec<Option<usize>>) {
    let own_encoder = runs
        .iter()
        .all(|r| r.manifest.experiment == Experiment::Chain && own_encoder(&r.manifest.config));
    let runs: Vec<&ReadRun> = runs.iter().collect();
    let mut table: Table = generations(&runs)
        .into_iter()
        .map(|generation| {
            let cells = metrics
                .iter()
                .map(|m| cell(&runs, generation, m.column, own_encoder))
                .collect();
            (generation, cells)
        })
        .collect();
    let onsets = (0..metrics.len())
        .map(|i| correct_changes(&mut table, i))
        .collect();
    (table, onsets)
}

/// `column` in `generation` over the `runs` holding it: mean, deviation,
/// interval, and the change from its baseline paired by run (its p-value
/// not yet corrected); none where no run holds it.
fn cell(runs: &[&ReadRun], generation: usize, column: &str, own_encoder: bool) -> Option<Cell> {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.value_at(generation, column))
        .collect();
    if values.is_empty() {
        return None;
    }
    let (mean, std) = mean_sample_std(&values);
    let from = baseline(column, own_encoder);
    let (first, later): (Vec<f64>, Vec<f64>) = runs
        .iter()
        .filter_map(|r| Some((r.value_at(from, column)?, r.value_at(generation, column)?)))
        .unzip();
    let change = (generation > from).then(|| {
        let (estimate, p) = paired_change(&first, &later, CONFIDENCE);
        Change {
            estimate,
            p,
            p_holm: p,
        }
    });
    Some(Cell {
        n: values.len(),
        mean: mean.or(Some(f64::NAN)),
        std,
        interval: mean_interval(&values, CONFIDENCE),
        change,
    })
}

/// Holm's correction of metric `i`'s changes across the generations of
/// `table`, written into its cells; returns the metric's onset.
fn correct_changes(table: &mut Table, i: usize) -> Option<usize> {
    let p: Vec<f64> = table
        .iter()
        .map(|(_, cells)| cells[i].and_then(|c| c.change).map_or(f64::NAN, |c| c.p))
        .collect();
    let adjusted = holm(&p);
    for ((_, cells), p) in table.iter_mut().zip(&adjusted) {
        if let Some(Some(Cell {
            change: Some(change),
            ..
        })) = cells.get_mut(i)
        {
            change.p_holm = *p;
        }
    }
    let p_holm: Vec<Option<f64>> = adjusted
        .iter()
        .map(|p| (!p.is_nan()).then_some(*p))
        .collect();
    onset(&p_holm, ALPHA).map(|at| table[at].0)
}

/// Group `k`'s difference to the first group in metric `i`, per generation
/// both reached: Welch's interval and test over their runs, Holm's
/// correction across the generations.
fn differences(
    summaries: &[Summary<'_>],
    k: usize,
    i: usize,
    metric: &Metric,
) -> Vec<(usize, Difference)> {
    let values = |s: &Summary<'_>, g: usize| -> Vec<f64> {
        s.runs
            .iter()
            .filter_map(|r| r.value_at(g, metric.column))
            .collect()
    };
    let tested: Vec<(usize, Estimate, f64)> = summaries[k]
        .table
        .iter()
        .map(|(g, _)| *g)
        .filter(|&g| summaries[0].cell(g, i).is_some() && summaries[k].cell(g, i).is_some())
        .map(|g| {
            let (estimate, p) = welch(
                &values(&summaries[0], g),
                &values(&summaries[k], g),
                CONFIDENCE,
            );
            (g, estimate, p)
        })
        .collect();
    let adjusted = holm(&tested.iter().map(|t| t.2).collect::<Vec<_>>());
    tested
        .into_iter()
        .zip(adjusted)
        .map(|((g, estimate, p), p_holm)| {
            (
                g,
                Difference {
                    estimate,
                    p,
                    p_holm,
                },
            )
        })
        .collect()
}

/// [`SUMMARY`]: `group,generation,metric,n,mean,std,lo,hi,change,change_lo,
/// change_hi,change_p,change_p_holm,difference,difference_lo,difference_hi,
/// difference_p,difference_p_holm`, a row wherever a group's run holds the
/// metric in that generation.
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
        "lo",
        "hi",
        "change",
        "change_lo",
        "change_hi",
        "change_p",
        "change_p_holm",
        "difference",
        "difference_lo",
        "difference_hi",
        "difference_p",
        "difference_p_holm",
    ]
    .map(String::from)
    .to_vec();
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut rows = Vec::new();
    for s in summaries {
        for (generation, cells) in &s.table {
            for (i, (metric, cell)) in metrics.iter().zip(cells).enumerate() {
                let Some(cell) = cell else { continue };
                let change = cell.change;
                let difference = s.difference(i, *generation);
                rows.push(vec![
                    s.group.name.clone(),
                    generation.to_string(),
                    metric.column.to_string(),
                    cell.n.to_string(),
                    csv_number(cell.mean),
                    csv_number(cell.std),
                    csv_number(finite(cell.interval.lo)),
                    csv_number(finite(cell.interval.hi)),
                    csv_number(change.map(|c| c.estimate.value)),
                    csv_number(change.and_then(|c| finite(c.estimate.lo))),
                    csv_number(change.and_then(|c| finite(c.estimate.hi))),
                    csv_number(change.and_then(|c| finite(c.p))),
                    csv_number(change.and_then(|c| finite(c.p_holm))),
                    csv_number(difference.map(|d| d.estimate.value)),
                    csv_number(difference.and_then(|d| finite(d.estimate.lo))),
                    csv_number(difference.and_then(|d| finite(d.estimate.hi))),
                    csv_number(difference.and_then(|d| finite(d.p))),
                    csv_number(difference.and_then(|d| finite(d.p_holm))),
                ]);
            }
        }
    }
    write_csv(path, &header, &rows)?;
    Ok(())
}

/// Group `k`'s line of metric `i`, with the mean's t interval as its band
/// where it has one.
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
            .filter_map(|(g, c)| Some((g, finite(c.interval.lo)?, finite(c.interval.hi)?)))
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
    survival: maud::Markup,
) -> Result<String, ReportError> {
    let body = maud::html! {
        h2 { "Groups" }
        (groups_table(out, summaries)?)
        p {
            "Data: " a href=(SUMMARY) { (SUMMARY) }
            " (per group, generation and metric: the runs holding it, mean and sample std over them, the mean's 95 % t interval, the change from generation 0 with its interval and Holm-corrected p, and the difference to the first group with its Welch interval and Holm-corrected p)"
        }
        h2 { "Seed-level profile" }
        p {
            "Per metric: each group's onset, the first generation whose change from its baseline (generation 0; in VAE chains generation 1 for the probe and the NELBO under generation 0, which generation 0's own samples fit best) is significant in a paired t test over its runs after Holm's correction across the generations (family-wise α = "
            (ALPHA) "); and each later group's first generation whose difference to "
            (summaries[0].group.name) " is significant in Welch's t test, corrected alike. The runs are independent chains, so these tests hold the noise of training as well as of sampling; a group of one run has none."
        }
        div class="scroll" { (profile_table(metrics, summaries)) }
        h2 { "Last generation, mean ± sample std" }
        div class="scroll" { (last_generations(metrics, summaries)) }
        (survival)
        @for (i, metric) in metrics.iter().enumerate() {
            h2 { (metric.title) }
            (html::plots(&[format!("plots/{}.png", metric.column)]))
            details {
                summary { "Per generation: each group's mean ± sample std, and its difference to the first with its 95 % Welch interval (* significant after Holm)" }
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

/// Per metric, each group's onset and each later group's first generation
/// of a significant difference to the first group.
fn profile_table(metrics: &[&Metric], summaries: &[Summary<'_>]) -> maud::Markup {
    let names: Vec<&str> = summaries.iter().map(|s| s.group.name.as_str()).collect();
    let mut header = vec!["metric".to_string()];
    header.extend(names.iter().map(|n| format!("onset: {n}")));
    header.extend(
        names[1..]
            .iter()
            .map(|n| format!("{n} differs from {} from", names[0])),
    );
    let at = |g: Option<usize>| g.map_or("none".to_string(), |g| g.to_string());
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut row = vec![m.column.to_string()];
            row.extend(summaries.iter().map(|s| at(s.onsets[i])));
            row.extend(summaries[1..].iter().map(|s| at(s.first_difference(i))));
            row
        })
        .collect();
    html::table(&header, &rows)
}

/// Metric `i` per generation: each group's mean ± sample std, then each later
/// group's difference to the first with its interval, starred where
/// significant.
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
            row.extend(summaries[1..].iter().map(|s| {
                s.difference(i, g).map_or(String::new(), |d| {
                    let star = if d.p_holm <= ALPHA { " *" } else { "" };
                    let words = d.estimate.words(|v| html::number(Some(v)));
                    format!("{words}{star}")
                })
            }));
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

    /// Every cell of `group`, `generation` and `metric` in a summary after the key.
    fn row_at(csv: &[Vec<String>], key: [&str; 3]) -> Option<Vec<String>> {
        csv.iter().find(|r| r[..3] == key).map(|r| r[3..].to_vec())
    }

    /// The cells n, mean, std and difference of `group`, `generation` and
    /// `metric` in a summary.
    fn at(csv: &[Vec<String>], key: [&str; 3]) -> Option<Vec<String>> {
        row_at(csv, key).map(|r| [0, 1, 2, 10].map(|i| r[i].clone()).to_vec())
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
                "lo",
                "hi",
                "change",
                "change_lo",
                "change_hi",
                "change_p",
                "change_p_holm",
                "difference",
                "difference_lo",
                "difference_hi",
                "difference_p",
                "difference_p_holm"
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
        assert!(page.contains("<th>b differs from a from</th>"), "{page}");
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
            // An external model's chain: its probe encoder is the reference
            // VAE, so the probe's changes are measured from generation 0.
            let external = serde_json::json!({"external": {"train": "t", "sample": "s"}});
            write_run(&dir, &rows, external, false);
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
        // Mean 2 ± t(0.975, 2) · 1/√3; generation 1's change from 0 paired over
        // the two seeds holding both (−0.5, −1.5): mean −1, se 0.5, t = −2 on
        // 1 df, p = 1 − 2 atan(2)/π, interval −1 ± 12.7062 · 0.5.
        let zero = row_at(&csv, ["mode-replace", "0", "probe_mu_std"]).unwrap();
        let half = 4.302_652_73 / 3f64.sqrt();
        let number = |s: &str| s.parse::<f64>().unwrap();
        assert!((number(&zero[3]) - (2.0 - half)).abs() < 1e-6, "{zero:?}");
        assert!((number(&zero[4]) - (2.0 + half)).abs() < 1e-6, "{zero:?}");
        let one = row_at(&csv, ["mode-replace", "1", "probe_mu_std"]).unwrap();
        assert_eq!(number(&one[5]), -1.0, "{one:?}");
        assert!(
            (number(&one[6]) - (-1.0 - 12.706_204_7 * 0.5)).abs() < 1e-5,
            "{one:?}"
        );
        let p = 1.0 - 2.0 * 2f64.atan() / std::f64::consts::PI;
        assert!((number(&one[8]) - p).abs() < 1e-9, "{one:?}");
        assert_eq!(one[8], one[9], "one generation: Holm changes nothing");
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(
            page.contains("href=\"../runs/mode-replace_seed-2/index.html\""),
            "{page}"
        );
        assert!(page.contains("<td>2 ± 1</td>"), "{page}");
        assert!(page.contains("Seed-level profile"), "{page}");
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

    /// Four VAE chains whose probe falls at every generation have their
    /// onset at generation 2 (the probe is measured from generation 1, the
    /// first whose model is not its encoder); four that stay have none, and
    /// the difference is significant from generation 1 on.
    #[test]
    fn a_change_over_seeds_has_its_onset_and_a_difference_its_first_generation() {
        let tmp = tempfile::tempdir().unwrap();
        let run = |name: &str, mu: [f64; 3]| {
            let dir = tmp.path().join("runs").join(name);
            let rows: Vec<_> = mu
                .iter()
                .enumerate()
                .map(|(g, &m)| row(g, m, None))
                .collect();
            write_run(&dir, &rows, serde_json::json!({}), false);
            (name.to_string(), dir)
        };
        let falls = [
            [1.0, 0.5, 0.3],
            [1.1, 0.52, 0.31],
            [0.9, 0.49, 0.29],
            [1.05, 0.5, 0.3],
        ];
        let stays = [
            [1.0, 1.02, 0.99],
            [1.1, 1.08, 1.1],
            [0.9, 0.93, 0.9],
            [1.05, 1.0, 1.04],
        ];
        let group = |name: &str, values: &[[f64; 3]]| Group {
            name: name.into(),
            settings: String::new(),
            runs: values
                .iter()
                .enumerate()
                .map(|(s, v)| run(&format!("{name}_seed-{s}"), *v))
                .collect(),
        };
        let groups = [group("falls", &falls), group("stays", &stays)];
        let out = tmp.path().join("report");
        report_groups(&out, "seeds", &groups).unwrap();
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        let line = page
            .split("<tr>")
            .find(|r| r.contains("<td>probe_mu_std</td>"))
            .unwrap();
        assert_eq!(
            line.matches("<td>").count(),
            4,
            "metric, two onsets, one difference: {line}"
        );
        assert!(
            line.contains("<td>probe_mu_std</td><td>2</td><td>none</td><td>1</td>"),
            "{line}"
        );
        let csv = read(&out.join(SUMMARY));
        let two = row_at(&csv, ["stays", "2", "probe_mu_std"]).unwrap();
        assert!(two[14].parse::<f64>().unwrap() < 0.05, "{two:?}");
    }
}
