//! A/B benchmark of the wgpu f32 matmul kernels on the first adapter (lavapipe in CI): the
//! tiled kernel (64x64 workgroup tiles in workgroup memory, 4x4 outputs per invocation)
//! against the generic one-invocation-per-output kernel, on the same adapter in the same run.
//!
//! `cargo run --release -p accel-wgpu --example matmul_tiling [n] [rounds]` (default 256, 7).
//! Each round times one matmul per kernel, interleaved, each ending when the device is idle;
//! the best round of each is reported, with GFLOP/s and the ratio. Both results are checked
//! once against a host f64 product before timing.

use accel_core::{Device, Tensor, ops};
use std::time::{Duration, Instant};

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn time_one(a: &Tensor, b: &Tensor) -> Result<Duration, accel_core::Error> {
    a.device().synchronize()?;
    let start = Instant::now();
    let c = ops::matmul(a, b)?;
    c.device().synchronize()?;
    Ok(start.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(256), |s| s.parse())?;
    let rounds: usize = args.next().map_or(Ok(7), |s| s.parse())?;
    // Two devices on the first adapter: one lowers f32 matmul to the tiled kernel (the
    // default), the other to the generic kernel.
    let (mut tiled, notes) = accel_wgpu::open_all();
    let (mut generic, _) = accel_wgpu::open_all();
    if tiled.is_empty() || generic.is_empty() {
        eprintln!("matmul_tiling: no wgpu adapter ({notes:?}); install mesa-vulkan-drivers for lavapipe");
        return Ok(());
    }
    let generic = generic.swap_remove(0);
    generic.set_tiled_matmul(false);
    let devs = [Device::new(tiled.swap_remove(0)), Device::new(generic)];
    println!("adapter: {}; n = {n}; best of {rounds} interleaved rounds", devs[0].name());

    let (ad, bd) = (values(n * n, 1), values(n * n, 2));
    let mut inputs = Vec::new();
    for (dev, label) in devs.iter().zip(["tiled", "generic"]) {
        let a = Tensor::from_slice(dev, &[n, n], &ad)?;
        let b = Tensor::from_slice(dev, &[n, n], &bd)?;
        // The check (and the pipeline compile, kept out of the timings).
        let c = ops::matmul(&a, &b)?.to_vec::<f32>()?;
        for (i, j) in [(0, 0), (n / 2, n / 3), (n - 1, n - 1)] {
            let want: f64 = (0..n).map(|q| ad[i * n + q] as f64 * bd[q * n + j] as f64).sum();
            let got = c[i * n + j] as f64;
            if (got - want).abs() > 1e-4 * (n as f64).sqrt() {
                return Err(format!("{label}: c[{i}][{j}] = {got}, expected {want}").into());
            }
        }
        inputs.push((a, b));
    }

    let mut best = [Duration::MAX; 2];
    for _ in 0..rounds {
        for (slot, (a, b)) in inputs.iter().enumerate() {
            best[slot] = best[slot].min(time_one(a, b)?);
        }
    }
    let gflops = |d: Duration| 2.0 * (n as f64).powi(3) / d.as_secs_f64() / 1e9;
    for (label, d) in ["tiled", "generic"].iter().zip(best) {
        println!("{label:>8}: {:9.3} ms  {:7.2} GFLOP/s", d.as_secs_f64() * 1e3, gflops(d));
    }
    println!("tiled / generic speed-up: {:.2}x", best[1].as_secs_f64() / best[0].as_secs_f64());
    Ok(())
}
