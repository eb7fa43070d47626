//! Executors: where a study's runs run. Each run is one `collapse sweep task`
//! of the study folder, started here (`Local`, a few processes at a time),
//! in this process one after another (`InProcess`, for `collapse run
//! --seeds`), or by Slurm as one task of a job array (`Slurm`).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::StudyError;
use crate::folder::{Plan, StudyFolder};
use crate::slurm::{self, ArrayJob};
use crate::spec::SlurmResources;

/// Runs, or hands on, the runs `todo` (indices into `plan.runs`) of the
/// study in `folder`.
pub trait Executor {
    /// Runs or submits `todo`.
    fn execute(
        &self,
        folder: &StudyFolder,
        plan: &Plan,
        todo: &[usize],
    ) -> Result<Executed, StudyError>;
}

/// What an executor did.
#[derive(Clone, Debug, PartialEq)]
pub enum Executed {
    /// The runs ran here; those that failed, by name.
    Ran {
        /// The runs that failed.
        failed: Vec<String>,
    },
    /// The runs were submitted as one job array.
    Submitted {
        /// Slurm's job id.
        job_id: String,
        /// Its task ids.
        tasks: Vec<usize>,
    },
    /// The job script was written and not submitted.
    Written {
        /// The script.
        script: PathBuf,
        /// Its task ids.
        tasks: Vec<usize>,
    },
    /// Every run is complete, running or queued: nothing was submitted.
    Nothing,
}

/// What happened to a run that ran on this machine.
#[derive(Clone, Debug, PartialEq)]
pub enum LocalEvent<'a> {
    /// The run completed.
    Complete(&'a str),
    /// The run failed, with its error line.
    Failed(&'a str, &'a str),
}

/// Runs the study's runs on this machine, `jobs` at a time, each a process of
/// `binary` on `threads` threads with its output in the run's log.
pub struct Local<'a> {
    /// The `collapse` binary.
    pub binary: PathBuf,
    /// Runs at a time.
    pub jobs: usize,
    /// Threads of each run.
    pub threads: usize,
    /// Told of each run as it ends.
    pub on_event: &'a (dyn Fn(LocalEvent<'_>) + Sync),
}

impl Executor for Local<'_> {
    fn execute(
        &self,
        folder: &StudyFolder,
        plan: &Plan,
        todo: &[usize],
    ) -> Result<Executed, StudyError> {
        let next = AtomicUsize::new(0);
        let failed = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(todo.len()) {
                scope.spawn(|| {
                    while let Some(&i) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                        let name = &plan.runs[i].name;
                        match self.task(folder, i, name) {
                            Ok(()) => (self.on_event)(LocalEvent::Complete(name)),
                            Err(line) => {
                                (self.on_event)(LocalEvent::Failed(name, &line));
                                failed.lock().expect("no panics hold it").push(name.clone());
                            }
                        }
                    }
                });
            }
        });
        let failed = failed.into_inner().expect("no panics hold it");
        Ok(Executed::Ran { failed })
    }
}

impl Local<'_> {
    /// One `collapse sweep task` process; its error line where it fails.
    fn task(&self, folder: &StudyFolder, index: usize, name: &str) -> Result<(), String> {
        let log_path = folder.log_file(name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let status = Command::new(&self.binary)
            .arg("--threads")
            .arg(self.threads.to_string())
            .args(["sweep", "task"])
            .arg(&folder.dir)
            .arg(index.to_string())
            .stdout(log)
            .stderr(err_log)
            .status()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        if status.success() {
            return Ok(());
        }
        Err(folder
            .failure(name)
            .unwrap_or_else(|| format!("exited with {status}; see {}", log_path.display())))
    }
}

/// Runs the study's runs in this process, one after another, each through
/// `task`, so that its progress reaches this process's terminal.
pub struct InProcess<'a> {
    /// Runs run `i` of the plan, as `collapse sweep task` does; its error line where it fails.
    pub task: &'a dyn Fn(usize) -> Result<(), String>,
    /// Told of each run as it ends.
    pub on_event: &'a dyn Fn(LocalEvent<'_>),
}

impl Executor for InProcess<'_> {
    fn execute(
        &self,
        _folder: &StudyFolder,
        plan: &Plan,
        todo: &[usize],
    ) -> Result<Executed, StudyError> {
        let mut failed = Vec::new();
        for &i in todo {
            let name = &plan.runs[i].name;
            match (self.task)(i) {
                Ok(()) => (self.on_event)(LocalEvent::Complete(name)),
                Err(line) => {
                    (self.on_event)(LocalEvent::Failed(name, &line));
                    failed.push(name.clone());
                }
            }
        }
        Ok(Executed::Ran { failed })
    }
}

/// Submits the study's runs to Slurm as one job array of `binary`'s tasks.
pub struct Slurm {
    /// The `collapse` binary the tasks run.
    pub binary: PathBuf,
    /// What each task asks for.
    pub resources: SlurmResources,
    /// Write the script without submitting it.
    pub dry_run: bool,
}

impl Executor for Slurm {
    fn execute(
        &self,
        folder: &StudyFolder,
        plan: &Plan,
        todo: &[usize],
    ) -> Result<Executed, StudyError> {
        let job_ids = plan.job_ids();
        let queued = match (self.dry_run, job_ids.is_empty()) {
            (false, false) => slurm::queued(&job_ids)?,
            _ => Vec::new(),
        };
        let tasks: Vec<usize> = todo
            .iter()
            .copied()
            .filter(|i| !queued.iter().any(|q| q.task == *i))
            .collect();
        if tasks.is_empty() {
            return Ok(Executed::Nothing);
        }
        let script = ArrayJob {
            study: &plan.study,
            dir: &folder.dir,
            binary: &self.binary,
            tasks: &tasks,
            resources: &self.resources,
        }
        .script();
        if self.dry_run {
            let script = folder.write_script(&script)?;
            return Ok(Executed::Written { script, tasks });
        }
        let job_id = folder.submit(&script, &tasks)?;
        Ok(Executed::Submitted { job_id, tasks })
    }
}

/// Where `dir` must be for Slurm's nodes to reach it, and that `sbatch` is
/// here unless only a script is written.
pub fn check_slurm(dir: &Path, dry_run: bool) -> Result<(), StudyError> {
    slurm::check_path(dir)?;
    if !dry_run {
        slurm::require("sbatch")?;
    }
    Ok(())
}
