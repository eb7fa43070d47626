//! A study as one Slurm job array: the script, its submission with `sbatch`,
//! and the queue's and the accounting's view of its tasks.
//!
//! Array task `i` runs (or continues) run `i` of the plan, so a task that Slurm
//! requeues or preempts continues from the run's last complete generation.

use std::path::Path;
use std::process::Command;

use crate::error::StudyError;
use crate::spec::SlurmResources;

/// One job array of a study.
#[derive(Clone, Debug)]
pub struct ArrayJob<'a> {
    /// The study's name.
    pub study: &'a str,
    /// The study folder (absolute: tasks may start anywhere).
    pub dir: &'a Path,
    /// The `collapse` binary the tasks run (absolute).
    pub binary: &'a Path,
    /// The plan's run indices it runs.
    pub tasks: &'a [usize],
    /// What each task asks for.
    pub resources: &'a SlurmResources,
}

/// `--array`'s value: runs of consecutive indices as ranges (`0-3,5,7-9`),
/// then `%N` where at most N tasks may run at once.
pub fn array_spec(tasks: &[usize], throttle: Option<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tasks.len() {
        let mut j = i;
        while j + 1 < tasks.len() && tasks[j + 1] == tasks[j] + 1 {
            j += 1;
        }
        parts.push(match j > i {
            true => format!("{}-{}", tasks[i], tasks[j]),
            false => tasks[i].to_string(),
        });
        i = j + 1;
    }
    let mut spec = parts.join(",");
    if let Some(n) = throttle {
        spec.push_str(&format!("%{n}"));
    }
    spec
}

/// A path as one word of a POSIX shell command.
fn shell_word(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Refuses a path that an `#SBATCH` line cannot carry (sbatch splits them at
/// white space and reads `%` as a pattern).
pub fn check_path(path: &Path) -> Result<(), StudyError> {
    let text = path.display().to_string();
    match text.chars().find(|c| c.is_whitespace() || *c == '%') {
        Some(c) => Err(StudyError::Slurm {
            command: "sbatch",
            reason: format!(
                "{text}: a path with {c:?} cannot be an #SBATCH --output; choose another --out"
            ),
        }),
        None => Ok(()),
    }
}

impl ArrayJob<'_> {
    /// The batch script.
    pub fn script(&self) -> String {
        let r = self.resources;
        let logs = self.dir.join("logs");
        let mut lines = vec![
            "#!/bin/bash".to_string(),
            format!(
                "# The study {}: array task i runs, or continues, run i of the plan in {}.",
                self.study,
                self.dir.display()
            ),
            format!(
                "#SBATCH --job-name=collapse-{}",
                self.study.replace(char::is_whitespace, "-")
            ),
            format!("#SBATCH --array={}", array_spec(self.tasks, r.throttle)),
            format!("#SBATCH --output={}/slurm-%A_%a.out", logs.display()),
            "#SBATCH --open-mode=append".to_string(),
            "#SBATCH --requeue".to_string(),
        ];
        let mut option = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                lines.push(format!("#SBATCH --{name}={v}"));
            }
        };
        option("partition", r.partition.clone());
        option("account", r.account.clone());
        option("qos", r.qos.clone());
        option("time", r.time.clone());
        option("cpus-per-task", r.cpus.map(|n| n.to_string()));
        // Each array task is a job of one task: `--gres` asks for its GPUs on
        // every select plugin, where `--gpus-per-task` would also need `--ntasks`.
        option(
            "gres",
            r.gpus.filter(|&n| n > 0).map(|n| format!("gpu:{n}")),
        );
        option("mem", r.mem.clone());
        lines.extend(r.options.iter().map(|o| format!("#SBATCH {o}")));
        lines.push(String::new());
        // Each run's threads are the task's CPUs; without --cpus the binary uses every core it sees.
        lines.push(format!(
            "exec {} ${{SLURM_CPUS_PER_TASK:+--threads \"$SLURM_CPUS_PER_TASK\"}} sweep task {} \"$SLURM_ARRAY_TASK_ID\"",
            shell_word(self.binary),
            shell_word(self.dir)
        ));
        lines.join("\n") + "\n"
    }
}

/// The first line of a command's error output, or its exit status.
fn error_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or(format!("exited with {}", output.status), str::to_string)
}

/// Why a Slurm command cannot run here.
fn not_found(command: &'static str) -> StudyError {
    StudyError::Slurm {
        command,
        reason: "not found on PATH (run it where Slurm's commands are, or use --dry-run to only write the script)".to_string(),
    }
}

/// Refuses where `command` is not on `PATH`, before anything is written.
pub fn require(command: &'static str) -> Result<(), StudyError> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(command).is_file()));
    if on_path {
        Ok(())
    } else {
        Err(not_found(command))
    }
}

/// Runs a Slurm command, naming it in its errors.
fn slurm(command: &'static str, args: &[&str]) -> Result<String, StudyError> {
    let output = Command::new(command)
        .args(args)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(command),
            _ => StudyError::Slurm {
                command,
                reason: e.to_string(),
            },
        })?;
    if !output.status.success() {
        return Err(StudyError::Slurm {
            command,
            reason: error_line(&output),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Submits `script` with `sbatch`; returns the job id.
pub fn submit(script: &Path) -> Result<String, StudyError> {
    let path = script.display().to_string();
    let out = slurm("sbatch", &["--parsable", &path])?;
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let id = out.trim().split(';').next().unwrap_or_default().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(StudyError::Slurm {
            command: "sbatch",
            reason: format!("printed {:?} where a job id was expected", out.trim()),
        });
    }
    Ok(id)
}

/// An array task as Slurm reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// The array's job id.
    pub job_id: String,
    /// The task id (the plan's run index).
    pub task: usize,
    /// Slurm's state (`PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`, ...).
    pub state: String,
    /// Why it is pending, or its exit code (accounting), where Slurm says.
    pub detail: String,
}

/// The tasks of the arrays `job_ids` still in the queue.
pub fn queued(job_ids: &[String]) -> Result<Vec<TaskState>, StudyError> {
    // All jobs rather than `--jobs`, which fails on an id the controller has forgotten.
    let out = slurm("squeue", &["--noheader", "--array", "--format=%F|%K|%T|%r"])?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let mut parts = line.trim().split('|');
            let (job, task, state, reason) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            Some(TaskState {
                job_id: job.to_string(),
                task: task.parse().ok()?,
                state: state.to_string(),
                detail: reason.to_string(),
            })
        })
        .filter(|t| job_ids.contains(&t.job_id))
        .collect())
}

/// The tasks of the arrays `job_ids` in Slurm's accounting; `None` where the
/// cluster keeps no accounting.
pub fn accounted(job_ids: &[String]) -> Option<Vec<TaskState>> {
    if job_ids.is_empty() {
        return Some(Vec::new());
    }
    let jobs = format!("--jobs={}", job_ids.join(","));
    let out = slurm(
        "sacct",
        &[
            "--noheader",
            "--parsable2",
            &jobs,
            "--format=JobID,State,ExitCode",
        ],
    )
    .ok()?;
    Some(
        out.lines()
            .filter_map(|line| {
                let mut parts = line.trim().split('|');
                let (id, state, exit) = (parts.next()?, parts.next()?, parts.next()?);
                // Job steps (`123_4.batch`) repeat their task.
                let (job, task) = id.split_once('_')?;
                Some(TaskState {
                    job_id: job.to_string(),
                    task: task.parse().ok()?,
                    state: state.split_whitespace().next()?.to_string(),
                    detail: format!("exit {exit}"),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_ranges_with_a_throttle() {
        assert_eq!(
            array_spec(&[0, 1, 2, 3, 5, 7, 8, 9], Some(2)),
            "0-3,5,7-9%2"
        );
        assert_eq!(array_spec(&[4], None), "4");
    }

    #[test]
    fn the_script_asks_for_the_resources_and_runs_each_task() {
        let resources = SlurmResources {
            partition: Some("gpu".into()),
            time: Some("01:30:00".into()),
            cpus: Some(4),
            gpus: Some(1),
            mem: Some("16G".into()),
            throttle: Some(3),
            options: vec!["--constraint=h200".into()],
            ..SlurmResources::default()
        };
        let job = ArrayJob {
            study: "mix",
            dir: Path::new("/scratch/mix"),
            binary: Path::new("/opt/it's/collapse"),
            tasks: &[0, 1, 3],
            resources: &resources,
        };
        let script = job.script();
        for line in [
            "#SBATCH --job-name=collapse-mix",
            "#SBATCH --array=0-1,3%3",
            "#SBATCH --output=/scratch/mix/logs/slurm-%A_%a.out",
            "#SBATCH --requeue",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=01:30:00",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --mem=16G",
            "#SBATCH --constraint=h200",
            r#"exec '/opt/it'\''s/collapse' ${SLURM_CPUS_PER_TASK:+--threads "$SLURM_CPUS_PER_TASK"} sweep task '/scratch/mix' "$SLURM_ARRAY_TASK_ID""#,
        ] {
            assert!(script.lines().any(|l| l == line), "{line} not in\n{script}");
        }
        assert!(!script.contains("--account"));
        assert!(check_path(Path::new("/a b")).is_err());
        assert!(check_path(Path::new("/scratch/mix")).is_ok());
    }
}
