//! Shared helpers for accel's examples: comparing a device's result with the oracle.

use accel::{Result, Tensor};

/// Largest absolute difference and largest difference relative to the oracle's magnitude.
pub fn max_errors(got: &Tensor, want: &Tensor) -> Result<(f64, f64)> {
    let (g, w) = (got.to_f64_vec()?, want.to_f64_vec()?);
    let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    let abs = g.iter().zip(&w).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Ok((abs, abs / scale))
}

/// Deterministic pseudo-random values in [-1, 1) (splitmix64), so runs are reproducible.
pub fn random_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
