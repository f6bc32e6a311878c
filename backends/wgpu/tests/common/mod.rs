//! Helpers shared by the accel-wgpu integration tests.

use accel_wgpu::WgpuBackend;

/// The first adapter's backend; `None` (with a visible skip message naming `suite`) when the
/// machine has none, unless `ACCEL_REQUIRE_GPU=1` makes that a failure.
pub(crate) fn backend(suite: &str) -> Option<WgpuBackend> {
    let (mut backends, notes) = accel_wgpu::open_all();
    if backends.is_empty() {
        let msg = format!("no wgpu adapter found ({notes:?}); install mesa-vulkan-drivers for lavapipe");
        assert!(std::env::var("ACCEL_REQUIRE_GPU").map_or(true, |v| v != "1"), "ACCEL_REQUIRE_GPU=1 but {msg}");
        eprintln!("{suite}: skipping: {msg}");
        return None;
    }
    Some(backends.remove(0))
}

/// Deterministic values in [-1, 1).
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
