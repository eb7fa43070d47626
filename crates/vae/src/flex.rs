//! What the project's own kernels ([`crate::adam`], [`crate::loss`],
//! [`crate::sample`]) share: recognising a device's backend and reading a flex
//! tensor as contiguous f32 values.

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

/// Whether `device` computes on ndarray, with or without autodiff.
pub fn is_ndarray(device: &Device) -> bool {
    #[allow(deprecated)] // burn-ndarray is deprecated in Burn 0.22; the project still runs on it.
    let ndarray = matches!(device.clone().inner().as_dispatch(), DispatchDevice::NdArray(_));
    ndarray
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
