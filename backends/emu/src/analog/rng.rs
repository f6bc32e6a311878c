//! A counter-based random number generator: every value is a pure function of the seed and
//! a key (the coordinates of the cell or conversion it perturbs), so results depend only on
//! the seed, never on thread scheduling or evaluation order.

/// SplitMix64's finalizer (Steele, Lea & Flood, OOPSLA 2014): a bijective 64-bit mix.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64-bit hash of `seed` and `key`.
#[inline]
pub(crate) fn hash(seed: u64, key: &[u64]) -> u64 {
    key.iter().fold(mix(seed), |h, &k| mix(h ^ k))
}

/// A standard normal deviate for `seed` and `key` (Box–Muller on two hashed uniforms).
pub(crate) fn normal(seed: u64, key: &[u64]) -> f64 {
    let h = hash(seed, key);
    // Uniforms in (0, 1]: 53 random bits, offset so the logarithm is finite.
    let u1 = ((h >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = ((mix(h) >> 11) as f64) / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_are_keyed_and_standard() {
        assert_eq!(normal(7, &[1, 2, 3]), normal(7, &[1, 2, 3]));
        assert_ne!(normal(7, &[1, 2, 3]), normal(7, &[1, 2, 4]));
        assert_ne!(normal(7, &[1, 2, 3]), normal(8, &[1, 2, 3]));
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|i| normal(42, &[i])).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
