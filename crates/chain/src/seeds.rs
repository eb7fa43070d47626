//! Random streams derived from (seed, generation, purpose).
//!
//! Before each random phase the device is re-seeded with a value mixed from
//! the run's seed, the generation and the phase, so each phase's randomness is
//! independent of how much randomness earlier phases consumed.

use collapse_records::seeds::mix;

/// What a random stream is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Initial weights of a generation's fresh VAE.
    Init = 1,
    /// Shuffling, reparameterisation noise and streamed samples during training.
    Train = 2,
    /// The synthetic training set drawn from the previous generation.
    Sample = 3,
    /// Evaluation on the real test set.
    Eval = 4,
    /// The samples encoded by the probe.
    Probe = 5,
    /// The fixed latent noise of the sample grid (same in every generation).
    Grid = 6,
    /// Which real images a generation keeps (`--real-fraction`).
    RealSubset = 7,
    /// Initial weights of a generation retried after its loss diverged.
    RetryInit = 8,
    /// Training randomness of a retried generation.
    RetryTrain = 9,
    /// Reparameterisation noise of the generation-0 likelihood of the real test set.
    Reference = 10,
    /// Reparameterisation noise of the generation-0 likelihood of a generation's samples.
    Score = 11,
    /// Reparameterisation noise of the reference VAE's likelihood of the real
    /// training images, which orders them for the tail cut.
    TailCut = 12,
}

/// The seed of the stream for `purpose` in `generation` of a run seeded `seed`.
pub fn stream_seed(seed: u64, generation: usize, purpose: Purpose) -> u64 {
    mix(mix(mix(seed) ^ generation as u64) ^ purpose as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_each_input_and_repeat() {
        let a = stream_seed(1, 0, Purpose::Init);
        assert_eq!(a, stream_seed(1, 0, Purpose::Init));
        assert_ne!(a, stream_seed(2, 0, Purpose::Init));
        assert_ne!(a, stream_seed(1, 1, Purpose::Init));
        assert_ne!(a, stream_seed(1, 0, Purpose::Train));
    }
}
