//! The study folder: what a study writes and reads back, whichever executor
//! runs it.
//!
//! ```text
//! DIR/study.toml          the spec as it was given
//! DIR/sweep.json          the plan: the working folder, every run with its condition and estimate, each submission
//! DIR/configs/NAME.toml   a run's settings (a chain's as `collapse run --config` reads them)
//! DIR/runs/NAME/          the run's folder (a chain's run folder)
//! DIR/logs/NAME.log       what the run printed (local executor)
//! DIR/logs/NAME.error     the error line of its last failed attempt
//! DIR/logs/slurm-J_T.out  what an array task printed (Slurm executor)
//! DIR/sweep.sbatch        the job array script
//! DIR/report/             the study's report
//! DIR/.lock               held while a process plans and runs the study
//! ```

use std::path::{Path, PathBuf};

use collapse_records::lock;
use collapse_records::{Footprint, RunFolder, read_json, write_json};
use serde::{Deserialize, Serialize};

use crate::error::StudyError;
use crate::spec::{PlannedRun, StudySpec};

/// File names of the study folder.
pub const SPEC: &str = "study.toml";
/// The plan.
pub const PLAN: &str = "sweep.json";
/// The Slurm script.
pub const SBATCH: &str = "sweep.sbatch";

/// One run of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its folder name under `runs/`.
    pub name: String,
    /// Its condition without the seed.
    pub group: String,
    /// The settings its condition varies.
    pub varied: serde_json::Value,
    /// Synthetic generations it runs after generation 0.
    pub generations: usize,
    /// Its estimated disk and time.
    pub estimate: Footprint,
}

/// One `sbatch` of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Slurm's job id of the array.
    pub job_id: String,
    /// The array's task ids, each an index into the plan's runs.
    pub tasks: Vec<usize>,
    /// When it was submitted (RFC 3339).
    pub submitted: String,
}

/// `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The study's name.
    pub study: String,
    /// The spec file it was planned from.
    pub spec: PathBuf,
    /// The folder every run runs in, where relative paths in its settings
    /// (and the default `datasets/NAME`) start: the one the study was first run from.
    pub workdir: PathBuf,
    /// Every run, in the spec's order (an array task's id is its index here).
    pub runs: Vec<RunRecord>,
    /// Each submission to Slurm, oldest first.
    #[serde(default)]
    pub submissions: Vec<Submission>,
}

impl Plan {
    /// The job ids of its submissions, oldest first.
    pub fn job_ids(&self) -> Vec<String> {
        self.submissions.iter().map(|s| s.job_id.clone()).collect()
    }
}

/// A study folder.
#[derive(Clone, Debug)]
pub struct StudyFolder {
    /// Its path.
    pub dir: PathBuf,
}

/// Where a run of the study stands, from its folder.
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// No generation done and nothing running.
    NotStarted,
    /// A process writes it.
    Running(lock::Holder),
    /// Stopped with generations still to do, with no error recorded
    /// (killed, cancelled or preempted): it continues where it stopped.
    Interrupted,
    /// Its last attempt failed with this error line.
    Failed(String),
    /// Every generation done.
    Complete,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunState::NotStarted => f.write_str("not started"),
            RunState::Running(holder) => write!(f, "running ({holder})"),
            RunState::Interrupted => f.write_str("interrupted"),
            RunState::Failed(line) => write!(f, "failed: {line}"),
            RunState::Complete => f.write_str("complete"),
        }
    }
}

/// A run's state and progress.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStatus {
    /// Where it stands.
    pub state: RunState,
    /// Generations complete (generation 0 included).
    pub done: usize,
    /// Generations it runs (generation 0 included).
    pub total: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StudyError + '_ {
    move |e| StudyError::io(path, e)
}

impl StudyFolder {
    /// The study folder at `dir`.
    pub fn new(dir: &Path) -> StudyFolder {
        StudyFolder {
            dir: dir.to_path_buf(),
        }
    }

    /// A run's folder.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.dir.join("runs").join(name)
    }

    /// Holds the folder for this process while it plans and runs the study,
    /// through the run folders' one lifecycle: a new study folder is created
    /// with its lock, one that holds a study is reopened (what a killed
    /// write left removed); refused while another process holds it.
    pub fn hold(&self) -> Result<RunFolder, StudyError> {
        Ok(match self.dir.join(PLAN).is_file() {
            true => RunFolder::reopen(&self.dir)?.0,
            false => RunFolder::create(&self.dir)?,
        })
    }

    /// The folders under `runs/`, whichever plan made them.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("runs")) else {
            return Vec::new();
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    }

    /// A run's config file.
    pub fn config_file(&self, name: &str) -> PathBuf {
        self.dir.join("configs").join(format!("{name}.toml"))
    }

    /// A run's log (local executor).
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// The error line of a run's last failed attempt.
    fn error_file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.error"))
    }

    /// Records `line` as run `name`'s failure, which its status shows until its next attempt.
    pub fn record_failure(&self, name: &str, line: &str) -> Result<(), StudyError> {
        write_atomic(&self.error_file(name), format!("{line}\n").as_bytes())
    }

    /// The error line of run `name`'s last attempt, if it failed.
    pub fn failure(&self, name: &str) -> Option<String> {
        let line = std::fs::read_to_string(self.error_file(name)).ok()?;
        Some(line.trim().to_string())
    }

    /// Forgets run `name`'s last failure, as its next attempt starts.
    pub fn clear_failure(&self, name: &str) {
        let _ = std::fs::remove_file(self.error_file(name));
    }

    /// The plan, if the folder holds a study.
    pub fn plan(&self) -> Result<Plan, StudyError> {
        let path = self.dir.join(PLAN);
        if !path.is_file() {
            return Err(self.refused(format!(
                "not a study folder (no {PLAN}); start one with collapse sweep run"
            )));
        }
        Ok(read_json(&path)?)
    }

    /// Writes the study's plan and each run's config file, run from
    /// `workdir`. A folder that already holds the study keeps its working
    /// folder, its submissions and its runs' places in the plan (an array
    /// task's id is its run's place), new runs coming after them; one whose
    /// runs were planned with other settings, or that holds a run the spec no
    /// longer has, is refused before anything is written.
    pub fn write_plan(
        &self,
        spec: &StudySpec,
        runs: Vec<(PlannedRun, RunRecord)>,
        workdir: &Path,
    ) -> Result<Plan, StudyError> {
        let (plan, runs) = self.placed(spec, runs, workdir)?;
        self.refuse_changed(&runs)?;
        for sub in ["configs", "runs", "logs"] {
            let path = self.dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        write_atomic(&self.dir.join(SPEC), spec.text.as_bytes())?;
        for run in &runs {
            write_atomic(
                &self.config_file(&run.name),
                config_text(spec, run).as_bytes(),
            )?;
        }
        write_json(&self.dir.join(PLAN), &plan)?;
        Ok(plan)
    }

    /// The plan of `runs`, in their places, and the runs in the same order:
    /// where the folder holds a plan, its working folder, its submissions and
    /// its runs first, in their order; else `workdir`, none and `runs` as given.
    fn placed(
        &self,
        spec: &StudySpec,
        mut runs: Vec<(PlannedRun, RunRecord)>,
        workdir: &Path,
    ) -> Result<(Plan, Vec<PlannedRun>), StudyError> {
        let mut plan = Plan {
            study: spec.name.clone(),
            spec: spec.file.clone(),
            workdir: workdir.to_path_buf(),
            runs: Vec::new(),
            submissions: Vec::new(),
        };
        if self.dir.join(PLAN).is_file() {
            let old = self.plan()?;
            let mut placed = Vec::with_capacity(runs.len());
            for name in old.runs.iter().map(|r| &r.name) {
                let Some(at) = runs.iter().position(|(p, _)| &p.name == name) else {
                    return Err(self.refused(format!(
                        "holds the run {name}, which the spec no longer has; choose another --out"
                    )));
                };
                placed.push(runs.remove(at));
            }
            placed.extend(runs);
            runs = placed;
            plan.workdir = old.workdir;
            plan.submissions = old.submissions;
        } else {
            self.refuse_other_contents()?;
        }
        let (runs, records) = runs.into_iter().unzip();
        plan.runs = records;
        Ok((plan, runs))
    }

    /// Refuses runs whose config file in the folder holds other settings.
    fn refuse_changed(&self, runs: &[PlannedRun]) -> Result<(), StudyError> {
        for run in runs {
            let path = self.config_file(&run.name);
            let old = std::fs::read_to_string(&path).ok();
            if old
                .is_some_and(|old| old.parse::<toml::Table>().ok().as_ref() != Some(&run.settings))
            {
                return Err(self.refused(format!(
                    "holds a study whose run {} has other settings ({}); choose another --out",
                    run.name,
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// The folder refused for `reason`.
    fn refused(&self, reason: String) -> StudyError {
        StudyError::Folder {
            dir: self.dir.clone(),
            reason,
        }
    }

    /// Refuses a non-empty folder that holds no study.
    fn refuse_other_contents(&self) -> Result<(), StudyError> {
        // The study's own lock is the one file a new study folder holds.
        let empty = std::fs::read_dir(&self.dir).map_or(true, |e| {
            e.filter_map(Result::ok)
                .all(|e| e.file_name() == lock::LOCK)
        });
        if empty {
            return Ok(());
        }
        Err(self.refused("is not empty and holds no study; choose another --out".to_string()))
    }

    /// Writes `script` as the folder's `sweep.sbatch`, submitting nothing.
    pub fn write_script(&self, script: &str) -> Result<PathBuf, StudyError> {
        let path = self.dir.join(SBATCH);
        write_atomic(&path, script.as_bytes())?;
        Ok(path)
    }

    /// Submits `script`, the job array of `tasks`, with `sbatch` and records
    /// the submission in the plan; returns the job id. The script is
    /// submitted from a new name and replaces `sweep.sbatch` only once sbatch
    /// takes it, so a refused job leaves the folder as it was.
    pub fn submit(&self, script: &str, tasks: &[usize]) -> Result<String, StudyError> {
        let pending = self.dir.join(format!(".{SBATCH}.pending"));
        write_atomic(&pending, script.as_bytes())?;
        let job_id = match crate::slurm::submit(&pending) {
            Ok(id) => id,
            Err(e) => {
                let _ = std::fs::remove_file(&pending);
                return Err(e);
            }
        };
        let path = self.dir.join(SBATCH);
        std::fs::rename(&pending, &path).map_err(io(&path))?;
        let mut plan = self.plan()?;
        plan.submissions.push(Submission {
            job_id: job_id.clone(),
            tasks: tasks.to_vec(),
            submitted: collapse_records::time::now_rfc3339(),
        });
        write_json(&self.dir.join(PLAN), &plan)?;
        Ok(job_id)
    }

    /// Where run `run` stands.
    pub fn status(&self, run: &RunRecord) -> RunStatus {
        let dir = self.run_dir(&run.name);
        let total = run.generations + 1;
        let finished =
            collapse_records::read_manifest::<RunHeader>(&dir).is_ok_and(|m| m.finished.is_some());
        // A chain marks each generation complete; a theory run is done when
        // finished, the mixture fit as far as its checkpoint before.
        let done = match finished {
            true => total,
            false => collapse_records::complete_generations(&dir)
                .max(collapse_theory::gmm::checkpointed(&dir)),
        };
        let state = if let Some(holder) = lock::holder(&dir) {
            RunState::Running(holder)
        } else if done >= total && finished {
            RunState::Complete
        } else if let Some(line) = self.failure(&run.name) {
            RunState::Failed(line)
        } else if done > 0 || dir.join("manifest.json").is_file() {
            RunState::Interrupted
        } else {
            RunState::NotStarted
        };
        RunStatus { state, done, total }
    }
}

/// What the study reads of any run's manifest.
#[derive(Deserialize)]
struct RunHeader {
    finished: Option<String>,
}

/// A run's config file: the study's name and condition as comments, then its settings.
fn config_text(spec: &StudySpec, run: &PlannedRun) -> String {
    let settings = toml::to_string(&run.settings).expect("a TOML table serialises");
    format!(
        "# Run {} of the study {}: {}\n{settings}",
        run.name,
        spec.name,
        crate::spec::words(&run.varied)
    )
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StudyError> {
    collapse_records::atomic::write(path, bytes).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time_holds_a_study_folder_through_its_lifecycle() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("study");
        let folder = StudyFolder::new(&dir);
        let held = folder.hold().unwrap();
        assert!(
            matches!(folder.hold(), Err(StudyError::Held(_))),
            "a second writer is refused"
        );
        folder.refuse_other_contents().unwrap();
        let spec = StudySpec::parse(Path::new("s.toml"), "[axes]\nseed = [1]\n").unwrap();
        let runs = spec
            .runs()
            .unwrap()
            .into_iter()
            .map(|run| {
                let record = RunRecord {
                    name: run.name.clone(),
                    group: run.group.clone(),
                    varied: serde_json::Value::Null,
                    generations: 1,
                    estimate: Footprint {
                        bytes: 1,
                        seconds: 1.0,
                    },
                };
                (run, record)
            })
            .collect();
        folder.write_plan(&spec, runs, tmp.path()).unwrap();
        std::fs::write(dir.join("sweep.json.tmp-7"), "half").unwrap();
        drop(held);
        let _again = folder.hold().unwrap();
        assert!(
            !dir.join("sweep.json.tmp-7").exists(),
            "reopening removes what a killed write left"
        );
        assert_eq!(folder.plan().unwrap().runs[0].name, "seed-1");
    }
}
