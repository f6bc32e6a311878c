//! Shared helpers for accel's examples: comparing a device's result with the oracle.

use accel::{Result, Tensor};

/// Largest absolute difference and largest difference relative to the oracle's magnitude.
pub fn max_errors(got: &Tensor, want: &Tensor) -> Result<(f64, f64)> {
    let (g, w) = (got.to_f64_vec()?, want.to_f64_vec()?);
    let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    let abs = g.iter().zip(&w).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Ok((abs, abs / scale))
}

/// Deterministic pseudo-random values in [-1, 1) (the test suite's seeded generator), so runs
/// are reproducible.
pub fn random_values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = accel_tests::Rng::new(seed);
    (0..n).map(|_| rng.uniform(-1.0, 1.0) as f32).collect()
}
