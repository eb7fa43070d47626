//! The generation chain of the model-collapse study: generation 0 trains a VAE
//! on real data, generation g+1 trains a fresh VAE on data sampled from
//! generation g, and every generation writes its sample grid, latent statistics,
//! probe and checkpoint into the run folder.
//!
//! The chain owns the science (presets, loop variants, random streams, the
//! probe); the VAE crate owns the network, and the report crate owns the files.

#![deny(missing_docs)]

pub mod backend;
pub mod config;
pub mod cut;
pub mod error;
pub mod estimate;
pub mod external;
pub mod generations;
pub mod latents;
pub mod model;
pub mod reference;
pub mod rescore;
pub mod seeds;
pub mod settings;
#[cfg(test)]
mod tests;

pub use backend::Backend;
pub use config::{
    ChainConfig, ConfigError, ExternalModel, KeepSets, LoopMode, OnDivergence, Preset, Setting,
};
pub use error::ChainError;
pub use estimate::estimate;
pub use external::ExternalFamily;
pub use generations::{
    ChainEvent, RunContext, Stage, resume_chain, run_chain, synthetic_set, training_set_name,
    write_training_set,
};
pub use model::{Attempt, ModelFamily, TrainError, VaeFamily};
pub use reference::ReferenceEvent;
pub use settings::{ChainSettings, SettingsError};
