//! Static HTML pages: a run's `index.html`, and the building blocks the
//! comparison and seed pages share (page frame, tables, plot grids, links).
//!
//! Every page is self-contained: inline CSS and JS, relative links to the
//! PNGs, nothing fetched, so it works from `file://`. Every text put into a
//! page goes through [`escape`].

use std::fmt::Write as _;
use std::path::{Component, Path};

use crate::contract::{Manifest, MetricsRow, generation_dir};
use crate::error::ReportError;
use crate::evaluation::EvalRecord;
use crate::headline::value;

/// The file name of every page.
pub const INDEX: &str = "index.html";

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
    $('gen-recon').src = f.dataset.reconstructions;
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

/// `text` with the five HTML special characters replaced by entities, safe
/// in element content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (escaped here) and `body` (already HTML).
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n",
        title = escape(title)
    )
}

/// A table with a header row; every cell is escaped.
pub(crate) fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let cells = |tag: &str, row: &[String]| -> String {
        row.iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
            .collect()
    };
    let mut html = format!("<table>\n<tr>{}</tr>\n", cells("th", header));
    for row in rows {
        let _ = writeln!(html, "<tr>{}</tr>", cells("td", row));
    }
    html.push_str("</table>\n");
    html
}

/// A grid of plot images, `srcs` relative to the page.
pub(crate) fn plots(srcs: &[String]) -> String {
    let mut html = String::from("<div class=\"plots\">\n");
    for src in srcs {
        let _ = writeln!(
            html,
            "<a href=\"{0}\"><img src=\"{0}\" alt=\"{0}\"></a>",
            escape(src)
        );
    }
    html.push_str("</div>\n");
    html
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
    crate::files::write_atomic(path, html.as_bytes())
}

/// A run folder's `index.html`: the manifest, the sample grids with a viewer
/// to step through generations, every plot in `plot_files` (relative to the
/// run folder), and the metrics table.
pub(crate) fn run_page(
    name: &str,
    manifest: &Manifest,
    rows: &[MetricsRow],
    plot_files: &[String],
    reference: Option<&EvalRecord>,
) -> String {
    let mut body = String::new();
    body.push_str("<h2>Run</h2>\n");
    body.push_str(&key_values(&manifest_summary(manifest, rows, reference)));
    let config = serde_json::to_string_pretty(&manifest.config).unwrap_or_default();
    let _ = writeln!(
        body,
        "<details><summary>configuration</summary><pre>{}</pre></details>",
        escape(&config)
    );
    body.push_str("<h2>Sample grids</h2>\n");
    body.push_str(&sample_viewer(rows));
    body.push_str("<h2>Plots</h2>\n");
    body.push_str(&plots(plot_files));
    body.push_str("<h2>Metrics</h2>\n<div class=\"scroll\">\n");
    let header: Vec<String> = MetricsRow::header().iter().map(|c| c.to_string()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| header.iter().map(|c| number(value(r, c))).collect())
        .collect();
    body.push_str(&table(&header, &cells));
    body.push_str("</div>\n");
    let _ = writeln!(body, "<script>{VIEWER_SCRIPT}</script>");
    page(&format!("model collapse: {name}"), &body)
}

/// A two-column table of labelled texts.
fn key_values(items: &[(&str, String)]) -> String {
    let mut html = String::from("<table class=\"kv\">\n");
    for (key, value) in items {
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    html.push_str("</table>\n");
    html
}

/// The manifest in words, one item per line of the summary table.
fn manifest_summary(
    m: &Manifest,
    rows: &[MetricsRow],
    reference: Option<&EvalRecord>,
) -> Vec<(&'static str, String)> {
    let differing: Vec<String> = m
        .dataset
        .files
        .iter()
        .filter(|f| !f.matches_catalogue)
        .map(|f| f.path.display().to_string())
        .collect();
    let checksums = if differing.is_empty() {
        format!(
            "all {} checksums match the catalogue",
            m.dataset.files.len()
        )
    } else {
        format!("differ from the catalogue: {}", differing.join(", "))
    };
    let generations = match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => format!(
            "{} ({} to {})",
            rows.len(),
            first.generation,
            last.generation
        ),
        _ => "none yet".to_string(),
    };
    // Manifests written before a field was recorded hold it empty.
    let recorded = |value: &str| match value {
        "" => "not recorded".to_string(),
        v => v.to_string(),
    };
    let list = |items: Vec<String>, none: &str| {
        if items.is_empty() {
            none.to_string()
        } else {
            items.join("; ")
        }
    };
    let retries = m
        .retries
        .iter()
        .map(|r| format!("generation {}: {} (lr {})", r.generation, r.reason, r.lr))
        .collect();
    let mut items = vec![
        ("tool", m.tool.clone()),
        ("started", m.started.clone()),
        (
            "finished",
            m.finished.clone().unwrap_or_else(|| "not yet".to_string()),
        ),
        ("command line", command_line(&m.command_line)),
        ("seed", m.seed.to_string()),
        ("backend", m.device.backend.clone()),
        ("adapter", m.device.adapter.clone()),
        ("device kind", m.device.kind.clone()),
        ("runtime", recorded(&m.device.runtime)),
        ("precision", recorded(&m.device.precision)),
        (
            "kernels",
            list(m.device.kernels.clone(), "the backend's own"),
        ),
        ("dataset", format!("{}: {checksums}", m.dataset.name)),
        ("parameters", thousands(m.parameters)),
        ("generations", generations),
        ("resumed", list(m.resumed.clone(), "never")),
        ("retries", list(retries, "none")),
    ];
    if let Some(r) = reference {
        items.push((
            "evaluation classifier",
            format!(
                "test accuracy {:.2} % (key {})",
                100.0 * r.classifier.test_accuracy,
                r.classifier.key
            ),
        ));
    }
    items
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
/// over a strip of every generation's sample grid.
fn sample_viewer(rows: &[MetricsRow]) -> String {
    let Some(first) = rows.first() else {
        return "<p>No generation is complete yet.</p>\n".to_string();
    };
    let file = |g: usize, name: &str| escape(&href(&generation_dir(Path::new(""), g).join(name)));
    let mut html = format!(
        "<div class=\"viewer\">\n<p><button id=\"gen-prev\" type=\"button\">&#9664; previous</button>\n\
         <input id=\"gen-slider\" type=\"range\" min=\"0\" max=\"{max}\" value=\"0\" step=\"1\">\n\
         <button id=\"gen-next\" type=\"button\">next &#9654;</button>\n\
         <strong id=\"gen-label\">generation {g}</strong></p>\n\
         <img id=\"gen-image\" src=\"{samples}\" alt=\"sample grid\">\n\
         <img id=\"gen-recon\" src=\"{recon}\" alt=\"reconstructions of test digits\">\n</div>\n\
         <div class=\"strip\" id=\"strip\">\n",
        max = rows.len() - 1,
        g = first.generation,
        samples = file(first.generation, "samples.png"),
        recon = file(first.generation, "reconstructions.png"),
    );
    for r in rows {
        let g = r.generation;
        let _ = writeln!(
            html,
            "<figure data-generation=\"{g}\" data-reconstructions=\"{}\">\
             <img src=\"{}\" alt=\"generation {g}\"><figcaption>{g}</figcaption></figure>",
            file(g, "reconstructions.png"),
            file(g, "samples.png"),
        );
    }
    html.push_str("</div>\n");
    html
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
    fn escape_replaces_special_characters() {
        assert_eq!(
            escape(r#"<b class="x">Tom & 'Jerry'</b>"#),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("μ ≥ 2"), "μ ≥ 2");
    }

    #[test]
    fn tables_escape_every_cell() {
        let html = table(&["<a>".to_string()], &[vec!["x&y".to_string()]]);
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
        let tmp = crate::testing::TempDir::new("href");
        let (a, b) = (tmp.0.join("cmp/x"), tmp.0.join("runs/r#1"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert_eq!(
            relative_href(&a, &b, INDEX).unwrap(),
            "../../runs/r%231/index.html"
        );
        assert_eq!(relative_href(&b, &b, INDEX).unwrap(), "index.html");
    }
}
