//! What the project's own flex kernels ([`crate::adam`], [`crate::loss`]) share:
//! recognising a flex device and reading a flex tensor as contiguous f32 values.

use burn::backend::DispatchDevice;
use burn::prelude::*;
use burn::tensor::DType;
use burn_flex::FlexTensor;

/// Whether `device` computes on flex, with or without autodiff.
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// `tensor` with contiguous f32 values (copied only if it is a strided view).
///
/// # Panics
/// If the tensor is not f32: the project trains and evaluates in f32.
pub fn contiguous_f32(tensor: FlexTensor) -> FlexTensor {
    assert_eq!(tensor.dtype(), DType::F32, "the project computes in f32");
    match tensor.as_slice::<f32>() {
        Some(_) => tensor,
        None => tensor.to_contiguous(),
    }
}
