//! SplitMix64, the one small deterministic generator the host tools and their tests share:
//! the same seed gives the same stream on every platform and thread count.

/// SplitMix64's increment (the golden-ratio constant).
pub const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijective mix of the 64 bits of `z`.
pub fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step from state `z`: `SplitMix64(z).next_u64()`.
pub fn mix(z: u64) -> u64 {
    finalize(z.wrapping_add(GAMMA))
}

/// A counter-based draw: random bits that depend only on `seed` and `counters` (each counter
/// folded in with one more step), so no draw depends on threads or on what was drawn before.
pub fn keyed(seed: u64, counters: &[u64]) -> u64 {
    counters
        .iter()
        .fold(mix(seed), |state, &counter| mix(state ^ counter))
}

/// Uniform in [0, 1) from the top 53 of `bits`: an exact f64.
pub fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform in `0..bound` from `bits` by multiply-shift (bias below `bound / 2^64`).
pub fn below(bits: u64, bound: usize) -> usize {
    ((u128::from(bits) * bound as u128) >> 64) as usize
}

/// SplitMix64 (Steele, Lea and Flood): a 64-bit counter passed through a mixing function.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        finalize(self.0)
    }

    /// Uniform in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        below(self.next_u64(), bound)
    }

    /// Uniform in [0, 1) with 24 random bits: an exact f32.
    pub fn unit_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32
    }

    /// Uniform in [0, 1) with 53 random bits: an exact f64.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_reference_stream() {
        // First outputs of SplitMix64 seeded with 0, as published with the algorithm.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(mix(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(keyed(7, &[1, 2]), mix(mix(mix(7) ^ 1) ^ 2));
    }
}
