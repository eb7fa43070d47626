//! Studies of many chains: a spec of conditions over a base configuration,
//! the runs it expands to and their stable folder names, the study folder
//! every executor writes and `sweep status` reads, and the Slurm job array.
//!
//! The plan (every run resolved and estimated before anything is written),
//! what is still to do, the executors (here, or a Slurm job array) behind one
//! trait, each run's status and the grouping into conditions live here;
//! running one chain is the binary's `collapse sweep task`, and the binary's
//! `sweep` commands only print.

#![deny(missing_docs)]

pub mod error;
pub mod executor;
pub mod folder;
pub mod plan;
pub mod slurm;
pub mod spec;
pub mod status;

pub use error::StudyError;
pub use executor::{Executed, Executor, InProcess, Local, LocalEvent, Slurm};
pub use folder::{Plan, RunRecord, RunState, RunStatus, StudyFolder, Submission};
pub use plan::{CheckedRun, RunSettings, check, conditions, pending, run_settings};
pub use spec::{PlannedRun, SlurmResources, StudySpec};
pub use status::{RunLine, StudyStatus, status};
