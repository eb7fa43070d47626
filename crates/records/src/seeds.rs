//! The one mix every random stream's seed is keyed through, so that a
//! stream depends only on (seed, purpose, index) and no two purposes share
//! one.

/// SplitMix64's finaliser: a bijection of `u64` that mixes every bit.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_splitmix64s_finaliser() {
        // SplitMix64 seeded with 0 gives 0xE220A8397B1DCDAF first: the
        // finaliser applied to the first increment.
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
    }
}
