//! A/B benchmark of the wgpu convolution kernels on the first adapter (lavapipe in CI): the
//! fast paths (implicit GEMM; the depthwise kernel for groups = channels) against the generic
//! one-invocation-per-output kernel, on the same adapter in the same run, over a few
//! ResNet-50 and MobileNet-v2 layers (batch 1, NCHW, f32; or int8: u8 input with zero point 3,
//! i8 weights, i32 output, where the fast path is the implicit GEMM on packed dot products and
//! depthwise layers stay generic).
//!
//! `cargo run --release -p accel-wgpu --example conv_fast [rounds] [filter] [f32|u8]`
//! (default 5 rounds, every layer, f32; `filter` keeps the layers whose name contains it).
//! Each round times one convolution per kernel, interleaved, each ending when the device is
//! idle; the best round of each is reported, with GFLOP/s (GOP/s) and the ratio. Both results
//! are compared once before timing (int8: bit for bit).

use accel_core::ops::Conv2dOptions;
use accel_core::{Device, Tensor, ops};
use std::time::{Duration, Instant};

/// name, channels in, channels out, H = W, kernel, stride, groups.
const LAYERS: &[(&str, usize, usize, usize, usize, usize, usize)] = &[
    ("resnet50 conv2_x 3x3 64->64 @56", 64, 64, 56, 3, 1, 1),
    ("resnet50 conv2_x 1x1 256->64 @56", 256, 64, 56, 1, 1, 1),
    ("resnet50 conv3_x 3x3 128->128 @28", 128, 128, 28, 3, 1, 1),
    ("resnet50 conv4_x 3x3 256->256 @14", 256, 256, 14, 3, 1, 1),
    ("resnet50 conv5_x 1x1 512->2048 @7", 512, 2048, 7, 1, 1, 1),
    ("mobilenet_v2 dw 3x3 144 s2 @56", 144, 144, 56, 3, 2, 144),
    ("mobilenet_v2 dw 3x3 192 @28", 192, 192, 28, 3, 1, 192),
    ("mobilenet_v2 dw 3x3 576 @14", 576, 576, 14, 3, 1, 576),
    ("mobilenet_v2 dw 3x3 960 @7", 960, 960, 7, 3, 1, 960),
    ("mobilenet_v2 pw 1x1 96->576 @14", 96, 576, 14, 1, 1, 1),
];

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn time_one(x: &Tensor, w: &Tensor, opts: &Conv2dOptions<'_>) -> Result<Duration, accel_core::Error> {
    x.device().synchronize()?;
    let start = Instant::now();
    let y = ops::conv2d(x, w, opts)?;
    y.device().synchronize()?;
    Ok(start.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let filter = args.next().unwrap_or_default();
    let int8 = match args.next().as_deref() {
        None | Some("f32") => false,
        Some("u8") => true,
        Some(other) => return Err(format!("dtype: expected f32 or u8, got {other}").into()),
    };
    let (mut fast, notes) = accel_wgpu::open_all();
    let (mut generic, _) = accel_wgpu::open_all();
    if fast.is_empty() || generic.is_empty() {
        eprintln!("conv_fast: no wgpu adapter ({notes:?}); install mesa-vulkan-drivers for lavapipe");
        return Ok(());
    }
    let generic = generic.swap_remove(0);
    generic.set_fast_conv(false);
    let devs = [Device::new(fast.swap_remove(0)), Device::new(generic)];
    let dtype = if int8 { "u8 x i8 -> i32" } else { "f32" };
    println!("adapter: {}; batch 1, NCHW, {dtype}; best of {rounds} interleaved rounds", devs[0].name());
    println!("{:<36} {:>10} {:>8} {:>10} {:>8} {:>7}", "layer", "fast ms", "GFLOP/s", "generic ms", "GFLOP/s", "ratio");
    for &(name, c, o, hw, k, s, g) in LAYERS.iter().filter(|l| l.0.contains(filter.as_str())) {
        let zero_points = if int8 { (3, 0) } else { (0, 0) };
        let opts =
            Conv2dOptions { stride: [s, s], padding: [k / 2; 4], groups: g, zero_points, ..Conv2dOptions::default() };
        let (xd, wd) = (values(c * hw * hw, 1), values(o * (c / g) * k * k, 2));
        let mut inputs = Vec::new();
        let mut outs = Vec::new();
        for dev in &devs {
            let (x, w) = if int8 {
                let xq: Vec<u8> = xd.iter().map(|v| ((v + 1.0) * 127.5) as u8).collect();
                let wq: Vec<i8> = wd.iter().map(|v| (v * 127.0) as i8).collect();
                (Tensor::from_slice(dev, &[1, c, hw, hw], &xq)?, Tensor::from_slice(dev, &[o, c / g, k, k], &wq)?)
            } else {
                (Tensor::from_slice(dev, &[1, c, hw, hw], &xd)?, Tensor::from_slice(dev, &[o, c / g, k, k], &wd)?)
            };
            // The check (and the pipeline compile, kept out of the timings).
            let y = ops::conv2d(&x, &w, &opts)?;
            outs.push(if int8 { y.to_vec::<i32>()?.iter().map(|&v| v as f32).collect() } else { y.to_vec::<f32>()? });
            inputs.push((x, w));
        }
        for (i, (a, b)) in outs[0].iter().zip(&outs[1]).enumerate() {
            if (a - b).abs() > if int8 { 0.0 } else { 1e-4 * (1.0 + b.abs()) } {
                return Err(format!("{name}: element {i}: fast {a}, generic {b}").into());
            }
        }
        let mut best = [Duration::MAX; 2];
        for _ in 0..rounds {
            for (slot, (x, w)) in inputs.iter().enumerate() {
                best[slot] = best[slot].min(time_one(x, w, &opts)?);
            }
        }
        let oh = (hw + 2 * (k / 2) - k) / s + 1;
        let flops = 2.0 * (o * oh * oh * (c / g) * k * k) as f64;
        let gf = |d: Duration| flops / d.as_secs_f64() / 1e9;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name:<36} {:>10.3} {:>8.2} {:>10.3} {:>8.2} {:>6.2}x",
            ms(best[0]),
            gf(best[0]),
            ms(best[1]),
            gf(best[1]),
            best[1].as_secs_f64() / best[0].as_secs_f64()
        );
    }
    Ok(())
}
