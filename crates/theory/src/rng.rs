//! Random streams: one Xoshiro256++ generator per (seed, purpose, index), so
//! that a trial or a generation draws the same numbers whatever the thread
//! count and wherever a resumed run starts.

use collapse_records::seeds::mix;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// What a stream is for, kept apart from every other purpose.
#[derive(Clone, Copy)]
pub(crate) enum Purpose {
    /// One trial of the Gaussian experiment.
    GaussianTrial = 1,
    /// The original samples of the mixture experiment.
    MixtureData = 2,
    /// A mixture generation's EM initialisation.
    MixtureInit = 3,
    /// A mixture generation's samples.
    MixtureSamples = 4,
}

/// The stream of `purpose` number `index` under `seed`.
pub(crate) fn stream(seed: u64, purpose: Purpose, index: u64) -> Xoshiro256PlusPlus {
    let key = mix(mix(mix(seed) ^ purpose as u64) ^ index);
    Xoshiro256PlusPlus::seed_from_u64(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_by_seed_purpose_and_index_and_repeat() {
        let first = |s, p, i| stream(s, p, i).next_u64();
        let a = first(0, Purpose::GaussianTrial, 0);
        assert_eq!(a, first(0, Purpose::GaussianTrial, 0));
        assert_ne!(a, first(1, Purpose::GaussianTrial, 0));
        assert_ne!(a, first(0, Purpose::MixtureData, 0));
        assert_ne!(a, first(0, Purpose::GaussianTrial, 1));
    }
}
