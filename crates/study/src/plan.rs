//! A study planned: every run of its spec with its settings resolved as its
//! experiment's command resolves them and its footprint estimated before
//! anything is written; which runs are still to do; and the runs grouped
//! into conditions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::Device;
use collapse_chain::settings::from_table;
use collapse_chain::{ChainConfig, ChainSettings, estimate};
use collapse_data::catalogue::FileRole;
use collapse_data::read_idx;
use collapse_records::{Experiment, Footprint, Group};
use collapse_theory::{GaussianConfig, GmmConfig, GmmSettings};

use crate::error::StudyError;
use crate::folder::{Plan, RunRecord, RunState, StudyFolder};
use crate::spec::{PlannedRun, StudySpec};

/// A run of the spec, checked and resolved.
#[derive(Clone, Debug)]
pub struct CheckedRun {
    /// The run.
    pub run: PlannedRun,
    /// Generations it runs after generation 0.
    pub generations: usize,
    /// Its estimated disk and time.
    pub estimate: Footprint,
}

impl CheckedRun {
    /// The run and its record in the plan.
    pub fn into_record(self) -> (PlannedRun, RunRecord) {
        let record = RunRecord {
            name: self.run.name.clone(),
            group: self.run.group.clone(),
            varied: serde_json::to_value(&self.run.varied).expect("a TOML table serialises"),
            generations: self.generations,
            estimate: self.estimate,
        };
        (self.run, record)
    }
}

/// A study run's settings, of its study's experiment.
#[derive(Clone, Debug)]
pub enum RunSettings {
    /// A chain's, writing the run's folder.
    Chain(Box<ChainSettings>),
    /// The recursive Gaussian fit's.
    Gaussian(GaussianConfig),
    /// The recursive mixture fit's, resolved.
    Gmm(GmmConfig),
}

/// Every run of `spec`, writing under the study folder `dir`, with its
/// settings resolved as its experiment's command resolves them and its
/// footprint at `threads` threads estimated (a chain's on `device`); the
/// first refused value ends it.
pub fn check(
    spec: &StudySpec,
    dir: &Path,
    device: &Device,
    threads: usize,
) -> Result<Vec<CheckedRun>, StudyError> {
    let folder = StudyFolder::new(dir);
    let mut train_images = HashMap::new();
    spec.runs()?
        .into_iter()
        .map(|run| {
            let origin = format!("{}: run {}", spec.file.display(), run.name);
            let refused = |message| StudyError::Run {
                origin: origin.clone(),
                message,
            };
            let out = folder.run_dir(&run.name);
            let settings = run_settings(spec.experiment, &run.settings, &out).map_err(refused)?;
            let (generations, estimate) = match settings {
                RunSettings::Chain(settings) => {
                    let config = resolve(&settings, &out, &mut train_images).map_err(refused)?;
                    (config.generations, estimate(&config, device, threads))
                }
                RunSettings::Gaussian(c) => (
                    c.generations,
                    collapse_theory::estimate::gaussian(&c, threads),
                ),
                RunSettings::Gmm(c) => (c.generations, collapse_theory::estimate::gmm(&c)),
            };
            Ok(CheckedRun {
                run,
                generations,
                estimate,
            })
        })
        .collect()
}

/// A study run's settings (its table) for `experiment`, a chain's writing
/// `out`; a refusal names the key.
pub fn run_settings(
    experiment: Experiment,
    table: &toml::Table,
    out: &Path,
) -> Result<RunSettings, String> {
    let refused = |e: collapse_theory::SettingError| format!("{}: {}", e.setting, e.reason);
    Ok(match experiment {
        Experiment::Chain => {
            let mut settings = ChainSettings::from_table(table).map_err(|e| e.to_string())?;
            settings.out = Some(out.to_path_buf());
            RunSettings::Chain(Box::new(settings))
        }
        Experiment::Gaussian => {
            let c: GaussianConfig = from_table(table, "gaussian").map_err(|e| e.to_string())?;
            c.validate().map_err(refused)?;
            RunSettings::Gaussian(c)
        }
        Experiment::Gmm => {
            let settings: GmmSettings = from_table(table, "gmm").map_err(|e| e.to_string())?;
            RunSettings::Gmm(settings.resolve().map_err(refused)?)
        }
    })
}

/// The chain `settings` describe, writing `out`; `train_images` keeps the
/// training images of each data folder read so far (else the catalogue's count).
fn resolve(
    settings: &ChainSettings,
    out: &Path,
    train_images: &mut HashMap<PathBuf, usize>,
) -> Result<ChainConfig, String> {
    let refused = |e: collapse_chain::ConfigError| format!("{}: {}", e.setting.key(), e.message);
    let mut config = settings
        .resolve(|spec| spec.default_dir(), |_| out.to_path_buf())
        .map_err(refused)?;
    let spec = settings.dataset_spec().map_err(refused)?;
    let images = *train_images.entry(config.data.clone()).or_insert_with(|| {
        let labels = config.data.join(spec.file(FileRole::TrainLabels).name);
        read_idx(&labels).map_or(spec.train_images, |a| a.dims[0])
    });
    config.resolve_sizes(images).map_err(refused)?;
    Ok(config)
}

/// The runs of `plan` still to do: complete runs are done, and a run another
/// process writes is left to it.
pub fn pending(folder: &StudyFolder, plan: &Plan) -> Vec<usize> {
    (0..plan.runs.len())
        .filter(|&i| {
            !matches!(
                folder.status(&plan.runs[i]).state,
                RunState::Complete | RunState::Running(_)
            )
        })
        .collect()
}

/// The study's conditions: one per group of runs that differ only in seed,
/// in the plan's order, each with its runs that have a generation.
pub fn conditions(folder: &StudyFolder, plan: &Plan) -> Vec<Group> {
    let mut conditions: Vec<Group> = Vec::new();
    for run in &plan.runs {
        let at = match conditions.iter().position(|c| c.name == run.group) {
            Some(at) => at,
            None => {
                conditions.push(Group {
                    name: run.group.clone(),
                    settings: group_settings(&run.varied),
                    runs: Vec::new(),
                });
                conditions.len() - 1
            }
        };
        let dir = folder.run_dir(&run.name);
        if dir.join("metrics.csv").is_file() {
            conditions[at].runs.push((run.name.clone(), dir));
        }
    }
    conditions
}

/// A condition's settings in words, its seed left out.
fn group_settings(varied: &serde_json::Value) -> String {
    let Some(table) = varied.as_object() else {
        return String::new();
    };
    let words: Vec<String> = table
        .iter()
        .filter(|(k, _)| k.as_str() != "seed")
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    if words.is_empty() {
        "(the base)".to_string()
    } else {
        words.join(", ")
    }
}
