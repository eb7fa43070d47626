//! The study spec: one TOML file with a base run configuration (keyed as
//! `collapse run --config` files are) and the conditions to vary over it.
//!
//! ```toml
//! [study]
//! name = "replace-or-accumulate"    # optional; the file's stem by default
//!
//! [base]                            # settings every run shares
//! preset = "quick"
//! generations = 3
//!
//! [axes]                            # the study is the product of the axes
//! mode = ["replace", "accumulate"]
//! seed = [1, 2, 3]
//!
//! [[conditions]]                    # or an explicit list (each one times the axes)
//! real_fraction = 0.1
//!
//! [slurm]                           # resources of each array task
//! partition = "gpu"
//! time = "02:00:00"
//! ```
//!
//! Each run's folder name is derived from its condition alone (its varied
//! settings, sorted by key), so the same spec always maps to the same folders.

use std::path::{Path, PathBuf};

use collapse_records::Experiment;
use toml::{Table, Value};

use crate::error::StudyError;

/// An external model's commands: a condition that sets them names the model.
const COMMANDS: [&str; 2] = ["external_train", "external_sample"];
/// The setting that names an external model.
const EXTERNAL_NAME: &str = "external_name";

/// Settings that the study decides for each run, so a spec may not set them.
const DECIDED_BY_THE_STUDY: [&str; 5] = ["out", "seeds", "resume", "config", "force"];

/// A parsed study spec.
#[derive(Clone, Debug, PartialEq)]
pub struct StudySpec {
    /// The spec file.
    pub file: PathBuf,
    /// The study's name.
    pub name: String,
    /// What each run runs: a chain (the default) or a theory experiment.
    pub experiment: Experiment,
    /// The file's text, kept with the study.
    pub text: String,
    /// Settings every run shares.
    pub base: Table,
    /// Each axis: a setting and its values, in the file's order.
    pub axes: Vec<(String, Vec<Value>)>,
    /// The explicit conditions (none: the axes alone).
    pub conditions: Vec<Table>,
    /// The spec's Slurm resources.
    pub slurm: SlurmResources,
}

/// What each Slurm array task asks for, as a spec's `[slurm]` table and as
/// flags; unset fields are the cluster's defaults.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct SlurmResources {
    /// Slurm partition.
    #[cfg_attr(feature = "clap", arg(long))]
    pub partition: Option<String>,
    /// Slurm account.
    #[cfg_attr(feature = "clap", arg(long))]
    pub account: Option<String>,
    /// Slurm quality of service.
    #[cfg_attr(feature = "clap", arg(long))]
    pub qos: Option<String>,
    /// Time limit of each task (Slurm's formats: MM, HH:MM:SS, D-HH).
    #[cfg_attr(feature = "clap", arg(long))]
    pub time: Option<String>,
    /// CPUs of each task, and its run's --threads.
    #[cfg_attr(feature = "clap", arg(long))]
    pub cpus: Option<u32>,
    /// GPUs of each task.
    #[cfg_attr(feature = "clap", arg(long))]
    pub gpus: Option<u32>,
    /// Memory of each task (4G, 16000M).
    #[cfg_attr(feature = "clap", arg(long))]
    pub mem: Option<String>,
    /// The most tasks running at once (the array's %N).
    #[cfg_attr(feature = "clap", arg(long))]
    pub throttle: Option<u32>,
    /// Further `#SBATCH` options, as sbatch takes them (`--constraint=a100`);
    /// the spec's only.
    #[serde(default)]
    #[cfg_attr(feature = "clap", arg(skip))]
    pub options: Vec<String>,
}

impl SlurmResources {
    /// These resources over `base`'s: each one given here replaces base's.
    pub fn over(&self, base: &SlurmResources) -> SlurmResources {
        collapse_chain::settings::overlay(self, base)
    }
}

/// A spec file as its types read it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    study: StudyTable,
    #[serde(default)]
    base: Table,
    #[serde(default)]
    axes: Table,
    conditions: Option<Vec<Table>>,
    #[serde(default)]
    slurm: SlurmResources,
}

/// `[study]`.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyTable {
    name: Option<String>,
    experiment: Option<Experiment>,
}

/// One run of a study.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// Its folder's name, from its condition.
    pub name: String,
    /// The condition without its seed: the runs that differ only in seed share it.
    pub group: String,
    /// The settings its condition varies.
    pub varied: Table,
    /// Its whole configuration: the base with the varied settings over it.
    pub settings: Table,
}

impl StudySpec {
    /// Reads and checks the spec in `file`.
    pub fn read(file: &Path) -> Result<StudySpec, StudyError> {
        let text = std::fs::read_to_string(file).map_err(|e| StudyError::io(file, e))?;
        StudySpec::parse(file, &text)
    }

    /// Parses the spec `text` of `file`: the sections and the Slurm
    /// resources by their types (a wrong key or kind named with its line),
    /// then what the types cannot say (empty axes, repeated values, settings
    /// the study decides, a key set twice).
    pub fn parse(file: &Path, text: &str) -> Result<StudySpec, StudyError> {
        let parsed: SpecFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            let at = line.map_or(String::new(), |n| format!("line {n}"));
            StudyError::spec(file, at, e.message().trim())
        })?;
        let name = match parsed.study.name {
            None => file
                .file_stem()
                .map_or("study".to_string(), |s| s.to_string_lossy().into_owned()),
            Some(name) if !name.trim().is_empty() => name,
            Some(_) => {
                return Err(StudyError::spec(
                    file,
                    "study.name",
                    "expected a non-empty name",
                ));
            }
        };
        check_settings(file, "base", &parsed.base)?;
        let axes = read_axes(file, &parsed.axes)?;
        let conditions = read_conditions(file, parsed.conditions, &axes)?;
        check_slurm(file, &parsed.slurm)?;
        Ok(StudySpec {
            file: file.to_path_buf(),
            name,
            experiment: parsed.study.experiment.unwrap_or(Experiment::Chain),
            text: text.to_string(),
            base: parsed.base,
            axes,
            conditions,
            slurm: parsed.slurm,
        })
    }

    /// The study that `--seeds` runs: `base` settings of `experiment` under
    /// each of `seeds`, one axis, named `name` and kept as `file`. Its text is
    /// a spec like any other, so `collapse sweep` reads and continues it.
    pub fn of_seeds(
        file: &Path,
        name: &str,
        experiment: Experiment,
        base: &Table,
        seeds: &[u64],
    ) -> Result<StudySpec, StudyError> {
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        let text = format!(
            "# One setting under several seeds, as `--seeds` ran it.\n[study]\nname = {}\nexperiment = {}\n\n[base]\n{}\n[axes]\nseed = [{}]\n",
            Value::String(name.to_string()),
            Value::String(experiment.key().to_string()),
            toml::to_string(base).expect("a TOML table serialises"),
            seeds.join(", ")
        );
        StudySpec::parse(file, &text)
    }

    /// Every run of the study: each condition (or the base alone) times the
    /// product of the axes, the first axis varying slowest. Refuses two runs
    /// whose conditions map to one folder.
    pub fn runs(&self) -> Result<Vec<PlannedRun>, StudyError> {
        let mut varied: Vec<Table> = if self.conditions.is_empty() {
            vec![Table::new()]
        } else {
            self.conditions.clone()
        };
        for (key, values) in &self.axes {
            varied = varied
                .iter()
                .flat_map(|v| {
                    values.iter().map(move |value| {
                        let mut one = v.clone();
                        one.insert(key.clone(), value.clone());
                        one
                    })
                })
                .collect();
        }
        let mut runs: Vec<PlannedRun> = Vec::with_capacity(varied.len());
        for v in varied {
            if let Some(key) = COMMANDS.iter().find(|k| v.contains_key(**k))
                && !v.contains_key(EXTERNAL_NAME)
            {
                return Err(StudyError::spec(
                    &self.file,
                    *key,
                    format!(
                        "a condition that sets an external model's commands names the model for its folder too ({EXTERNAL_NAME} = \"…\")"
                    ),
                ));
            }
            let run = PlannedRun::new(&self.base, v);
            if let Some(other) = runs.iter().find(|r| r.name == run.name) {
                return Err(StudyError::SameFolder {
                    file: self.file.clone(),
                    name: run.name.clone(),
                    first: words(&other.varied),
                    second: words(&run.varied),
                });
            }
            runs.push(run);
        }
        Ok(runs)
    }
}

impl PlannedRun {
    fn new(base: &Table, varied: Table) -> PlannedRun {
        let mut settings = base.clone();
        for (k, v) in &varied {
            settings.insert(k.clone(), v.clone());
        }
        // A named external model's folder carries its name, not its commands.
        let named = varied.contains_key(EXTERNAL_NAME);
        let mut keys: Vec<&String> = varied
            .keys()
            .filter(|k| !(named && COMMANDS.contains(&k.as_str())))
            .collect();
        keys.sort_by_key(|k| flag_name(k));
        let part = |k: &&String| format!("{}-{}", flag_name(k), folder_value(&varied[k.as_str()]));
        let name = keys.iter().map(part).collect::<Vec<_>>().join("_");
        let group = keys
            .iter()
            .filter(|k| flag_name(k) != "seed")
            .map(part)
            .collect::<Vec<_>>()
            .join("_");
        PlannedRun {
            name: if name.is_empty() {
                "base".to_string()
            } else {
                name
            },
            group: if group.is_empty() {
                "all".to_string()
            } else {
                group
            },
            varied,
            settings,
        }
    }
}

/// A key in the flags' spelling (`real_fraction` is `real-fraction`).
pub fn flag_name(key: &str) -> String {
    key.replace('_', "-")
}

/// A value as a folder name spells it: letters, digits, `.`, `+` and `-`;
/// a list's items joined by `x` (`512x256`).
fn folder_value(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(folder_value).collect::<Vec<_>>().join("x"),
        v => v.to_string(),
    };
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".+-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A condition in words: `mode = "replace", seed = 1`.
pub fn words(varied: &Table) -> String {
    if varied.is_empty() {
        return "(the base)".to_string();
    }
    varied
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses the settings the study decides for its runs.
fn check_settings(file: &Path, section: &str, table: &Table) -> Result<(), StudyError> {
    match table
        .keys()
        .find(|k| DECIDED_BY_THE_STUDY.contains(&flag_name(k).as_str()))
    {
        Some(key) => Err(StudyError::spec(
            file,
            format!("{section}.{key}"),
            "is decided by the study for each run (vary the seed with an axis `seed = [1, 2]`)",
        )),
        None => Ok(()),
    }
}

fn read_axes(file: &Path, axes: &Table) -> Result<Vec<(String, Vec<Value>)>, StudyError> {
    check_settings(file, "axes", axes)?;
    axes.iter()
        .map(|(key, value)| {
            let at = format!("axes.{key}");
            let Value::Array(values) = value else {
                return Err(StudyError::spec(
                    file,
                    at,
                    format!("expected a list of values, got {}", value.type_str()),
                ));
            };
            if values.is_empty() {
                return Err(StudyError::spec(file, at, "an empty axis gives no runs"));
            }
            if let Some(i) = (1..values.len()).find(|&i| values[..i].contains(&values[i])) {
                return Err(StudyError::spec(
                    file,
                    at,
                    format!("{} is given twice", values[i]),
                ));
            }
            Ok((key.clone(), values.clone()))
        })
        .collect()
}

fn read_conditions(
    file: &Path,
    items: Option<Vec<Table>>,
    axes: &[(String, Vec<Value>)],
) -> Result<Vec<Table>, StudyError> {
    let Some(items) = items else {
        return Ok(Vec::new());
    };
    if items.is_empty() {
        return Err(StudyError::spec(
            file,
            "conditions",
            "an empty list gives no runs",
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("conditions[{i}]");
            check_settings(file, &at, &t)?;
            if let Some((key, _)) = axes.iter().find(|(k, _)| t.contains_key(k)) {
                return Err(StudyError::spec(
                    file,
                    format!("{at}.{key}"),
                    "is also an axis; set it in one place",
                ));
            }
            Ok(t)
        })
        .collect()
}

/// Refuses `[slurm]` values its types allow but Slurm does not: empty
/// names, counts below what a task needs, options that are not options.
fn check_slurm(file: &Path, slurm: &SlurmResources) -> Result<(), StudyError> {
    let refuse = |key: &str, reason: String| StudyError::spec(file, format!("slurm.{key}"), reason);
    let texts = [
        ("partition", &slurm.partition),
        ("account", &slurm.account),
        ("qos", &slurm.qos),
        ("time", &slurm.time),
        ("mem", &slurm.mem),
    ];
    for (key, value) in texts {
        if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
            return Err(refuse(key, "expected a non-empty string".to_string()));
        }
    }
    for (key, value, least) in [
        ("cpus", slurm.cpus, 1),
        ("gpus", slurm.gpus, 0),
        ("throttle", slurm.throttle, 1),
    ] {
        if let Some(n) = value.filter(|&n| n < least) {
            return Err(refuse(
                key,
                format!("expected a whole number of at least {least}, got {n}"),
            ));
        }
    }
    match slurm
        .options
        .iter()
        .find(|o| !o.starts_with('-') || o.contains('\n'))
    {
        Some(o) => Err(refuse(
            "options",
            format!("expected sbatch options such as \"--constraint=a100\", got {o:?}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<StudySpec, StudyError> {
        StudySpec::parse(Path::new("study.toml"), text)
    }

    #[test]
    fn seeds_are_a_study_of_one_axis_that_reads_back_as_a_spec() {
        let base: Table = "epochs = 2\nmode = \"accumulate\"\n".parse().unwrap();
        let file = Path::new("out/study.toml");
        let spec = StudySpec::of_seeds(file, "out", Experiment::Gmm, &base, &[3, 1]).unwrap();
        assert_eq!(spec.experiment, Experiment::Gmm);
        assert_eq!(spec.name, "out");
        assert_eq!(spec.base, base);
        let runs = spec.runs().unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["seed-3", "seed-1"]);
        assert!(runs.iter().all(|r| r.group == "all"));
        assert_eq!(StudySpec::parse(file, &spec.text).unwrap(), spec);
        let err = StudySpec::of_seeds(file, "out", Experiment::Chain, &base, &[2, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "out/study.toml: axes.seed: 2 is given twice"
        );
    }

    #[test]
    fn flags_given_replace_the_specs_resources_and_keep_its_options() {
        let file = SlurmResources {
            partition: Some("cpu".into()),
            time: Some("01:00:00".into()),
            cpus: Some(4),
            options: vec!["--constraint=a100".into()],
            ..SlurmResources::default()
        };
        let flags = SlurmResources {
            partition: Some("gpu".into()),
            gpus: Some(1),
            ..SlurmResources::default()
        };
        let merged = flags.over(&file);
        assert_eq!(merged.partition.as_deref(), Some("gpu"));
        assert_eq!(merged.time.as_deref(), Some("01:00:00"));
        assert_eq!((merged.cpus, merged.gpus), (Some(4), Some(1)));
        assert_eq!(merged.options, ["--constraint=a100"]);
    }

    fn err(text: &str) -> String {
        match spec(text).and_then(|s| s.runs()) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_study_is_the_product_of_the_axes_with_stable_names() {
        let s = spec(
            "[base]\npreset = \"quick\"\nepochs = 1\n[axes]\nmode = [\"replace\", \"accumulate\"]\nseed = [1, 2]\n",
        )
        .unwrap();
        assert_eq!(s.name, "study");
        let runs = s.runs().unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mode-replace_seed-1",
                "mode-replace_seed-2",
                "mode-accumulate_seed-1",
                "mode-accumulate_seed-2"
            ]
        );
        assert_eq!(runs[1].group, "mode-replace");
        assert_eq!(runs[2].settings["epochs"].as_integer(), Some(1));
        assert_eq!(runs[2].settings["mode"].as_str(), Some("accumulate"));
        // The same spec in another order of keys maps to the same folders.
        let swapped =
            spec("[axes]\nseed = [1, 2]\nmode = [\"replace\", \"accumulate\"]\n").unwrap();
        let mut a: Vec<String> = swapped
            .runs()
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        let mut b: Vec<String> = runs.into_iter().map(|r| r.name).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn explicit_conditions_times_the_axes() {
        let s = spec(
            "[study]\nname = \"mix\"\n[[conditions]]\nreal_fraction = 0.1\n[[conditions]]\nmode = \"accumulate\"\nhidden = [512, 256]\n[axes]\nseed = [7]\n[slurm]\ntime = \"01:00:00\"\ncpus = 4\nthrottle = 2\n",
        )
        .unwrap();
        assert_eq!(s.name, "mix");
        assert_eq!(s.slurm.cpus, Some(4));
        let runs = s.runs().unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "real-fraction-0.1_seed-7",
                "hidden-512x256_mode-accumulate_seed-7"
            ]
        );
        assert_eq!(runs[0].group, "real-fraction-0.1");
        assert_eq!(
            spec("[base]\nepochs = 2\n").unwrap().runs().unwrap()[0].name,
            "base"
        );
    }

    #[test]
    fn an_external_models_folder_carries_its_name_and_its_settings_its_commands() {
        let model = "external_name = \"ppca\"\nexternal_train = \"python3 ppca.py train --data {train} --out {model_dir}\"\nexternal_sample = \"python3 ppca.py sample --model {model_dir} --count {count} --out {samples}\"\n";
        let s = spec(&format!(
            "[[conditions]]\n[[conditions]]\n{model}[axes]\nseed = [1]\n"
        ))
        .unwrap();
        let runs = s.runs().unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["seed-1", "external-name-ppca_seed-1"]);
        assert_eq!(runs[1].group, "external-name-ppca");
        assert_eq!(
            runs[1].settings["external_train"].as_str(),
            Some("python3 ppca.py train --data {train} --out {model_dir}")
        );
        let unnamed = model.replace("external_name = \"ppca\"\n", "");
        let e = spec(&format!("[[conditions]]\n{unnamed}"))
            .unwrap()
            .runs()
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("external_train: a condition that sets an external model's commands names the model for its folder too (external_name = \"…\")"),
            "{e}"
        );
        // Commands in the base name no folder, so they need no name.
        let base = spec(&format!("[base]\n{unnamed}[axes]\nseed = [1, 2]\n")).unwrap();
        assert_eq!(base.runs().unwrap()[1].name, "seed-2");
    }

    #[test]
    fn bad_specs_name_the_file_and_the_key() {
        assert_eq!(
            err("[axes]\nmode = []\n"),
            "study.toml: axes.mode: an empty axis gives no runs"
        );
        assert_eq!(
            err("[axes]\nseed = 3\n"),
            "study.toml: axes.seed: expected a list of values, got integer"
        );
        assert!(
            err("[bases]\n").starts_with("study.toml: line 1: unknown field `bases`"),
            "{}",
            err("[bases]\n")
        );
        assert!(
            err("[study]\nname = 3\n").starts_with("study.toml: line 2: invalid type: integer"),
            "{}",
            err("[study]\nname = 3\n")
        );
        assert!(
            err("[base]\nout = \"x\"\n")
                .starts_with("study.toml: base.out: is decided by the study")
        );
        assert!(
            err("[axes]\nseeds = [[1, 2]]\n").starts_with("study.toml: axes.seeds: is decided")
        );
        assert_eq!(
            err("[axes]\nseed = [1, 1]\n"),
            "study.toml: axes.seed: 1 is given twice"
        );
        assert_eq!(
            err("[axes]\nmode = [\"a/b\", \"a-b\"]\n"),
            "study.toml: conditions mode = \"a/b\" and mode = \"a-b\" both map to the run folder mode-a-b"
        );
        assert!(
            err("[[conditions]]\nseed = 1\n[axes]\nseed = [2]\n")
                .contains("conditions[0].seed: is also an axis")
        );
        assert!(
            err("[slurm]\ncpus = 0\n")
                .contains("slurm.cpus: expected a whole number of at least 1")
        );
        assert!(
            err("[slurm]\nnodes = 2\n").contains("line 2: unknown field `nodes`"),
            "{}",
            err("[slurm]\nnodes = 2\n")
        );
        assert!(
            err("[slurm]\noptions = [\"x\"]\n").contains("slurm.options: expected sbatch options")
        );
        assert!(err("[base\n").starts_with("study.toml: "));
    }
}
