//! What the project's own flex kernels ([`crate::adam`], [`crate::bce`],
//! [`crate::conv`], [`crate::pool`], [`crate::sigmoid`]) share: recognising a flex device,
//! reading a flex tensor as contiguous f32 values, and making one from values.

use burn::backend::DispatchDevice;
use burn::prelude::*;
use burn::tensor::{Bytes, DType};
use burn_flex::{FlexTensor, Layout};

/// Whether `device` computes on one of the CPU backends the project's
/// kernels serve (flex, ndarray), with or without autodiff.
pub fn is_cpu(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
    )
}

/// Whether `device` computes on flex, with or without autodiff.
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// `tensor` with contiguous f32 values that fill its whole buffer, so that
/// `storage_mut` reaches exactly its values (copied only if it is a strided
/// view or a part of a larger buffer).
///
/// # Panics
/// If the tensor is not f32: the project trains and evaluates in f32.
pub fn contiguous_f32(tensor: FlexTensor) -> FlexTensor {
    assert_eq!(tensor.dtype(), DType::F32, "the project computes in f32");
    let whole = tensor.storage::<f32>().len();
    match tensor.as_slice::<f32>() {
        Some(values) if values.len() == whole => tensor,
        _ => tensor.to_contiguous(),
    }
}

/// A contiguous f32 flex tensor of `shape` that takes ownership of `values`
/// (no copy: flex's own `empty` zero-fills a byte vector and then copies it
/// into an aligned one).
pub fn flex_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}
