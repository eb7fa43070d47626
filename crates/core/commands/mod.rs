//! One module per command: each takes its parsed flags and does the work.

pub mod compare;
pub mod devices;
pub mod evaluator;
pub mod fetch;
pub mod report;
pub mod run;
pub mod sample;
