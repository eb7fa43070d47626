//! The rendering of run folders: PNG sample grids, the GIF, the plots and a
//! run's `index.html`, the closed-form experiments' pages, and the one page
//! of several runs in groups (compared runs, seeds, a study's conditions).
//!
//! The records it draws from are the records crate's; this crate only reads
//! them and draws. It has no Burn dependency, so a report can be redrawn
//! without any backend.

#![deny(missing_docs)]

pub mod closed_form;
pub mod error;
pub mod grid;
pub mod grouped;
pub mod html;
pub mod plots;
pub mod redraw;
mod runs;
mod survival;
#[cfg(test)]
mod testing;

use collapse_records::{columns, contract, evaluation, profile, stats, table};

pub use error::ReportError;
pub use grouped::{Grouped, each_run, report_groups};
pub use redraw::{Redrawn, Report, redraw_run};
