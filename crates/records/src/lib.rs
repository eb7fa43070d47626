//! The records of the study's run folders, apart from any rendering: the
//! manifests, every per-generation row and record with its column table, the
//! statistics helpers they are computed with, JSON and CSV reading and
//! writing, the folder layout's names, and atomic, durable writes.
//!
//! Every producer (the chain, the evaluators, the theory experiments, the
//! study) writes through this crate, and the report crate reads through it;
//! it depends on neither, nor on Burn.

#![deny(missing_docs)]

pub mod atomic;
pub mod closed_form;
pub mod columns;
pub mod contract;
pub mod error;
pub mod evaluation;
pub mod files;
pub mod folder;
pub mod footprint;
pub mod group;
pub mod headline;
pub mod lock;
pub mod migrate;
pub mod profile;
pub mod seeds;
pub mod stats;
pub mod table;
pub mod time;
pub mod view;

pub use closed_form::{
    GAUSSIAN_COLUMNS, GMM_COLUMNS, GaussianRow, GaussianTheory, GmmRow, TheoryManifest,
};
pub use columns::{read_metrics_csv, write_metrics_csv};
pub use contract::{
    AggregatePosterior, CommandRecord, DatasetFileRecord, DatasetRecord, DeviceRecord, Experiment,
    GenerationTiming, LatentStats, Manifest, MetricsRow, ModelFit, ProbeStats, RetryRecord,
    SamplesRecord, generation_dir, generation_of, read_json, write_json,
};
pub use error::RecordError;
pub use evaluation::{
    ClassStats, ClassifierInfo, Distribution, EvalRecord, EvalSummary, FeatureDistances, StyleStat,
};
pub use folder::{FolderError, RunFolder};
pub use footprint::Footprint;
pub use group::Group;
pub use migrate::{FORMAT_VERSION, read_manifest};
pub use stats::{Histogram, Quantile};
pub use table::{read_table, write_table};
pub use view::{COMPLETE, Grids, Render, RenderError, RunView, Snapshots, complete_generations};
