//! The project's own tensor operations, apart from the science that uses them.
//!
//! Each public operation takes Burn tensors on any device and picks its path
//! inside: a kernel of this crate where one exists for the device (the CPU
//! backends flex and ndarray), Burn's own operations everywhere else, so
//! callers never branch on the backend. The kernels are Burn backend
//! extensions with their own backward passes under autodiff; the tests check
//! each against Burn's operations, and `collapse parity` checks whole
//! training steps across backends.

#![deny(missing_docs)]

pub mod adam;
pub mod bce;
pub mod conv;
mod elementary;
mod flex;
mod gemm;
pub mod pool;
pub mod sigmoid;

pub use adam::FusedAdam;
pub use bce::bce_with_logits_rows;
pub use conv::{
    ConvImpl, apply_conv2d, conv_path, conv_transpose2d_nhwc, conv2d_nhwc, dense, force_conv_path,
};
pub use pool::relu_max_pool2;
pub use sigmoid::{sigmoid, sigmoid_of_batches};
