//! On-disk data for the model-collapse study: IDX files, `.npy` image sets, the dataset catalogue,
//! loading a dataset from a folder, and the checksummed downloader.
//!
//! This crate has no Burn dependency: it deals in bytes, files and host
//! vectors. Turning images into tensors is the VAE crate's business.

#![deny(missing_docs)]

pub mod catalogue;
pub mod dataset;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod idx;
pub mod npy;

pub use catalogue::{Catalogue, DatasetSpec, FileRole, FileSpec};
pub use dataset::{Dataset, DatasetError, Split};
#[cfg(feature = "fetch")]
pub use fetch::{FetchError, FetchOutcome, fetch_dataset};
pub use idx::{IdxArray, IdxData, IdxError, IdxErrorKind, read_idx, write_idx};
pub use npy::{NpyError, read_images, write_images};
