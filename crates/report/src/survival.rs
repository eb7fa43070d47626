//! The grouped page's tail survival: per group and rarity, the share of
//! each rarity band of the real test images its runs' samples still reach
//! (the profile's survival curves), averaged over the runs at generation 0
//! and at the last generation every run reached, and the rarest band's
//! difference to the first group. A condition whose data lost its tail
//! (a positive control, a collapsed chain) shows it in the rarest bands.

use std::path::Path;

use collapse_records::profile::{Estimate, Profile, p_words};
use collapse_stats::seeds::{mean_interval, welch};
use collapse_stats::trend::holm;

use crate::error::ReportError;
use crate::html;
use crate::plots::{Axes, Series, line_plot, palette};

/// The caption of every survival chart, a run's and a group page's.
pub(crate) const TITLE: &str = "Tail survival: real test images the samples still reach, by rarity";
/// Their y axis.
pub(crate) const AXIS: &str = "share reached (recall per image)";

/// A group's runs' profiles, for its survival curves.
pub(crate) struct GroupProfiles<'a> {
    /// The group's name.
    pub name: &'a str,
    /// Its legend label.
    pub label: &'a str,
    /// The profiles of those of its runs that have one.
    pub profiles: Vec<&'a Profile>,
}

impl GroupProfiles<'_> {
    /// The generations shown: 0 and the last one every profile reached.
    fn generations(&self) -> Vec<usize> {
        let last = self
            .profiles
            .iter()
            .filter_map(|p| p.generations.last().map(|g| g.generation))
            .min();
        match last {
            Some(0) => vec![0],
            Some(g) => vec![0, g],
            None => Vec::new(),
        }
    }

    /// Per band (commonest first), the runs' survival in `generation` by `rarity`.
    fn bands(&self, generation: usize, rarity: &str) -> Vec<Vec<f64>> {
        let mut bands: Vec<Vec<f64>> = Vec::new();
        for profile in &self.profiles {
            let curve = profile
                .generations
                .iter()
                .find(|g| g.generation == generation)
                .and_then(|g| g.survival.iter().find(|s| s.rarity == rarity));
            for (b, e) in curve.into_iter().flat_map(|s| s.bands.iter().enumerate()) {
                if bands.len() <= b {
                    bands.resize(b + 1, Vec::new());
                }
                bands[b].push(e.value);
            }
        }
        bands
    }
}

/// The rarities the profiles order the real images by, as the first one has them.
fn rarities(groups: &[GroupProfiles<'_>]) -> Vec<String> {
    let first = groups.iter().flat_map(|g| &g.profiles).next();
    first
        .and_then(|p| p.generations.first())
        .map(|g| g.survival.iter().map(|s| s.rarity.clone()).collect())
        .unwrap_or_default()
}

/// What orders the real images, in words for an axis.
fn rarity_words(rarity: &str) -> &'static str {
    match rarity {
        "nelbo0" => "band of NELBO under generation 0 (0 commonest)",
        _ => "band of k-NN radius in classifier features (0 commonest)",
    }
}

/// Draws `plots/survival-RARITY.png` per rarity into `out` (each group's
/// mean over its runs with the mean's t interval, generation 0 solid, the
/// last dashed) and returns the files with the section of the page; nothing
/// where no run has a profile.
pub(crate) fn survival_section(
    out: &Path,
    groups: &[GroupProfiles<'_>],
    confidence: f64,
    alpha: f64,
) -> Result<(Vec<String>, maud::Markup), ReportError> {
    let rarities = rarities(groups);
    let mut files = Vec::new();
    let mut tables = Vec::new();
    for rarity in &rarities {
        let series = curves(groups, rarity, confidence);
        let rel = format!("plots/survival-{rarity}.png");
        let axes = Axes {
            title: TITLE,
            x_label: rarity_words(rarity),
            y_label: AXIS,
        };
        line_plot(&out.join(&rel), &axes, &series, None)?;
        tables.push((
            rarity.clone(),
            rel.clone(),
            band_table(groups, rarity, confidence, alpha),
        ));
        files.push(rel);
    }
    let section = maud::html! {
        @if !tables.is_empty() {
            h2 { "Tail survival" }
            p {
                "Per rarity band of the real test images (tenths, commonest first), the share the samples still reach (the per-image term of recall), averaged over each group's runs with the mean's " (format!("{:.0}", 100.0 * confidence)) " % t interval: generation 0 solid, the last generation every run reached dashed. The table gives the commonest and the rarest band, and the rarest band's difference to "
                (groups[0].name) " with Welch's interval and p-value (Holm-corrected over the generations shown; * where at most " (alpha) ")."
            }
            @for (rarity, rel, table) in &tables {
                h3 { (rarity_words(rarity)) }
                (html::plots(std::slice::from_ref(rel)))
                div class="scroll" { (table) }
            }
        }
    };
    Ok((files, section))
}

/// Each group's mean survival by `rarity` over its runs, with the mean's
/// interval at `confidence` as a band: generation 0 solid, the last dashed.
fn curves(groups: &[GroupProfiles<'_>], rarity: &str, confidence: f64) -> Vec<Series> {
    let mut series = Vec::new();
    for (k, group) in groups.iter().enumerate() {
        for (i, &g) in group.generations().iter().enumerate() {
            let means: Vec<Estimate> = group
                .bands(g, rarity)
                .iter()
                .map(|v| mean_interval(v, confidence))
                .collect();
            let line = Series {
                label: format!("{}, gen {g}", group.label),
                color: palette(k),
                points: means
                    .iter()
                    .enumerate()
                    .map(|(b, e)| (b as f64, e.value))
                    .collect(),
                // A share lies in [0, 1]; a t interval over few runs can reach past it.
                band: means
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.lo.is_finite())
                    .map(|(b, e)| (b as f64, e.lo.max(0.0), e.hi.min(1.0)))
                    .collect(),
                dashed: false,
            };
            series.push(if i > 0 { line.dashed() } else { line });
        }
    }
    series
}

/// The rarest band's difference of `group` to `first` in each of
/// `generations` (Welch's interval), with its p-value after Holm's
/// correction over those generations.
fn rarest_differences(
    first: &GroupProfiles<'_>,
    group: &GroupProfiles<'_>,
    generations: &[usize],
    rarity: &str,
    confidence: f64,
) -> Vec<Option<(Estimate, f64)>> {
    let rarest = |g: usize, of: &GroupProfiles<'_>| of.bands(g, rarity).pop().unwrap_or_default();
    let tests: Vec<(Estimate, f64)> = generations
        .iter()
        .map(|&g| welch(&rarest(g, first), &rarest(g, group), confidence))
        .collect();
    let adjusted = holm(&tests.iter().map(|t| t.1).collect::<Vec<_>>());
    tests
        .into_iter()
        .zip(adjusted)
        .map(|((difference, _), p_holm)| Some((difference, p_holm)))
        .collect()
}

/// Per group and generation shown: the commonest and the rarest band's mean
/// with its interval, and the rarest band's difference to the first group.
fn band_table(
    groups: &[GroupProfiles<'_>],
    rarity: &str,
    confidence: f64,
    alpha: f64,
) -> maud::Markup {
    let header: Vec<String> = [
        "group",
        "generation",
        "runs",
        "commonest band",
        "rarest band",
        "rarest band's difference",
        "p (Holm)",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let number = |v: f64| format!("{v:.3}");
    let shown = |b: Option<&Vec<f64>>| {
        b.map_or(String::new(), |v| {
            mean_interval(v, confidence).words(number)
        })
    };
    let mut rows = Vec::new();
    for (k, group) in groups.iter().enumerate() {
        let generations = group.generations();
        let differences = match k {
            0 => vec![None; generations.len()],
            _ => rarest_differences(&groups[0], group, &generations, rarity, confidence),
        };
        for (&g, difference) in generations.iter().zip(differences) {
            let bands = group.bands(g, rarity);
            let (difference, p) = match difference {
                Some((d, p_holm)) if d.value.is_finite() => {
                    let star = if p_holm <= alpha { " *" } else { "" };
                    (format!("{}{star}", d.words(number)), p_words(p_holm))
                }
                _ => (String::new(), String::new()),
            };
            rows.push(vec![
                group.name.to_string(),
                g.to_string(),
                bands.first().map_or(0, Vec::len).to_string(),
                shown(bands.first()),
                shown(bands.last()),
                difference,
                p,
            ]);
        }
    }
    html::table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use collapse_records::profile::{GenerationProfile, Survival};

    fn profile(curves: &[(usize, [f64; 3])]) -> Profile {
        let mut p: Profile = serde_json::from_value(serde_json::json!({
            "settings": {"bootstrap": 1, "fd_bootstrap": 1, "permutations": 1, "mmd_images": 1,
                "mmd_bandwidth": 1.0, "confidence": 0.95, "alpha": 0.05, "seed": 0, "bands": 3},
            "real_images": 100, "generations": [], "metrics": [], "tests": []
        }))
        .expect("a profile");
        p.generations = curves
            .iter()
            .map(|(g, bands)| GenerationProfile {
                generation: *g,
                images: 100,
                metrics: Vec::new(),
                tests: Vec::new(),
                exceedance: Vec::new(),
                survival: vec![Survival {
                    rarity: "radius".into(),
                    bands: bands
                        .iter()
                        .map(|&v| Estimate {
                            value: v,
                            lo: v,
                            hi: v,
                        })
                        .collect(),
                }],
            })
            .collect();
        p
    }

    #[test]
    fn bands_average_over_runs_at_generation_zero_and_the_last_all_reached() {
        let a = profile(&[
            (0, [0.8, 0.5, 0.30]),
            (1, [0.7, 0.4, 0.2]),
            (2, [0.6, 0.3, 0.1]),
        ]);
        let b = profile(&[(0, [0.6, 0.5, 0.34]), (1, [0.5, 0.4, 0.2])]);
        let group = GroupProfiles {
            name: "g",
            label: "g",
            profiles: vec![&a, &b],
        };
        assert_eq!(group.generations(), vec![0, 1]);
        assert_eq!(group.bands(0, "radius")[2], vec![0.30, 0.34]);
        assert!(group.bands(0, "nelbo0").is_empty());
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("plots")).unwrap();
        let (files, section) = survival_section(tmp.path(), &[group], 0.95, 0.05).unwrap();
        assert_eq!(files, vec!["plots/survival-radius.png"]);
        assert!(tmp.path().join(&files[0]).is_file());
        let html = section.into_string();
        assert!(html.contains("0.320 [0.066, 0.574]"), "{html}");
    }
}
