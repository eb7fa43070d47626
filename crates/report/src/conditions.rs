//! A study's conditions side by side: per condition and generation, the mean
//! and sample standard deviation over its runs (its seeds) of every headline
//! metric, as `study.csv`; one chart per metric with a band per condition;
//! and an `index.html` with the conditions, their runs and the charts.

use std::path::Path;

use crate::aggregate::{Generation, band_series, per_generation, stat_columns};
use crate::error::ReportError;
use crate::html;
use crate::plots::{line_plot, metric_axes, palette};
use crate::runs::{ReadRun, present_headline, read_runs};
use crate::table::{Metric, write_csv};
use collapse_records::Condition;

/// What [`report_study`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyReported {
    /// Conditions reported (those with a run that has a generation).
    pub conditions: usize,
    /// Files written, relative to the report folder.
    pub files: Vec<String>,
}

/// A condition's runs read back, with its table.
struct Summarised<'a> {
    condition: &'a Condition,
    table: Vec<Generation>,
}

/// Writes the report of a study titled `title` into `out`. Conditions
/// without runs are left out; a study with none is refused.
pub fn report_study(
    out: &Path,
    title: &str,
    conditions: &[Condition],
) -> Result<StudyReported, ReportError> {
    let with_runs: Vec<&Condition> = conditions.iter().filter(|c| !c.runs.is_empty()).collect();
    let paths: Vec<&Path> = with_runs
        .iter()
        .flat_map(|c| c.runs.iter().map(|(_, p)| p.as_path()))
        .collect();
    let mut all = read_runs(&paths, 1, "reporting a study")?.into_iter();
    let metrics = present_headline(all.as_slice());
    let summarised: Vec<Summarised<'_>> = with_runs
        .iter()
        .map(|c| {
            let folders: Vec<ReadRun> = all.by_ref().take(c.runs.len()).collect();
            Summarised {
                condition: c,
                table: per_generation(&folders, &metrics),
            }
        })
        .collect();
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    let mut files = vec!["study.csv".to_string()];
    write_study_csv(&out.join(&files[0]), &metrics, &summarised)?;
    for (i, m) in metrics.iter().enumerate() {
        let rel = format!("plots/{}.png", m.column);
        let series: Vec<_> = summarised
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mut band = band_series(&s.table, i, s.condition.runs.len());
                band.label = format!("{} ({} runs)", s.condition.name, s.condition.runs.len());
                band.color = palette(k);
                band
            })
            .collect();
        line_plot(&out.join(&rel), &metric_axes(m), &series, None)?;
        files.push(rel);
    }
    let page = study_page(out, title, &metrics, &summarised, &files[1..])?;
    html::write(&out.join(html::INDEX), &page)?;
    files.push(html::INDEX.to_string());
    Ok(StudyReported {
        conditions: summarised.len(),
        files,
    })
}

/// `study.csv`: `condition`, `generation`, `n`, then `METRIC_mean` and `METRIC_std` per metric.
fn write_study_csv(
    path: &Path,
    metrics: &[&Metric],
    summarised: &[Summarised<'_>],
) -> Result<(), ReportError> {
    let mut header = vec![
        "condition".to_string(),
        "generation".to_string(),
        "n".to_string(),
    ];
    header.extend(stat_columns(metrics));
    let rows: Vec<Vec<String>> = summarised
        .iter()
        .flat_map(|s| {
            s.table.iter().map(|g| {
                let mut row = vec![
                    s.condition.name.clone(),
                    g.generation.to_string(),
                    g.n.to_string(),
                ];
                row.extend(g.stat_cells());
                row
            })
        })
        .collect();
    write_csv(path, &header, &rows)?;
    Ok(())
}

/// The study page: its conditions with their runs, the last generation of
/// each side by side, the charts.
fn study_page(
    out: &Path,
    title: &str,
    metrics: &[&Metric],
    summarised: &[Summarised<'_>],
    plot_files: &[String],
) -> Result<String, ReportError> {
    let mut links = Vec::new();
    for s in summarised {
        let runs = s
            .condition
            .runs
            .iter()
            .map(|(name, path)| Ok((name.clone(), html::relative_href(out, path, html::INDEX)?)))
            .collect::<Result<Vec<_>, ReportError>>()?;
        links.push(runs);
    }
    let body = maud::html! {
        h2 { "Conditions" }
        table {
            tr { th { "condition" } th { "settings" } th { "runs" } }
            @for (s, runs) in summarised.iter().zip(&links) {
                tr {
                    td { (s.condition.name) }
                    td { code { (s.condition.settings) } }
                    td {
                        @for (name, href) in runs {
                            a href=(href) { (name) } " "
                        }
                    }
                }
            }
        }
        p { "Data: " a href="study.csv" { "study.csv" } " (mean and sample std over each condition's runs, per generation)" }
        h2 { "Last generation, mean ± sample std" }
        div class="scroll" { (last_generations(metrics, summarised)) }
        h2 { "Plots" }
        (html::plots(plot_files))
    };
    Ok(html::page(&format!("model collapse study: {title}"), body))
}

/// Each condition's last generation: mean ± sample std of every metric.
fn last_generations(metrics: &[&Metric], summarised: &[Summarised<'_>]) -> maud::Markup {
    let mut header = vec![
        "condition".to_string(),
        "generation".to_string(),
        "n".to_string(),
    ];
    header.extend(metrics.iter().map(|m| m.column.to_string()));
    let rows: Vec<Vec<String>> = summarised
        .iter()
        .filter_map(|s| {
            let g = s.table.last()?;
            let mut row = vec![
                s.condition.name.clone(),
                g.generation.to_string(),
                g.n.to_string(),
            ];
            row.extend(g.stats.iter().map(|&(mean, std)| html::mean_std(mean, std)));
            Some(row)
        })
        .collect();
    html::table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{row, write_run};

    #[test]
    fn each_condition_summarises_its_own_runs() {
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
        let conditions = [
            Condition {
                name: "mode-replace".into(),
                settings: "mode = \"replace\"".into(),
                runs: vec![
                    run("mode-replace_seed-1", &[1.0, 0.5]),
                    run("mode-replace_seed-2", &[3.0, 0.7]),
                ],
            },
            Condition {
                name: "mode-accumulate".into(),
                settings: "mode = \"accumulate\"".into(),
                runs: vec![run("mode-accumulate_seed-1", &[2.0])],
            },
            Condition {
                name: "not-started".into(),
                settings: String::new(),
                runs: Vec::new(),
            },
        ];
        let out = tmp.path().join("report");
        let reported = report_study(&out, "modes", &conditions).unwrap();
        assert_eq!(reported.conditions, 2);
        for f in &reported.files {
            assert!(out.join(f).is_file(), "{f}");
        }
        let csv = std::fs::read_to_string(out.join("study.csv")).unwrap();
        let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        let column = |name: &str| lines[0].iter().position(|c| *c == name).unwrap();
        let (mean, std) = (column("probe_mu_std_mean"), column("probe_mu_std_std"));
        assert_eq!(lines.len(), 4, "{csv}");
        assert_eq!(&lines[1][..3], ["mode-replace", "0", "2"]);
        assert_eq!((lines[1][mean], lines[1][std]), ("2", "1.4142135623730951"));
        assert_eq!(lines[2][mean], "0.6");
        assert_eq!(&lines[3][..3], ["mode-accumulate", "0", "1"]);
        assert_eq!((lines[3][mean], lines[3][std]), ("2", ""));
        let page = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(
            page.contains("href=\"../runs/mode-replace_seed-2/index.html\""),
            "{page}"
        );
        assert!(!page.contains("not-started"));
        let none = report_study(&out, "modes", &conditions[2..]).unwrap_err();
        assert!(matches!(none, ReportError::TooFewRuns { given: 0, .. }));
    }
}
