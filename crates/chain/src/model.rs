//! The seam between the chain and a generation's model: the chain trains,
//! samples, saves and loads its models only through [`ModelFamily`], so any
//! generative model that can do these four things runs under the same loop,
//! evaluators, report, resume and sweeps. The VAE is the family the chain
//! has now ([`VaeFamily`]).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use collapse_vae::{
    BatchSource, Divergence, TrainEvent, Vae, load_checkpoint, sample_images, save_checkpoint,
    train,
};

use collapse_records::CommandRecord;

use crate::config::ChainConfig;
use crate::error::ChainError;

/// One attempt at training a generation: its learning rate and the seeds of
/// its two random streams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attempt {
    /// The generation it trains.
    pub generation: usize,
    /// The learning rate (the configured one, or half of it on a retry).
    pub lr: f64,
    /// Seed of the fresh model's initialisation.
    pub init_seed: u64,
    /// Seed of the batch order and of everything random in training.
    pub train_seed: u64,
}

/// Why a generation's model was not trained.
#[derive(Debug)]
pub enum TrainError {
    /// Its loss diverged (a retry at half the learning rate may help).
    Diverged(Divergence),
    /// It could not be trained at all (a model outside this process failed).
    Failed(ChainError),
}

impl TrainError {
    /// Why generation `generation` stopped, in the chain's words; `retried`
    /// says whether a diverged loss was already the retry.
    pub fn in_generation(self, generation: usize, retried: bool) -> ChainError {
        match self {
            TrainError::Diverged(divergence) => ChainError::Diverged {
                generation,
                divergence,
                retried,
            },
            TrainError::Failed(e) => e,
        }
    }
}

/// How a chain's models are made and used: trained for a generation, sampled,
/// saved as the generation's checkpoint and loaded back on resume.
pub trait ModelFamily {
    /// A trained model.
    type Model: Clone;

    /// A fresh model trained on `source` as `attempt` says, with its mean
    /// training loss where it reports one; or why it could not be trained.
    fn train(
        &self,
        source: &mut dyn BatchSource,
        attempt: Attempt,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<(Self::Model, Option<f64>), TrainError>;

    /// `count` images drawn from `model` on the stream of `seed`, as
    /// `[count, pixels]` values in `[0, 1]`; an error where the model could
    /// not draw them (a model outside this process).
    fn sample(&self, model: &Self::Model, count: usize, seed: u64)
    -> Result<Tensor<2>, ChainError>;

    /// Writes `model` into its generation's folder `dir`.
    fn save(&self, model: &Self::Model, dir: &Path) -> Result<(), ChainError>;

    /// The model saved in the generation folder `dir`.
    fn load(&self, dir: &Path) -> Result<Self::Model, ChainError>;

    /// The VAE whose encoder and decoder the chain's measurements of `model`
    /// use (the test set's likelihood, the latent statistics, the sample grid
    /// from fixed latents, the reconstructions; generation 0's is the probe's
    /// encoder), for a model that is one. `None` for a model without an
    /// encoder: the chain's reference VAE then encodes its probe.
    fn vae<'m>(&self, model: &'m Self::Model) -> Option<&'m Vae>;

    /// Trainable parameters of one model.
    fn parameters(&self) -> usize;

    /// The commands outside this process that trained and sampled models
    /// since the last call, for the manifest; none for a model in this process.
    fn take_commands(&self) -> Vec<CommandRecord> {
        Vec::new()
    }
}

/// The chain's own VAEs, as its configuration describes them, on `device`.
pub struct VaeFamily<'a> {
    config: &'a ChainConfig,
    device: Device,
}

impl<'a> VaeFamily<'a> {
    /// The VAEs of `config` on `device`.
    pub fn new(config: &'a ChainConfig, device: &Device) -> Self {
        VaeFamily {
            config,
            device: device.clone(),
        }
    }
}

impl ModelFamily for VaeFamily<'_> {
    type Model = Vae;

    fn train(
        &self,
        source: &mut dyn BatchSource,
        attempt: Attempt,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<(Vae, Option<f64>), TrainError> {
        let autodiff = self.device.clone().autodiff();
        self.device.seed(attempt.init_seed);
        let model = self.config.model.init(&autodiff);
        self.device.seed(attempt.train_seed);
        let train_config = self.config.train.clone().with_lr(attempt.lr);
        let (model, loss) =
            train(model, source, &train_config, on_event).map_err(TrainError::Diverged)?;
        Ok((model.valid(), Some(loss)))
    }

    fn sample(&self, model: &Vae, count: usize, seed: u64) -> Result<Tensor<2>, ChainError> {
        let c = self.config;
        self.device.seed(seed);
        Ok(sample_images(
            model,
            c.model.latent_dim,
            count,
            c.eval_batch,
            c.prior_scale,
            c.sample,
            &self.device,
        ))
    }

    fn save(&self, model: &Vae, dir: &Path) -> Result<(), ChainError> {
        Ok(save_checkpoint(dir, model, &self.config.model)?)
    }

    fn load(&self, dir: &Path) -> Result<Vae, ChainError> {
        Ok(load_checkpoint(dir, &self.device)?.0)
    }

    fn vae<'m>(&self, model: &'m Vae) -> Option<&'m Vae> {
        Some(model)
    }

    fn parameters(&self) -> usize {
        self.config.model.init(&self.device).num_params()
    }
}
