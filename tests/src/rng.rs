//! A tiny deterministic RNG (SplitMix64) and name-derived seeds.
//!
//! The suite needs reproducible data, not statistical quality: every case derives its seed
//! from its own name ([`seed_for`]), so a failure message's seed regenerates the exact inputs
//! with `Rng::new(seed)`, on any machine, regardless of which other cases ran.

/// SplitMix64: 64 bits of state, full period, good enough mixing for test data.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `lo..=hi` (requires `lo <= hi`).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo) as u64 + 1;
        // Rejection-free modulo: the bias (< 2^-30 for our spans) is irrelevant for test data.
        lo + (self.next_u64() % span) as i64
    }

    /// Uniform index in `0..n` (requires `n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
}

/// A stable 64-bit seed for a case name (FNV-1a, then one SplitMix64 round to spread it).
pub fn seed_for(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    Rng::new(h).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_and_distinct() {
        assert_eq!(seed_for("matmul/f32/a"), seed_for("matmul/f32/a"));
        assert_ne!(seed_for("matmul/f32/a"), seed_for("matmul/f32/b"));
    }

    #[test]
    fn ranges_hold() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            let x = r.uniform(-2.0, 2.0);
            assert!((-2.0..2.0).contains(&x));
            let i = r.int(-128, 127);
            assert!((-128..=127).contains(&i));
        }
    }
}
