//! Chains of several seeds summarised per generation: mean and sample
//! standard deviation of each headline metric, as `aggregate.csv`, plots
//! with a ± std band, and an `index.html` linking every seed's run.

use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::html;
use crate::plots::{Series, line_plot, metric_axes, palette};
use crate::runs::{ReadRun, generations, present_headline, read_runs};
use crate::stats::mean_sample_std;
use crate::table::Metric;
use crate::table::{csv_number, write_csv};

/// What [`aggregate_seeds`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregated {
    /// The seeds, in the order given.
    pub seeds: Vec<u64>,
    /// Generations found in any seed's run.
    pub generations: usize,
    /// Files written, relative to the parent folder.
    pub files: Vec<String>,
}

/// One generation across the seeds.
pub(crate) struct Generation {
    pub generation: usize,
    /// Seeds whose run has this generation.
    pub n: usize,
    /// Per metric: mean and sample standard deviation of the finite values.
    pub stats: Vec<(Option<f64>, Option<f64>)>,
}

/// Summarises the runs of `runs` (seed, run folder; at least one) into
/// `parent`: `aggregate.csv` with `generation`, then `METRIC_mean` and
/// `METRIC_std` (sample standard deviation, n − 1; empty under two values)
/// for each headline metric any run holds, then `n`, the seeds that reached
/// the generation; `plots/METRIC.png` with the mean and a ± std band; and
/// `index.html` linking each seed's `index.html`. Non-finite values are left
/// out of the mean and deviation.
pub fn aggregate_seeds(parent: &Path, runs: &[(u64, PathBuf)]) -> Result<Aggregated, ReportError> {
    let paths: Vec<&Path> = runs.iter().map(|(_, p)| p.as_path()).collect();
    let folders = read_runs(&paths, 1, "aggregating seeds")?;
    let plots = parent.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    let metrics = present_headline(&folders);
    let table = per_generation(&folders, &metrics);
    let mut files = vec!["aggregate.csv".to_string()];
    write_aggregate_csv(&parent.join(&files[0]), &metrics, &table)?;
    for (i, m) in metrics.iter().enumerate() {
        let rel = format!("plots/{}.png", m.column);
        line_plot(
            &parent.join(&rel),
            &metric_axes(m),
            &[band_series(&table, i, runs.len())],
            None,
        )?;
        files.push(rel);
    }
    let plot_files = files[1..].to_vec();
    let page = aggregate_page(parent, runs, &metrics, &table, &plot_files)?;
    html::write(&parent.join(html::INDEX), &page)?;
    files.push(html::INDEX.to_string());
    Ok(Aggregated {
        seeds: runs.iter().map(|(s, _)| *s).collect(),
        generations: table.len(),
        files,
    })
}

/// Every generation any run reached, with the mean and deviation of each metric.
pub(crate) fn per_generation(folders: &[ReadRun], metrics: &[&Metric]) -> Vec<Generation> {
    generations(folders)
        .into_iter()
        .map(|generation| {
            let reached: Vec<_> = folders
                .iter()
                .filter(|f| f.rows.iter().any(|r| r.generation == generation))
                .collect();
            let stats = metrics
                .iter()
                .map(|m| {
                    let values: Vec<f64> = reached
                        .iter()
                        .filter_map(|f| f.value_at(generation, m.column))
                        .collect();
                    mean_sample_std(&values)
                })
                .collect();
            Generation {
                generation,
                n: reached.len(),
                stats,
            }
        })
        .collect()
}

/// `aggregate.csv`: `generation`, `METRIC_mean` and `METRIC_std` per metric, then `n`.
fn write_aggregate_csv(
    path: &Path,
    metrics: &[&Metric],
    table: &[Generation],
) -> Result<(), ReportError> {
    let mut header = vec!["generation".to_string()];
    header.extend(stat_columns(metrics));
    header.push("n".to_string());
    let rows: Vec<Vec<String>> = table
        .iter()
        .map(|g| {
            let mut row = vec![g.generation.to_string()];
            row.extend(g.stat_cells());
            row.push(g.n.to_string());
            row
        })
        .collect();
    write_csv(path, &header, &rows)?;
    Ok(())
}

/// `METRIC_mean` and `METRIC_std` for each metric: the CSV columns of a [`Generation`]'s stats.
pub(crate) fn stat_columns(metrics: &[&Metric]) -> Vec<String> {
    metrics
        .iter()
        .flat_map(|m| [format!("{}_mean", m.column), format!("{}_std", m.column)])
        .collect()
}

impl Generation {
    /// Its stats as CSV cells, in [`stat_columns`]'s order.
    pub(crate) fn stat_cells(&self) -> impl Iterator<Item = String> + '_ {
        self.stats
            .iter()
            .flat_map(|&(mean, std)| [csv_number(mean), csv_number(std)])
    }
}

/// The mean of metric `i` against generation with its ± std band.
pub(crate) fn band_series(table: &[Generation], i: usize, seeds: usize) -> Series {
    let mean = |g: &Generation| Some((g.generation as f64, g.stats[i].0?));
    let band = |g: &Generation| {
        let (mean, std) = g.stats[i];
        let (mean, std) = (mean?, std?);
        Some((g.generation as f64, mean - std, mean + std))
    };
    Series {
        label: format!("mean ± std over {seeds} seeds"),
        color: palette(0),
        points: table.iter().filter_map(mean).collect(),
        band: table.iter().filter_map(band).collect(),
        dashed: false,
    }
}

/// The seeds page: links to each seed's run, the table of means ± std, the plots.
fn aggregate_page(
    parent: &Path,
    runs: &[(u64, PathBuf)],
    metrics: &[&Metric],
    table: &[Generation],
    plot_files: &[String],
) -> Result<String, ReportError> {
    let hrefs = runs
        .iter()
        .map(|(seed, path)| Ok((*seed, html::relative_href(parent, path, html::INDEX)?)))
        .collect::<Result<Vec<_>, ReportError>>()?;
    let mut header = vec!["generation".to_string(), "n".to_string()];
    header.extend(metrics.iter().map(|m| m.column.to_string()));
    let rows: Vec<Vec<String>> = table
        .iter()
        .map(|g| {
            let mut row = vec![g.generation.to_string(), g.n.to_string()];
            row.extend(g.stats.iter().map(|&(mean, std)| html::mean_std(mean, std)));
            row
        })
        .collect();
    let body = maud::html! {
        h2 { "Seeds" }
        ul {
            @for (seed, href) in &hrefs {
                li { a href=(href) { "seed " (seed) } }
            }
        }
        p { "Data: " a href="aggregate.csv" { "aggregate.csv" } }
        h2 { "Plots" }
        (html::plots(plot_files))
        h2 { "Mean ± sample std per generation" }
        div class="scroll" { (html::table(&header, &rows)) }
    };
    let name = parent
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(html::page(
        &format!("model collapse: {name}, {} seeds", runs.len()),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{eval_record, row, write_run};

    #[test]
    fn means_and_sample_deviations_per_generation() {
        let tmp = tempfile::tempdir().unwrap();
        let seeds: Vec<(u64, PathBuf)> = [1, 2, 3]
            .iter()
            .map(|&s| (s, tmp.path().join(format!("seed-{s}"))))
            .collect();
        // probe_mu_std: generation 0 is 1, 2, 3 (mean 2, std 1); only seed 3 has generation 1.
        write_run(
            &seeds[0].1,
            &[row(0, 1.0, None)],
            serde_json::json!({}),
            false,
        );
        write_run(
            &seeds[1].1,
            &[row(0, 2.0, None)],
            serde_json::json!({}),
            false,
        );
        let evaluated = Some(eval_record(Some(1)).summary());
        write_run(
            &seeds[2].1,
            &[row(0, 3.0, None), row(1, 0.5, evaluated)],
            serde_json::json!({}),
            false,
        );
        let aggregated = aggregate_seeds(tmp.path(), &seeds).unwrap();
        assert_eq!(aggregated.seeds, [1, 2, 3]);
        assert_eq!(aggregated.generations, 2);
        let csv = std::fs::read_to_string(tmp.path().join("aggregate.csv")).unwrap();
        let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        let column = |name: &str| lines[0].iter().position(|c| *c == name).unwrap();
        assert_eq!(lines[0][0], "generation");
        assert_eq!(*lines[0].last().unwrap(), "n");
        assert_eq!(lines[1][column("probe_mu_std_mean")], "2");
        assert_eq!(lines[1][column("probe_mu_std_std")], "1");
        assert_eq!(lines[1][column("n")], "3");
        assert_eq!(lines[1][column("fd_mean")], "");
        assert_eq!(lines[2][column("probe_mu_std_mean")], "0.5");
        assert_eq!(lines[2][column("probe_mu_std_std")], "");
        assert_eq!(lines[2][column("fd_mean")], "10");
        assert_eq!(lines[2][column("n")], "1");
        for f in &aggregated.files {
            assert!(tmp.path().join(f).is_file(), "{f}");
        }
        let page = std::fs::read_to_string(tmp.path().join("index.html")).unwrap();
        assert!(page.contains("href=\"seed-2/index.html\""), "{page}");
        assert!(page.contains("<td>2 ± 1</td>"), "{page}");
    }

    #[test]
    fn refuses_no_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let err = aggregate_seeds(tmp.path(), &[]).unwrap_err();
        assert!(matches!(
            err,
            ReportError::TooFewRuns {
                needed: 1,
                given: 0,
                ..
            }
        ));
    }
}
