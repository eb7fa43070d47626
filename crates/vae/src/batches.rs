//! Where a training epoch's batches come from: a fixed set held as one tensor
//! and shuffled on the device, a growing set held in host memory and uploaded
//! one batch at a time, or fresh samples streamed from a decoder.

use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::Distribution;

use crate::model::Vae;
use crate::sample::{SampleMode, sample_images};

/// A source of training batches.
pub trait BatchSource {
    /// Images per epoch.
    fn epoch_len(&self) -> usize;
    /// Called before each epoch's first batch.
    fn begin_epoch(&mut self);
    /// The `len` images at positions `start..start + len` of the current epoch.
    ///
    /// # Shapes
    /// - returns `[len, pixels]`
    fn batch(&mut self, start: usize, len: usize) -> Tensor<2>;
    /// Every image of the set in the order it holds them, for a model that
    /// reads its training set whole; `None` for a source that draws its images
    /// as it goes.
    ///
    /// # Shapes
    /// - returns `[epoch_len, pixels]`
    fn images(&self) -> Option<Tensor<2>>;
}

/// A training set held as one tensor on the device, reshuffled every epoch by a
/// random permutation drawn on the device, and batched with `select`.
pub struct ShuffledImages {
    images: Tensor<2>,
    order: Option<Tensor<1, Int>>,
}

impl ShuffledImages {
    /// Wraps `images` (`[count, pixels]`).
    pub fn new(images: Tensor<2>) -> Self {
        Self {
            images,
            order: None,
        }
    }
}

/// A random permutation of `0..n`, drawn on `device` (argsort of uniform noise).
pub fn permutation(n: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1>::random([n], Distribution::Default, device).argsort(0)
}

impl BatchSource for ShuffledImages {
    fn epoch_len(&self) -> usize {
        self.images.dims()[0]
    }

    fn begin_epoch(&mut self) {
        self.order = Some(permutation(self.epoch_len(), &self.images.device()));
    }

    fn batch(&mut self, start: usize, len: usize) -> Tensor<2> {
        let order = self.order.as_ref().expect("begin_epoch is called first");
        let idx = order.clone().slice(start..start + len);
        self.images.clone().select(0, idx)
    }

    fn images(&self) -> Option<Tensor<2>> {
        Some(self.images.clone())
    }
}

/// A training set made of several parts held in host memory (`--mode
/// accumulate`: the real set and every synthetic set so far, a set that grows
/// each generation). Each epoch's order is the permutation [`ShuffledImages`]
/// draws, from the same device random stream, read to the host once per epoch;
/// each batch's rows are copied from their parts into one buffer and uploaded,
/// so the device holds one batch of the set at a time. The batches are
/// bitwise those of a [`ShuffledImages`] over the concatenated parts.
pub struct HostImages {
    parts: Vec<Arc<[f32]>>,
    /// The first row of each part, then the total row count.
    starts: Vec<usize>,
    pixels: usize,
    order: Vec<usize>,
    device: Device,
}

impl HostImages {
    /// Wraps `parts`, each a row-major `[rows, pixels]` block of images, whose
    /// batches go to `device`.
    ///
    /// # Panics
    /// If a part's length is not a multiple of `pixels`.
    pub fn new(parts: Vec<Arc<[f32]>>, pixels: usize, device: &Device) -> Self {
        let mut starts = vec![0];
        for part in &parts {
            assert_eq!(part.len() % pixels, 0, "a part holds whole images");
            starts.push(starts.last().copied().unwrap_or(0) + part.len() / pixels);
        }
        Self {
            parts,
            starts,
            pixels,
            order: Vec::new(),
            device: device.clone(),
        }
    }
}

impl BatchSource for HostImages {
    fn epoch_len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    fn begin_epoch(&mut self) {
        let order = permutation(self.epoch_len(), &self.device).into_data();
        self.order = order
            .try_into_vec_as::<i64>()
            .expect("a permutation converts to i64")
            .into_iter()
            .map(|i| i as usize)
            .collect();
    }

    fn batch(&mut self, start: usize, len: usize) -> Tensor<2> {
        assert!(!self.order.is_empty(), "begin_epoch is called first");
        let p = self.pixels;
        let mut rows = Vec::with_capacity(len * p);
        for &i in &self.order[start..start + len] {
            // The part holding row i: the last one starting at or before it.
            let part = self.starts.partition_point(|&s| s <= i) - 1;
            let local = i - self.starts[part];
            rows.extend_from_slice(&self.parts[part][local * p..(local + 1) * p]);
        }
        Tensor::from_data(TensorData::new(rows, [len, p]), &self.device)
    }

    fn images(&self) -> Option<Tensor<2>> {
        let all: Vec<f32> = self.parts.iter().flat_map(|p| p.iter().copied()).collect();
        let shape = [self.epoch_len(), self.pixels];
        Some(Tensor::from_data(TensorData::new(all, shape), &self.device))
    }
}

/// Every batch drawn fresh from a decoder (the authors' notebook), optionally
/// mixed with real images in a fixed proportion.
pub struct StreamedImages {
    decoder: Vae,
    latent_dim: usize,
    epoch_len: usize,
    prior_scale: f64,
    mode: SampleMode,
    real: Option<(Tensor<2>, f64)>,
    device: Device,
}

impl StreamedImages {
    /// Streams `epoch_len` images per epoch from `decoder` (on `device`, without
    /// autodiff); with `real = Some((images, f))` a fraction `f` of each batch is
    /// real images drawn uniformly at random.
    pub fn new(
        decoder: Vae,
        latent_dim: usize,
        epoch_len: usize,
        prior_scale: f64,
        mode: SampleMode,
        real: Option<(Tensor<2>, f64)>,
        device: &Device,
    ) -> Self {
        Self {
            decoder,
            latent_dim,
            epoch_len,
            prior_scale,
            mode,
            real,
            device: device.clone(),
        }
    }
}

impl BatchSource for StreamedImages {
    fn epoch_len(&self) -> usize {
        self.epoch_len
    }

    fn begin_epoch(&mut self) {}

    fn batch(&mut self, _start: usize, len: usize) -> Tensor<2> {
        let real = self.real.as_ref().and_then(|(images, f)| {
            let k = ((len as f64) * f).round() as usize;
            (k > 0).then(|| {
                let n = images.dims()[0] as i64;
                let idx = Tensor::<1, Int>::random(
                    [k],
                    Distribution::Uniform(0.0, n as f64),
                    &self.device,
                )
                .clamp(0, n - 1);
                (images.clone().select(0, idx), k)
            })
        });
        let n_real = real.as_ref().map_or(0, |(_, k)| *k);
        if n_real == len
            && let Some((images, _)) = real
        {
            // A batch whose real share rounds to all of it samples nothing.
            return images;
        }
        let synthetic = sample_images(
            &self.decoder,
            self.latent_dim,
            len - n_real,
            len,
            self.prior_scale,
            self.mode,
            &self.device,
        );
        match real {
            Some((real, _)) => Tensor::cat(vec![real, synthetic], 0),
            None => synthetic,
        }
    }

    fn images(&self) -> Option<Tensor<2>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three parts of unequal size give, batch for batch, what one tensor of
    /// their concatenation gives under the same permutation. (The permutation
    /// is handed over rather than re-drawn from a seed: the tests of a crate
    /// run in parallel and share the device's random stream.)
    #[test]
    fn host_parts_batch_like_one_shuffled_tensor() {
        let device = Device::flex();
        let pixels = 3;
        let sizes = [5usize, 2, 4];
        let mut parts = Vec::new();
        let mut all = Vec::new();
        let mut next = 0.0f32;
        for &rows in &sizes {
            let part: Vec<f32> = (0..rows * pixels)
                .map(|_| {
                    next += 1.0;
                    next
                })
                .collect();
            all.extend_from_slice(&part);
            parts.push(Arc::<[f32]>::from(part));
        }
        let n = all.len() / pixels;
        let mut host = HostImages::new(parts, pixels, &device);
        let mut shuffled = ShuffledImages::new(Tensor::from_data(
            TensorData::new(all, [n, pixels]),
            &device,
        ));
        assert_eq!(host.epoch_len(), n);
        for epoch in 0..3 {
            host.begin_epoch();
            let order: Vec<i64> = host.order.iter().map(|&i| i as i64).collect();
            shuffled.order = Some(Tensor::from_data(TensorData::new(order, [n]), &device));
            for start in (0..n).step_by(4) {
                let len = 4.min(n - start);
                let a = host.batch(start, len).into_data();
                let b = shuffled.batch(start, len).into_data();
                assert_eq!(a, b, "epoch {epoch}, batch at {start}");
            }
        }
        // Every row appears exactly once per epoch.
        let mut seen: Vec<usize> = host.order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
    }
}
