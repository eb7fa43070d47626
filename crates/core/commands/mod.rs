//! One module per command: each takes its parsed flags and does the work.

pub mod bench;
pub mod compare;
pub mod devices;
pub mod evaluator;
pub mod fetch;
pub mod model;
pub mod parity;
pub mod profile;
pub mod report;
pub mod run;
pub mod sample;
pub mod sweep;
pub mod theory;
