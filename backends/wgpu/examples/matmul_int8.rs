//! A/B benchmark of the wgpu int8 matmul kernels on the first adapter (lavapipe in CI): the
//! tiled kernel on packed 4x8-bit dot products against the generic one-invocation-per-output
//! kernel, on the same adapter in the same run, for i8 x i8 and for u8 x i8 with zero points
//! (the onnxruntime `MatMulInteger` case).
//!
//! `cargo run --release -p accel-wgpu --example matmul_int8 [n] [rounds]` (default 256, 5).
//! Each round times one matmul per kernel, interleaved, each ending when the device is idle;
//! the best round of each is reported, with GOP/s and the ratio. The two kernels' results
//! are compared once (bit for bit) before timing.

use accel_core::ops::MatmulOptions;
use accel_core::{DType, Device, Tensor, ops};
use std::time::{Duration, Instant};

fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

fn product(a: &Tensor, b: &Tensor, zp: (i32, i32)) -> Result<Tensor, accel_core::Error> {
    ops::matmul_with(a, b, &MatmulOptions::new().zero_points(zp.0, zp.1))
}

fn time_one(a: &Tensor, b: &Tensor, zp: (i32, i32)) -> Result<Duration, accel_core::Error> {
    a.device().synchronize()?;
    let start = Instant::now();
    let c = product(a, b, zp)?;
    c.device().synchronize()?;
    Ok(start.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(256), |s| s.parse())?;
    let rounds: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let (mut tiled, notes) = accel_wgpu::open_all();
    let (mut generic, _) = accel_wgpu::open_all();
    if tiled.is_empty() || generic.is_empty() {
        eprintln!("matmul_int8: no wgpu adapter ({notes:?}); install mesa-vulkan-drivers for lavapipe");
        return Ok(());
    }
    let generic = generic.swap_remove(0);
    generic.set_tiled_matmul(false);
    let devs = [Device::new(tiled.swap_remove(0)), Device::new(generic)];
    println!("adapter: {}; n = {n}; best of {rounds} interleaved rounds", devs[0].name());
    let (ad, bd) = (bytes(n * n, 1), bytes(n * n, 2));
    let b_i8: Vec<i8> = bd.iter().map(|&v| v as i8).collect();
    let a_i8: Vec<i8> = ad.iter().map(|&v| v as i8).collect();
    for (label, a_dtype, zp) in [("i8 x i8", DType::I8, (0, 0)), ("u8 x i8, zero points (3, -2)", DType::U8, (3, -2))] {
        let mut inputs = Vec::new();
        let mut results = Vec::new();
        for dev in &devs {
            let a = match a_dtype {
                DType::U8 => Tensor::from_slice(dev, &[n, n], &ad)?,
                _ => Tensor::from_slice(dev, &[n, n], &a_i8)?,
            };
            let b = Tensor::from_slice(dev, &[n, n], &b_i8)?;
            // The check (and the pipeline compile, kept out of the timings).
            results.push(product(&a, &b, zp)?.to_vec::<i32>()?);
            inputs.push((a, b));
        }
        if results[0] != results[1] {
            return Err(format!("{label}: the tiled and generic results differ").into());
        }
        let mut best = [Duration::MAX; 2];
        for _ in 0..rounds {
            for (slot, (a, b)) in inputs.iter().enumerate() {
                best[slot] = best[slot].min(time_one(a, b, zp)?);
            }
        }
        let gops = |d: Duration| 2.0 * (n as f64).powi(3) / d.as_secs_f64() / 1e9;
        println!("{label}:");
        for (kernel, d) in ["tiled", "generic"].iter().zip(best) {
            println!("  {kernel:>8}: {:9.3} ms  {:7.2} GOP/s", d.as_secs_f64() * 1e3, gops(d));
        }
        println!("  tiled / generic speed-up: {:.2}x", best[1].as_secs_f64() / best[0].as_secs_f64());
    }
    Ok(())
}
