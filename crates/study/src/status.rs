//! Where a study stands: each run's progress from its folder, joined with
//! what Slurm says of the task that runs it.

use crate::folder::{Plan, RunStatus, StudyFolder};
use crate::slurm::{self, TaskState};

/// One run of a study and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLine {
    /// The run's name.
    pub name: String,
    /// Its progress, from its folder.
    pub status: RunStatus,
    /// Its last array task (`JOB_TASK`) and Slurm's word on it, where it was submitted.
    pub scheduler: Option<(String, String)>,
}

/// Every run of a study and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyStatus {
    /// The runs, in the plan's order.
    pub runs: Vec<RunLine>,
    /// Why the queue could not be read, where it could not.
    pub queue_unread: Option<String>,
    /// Whether the study was submitted to a cluster without accounting (its
    /// finished tasks are then known from their folders only).
    pub no_accounting: bool,
}

/// Where every run of `plan` stands.
pub fn status(folder: &StudyFolder, plan: &Plan) -> StudyStatus {
    let job_ids = plan.job_ids();
    let mut queue_unread = None;
    let queued = match job_ids.is_empty() {
        true => Vec::new(),
        false => slurm::queued(&job_ids).unwrap_or_else(|e| {
            queue_unread = Some(e.to_string());
            Vec::new()
        }),
    };
    let accounted = slurm::accounted(&job_ids);
    let runs = plan
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let last = plan.submissions.iter().rev().find(|s| s.tasks.contains(&i));
            let scheduler = last.map(|s| {
                let find = |tasks: &[TaskState]| {
                    tasks
                        .iter()
                        .find(|t| t.job_id == s.job_id && t.task == i)
                        .map(|t| format!("{} ({})", t.state, t.detail))
                };
                let state = find(&queued)
                    .or_else(|| accounted.as_deref().and_then(find))
                    .unwrap_or_else(|| "not in the queue".to_string());
                (format!("{}_{i}", s.job_id), state)
            });
            RunLine {
                name: run.name.clone(),
                status: folder.status(run),
                scheduler,
            }
        })
        .collect();
    StudyStatus {
        runs,
        no_accounting: queue_unread.is_none() && !job_ids.is_empty() && accounted.is_none(),
        queue_unread,
    }
}
