//! Where a training epoch's batches come from: a fixed set held as one tensor
//! and shuffled on the device, or fresh samples streamed from a decoder.

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
        let (real_part, n_real) = match &self.real {
            Some((images, f)) if *f > 0.0 => {
                let k = ((len as f64) * f).round() as usize;
                let n = images.dims()[0] as i64;
                let idx = Tensor::<1, Int>::random(
                    [k],
                    Distribution::Uniform(0.0, n as f64),
                    &self.device,
                )
                .clamp(0, n - 1);
                (Some(images.clone().select(0, idx)), k)
            }
            _ => (None, 0),
        };
        let synthetic = sample_images(
            &self.decoder,
            self.latent_dim,
            len - n_real,
            len,
            self.prior_scale,
            self.mode,
            &self.device,
        );
        match real_part {
            Some(real) if n_real == len => real,
            Some(real) => Tensor::cat(vec![real, synthetic], 0),
            None => synthetic,
        }
    }
}
