//! Studies of many chains: a spec of conditions over a base configuration,
//! the runs it expands to and their stable folder names, the study folder
//! every executor writes and `sweep status` reads, and the Slurm job array.
//!
//! Running a chain is the binary's job (`collapse sweep task` runs one run of
//! a study as `collapse run` would); this crate decides what runs where.

#![deny(missing_docs)]

pub mod error;
pub mod folder;
pub mod slurm;
pub mod spec;

pub use error::StudyError;
pub use folder::{Plan, RunRecord, RunState, RunStatus, StudyFolder, Submission};
pub use spec::{PlannedRun, SlurmResources, StudySpec};
