//! Static HTML pages: a run's `index.html`, and the building blocks the
//! comparison and seed pages share (page frame, tables, plot grids, links).
//!
//! Every page is self-contained: inline CSS and JS, relative links to the
//! PNGs, nothing fetched, so it works from `file://`. The pages are `maud`
//! templates, which escape every text they insert; the functions here that
//! return `String` give HTML for pages that assemble their body themselves.

use std::path::{Component, Path};

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::columns::{is_bound, value};
use crate::contract::{DatasetRecord, Manifest, MetricsRow, RetryRecord, generation_dir};
use crate::error::ReportError;
use crate::evaluation::EvalRecord;
use crate::profile::{Estimate, GenerationProfile, Profile, p_words};

/// The file name of every page.
pub const INDEX: &str = "index.html";
/// A generation's sample grid image.
const SAMPLES: &str = "samples.png";
/// A generation's reconstructions image.
const RECONSTRUCTIONS: &str = "reconstructions.png";

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;color:#222;max-width:1400px;margin:0 auto;padding:0 16px 40px}
h2{border-bottom:1px solid #ccc;margin-top:1.8em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:2px 7px;text-align:right;white-space:nowrap}
th{background:#f2f2f2}
table.kv th,table.kv td{text-align:left;white-space:normal}
.scroll{overflow:auto;max-height:75vh}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:10px}
.plots img{width:100%}
.strip{display:flex;gap:6px;overflow-x:auto;padding-bottom:6px}
.strip figure{margin:0;text-align:center;cursor:pointer}
.strip img{width:110px;border:3px solid transparent}
.strip figure.current img{border-color:#d33}
.viewer img{max-width:49%;vertical-align:top}
pre{background:#f7f7f7;padding:8px;overflow:auto}
";

/// The sample viewer's behaviour: the slider, buttons and thumbnails all
/// select a generation of the strip.
const VIEWER_SCRIPT: &str = "
(function () {
  const figures = Array.from(document.querySelectorAll('#strip figure'));
  if (!figures.length) return;
  const $ = (id) => document.getElementById(id);
  const slider = $('gen-slider'), prev = $('gen-prev'), next = $('gen-next');
  function show(i) {
    i = Math.max(0, Math.min(figures.length - 1, i));
    const f = figures[i];
    slider.value = i;
    $('gen-label').textContent = 'generation ' + f.dataset.generation;
    $('gen-image').src = f.querySelector('img').getAttribute('src');
    const recon = $('gen-recon');
    if (recon) recon.src = f.dataset.reconstructions;
    prev.disabled = i === 0;
    next.disabled = i === figures.length - 1;
    figures.forEach((g, j) => g.classList.toggle('current', j === i));
  }
  slider.addEventListener('input', () => show(Number(slider.value)));
  prev.addEventListener('click', () => show(Number(slider.value) - 1));
  next.addEventListener('click', () => show(Number(slider.value) + 1));
  figures.forEach((f, i) => f.addEventListener('click', () => show(i)));
  show(0);
})();
";

/// A whole page: `title` (escaped here) and `body` (already HTML).
pub(crate) fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                (body)
            }
        }
    }
    .into_string()
}

/// A table with a header row; every cell is escaped.
pub(crate) fn table(header: &[String], rows: &[Vec<String>]) -> Markup {
    html! {
        table {
            tr { @for cell in header { th { (cell) } } }
            @for row in rows {
                tr { @for cell in row { td { (cell) } } }
            }
        }
    }
}

/// A grid of plot images, `srcs` relative to the page.
pub(crate) fn plots(srcs: &[String]) -> Markup {
    html! {
        div class="plots" {
            @for src in srcs {
                a href=(src) { img src=(src) alt=(src); }
            }
        }
    }
}

/// A mean and its deviation for a table cell (`2 ± 1`); the mean alone where
/// there is no deviation.
pub(crate) fn mean_std(mean: Option<f64>, std: Option<f64>) -> String {
    match std {
        Some(_) => format!("{} ± {}", number(mean), number(std)),
        None => number(mean),
    }
}

/// A number for a table cell: integers as such, others to 4 significant
/// digits; empty when absent.
pub(crate) fn number(value: Option<f64>) -> String {
    match value {
        None => String::new(),
        Some(v) if !v.is_finite() => v.to_string(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => {
            let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
            format!("{v:.decimals$}")
        }
    }
}

/// A relative link from a page in `from_dir` to `file` in `to_dir`.
pub(crate) fn relative_href(
    from_dir: &Path,
    to_dir: &Path,
    file: &str,
) -> Result<String, ReportError> {
    let canonical = |p: &Path| p.canonicalize().map_err(|e| ReportError::io(p, e));
    let (from, to) = (canonical(from_dir)?, canonical(to_dir)?);
    let (from, to): (Vec<Component>, Vec<Component>) =
        (from.components().collect(), to.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| url_segment(&c.as_os_str().to_string_lossy())),
    );
    parts.push(url_segment(file));
    Ok(parts.join("/"))
}

/// `segment` with the characters that would end a URL path encoded.
fn url_segment(segment: &str) -> String {
    segment
        .replace('%', "%25")
        .replace('#', "%23")
        .replace('?', "%3F")
}

/// Writes `html` to `path` atomically.
pub(crate) fn write(path: &Path, html: &str) -> Result<(), ReportError> {
    collapse_records::files::write_atomic(path, html.as_bytes())?;
    Ok(())
}

/// A run folder's `index.html`: the manifest, the sample grids with a viewer
/// to step through generations, every plot in `plot_files` (relative to the
/// run folder), the collapse profile where the run has one, and the metrics
/// table.
pub(crate) fn run_page(
    name: &str,
    manifest: &Manifest,
    rows: &[MetricsRow],
    plot_files: &[String],
    reference: Option<&EvalRecord>,
    profile: Option<&Profile>,
) -> String {
    let config = serde_json::to_string_pretty(&manifest.config).unwrap_or_default();
    let body = html! {
        h2 { "Run" }
        (key_values(&manifest_summary(manifest, rows, reference)))
        details { summary { "configuration" } pre { (config) } }
        h2 { "Sample grids" }
        (sample_viewer(rows))
        h2 { "Plots" }
        (plots(plot_files))
        @if let Some(profile) = profile {
            h2 { "Collapse profile" }
            (profile_section(profile))
        }
        h2 { "Metrics" }
        div class="scroll" { (metrics_table(rows)) }
        script { (PreEscaped(VIEWER_SCRIPT)) }
    };
    page(&format!("model collapse: {name}"), body)
}

/// The profile's tables: each headline figure at generation 0 and at the
/// last generation with its bootstrap interval, its onset and rate; and the
/// tests against generation 0 with their p-values after Holm's correction.
fn profile_section(profile: &Profile) -> Markup {
    let s = &profile.settings;
    let (Some(first), Some(last)) = (profile.generations.first(), profile.generations.last())
    else {
        return html! { p { "No generation profiled yet." } };
    };
    html! {
        p {
            "Each figure with its " (s.confidence * 100.0) " % bootstrap interval over the set it averages over ("
            (s.bootstrap) " replicates; " (s.fd_bootstrap) " for the Fréchet distance); the onset is the first generation whose change from its baseline (generation 0; generation 1 for the probe and the NELBO under generation 0, which generation 0's own samples fit best) is significant after Holm's correction across the generations (family-wise α = "
            (s.alpha) "); the rate is the slope of a line through the figure's logarithm against generation. These hold the noise of sampling only: a retrained model differs from generation 0 even without collapse, so an onset over seeds (the grouped page of "
            code { "run --seeds" } ") is the one that counts. Data: "
            a href="profile.json" { "profile.json" } ", " a href="profile.csv" { "profile.csv" } "."
        }
        div class="scroll" { (figures_table(profile, first, last)) }
        details {
            summary { "Two-sample tests against generation 0, p after Holm's correction (MMD on the classifier features, "
                (s.permutations) " permutations of " (s.mmd_images) " images a set; Kolmogorov-Smirnov and Mann-Whitney on each per-sample scalar)" }
            div class="scroll" { (tests_table(profile)) }
        }
    }
}

/// Each headline figure at the `first` and `last` generations profiled with
/// its interval, its onset and its rate.
fn figures_table(profile: &Profile, first: &GenerationProfile, last: &GenerationProfile) -> Markup {
    let header: Vec<String> = [
        "metric".to_string(),
        format!("generation {}", first.generation),
        format!("generation {}", last.generation),
        "onset".to_string(),
        "rate per generation".to_string(),
    ]
    .to_vec();
    let estimate = |g: &GenerationProfile, i: usize| {
        g.metrics
            .get(i)
            .map_or(String::new(), |m| m.estimate.words(|v| number(Some(v))))
    };
    let rows: Vec<Vec<String>> = profile
        .metrics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let rate = t
                .rate
                .as_ref()
                .map_or(String::new(), |r| r.words(|v| number(Some(v))));
            vec![
                t.name.clone(),
                estimate(first, i),
                estimate(last, i),
                t.onset_words(),
                rate,
            ]
        })
        .collect();
    table(&header, &rows)
}

/// Each test against generation 0: its p-value after Holm's correction per
/// generation, and its onset.
fn tests_table(profile: &Profile) -> Markup {
    let mut header = vec!["test".to_string()];
    header.extend(
        profile
            .generations
            .iter()
            .skip(1)
            .map(|g| format!("gen {}", g.generation)),
    );
    header.push("onset".to_string());
    let rows: Vec<Vec<String>> = profile
        .tests
        .iter()
        .map(|t| {
            let mut row = vec![t.name.clone()];
            row.extend(
                t.p_holm
                    .iter()
                    .skip(1)
                    .map(|p| p.map_or(String::new(), p_words)),
            );
            row.push(t.onset_words());
            row
        })
        .collect();
    table(&header, &rows)
}

/// Every column of `metrics.csv`, one row per generation; a figure the
/// profile resampled with its interval, `value [lo, hi]`, in its cell.
fn metrics_table(rows: &[MetricsRow]) -> Markup {
    let header: Vec<String> = MetricsRow::header()
        .into_iter()
        .filter(|c| !is_bound(c))
        .map(String::from)
        .collect();
    let cell = |r: &MetricsRow, c: &str| match (value(r, c), r.intervals.get(c)) {
        (Some(v), Some(i)) => Estimate {
            value: v,
            lo: i.lo,
            hi: i.hi,
        }
        .words(|x| number(Some(x))),
        (v, _) => number(v),
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| header.iter().map(|c| cell(r, c)).collect())
        .collect();
    table(&header, &cells)
}

/// A two-column table of labelled texts.
fn key_values(items: &[(&str, String)]) -> Markup {
    html! {
        table class="kv" {
            @for (key, value) in items {
                tr { th { (key) } td { (value) } }
            }
        }
    }
}

/// The manifest in words, one item per line of the summary table.
fn manifest_summary(
    m: &Manifest,
    rows: &[MetricsRow],
    reference: Option<&EvalRecord>,
) -> Vec<(&'static str, String)> {
    let d = &m.device;
    let mut items = vec![
        ("tool", m.tool.clone()),
        ("started", m.started.clone()),
        (
            "finished",
            m.finished.clone().unwrap_or_else(|| "not yet".to_string()),
        ),
        ("command line", command_line(&m.command_line)),
        ("seed", m.seed.to_string()),
        ("backend", d.backend.clone()),
        ("adapter", d.adapter.clone()),
        ("device kind", d.kind.clone()),
        ("runtime", d.runtime.clone()),
        ("precision", d.precision.clone()),
        ("kernels", list(&d.kernels, "the backend's own")),
        ("dataset", dataset_checksums(&m.dataset)),
        ("parameters", thousands(m.parameters)),
        ("generations", generation_range(rows)),
        ("resumed", list(&m.resumed, "never")),
        ("retries", list(&retries(&m.retries), "none")),
    ];
    if let Some(r) = reference {
        items.push(("evaluation classifier", classifier(r)));
    }
    items
}

/// `items` separated by semicolons, or `none` for no item.
fn list(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_string()
    } else {
        items.join("; ")
    }
}

/// The dataset's name and whether its files' checksums match the catalogue.
fn dataset_checksums(dataset: &DatasetRecord) -> String {
    let differing: Vec<String> = dataset
        .files
        .iter()
        .filter(|f| !f.matches_catalogue)
        .map(|f| f.path.display().to_string())
        .collect();
    let checksums = if differing.is_empty() {
        format!("all {} checksums match the catalogue", dataset.files.len())
    } else {
        format!("differ from the catalogue: {}", differing.join(", "))
    };
    format!("{}: {checksums}", dataset.name)
}

/// How many generations `rows` hold, and the first and last.
fn generation_range(rows: &[MetricsRow]) -> String {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => format!(
            "{} ({} to {})",
            rows.len(),
            first.generation,
            last.generation
        ),
        _ => "none yet".to_string(),
    }
}

/// Each retry of a diverged generation in words.
fn retries(retries: &[RetryRecord]) -> Vec<String> {
    retries
        .iter()
        .map(|r| format!("generation {}: {} (lr {})", r.generation, r.reason, r.lr))
        .collect()
}

/// The evaluation classifier's test accuracy and cache key.
fn classifier(reference: &EvalRecord) -> String {
    let c = &reference.classifier;
    format!(
        "test accuracy {:.2} % (key {})",
        100.0 * c.test_accuracy,
        c.key
    )
}

/// The command line as a shell would read it back: arguments with spaces or
/// quotes in single quotes.
fn command_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `n` with commas between groups of three digits (`647,081`).
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The viewer (slider, buttons, label, the current grid and reconstructions)
/// over a strip of every generation's sample grid. The spaces between the
/// inline controls and between the two images keep them apart on screen.
fn sample_viewer(rows: &[MetricsRow]) -> Markup {
    let Some(first) = rows.first() else {
        return html! { p { "No generation is complete yet." } };
    };
    let g = first.generation;
    html! {
        div class="viewer" {
            p {
                button id="gen-prev" type="button" { "◀ previous" }
                " "
                input id="gen-slider" type="range" min="0" max=(rows.len() - 1) value="0" step="1";
                " "
                button id="gen-next" type="button" { "next ▶" }
                " "
                strong id="gen-label" { "generation " (g) }
            }
            img id="gen-image" src=(generation_file(g, SAMPLES)) alt="sample grid";
            // A model without an encoder reconstructs nothing.
            @if first.fit.is_some() {
                " "
                img id="gen-recon" src=(generation_file(g, RECONSTRUCTIONS))
                    alt="reconstructions of test digits";
            }
        }
        div class="strip" id="strip" {
            @for r in rows { (thumbnail(r.generation)) }
        }
    }
}

/// A generation's thumbnail in the strip; its data attributes tell the
/// viewer which generation it is and where its reconstructions are.
fn thumbnail(g: usize) -> Markup {
    html! {
        figure data-generation=(g) data-reconstructions=(generation_file(g, RECONSTRUCTIONS)) {
            img src=(generation_file(g, SAMPLES)) alt={ "generation " (g) };
            figcaption { (g) }
        }
    }
}

/// The link to file `name` of generation `g`, relative to the run folder.
fn generation_file(g: usize, name: &str) -> String {
    href(&generation_dir(Path::new(""), g).join(name))
}

/// A relative path as a URL path (`/` between components, whatever the OS).
fn href(path: &Path) -> String {
    path.components()
        .map(|c| url_segment(&c.as_os_str().to_string_lossy()))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_escape_special_characters() {
        let html = page(r#"<b class="x">Tom & 'Jerry'</b>"#, html! {});
        let escaped = "&lt;b class=&quot;x&quot;&gt;Tom &amp; 'Jerry'&lt;/b&gt;";
        assert!(
            html.contains(&format!("<title>{escaped}</title>")),
            "{html}"
        );
        assert!(page("μ ≥ 2", html! {}).contains("<title>μ ≥ 2</title>"));
    }

    #[test]
    fn the_metrics_table_shows_each_interval_in_its_figures_cell() {
        let mut row = crate::testing::row(0, 0.8, None);
        let interval = crate::profile::Interval { lo: 0.75, hi: 0.85 };
        row.intervals.insert("probe_mu_std".into(), interval);
        let html = metrics_table(&[row]).into_string();
        assert!(html.contains("0.8000 [0.7500, 0.8500]"), "{html}");
        assert!(!html.contains("probe_mu_std_lo"), "{html}");
    }

    #[test]
    fn tables_escape_every_cell() {
        let html = table(&["<a>".to_string()], &[vec!["x&y".to_string()]]).into_string();
        assert!(html.contains("<th>&lt;a&gt;</th>"), "{html}");
        assert!(html.contains("<td>x&amp;y</td>"), "{html}");
    }

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(number(Some(512.0)), "512");
        assert_eq!(number(Some(170.5321)), "170.5");
        assert_eq!(number(Some(0.012345)), "0.01235");
        assert_eq!(number(Some(-2.5)), "-2.500");
        assert_eq!(number(Some(f64::NAN)), "NaN");
        assert_eq!(number(None), "");
        assert_eq!(thousands(647_081), "647,081");
        assert_eq!(thousands(81), "81");
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let args = ["collapse", "run", "--out", "my run", "it's"].map(String::from);
        assert_eq!(
            command_line(&args),
            r"collapse run --out 'my run' 'it'\''s'"
        );
    }

    #[test]
    fn relative_links_climb_to_the_common_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("cmp/x"), tmp.path().join("runs/r#1"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert_eq!(
            relative_href(&a, &b, INDEX).unwrap(),
            "../../runs/r%231/index.html"
        );
        assert_eq!(relative_href(&b, &b, INDEX).unwrap(), "index.html");
    }
}
