//! Flags of `collapse model`: the chain's VAE on its own, over `.npy` image
//! sets. The model, its training and its sampling are a chain's settings,
//! read from the same file `collapse run --config` reads.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Subcommands of `collapse model`.
#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Train a fresh VAE on an .npy image set, as a chain trains a generation, and write its
    /// checkpoint into a folder.
    Train(ModelTrainArgs),
    /// Draw images from a VAE checkpoint, as a chain draws a generation's training set, into an
    /// .npy image set.
    Sample(ModelSampleArgs),
}

/// Arguments of `collapse model train`.
#[derive(Args, Debug)]
pub struct ModelTrainArgs {
    /// The training set: float32 grey values in [0, 1], shape [n, height, width].
    #[arg(long, value_name = "SET.npy")]
    pub data: PathBuf,
    /// Folder to write the checkpoint into (made if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the batch order and of everything random in training.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the fresh model's initial weights [default: --seed].
    #[arg(long)]
    pub init_seed: Option<u64>,
    /// A chain's settings file: its preset, model, latent_dim, hidden, beta, epochs, batch_size,
    /// lr, weight_decay and device are used [default: the quick preset's].
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `collapse model sample`.
#[derive(Args, Debug)]
pub struct ModelSampleArgs {
    /// The checkpoint's folder (written by `collapse model train`, or a run's gen-NNN).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// Images to draw.
    #[arg(long)]
    pub count: usize,
    /// The .npy image set to write.
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A chain's settings file: its sample, prior_scale, eval_batch and device are used
    /// [default: the quick preset's].
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
}
