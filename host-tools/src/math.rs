//! Portable f64 math for the host tools: [`exp`], [`ln`] and the logistic [`sigmoid`], the one
//! implementation the trainers (`train::gbdt`, `train::linear`) and the synthetic cohort
//! (`synth`) share.
//!
//! Invariant: built from IEEE-754 basic operations only (`+ - * /`, comparisons, bit
//! manipulation) in a fixed order, never the platform's libm and never a fused multiply-add, so
//! every machine gives the same bits. Trained models, training records and the bundled cohort
//! depend on these bits: changing an operation here changes pinned outputs
//! (`scripts/pinned-outputs.sh` shows it). Never used on the inference path: the engine has its
//! own math (`lockstep_engine::math`), which reproduces each source framework.

use std::f64::consts::{LN_2, LOG2_E, SQRT_2};

/// `e^x`: within 3 ulps of the exact value for `x` in [-708, 709] (measured on 10^7 random
/// arguments and in the tests), 0 below (where `1 + e^x` is 1 anyway), infinity above, NaN for
/// NaN.
///
/// Method: `x = k ln2 + r` with `k` the nearest integer to `x / ln2` (ties to even), found by
/// adding `1.5 * 2^52` (the sum's last mantissa bits then hold `k`); `ln2` is split in two
/// (Cody-Waite, fdlibm's `ln2_hi` and `ln2_lo`) so `r` is exact to a few ulps; `e^r` for
/// `|r| <= ln2 / 2` from its Taylor series up to `r^12` by Horner's rule (truncation below 2e-16
/// relative); `2^k` assembled from its bits. Free of branches and calls (the range checks are
/// selects), so loops over it vectorise.
#[inline]
pub fn exp(x: f64) -> f64 {
    /// 1.5 * 2^52: adding it rounds to an integer and leaves the integer in the low bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with 21 trailing zero bits, so `k * LN2_HI` is exact.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    // 1 / i! for i = 12 down to 2 (each quotient correctly rounded).
    const TAYLOR: [f64; 11] = [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let clamped = x.clamp(-708.0, 709.0);
    let t = clamped * LOG2_E + SHIFT;
    let k = t - SHIFT;
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    let mut poly = 0.0;
    for c in TAYLOR {
        poly = poly * r + c;
    }
    let e_r = (poly * r + 1.0) * r + 1.0;
    // `k` is in [-1021, 1023] after the clamp, so `k + 1023` is a normal exponent field.
    let k_bits = (t.to_bits() as i64 - SHIFT.to_bits() as i64 + 1023) as u64;
    let e = e_r * f64::from_bits(k_bits << 52);
    if x > 709.0 {
        f64::INFINITY
    } else if x < -708.0 {
        0.0
    } else {
        e
    }
}

/// The logistic function `1 / (1 + e^-x)` on [`exp`]: accurate for either sign (for a very
/// negative `x`, `e^-x` is infinite and the result is 0), NaN for NaN.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// `ln(x)`: within 2 ulps of the exact value (measured, see the tests) for positive finite `x`,
/// subnormals included; `-inf` at 0, `inf` at infinity, NaN for negative `x` and NaN.
///
/// Method: `x = m 2^e` with `m` in [sqrt(1/2), sqrt(2)), and `ln x = ln m + e ln2`, `ln m` by
/// the series of [`ln_1_to_2`].
#[inline]
pub fn ln(x: f64) -> f64 {
    if !(x > 0.0 && x < f64::INFINITY) {
        return if x == 0.0 {
            f64::NEG_INFINITY
        } else if x == f64::INFINITY {
            f64::INFINITY
        } else {
            f64::NAN
        };
    }
    // A subnormal is scaled into the normal range first (exactly: a power of two).
    let (x, bias) = if x < f64::MIN_POSITIVE {
        (x * (1u64 << 54) as f64, -54)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023 + bias;
    let mantissa = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let (ln_m, halved) = ln_reduced(mantissa);
    ln_m + (exponent + i64::from(halved)) as f64 * LN_2
}

/// `ln(m)` for `m` in [1, 2), relative error below 1e-15: `m` above sqrt(2) is halved, the log
/// of the result comes from the series of [`ln`], and ln 2 is added back.
///
/// For a caller that assembles `ln(m 2^e)` itself as `ln_1_to_2(m) + e ln2` (the GBDT
/// trainer's loss, which takes one log of a product of probabilities): that adds ln 2 and
/// `e ln2` in two roundings, so its absolute error is about 1e-16, but near `x = 1` from below
/// its relative error is far larger than [`ln`]'s, which adds them in one. The trainer's loss
/// needs only the absolute accuracy, and its recorded losses depend on these bits.
pub fn ln_1_to_2(m: f64) -> f64 {
    let (ln_m, halved) = ln_reduced(m);
    ln_m + if halved { LN_2 } else { 0.0 }
}

/// For `m` in [1, 2): `m` above sqrt(2) is halved (the `bool`), then `ln m = 2 atanh(s)` with
/// `s = (m - 1)/(m + 1)`, |s| <= 0.172, by its series to s^23 (Horner's rule in `s^2`).
fn ln_reduced(m: f64) -> (f64, bool) {
    let halve = m > SQRT_2;
    let m = if halve { m * 0.5 } else { m };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 1/(2k + 1) for k = 11 down to 1.
    let mut series = 1.0 / 23.0;
    for k in (1..11).rev() {
        series = series * s2 + 1.0 / f64::from(2 * k + 1);
    }
    let series = series * s2 + 1.0;
    (2.0 * s * series, halve)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in ulps between `ours` and the platform's `exact` (glibc's exp and log are
    /// within 1 ulp, almost always correctly rounded).
    fn ulps(ours: f64, exact: f64) -> f64 {
        let ulp = f64::from_bits(exact.abs().to_bits() + 1) - exact.abs();
        (ours - exact).abs() / ulp
    }

    #[test]
    fn exp_is_within_three_ulps_of_std_and_saturates() {
        let mut worst = 0.0f64;
        for i in 0..=400_000 {
            let x = -708.0 + 1417.0 * f64::from(i) / 400_000.0;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 3.0, "worst error {worst} ulps");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(709.0).is_finite() && exp(-708.0) > 0.0);
        assert_eq!(exp(709.000_000_1), f64::INFINITY);
        assert_eq!(exp(-708.000_000_1), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_two_ulps_of_std_and_handles_the_edges() {
        let mut worst = 0.0f64;
        for i in 1..=400_000 {
            let x = f64::from(i) / 9_973.0;
            if x != 1.0 {
                worst = worst.max(ulps(ln(x), x.ln()));
            }
        }
        for x in [1e-310, 5e-324, f64::MIN_POSITIVE, 1e-300, 1e300, f64::MAX] {
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        assert!(worst <= 2.0, "worst error {worst} ulps");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
    }

    #[test]
    fn ln_1_to_2_is_accurate_on_its_interval() {
        let mut worst = 0.0f64;
        for i in 1..100_000 {
            let m = 1.0 + f64::from(i) / 100_000.0;
            worst = worst.max(ulps(ln_1_to_2(m), m.ln()));
        }
        assert!(worst <= 4.0, "worst error {worst} ulps");
        assert_eq!(ln_1_to_2(1.0), 0.0);
    }

    #[test]
    fn sigmoid_is_symmetric_and_saturates() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(-800.0), 0.0);
        assert_eq!(sigmoid(800.0), 1.0);
        for i in -300..=300 {
            let x = f64::from(i) / 10.0;
            let exact = 1.0 / (1.0 + (-x).exp());
            assert!(
                (sigmoid(x) - exact).abs() <= 4.0 * f64::EPSILON * exact,
                "{x}"
            );
            assert!(
                (sigmoid(x) + sigmoid(-x) - 1.0).abs() <= 2.0 * f64::EPSILON,
                "{x}"
            );
        }
    }
}
