//! `collapse`: the command-line tool of the model-collapse study.
//!
//! Subcommands: `run` (a generation chain), `fetch` (download a dataset),
//! `report` (redraw a run's plots from disk), `bench` (throughput),
//! `sample` (decode a grid from a saved generation on any backend),
//! `devices` (the backends and adapters available), `parity` (one training
//! step compared across backends on identical weights), `evaluator train`
//! (the frozen classifier), `compare` (several runs side by side), `theory`
//! (the paper's Gaussian and Gaussian-mixture experiments), `sweep` (studies
//! of many chains, here or as a Slurm job array), `profile` (a run's collapse
//! profile: intervals, tests, onset, rate, tail survival).
//! Errors become one line on stderr and a non-zero exit: 2 for bad usage or
//! input, 1 for a run that failed.

mod backend;
mod build_info;
mod commands;
mod datasets;
mod flags;
mod runner;

use std::process::ExitCode;

use clap::Parser;
use collapse_chain::{ChainError, ConfigError, SettingsError};
use collapse_data::NpyError;
use collapse_profile::ProfileError;
use collapse_records::{FolderError, RecordError};
use collapse_report::ReportError;
use collapse_study::StudyError;
use collapse_theory::TheoryError;
use collapse_vae::CheckpointError;

/// mimalloc keeps the freed tensor buffers of one training step for the next. glibc's
/// allocator hands buffers this large back to the kernel and faults them in again,
/// page by page, with a TLB shootdown across cores each time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::commands::{
    bench, compare, devices, evaluator, fetch, model, parity, profile, report, run, sample, sweep,
    theory,
};
use crate::flags::{Cli, Command, EvaluatorCommand};

/// Bad usage or input, as the command line's user reads it (exit 2): a
/// refused flag or file, worded by the binary. Errors of the library crates
/// keep their own types, and [`exit_code`] reads them.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Usage(#[from] anyhow::Error);

/// `e` as bad usage or input (exit 2).
pub fn usage(e: impl Into<anyhow::Error>) -> anyhow::Error {
    Usage(e.into()).into()
}

/// The exit status of a command that failed with `e`: 2 for bad usage or
/// input (a [`Usage`] error, or a library error about what was given: a
/// setting, a spec, a folder or file that is not what it should be), 1 for
/// a run that failed.
fn exit_code(e: &anyhow::Error) -> u8 {
    match e.chain().any(is_input) {
        true => 2,
        false => 1,
    }
}

/// Whether `cause` is about what was given rather than the run (a library
/// error that wraps another transparently is looked into).
fn is_input(cause: &(dyn std::error::Error + 'static)) -> bool {
    let record = |e: &RecordError| matches!(e, RecordError::Format { .. });
    let checkpoint = |e: &CheckpointError| matches!(e, CheckpointError::Read { .. });
    let folder = |e: &FolderError| matches!(e, FolderError::Exists(_) | FolderError::Lock(_));
    if cause.is::<Usage>() || cause.is::<ConfigError>() || cause.is::<SettingsError>() {
        return true;
    }
    if let Some(e) = cause.downcast_ref::<RecordError>() {
        return record(e);
    }
    if let Some(e) = cause.downcast_ref::<CheckpointError>() {
        return checkpoint(e);
    }
    if let Some(e) = cause.downcast_ref::<ChainError>() {
        return match e {
            ChainError::Config(_) => true,
            ChainError::Folder(e) => folder(e),
            ChainError::Record(e) => record(e),
            ChainError::Checkpoint(e) => checkpoint(e),
            _ => false,
        };
    }
    if let Some(e) = cause.downcast_ref::<TheoryError>() {
        return match e {
            TheoryError::Setting(_) | TheoryError::Folder { .. } => true,
            TheoryError::Record(e) => record(e),
            TheoryError::RunFolder(e) => folder(e),
            _ => false,
        };
    }
    if let Some(e) = cause.downcast_ref::<StudyError>() {
        return match e {
            StudyError::Record(e) => record(e),
            StudyError::Io { .. } => false,
            _ => true,
        };
    }
    if let Some(e) = cause.downcast_ref::<ProfileError>() {
        return match e {
            ProfileError::Record(e) => record(e),
            ProfileError::Npy(e) => matches!(e, NpyError::Invalid { .. }),
            _ => true,
        };
    }
    if let Some(e) = cause.downcast_ref::<ReportError>() {
        return match e {
            ReportError::Record(e) => record(e),
            ReportError::MixedExperiments { .. } => true,
            _ => false,
        };
    }
    false
}

/// The most threads `--threads` takes: each has a main thread's stack, and far
/// more than a machine's cores only slows the backends down.
const MAX_THREADS: usize = 1024;

/// The error and its causes on one line, each cause once: a typed error whose
/// message already quotes its source (`path: reason`) is not followed by the
/// source again.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Builds the thread pool that flex and ndarray run on (`threads`, else one
/// per core), before either uses it.
fn thread_pool(threads: Option<usize>) -> anyhow::Result<()> {
    // The command runs on one of the pool's threads: as much stack as a main thread.
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(8 << 20);
    if let Some(n) = threads {
        if !(1..=MAX_THREADS).contains(&n) {
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
            return Err(usage(anyhow::anyhow!(
                "--threads must be from 1 to {MAX_THREADS} (this machine has {cores} cores)"
            )));
        }
        pool = pool.num_threads(n);
    }
    pool.build_global().map_err(anyhow::Error::from)
}

/// Without a session's runtime folder (`XDG_RUNTIME_DIR`) there is no display
/// server, and Mesa's Vulkan device-select layer, which orders GPUs by the
/// display they drive, still tries to reach one at every adapter enumeration:
/// libwayland then prints an error line each time, where nothing failed. With
/// no display it has nothing to order by, so it is switched off by its own
/// switch (`NODEVICE_SELECT`), unless the user set that.
#[allow(unsafe_code)]
fn headless_vulkan() {
    let headless = std::env::var_os("XDG_RUNTIME_DIR").is_none();
    if headless && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: the first statement of main, while no other thread exists
        // that could read the environment at the same time.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

fn main() -> ExitCode {
    headless_vulkan();
    let cli = Cli::parse();
    // The command runs on a thread of the pool rather than beside it: each
    // parallel operation (Burn's and the project's, dozens per training step)
    // then starts on the calling thread and the others join in, where from
    // outside the pool each one hands all its work over and puts the caller
    // to sleep until it is done (one thread: two context switches per
    // operation for nothing).
    let result = thread_pool(cli.threads).and_then(|()| {
        rayon::scope(|_| match cli.command {
            Command::Run(args) => run::run(*args),
            Command::Fetch(args) => fetch::fetch(args),
            Command::Report(args) => report::report(args),
            Command::Bench(args) => bench::bench(args),
            Command::Sample(args) => sample::sample(args),
            Command::Devices => devices::devices(),
            Command::Parity(args) => parity::parity(args),
            Command::Evaluator {
                action: EvaluatorCommand::Train(args),
            } => evaluator::evaluator_train(args),
            Command::Compare(args) => compare::compare(args),
            Command::Profile(args) => profile::profile(args),
            Command::Model { command } => model::model(command),
            Command::Theory { experiment } => theory::theory(experiment),
            Command::Sweep { command } => sweep::sweep(command, cli.threads),
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}
