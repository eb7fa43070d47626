//! The output contract of a chain's run folder, and everything that writes or
//! redraws it from disk: JSON and CSV records, PNG sample grids, the GIF, the
//! plots and the run's `index.html`; and the pages that compare runs,
//! summarise seeds and set a study's conditions side by side.
//!
//! This crate has no Burn dependency. It receives host vectors and plain
//! records from the chain, so a report can be redrawn without any backend.

#![deny(missing_docs)]

pub mod aggregate;
pub mod columns;
pub mod compare;
pub mod contract;
pub mod error;
pub mod evaluation;
mod files;
pub mod grid;
pub mod html;
pub mod plots;
pub mod redraw;
mod runs;
pub mod stats;
pub mod study;
pub mod table;
#[cfg(test)]
mod testing;
pub mod theory;
pub mod time;

pub use aggregate::{Aggregated, aggregate_seeds};
pub use columns::{read_metrics_csv, write_metrics_csv};
pub use compare::{Compared, compare_runs};
pub use contract::{
    AggregatePosterior, DatasetFileRecord, DatasetRecord, DeviceRecord, Experiment,
    GenerationTiming, LatentStats, Manifest, MetricsRow, ProbeStats, RetryRecord, generation_dir,
    generation_of, read_json, write_json,
};
pub use error::ReportError;
pub use evaluation::{
    ClassStats, ClassifierInfo, Distribution, EvalRecord, EvalSummary, FeatureDistances, StyleStat,
};
pub use redraw::{Redrawn, redraw_run};
pub use stats::{Histogram, Quantile};
pub use table::{read_table, write_table};
pub use theory::{GaussianRow, GaussianTheory, GmmRow, TheoryManifest};
