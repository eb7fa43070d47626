//! A Gaussian mixture refitted to its own samples (the paper's section 4.2
//! and its notebook's GMM cell): fit a mixture by EM to N samples of a 2-D
//! normal, draw N points from the fit, refit, for many generations.
//!
//! Generation t's samples and its EM start are drawn from streams of
//! (seed, t), so a generation is determined by the mixture before it: the
//! run checkpoints its newest mixture with its rows and resumes from there
//! after a kill, to the same numbers an uninterrupted run writes.

use std::path::Path;
use std::time::Instant;

use collapse_records::time::now_rfc3339;
use collapse_records::{
    Experiment, GmmRow, TheoryManifest, read_json, read_table, write_json, write_table,
};
use collapse_records::{GMM_COLUMNS, RunFolder, Snapshots};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{SettingError, TheoryError};
use crate::folder::{RunInfo, fresh_folder};
use crate::mixture::{EmFit, EmSettings, Mixture, Point, fit};
use crate::rng::{Purpose, stream};

/// The recursive mixture fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GmmConfig {
    /// Points per generation.
    pub samples: usize,
    /// Generations after generation 0 (the fit to the original samples).
    pub generations: usize,
    /// Standard deviation of the original 2-D normal (mean 0).
    pub std: f64,
    /// The EM fit.
    pub em: EmSettings,
    /// Generations whose samples are drawn as scatters.
    pub snapshots: Vec<usize>,
    /// Seed of every stream.
    pub seed: u64,
}

impl Default for GmmConfig {
    /// The notebook's: 1,000 points of N(0, I), 2 components, 2,050 generations,
    /// scatters at generations 0, 50, 100, 150, 200, 350 and 2,000.
    fn default() -> Self {
        GmmConfig {
            samples: 1000,
            generations: 2050,
            std: 1.0,
            em: EmSettings::default(),
            snapshots: vec![0, 50, 100, 150, 200, 350, 2000],
            seed: 0,
        }
    }
}

/// The mixture fit's settings, each one optional: where one is not given,
/// [`GmmConfig::default`]'s value holds. They are `collapse theory gmm`'s
/// flags (with the crate's `clap` feature) and a study's run settings, and
/// they resolve into the [`GmmConfig`] a run records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct GmmSettings {
    /// Points per generation [default: 1000].
    #[cfg_attr(feature = "clap", arg(long))]
    pub samples: Option<usize>,
    /// Generations after generation 0, the fit to the original samples [default: 2050].
    #[cfg_attr(feature = "clap", arg(long))]
    pub generations: Option<usize>,
    /// Standard deviation of the original 2-D normal, mean 0 [default: 1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub std: Option<f64>,
    /// EM stops when the mean log-likelihood per point changes by less [default: 1e-5].
    #[cfg_attr(feature = "clap", arg(long))]
    pub tol: Option<f64>,
    /// The most EM iterations per fit [default: 2000].
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_iter: Option<usize>,
    /// Generations whose samples are drawn as scatters [default: 0,50,100,150,200,350,2000].
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub snapshots: Option<Vec<usize>>,
    /// Seed of every random stream [default: 0].
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
}

impl GmmSettings {
    /// The keys given, as a table spells them.
    pub fn given(&self) -> Vec<String> {
        match serde_json::to_value(self).expect("settings serialise") {
            serde_json::Value::Object(fields) => fields
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect(),
            _ => unreachable!("settings are a struct"),
        }
    }

    /// The configuration these settings describe: the default with every
    /// given value over it, checked.
    pub fn resolve(&self) -> Result<GmmConfig, SettingError> {
        let d = GmmConfig::default();
        let c = GmmConfig {
            samples: self.samples.unwrap_or(d.samples),
            generations: self.generations.unwrap_or(d.generations),
            std: self.std.unwrap_or(d.std),
            em: EmSettings {
                tol: self.tol.unwrap_or(d.em.tol),
                max_iter: self.max_iter.unwrap_or(d.em.max_iter),
                ..d.em
            },
            snapshots: self.snapshots.clone().unwrap_or(d.snapshots),
            seed: self.seed.unwrap_or(d.seed),
        };
        c.validate()?;
        Ok(c)
    }
}

impl GmmConfig {
    /// Refuses a configuration that cannot run, naming the setting.
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.em.components != 2 {
            return Err(SettingError::new(
                "components",
                format!(
                    "the experiment records 2 components, got {}",
                    self.em.components
                ),
            ));
        }
        if self.samples < 2 * self.em.components {
            return Err(SettingError::new(
                "samples",
                format!(
                    "{} points cannot fit {} components",
                    self.samples, self.em.components
                ),
            ));
        }
        if !(self.std.is_finite() && self.std > 0.0) {
            return Err(SettingError::new(
                "std",
                format!("must be positive, got {}", self.std),
            ));
        }
        if !(self.em.tol.is_finite() && self.em.tol > 0.0) {
            return Err(SettingError::new(
                "tol",
                format!("must be positive, got {}", self.em.tol),
            ));
        }
        if self.em.max_iter == 0 {
            return Err(SettingError::new(
                "max_iter",
                "EM needs at least one iteration",
            ));
        }
        if let Some(late) = self.snapshots.iter().find(|&&g| g > self.generations) {
            return Err(SettingError::new(
                "snapshots",
                format!("generation {late} is past the last, {}", self.generations),
            ));
        }
        Ok(())
    }
}

/// Generations between checkpoints.
const CHECKPOINT_EVERY: usize = 25;
/// The checkpoint: the newest generation and its mixture.
const STATE: &str = "state.json";

/// What a checkpoint holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    /// The newest complete generation.
    generation: usize,
    /// Its mixture.
    mixture: Mixture,
}

/// The original samples: N points of N(0, std² I).
fn original(c: &GmmConfig) -> Vec<Point> {
    let mut rng = stream(c.seed, Purpose::MixtureData, 0);
    (0..c.samples)
        .map(|_| {
            let (x, y): (f64, f64) = (
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
            );
            [c.std * x, c.std * y]
        })
        .collect()
}

/// Generation t's samples, drawn from its mixture.
fn samples_of(c: &GmmConfig, t: usize, mixture: &Mixture) -> Vec<Point> {
    mixture.sample(
        c.samples,
        &mut stream(c.seed, Purpose::MixtureSamples, t as u64),
    )
}

/// The fit of generation t to `points`, its components ordered.
fn fit_generation(c: &GmmConfig, t: usize, points: &[Point]) -> EmFit {
    let mut f = fit(
        points,
        &c.em,
        &mut stream(c.seed, Purpose::MixtureInit, t as u64),
    );
    f.mixture = f.mixture.ordered();
    f
}

/// The row of generation t.
fn row(t: usize, f: &EmFit, first: &Mixture, original: &[Point]) -> GmmRow {
    let [a, b] = [&f.mixture.components[0], &f.mixture.components[1]];
    GmmRow {
        generation: t,
        weight_0: a.weight,
        weight_1: b.weight,
        mean_0_x: a.mean[0],
        mean_0_y: a.mean[1],
        mean_1_x: b.mean[0],
        mean_1_y: b.mean[1],
        std_0: a.std(),
        std_1: b.std(),
        l2_sq: first.l2_sq(&f.mixture),
        loglik_real: f.mixture.mean_log_likelihood(original),
        em_iterations: f.iterations,
        converged: usize::from(f.converged),
    }
}

/// The scatter of generation t's samples, relative to the run folder.
fn snapshot_file(t: usize) -> String {
    format!("snapshots/gen-{t:04}.png")
}

/// Draws the scatter of generation t's samples over the original ones, one
/// group per component, with `draw`.
fn snapshot(
    draw: &mut dyn Snapshots,
    run: &Path,
    t: usize,
    mixture: &Mixture,
    points: &[Point],
    original: &[Point],
) -> Result<(), TheoryError> {
    let labels = mixture.predict(points);
    let to_xy = |p: &Point| (p[0], p[1]);
    let mut groups = vec![(
        "original samples".to_string(),
        original.iter().map(to_xy).collect(),
    )];
    for k in 0..mixture.components.len() {
        let mine = points
            .iter()
            .zip(&labels)
            .filter(|(_, l)| **l == k)
            .map(|(p, _)| to_xy(p))
            .collect();
        groups.push((format!("generation {t}, component {k}"), mine));
    }
    let title = format!("Samples of generation {t}'s mixture");
    draw.snapshot(&run.join(snapshot_file(t)), &title, &groups)
        .map_err(TheoryError::Render)
}

/// Where a run starts: its folder, the rows so far and the newest mixture.
struct Start {
    folder: RunFolder,
    rows: Vec<GmmRow>,
    mixture: Mixture,
    manifest: TheoryManifest,
}

/// A new run: generation 0 fitted to the original samples.
fn begin(
    c: &GmmConfig,
    out: &Path,
    force: bool,
    info: &RunInfo,
    original: &[Point],
) -> Result<Start, TheoryError> {
    let folder = fresh_folder(out, force)?;
    let config = serde_json::to_value(c).expect("a config serialises");
    let manifest = info.manifest(Experiment::Gmm, config, c.seed);
    write_json(&out.join("manifest.json"), &manifest)?;
    let f = fit_generation(c, 0, original);
    Ok(Start {
        folder,
        rows: vec![row(0, &f, &f.mixture, original)],
        mixture: f.mixture,
        manifest,
    })
}

/// Whether `out` holds a mixture run with a checkpoint to resume from (a run
/// killed before its first checkpoint starts again).
pub fn resumable(out: &Path) -> bool {
    out.join("manifest.json").is_file() && out.join(STATE).is_file()
}

/// Generations of the mixture run in `out` that its checkpoint holds
/// (generation 0 included); none without a checkpoint.
pub fn checkpointed(out: &Path) -> usize {
    read_json::<State>(&out.join(STATE)).map_or(0, |s| s.generation + 1)
}

/// An interrupted run of `out`: its recorded config (with `generations`
/// raised to extend it), its checkpoint, and its rows up to the checkpoint.
fn reopen(out: &Path, generations: Option<usize>) -> Result<(GmmConfig, Start), TheoryError> {
    let folder_error = |reason: String| TheoryError::Folder {
        folder: out.to_path_buf(),
        reason,
    };
    let manifest_path = out.join("manifest.json");
    if !manifest_path.is_file() {
        return Err(folder_error("not a run folder (no manifest.json)".into()));
    }
    let (folder, _) = RunFolder::reopen(out)?;
    let mut manifest: TheoryManifest = collapse_records::read_manifest(out)?;
    if manifest.experiment != Experiment::Gmm {
        return Err(folder_error(format!(
            "holds a {}, not a {}",
            manifest.experiment.words(),
            Experiment::Gmm.words()
        )));
    }
    let mut c: GmmConfig = serde_json::from_value(manifest.config.clone())
        .map_err(|e| folder_error(format!("the recorded config is not valid: {e}")))?;
    if let Some(g) = generations {
        if g < c.generations {
            return Err(SettingError::new(
                "generations",
                format!("{g} is fewer than the run's {}", c.generations),
            )
            .into());
        }
        c.generations = g;
    }
    let state_path = out.join(STATE);
    if !state_path.is_file() {
        return Err(folder_error(
            "has no checkpoint (state.json) to resume from".into(),
        ));
    }
    let state: State = read_json(&state_path)?;
    let mut rows = read_table(&out.join("metrics.csv"), GMM_COLUMNS)?;
    rows.retain(|r| r.generation <= state.generation);
    if rows.len() != state.generation + 1 {
        return Err(folder_error(format!(
            "metrics.csv holds {} of the checkpoint's {} generations",
            rows.len(),
            state.generation + 1
        )));
    }
    manifest.config = serde_json::to_value(&c).expect("a config serialises");
    manifest.finished = None;
    manifest.resumed.push(now_rfc3339());
    Ok((
        c,
        Start {
            folder,
            rows,
            mixture: state.mixture,
            manifest,
        },
    ))
}

/// Writes the rows and the checkpoint of the newest generation.
fn checkpoint(
    out: &Path,
    rows: &[GmmRow],
    mixture: &Mixture,
    manifest: &TheoryManifest,
) -> Result<(), TheoryError> {
    write_table(&out.join("metrics.csv"), GMM_COLUMNS, rows)?;
    let state = State {
        generation: rows.len() - 1,
        mixture: mixture.clone(),
    };
    write_json(&out.join(STATE), &state)?;
    write_json(&out.join("manifest.json"), manifest)?;
    Ok(())
}

/// How a mixture run starts.
#[derive(Clone, Debug)]
pub enum GmmStart {
    /// A new run of this config into an empty folder (emptied with `force`).
    New {
        /// The config.
        config: GmmConfig,
        /// Replace what the folder holds.
        force: bool,
    },
    /// Continue the interrupted run in the folder, extended to `generations` if given.
    Resume {
        /// The new last generation.
        generations: Option<usize>,
    },
}

/// Runs (or resumes) the experiment in `out`, drawing its snapshots with
/// `draw` and calling `progress` after each generation with its row. Returns
/// the rows and the snapshots drawn; its report is drawn from the folder.
pub fn run_gmm(
    start: GmmStart,
    out: &Path,
    info: &RunInfo,
    draw: &mut dyn Snapshots,
    mut progress: impl FnMut(&GmmRow),
) -> Result<(Vec<GmmRow>, Vec<String>), TheoryError> {
    let (c, s) = match start {
        GmmStart::New { config, force } => {
            config.validate()?;
            let original = original(&config);
            let s = begin(&config, out, force, info, &original)?;
            (config, s)
        }
        GmmStart::Resume { generations } => reopen(out, generations)?,
    };
    c.validate()?;
    let Start {
        folder: _folder,
        mut rows,
        mut mixture,
        mut manifest,
    } = s;
    let original = original(&c);
    let first = fit_generation(&c, 0, &original).mixture;
    let clock = Instant::now();
    let spent = manifest.seconds;
    checkpoint(out, &rows, &mixture, &manifest)?;
    for t in rows.len()..=c.generations {
        let points = samples_of(&c, t - 1, &mixture);
        let f = fit_generation(&c, t, &points);
        rows.push(row(t, &f, &first, &original));
        progress(rows.last().expect("just pushed"));
        mixture = f.mixture;
        if c.snapshots.contains(&t) {
            snapshot(
                draw,
                out,
                t,
                &mixture,
                &samples_of(&c, t, &mixture),
                &original,
            )?;
        }
        if t % CHECKPOINT_EVERY == 0 || t == c.generations {
            manifest.seconds = spent + clock.elapsed().as_secs_f64();
            checkpoint(out, &rows, &mixture, &manifest)?;
        }
    }
    if c.snapshots.contains(&0) {
        snapshot(draw, out, 0, &first, &samples_of(&c, 0, &first), &original)?;
    }
    let snapshots: Vec<String> = c.snapshots.iter().map(|&t| snapshot_file(t)).collect();
    manifest.seconds = spent + clock.elapsed().as_secs_f64();
    manifest.finished = Some(now_rfc3339());
    write_json(&out.join("manifest.json"), &manifest)?;
    Ok((rows, snapshots))
}

#[cfg(test)]
mod tests {
    use collapse_report::Report;

    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            tool: "collapse test".into(),
            command_line: vec!["test".into()],
        }
    }

    fn config(generations: usize) -> GmmConfig {
        GmmConfig {
            samples: 200,
            generations,
            snapshots: vec![0, generations],
            ..GmmConfig::default()
        }
    }

    #[test]
    fn components_shrink_and_drift_from_generation_0() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        let (rows, files) = run_gmm(
            GmmStart::New {
                config: config(300),
                force: false,
            },
            &out,
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap();
        assert_eq!(rows.len(), 301);
        assert_eq!(
            checkpointed(&out),
            301,
            "the last checkpoint holds every generation"
        );
        assert!(resumable(&out));
        assert_eq!(checkpointed(tmp.path()), 0, "no checkpoint, none done");
        assert!(rows[0].l2_sq.abs() < 1e-15);
        let (first, last) = (&rows[0], &rows[300]);
        assert!(
            last.std_0 + last.std_1 < 0.7 * (first.std_0 + first.std_1),
            "{first:?} {last:?}"
        );
        assert!(
            last.l2_sq > 10.0 * rows[10].l2_sq,
            "{} {}",
            last.l2_sq,
            rows[10].l2_sq
        );
        assert!(last.loglik_real < first.loglik_real);
        for f in ["snapshots/gen-0000.png", "snapshots/gen-0300.png"] {
            assert!(files.contains(&f.to_string()), "{f}: {files:?}");
            assert!(out.join(f).is_file(), "{f}");
        }
        let report = collapse_report::redraw_run(&out).unwrap().files;
        for f in ["plots/std.png", "plots/l2_sq.png", "index.html"] {
            assert!(report.contains(&f.to_string()), "{f}: {report:?}");
            assert!(out.join(f).is_file(), "{f}");
        }
        assert_eq!(
            read_table(&out.join("metrics.csv"), GMM_COLUMNS).unwrap(),
            rows
        );
    }

    #[test]
    fn a_resumed_run_writes_what_an_uninterrupted_one_does() {
        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole");
        let (all, _) = run_gmm(
            GmmStart::New {
                config: config(60),
                force: false,
            },
            &whole,
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap();
        // A run stopped after its checkpoint at generation 50, then resumed.
        let part = tmp.path().join("part");
        run_gmm(
            GmmStart::New {
                config: config(50),
                force: false,
            },
            &part,
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap();
        let err = run_gmm(
            GmmStart::Resume {
                generations: Some(40),
            },
            &part,
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(err, TheoryError::Setting(ref s) if s.setting == "generations"),
            "{err}"
        );
        let mut manifest: TheoryManifest = read_json(&part.join("manifest.json")).unwrap();
        manifest.config["snapshots"] = serde_json::json!([0, 60]);
        write_json(&part.join("manifest.json"), &manifest).unwrap();
        let (resumed, _) = run_gmm(
            GmmStart::Resume {
                generations: Some(60),
            },
            &part,
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap();
        assert_eq!(resumed, all);
        let read = |p: &Path| std::fs::read(p.join("metrics.csv")).unwrap();
        assert_eq!(read(&part), read(&whole));
        let m: TheoryManifest = read_json(&part.join("manifest.json")).unwrap();
        assert_eq!(m.resumed.len(), 1);
    }

    #[test]
    fn refusals() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = GmmConfig {
            snapshots: vec![5000],
            ..config(10)
        };
        let err = run_gmm(
            GmmStart::New {
                config: bad,
                force: false,
            },
            tmp.path(),
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(err, TheoryError::Setting(ref s) if s.setting == "snapshots"),
            "{err}"
        );
        std::fs::write(tmp.path().join("x"), "").unwrap();
        let err = run_gmm(
            GmmStart::New {
                config: config(2),
                force: false,
            },
            tmp.path(),
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("already holds files"), "{err}");
        let err = run_gmm(
            GmmStart::Resume { generations: None },
            tmp.path(),
            &info(),
            &mut Report,
            |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("no manifest.json"), "{err}");
    }
}
