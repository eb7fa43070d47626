//! A generative model outside this tool, run as commands: what the chain
//! needs to train and sample a model that a researcher wrote in another
//! language.
//!
//! - [`command`]: a command line with placeholders, split into words once
//!   (shell-style quoting) and filled in word by word, so that a value is
//!   always one argument and nothing in a value is ever executed.
//! - [`process`]: one command run as a process of its own, without a shell,
//!   in its own process group, its output in log files, ended with its whole
//!   group at a time limit, on an error, when it leaves processes behind, or
//!   when this process is asked to end; what a killed process left running
//!   is found and ended by the variable each command was given.

#![deny(missing_docs)]

pub mod command;
pub mod process;

pub use command::{CommandLine, LineError};
pub use process::{Finished, Invocation, RunError, end_leftovers, run};
