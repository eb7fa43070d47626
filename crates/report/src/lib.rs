//! The rendering of run folders: PNG sample grids, the GIF, the plots and a
//! run's `index.html`, the closed-form experiments' pages, and the pages that
//! compare runs, summarise seeds and set a study's conditions side by side.
//!
//! The records it draws from are the records crate's; this crate only reads
//! them and draws. It has no Burn dependency, so a report can be redrawn
//! without any backend.

#![deny(missing_docs)]

pub mod aggregate;
pub mod closed_form;
pub mod compare;
pub mod conditions;
pub mod error;
pub mod grid;
pub mod html;
pub mod plots;
pub mod redraw;
mod runs;
#[cfg(test)]
mod testing;

use collapse_records::{columns, contract, evaluation, stats, table};

pub use aggregate::{Aggregated, aggregate_seeds};
pub use compare::{Compared, compare_runs};
pub use error::ReportError;
pub use redraw::{Redrawn, Report, redraw_run};
