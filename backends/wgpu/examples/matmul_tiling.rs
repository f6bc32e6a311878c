//! A/B benchmark of the wgpu f32 matmul kernels on the first adapter (lavapipe in CI): every
//! tiled-matmul shape the adapter fits (`TiledConfig::CANDIDATES`), the default and the tuned
//! shape with element-by-element loads instead of 4-word rows (`scalar`), the autotuner's
//! choice, and the generic one-invocation-per-output kernel, on the same adapter in the same
//! run.
//!
//! `cargo run --release -p accel-wgpu --example matmul_tiling [n] [rounds]` (default 256, 7).
//! The autotuner runs first (`WgpuBackend::autotune`, which also stores its choice in the
//! tuning cache) and its report is printed. Then each round times one n×n×n matmul per
//! variant, interleaved, each ending when the device is idle; the best round of each is
//! reported, with GFLOP/s and the speed-up over the generic kernel. Every result is checked
//! once against a host f64 product before timing.

use accel_core::{Device, Tensor, ops};
use accel_wgpu::{TiledConfig, WgpuBackend};
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

/// A fresh backend on the first adapter (each variant gets its own, so settings and
/// pipeline caches stay apart).
fn first_adapter() -> Option<WgpuBackend> {
    let (mut backends, _) = accel_wgpu::open_all();
    (!backends.is_empty()).then(|| backends.swap_remove(0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(256), |s| s.parse())?;
    let rounds: usize = args.next().map_or(Ok(7), |s| s.parse())?;
    let Some(tuned) = first_adapter() else {
        eprintln!("matmul_tiling: no wgpu adapter; install mesa-vulkan-drivers for lavapipe");
        return Ok(());
    };
    let start = Instant::now();
    let report = tuned.autotune()?;
    println!("autotune: {:.2} s, probes (m, k, n) {:?}", start.elapsed().as_secs_f64(), report.probes);
    for (c, r) in &report.candidates {
        match r {
            Ok(t) => {
                let ms: Vec<String> = t.iter().map(|d| format!("{:.2}", d.as_secs_f64() * 1e3)).collect();
                println!("  {:>14}: {} ms", c.name(), ms.join(" / "));
            }
            Err(e) => println!("  {:>14}: dropped ({e})", c.name()),
        }
    }
    println!("  chosen {}; cache: {:?}", report.chosen.name(), report.cache);

    let mut variants: Vec<(String, WgpuBackend)> = Vec::new();
    for c in tuned.tiled_candidates() {
        let b = first_adapter().ok_or("adapter vanished")?;
        b.set_tiled_config(c)?;
        variants.push((c.name(), b));
    }
    let mut scalar_shapes = vec![TiledConfig::DEFAULT];
    if report.chosen != TiledConfig::DEFAULT {
        scalar_shapes.push(report.chosen);
    }
    for c in scalar_shapes {
        let scalar = first_adapter().ok_or("adapter vanished")?;
        scalar.set_tiled_config(c)?;
        scalar.set_vec4_loads(false);
        variants.push((format!("{} scalar", c.name()), scalar));
    }
    variants.push((format!("tuned {}", report.chosen.name()), tuned));
    let generic = first_adapter().ok_or("adapter vanished")?;
    generic.set_tiled_matmul(false);
    variants.push(("generic".into(), generic));
    let devs: Vec<(String, Device)> = variants.into_iter().map(|(l, b)| (l, Device::new(b))).collect();
    println!("adapter: {}; n = {n}; best of {rounds} interleaved rounds", devs[0].1.name());

    let (ad, bd) = (values(n * n, 1), values(n * n, 2));
    let mut inputs = Vec::new();
    for (label, dev) in &devs {
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

    let mut best = vec![Duration::MAX; devs.len()];
    for _ in 0..rounds {
        for (slot, (a, b)) in inputs.iter().enumerate() {
            best[slot] = best[slot].min(time_one(a, b)?);
        }
    }
    let gflops = |d: Duration| 2.0 * (n as f64).powi(3) / d.as_secs_f64() / 1e9;
    let generic = best[best.len() - 1];
    for ((label, _), d) in devs.iter().zip(&best) {
        println!(
            "{label:>22}: {:9.3} ms  {:7.2} GFLOP/s  {:5.2}x generic",
            d.as_secs_f64() * 1e3,
            gflops(*d),
            generic.as_secs_f64() / d.as_secs_f64()
        );
    }
    Ok(())
}
