//! The variational autoencoder of the model-collapse study: the two
//! architectures (the authors' convolutional VAE and the classic MLP VAE), the
//! loss, a hand-written training loop, sampling, evaluation and checkpoints.
//!
//! Library code takes a `&Device`; the binary chooses the backend at run time.
//! The tensor operations that have fast paths of their own (the convolution
//! lowering, the fused Adam, loss and sigmoid) come from `collapse-kernels`,
//! which picks the path for the device, so nothing here names a backend.
//! Images are flat rows of `rows × cols` grey values in `[0, 1]`.

#![deny(missing_docs)]

pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod infer;
pub mod loss;
pub mod model;
pub mod parity;
pub mod sample;
pub mod train;

#[cfg(test)]
mod tests;

pub use batches::{BatchSource, HostImages, ShuffledImages, StreamedImages};
pub use checkpoint::{CheckpointError, load_checkpoint, save_checkpoint};
pub use config::{Architecture, TrainConfig, VaeConfig};
pub use infer::{EvalStats, Posterior, encode_all, evaluate, per_image_parts, to_host};
pub use loss::{LossParts, loss_parts};
pub use model::Vae;
pub use sample::{SampleMode, decode_means, sample_images};
pub use train::{Divergence, EpochReport, TrainEvent, train};
