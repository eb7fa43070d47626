//! `e^{−|l|}`, `ln(1 + e)` and σ for the fused flex loss and sigmoid, written
//! as short polynomials the compiler inlines and vectorises.
//!
//! glibc's `log1pf` and `expf` are calls the compiler cannot vectorise, and
//! the reconstruction loss makes one of each per pixel. Both functions here
//! work on the one range the loss needs and stay within a few units in the
//! last place of the library's results (the tests check it over the whole
//! range).

/// 1.5 · 2²³: adding it rounds an f32 of magnitude below 2²² to an integer
/// and leaves that integer in the low bits of the sum's mantissa.
const ROUND: f32 = 12_582_912.0;
/// ln 2 split in two (Cody–Waite), so that `k · LN2_HI` is exact for |k| < 2⁹.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Below this, e^x is under the smallest normal f32; the result is clamped there.
const EXP_MIN: f32 = -87.0;

/// `e^{−|l|}`, in `(0, 1]`; arguments below −87 give e^−87 (≈ 1.6e−38)
/// instead of a subnormal, and NaN stays NaN.
#[inline(always)]
pub fn exp_neg_abs(l: f32) -> f32 {
    let x = -l.abs();
    let x = if x < EXP_MIN { EXP_MIN } else { x };
    // x = k·ln 2 + r with k an integer and |r| ≤ ln 2 / 2.
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    // e^r by its Taylor series to r⁷ (error below 1e−8 relative on |r| ≤ 0.35).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^k from the exponent bits: k sits in the low mantissa bits of `shifted`
    // (k ∈ [−126, 0] here, so k + 127 is a valid biased exponent).
    let biased = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127);
    p * f32::from_bits(biased << 23)
}

/// `ln(1 + e)` for `e` in `[0, 1]`, by `2·atanh(s)` with `s = e / (2 + e)`
/// (`s ≤ 1/3`, so the odd series in `s` converges fast).
#[inline(always)]
pub fn ln_1p_unit(e: f32) -> f32 {
    let s = e / (2.0 + e);
    let t = s * s;
    let series = 1.0
        + t * (1.0 / 3.0
            + t * (1.0 / 5.0
                + t * (1.0 / 7.0 + t * (1.0 / 9.0 + t * (1.0 / 11.0 + t * (1.0 / 13.0))))));
    2.0 * s * series
}

/// σ(l) from `e = e^{−|l|}`, without overflow.
#[inline(always)]
pub fn sigmoid_from(l: f32, e: f32) -> f32 {
    if l >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units in the last place between `a` and the reference `b`.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_neg_abs_matches_the_library_over_its_range() {
        let mut worst = 0;
        for i in 0..=1_000_000 {
            let l = 87.0 * i as f32 / 1_000_000.0;
            for l in [l, -l] {
                let want = (-(l as f64).abs()).exp() as f32;
                worst = worst.max(ulps(exp_neg_abs(l), want));
            }
        }
        assert!(worst <= 2, "{worst} ulps");
        assert_eq!(exp_neg_abs(0.0), 1.0);
        // Clamped below the normal range, never zero or NaN.
        assert!(exp_neg_abs(1e4) > 0.0 && exp_neg_abs(1e4) < 2e-38);
        assert!(exp_neg_abs(f32::NAN).is_nan());
    }

    #[test]
    fn ln_1p_unit_matches_the_library_on_0_1() {
        let mut worst = 0;
        for i in 0..=1_000_000 {
            let e = i as f32 / 1_000_000.0;
            let want = (e as f64).ln_1p() as f32;
            worst = worst.max(ulps(ln_1p_unit(e), want));
        }
        // Tiny arguments keep their full relative precision.
        for e in [1e-38f32, 1e-20, 1e-9, 3e-5] {
            worst = worst.max(ulps(ln_1p_unit(e), (e as f64).ln_1p() as f32));
        }
        assert!(worst <= 3, "{worst} ulps");
    }
}
