//! Memory-bound wgpu kernels on the first adapter (lavapipe in CI) against the host's copy
//! bandwidth measured in the same run: unary, binary and cast over dense f32 tensors, a full
//! sum (one output, the two-pass reduction), row sums (4096 outputs) and a row softmax (4096
//! rows, a workgroup each).
//!
//! `cargo run --release -p accel-wgpu --example bandwidth [log2 elements] [rounds]` (default
//! 24, i.e. 64 MiB of f32, and 3 rounds). Each op is checked once, then timed from an idle
//! device to an idle device, best of the rounds; GB/s counts the bytes the op must read and
//! write. The reference is a host `copy_from_slice` of the same size (read + write): on a
//! software adapter that is the ceiling; on a GPU compare with its memory bandwidth instead.

use accel_core::op::{BinaryOp, ReduceOp, UnaryOp};
use accel_core::{DType, Device, Tensor, ops};
use std::time::{Duration, Instant};

/// One timed op: it returns its output tensor.
type OpFn<'a> = Box<dyn Fn() -> Result<Tensor, accel_core::Error> + 'a>;

fn best(
    rounds: usize,
    mut f: impl FnMut() -> Result<Duration, accel_core::Error>,
) -> Result<Duration, accel_core::Error> {
    let mut b = Duration::MAX;
    for _ in 0..rounds {
        b = b.min(f()?);
    }
    Ok(b)
}

fn timed(dev: &Device, op: impl Fn() -> Result<Tensor, accel_core::Error>) -> Result<Duration, accel_core::Error> {
    dev.synchronize()?;
    let start = Instant::now();
    let out = op()?;
    out.device().synchronize()?;
    Ok(start.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let log2: u32 = args.next().map_or(Ok(24), |s| s.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |s| s.parse())?;
    let (mut backends, notes) = accel_wgpu::open_all();
    if backends.is_empty() {
        eprintln!("bandwidth: no wgpu adapter ({notes:?}); install mesa-vulkan-drivers for lavapipe");
        return Ok(());
    }
    let dev = Device::new(backends.swap_remove(0));
    let n = 1usize << log2;
    let data: Vec<f32> = (0..n).map(|i| (i % 1024) as f32 - 512.0).collect();
    let x = Tensor::from_slice(&dev, &[n], &data)?;
    let y = Tensor::from_slice(&dev, &[n], &data)?;
    let rows = x.reshape(&[4096, n / 4096])?;
    // The checks (and the pipeline compiles, kept out of the timings).
    let neg = ops::unary(&x, UnaryOp::Neg)?.to_vec::<f32>()?;
    let sum = ops::binary(&x, &y, BinaryOp::Add)?.to_vec::<f32>()?;
    let half = ops::cast(&x, DType::F16)?.to_vec::<half::f16>()?;
    for i in [0, n / 3, n - 1] {
        let v = data[i];
        if neg[i] != -v || sum[i] != 2.0 * v || half[i].to_f32() != v {
            return Err(format!("element {i}: neg {}, add {}, cast {} for {v}", neg[i], sum[i], half[i]).into());
        }
    }
    // Every 1024-run sums to -512 * 1024 + (0 + .. + 1023) = -524288 + 523776 = -512.
    let total = ops::reduce(&x, ReduceOp::Sum, &[], false)?.to_vec::<f32>()?[0];
    let per_row = ops::reduce(&rows, ReduceOp::Sum, &[1], false)?.to_vec::<f32>()?;
    let runs = (n / 1024) as f32;
    if total != -512.0 * runs || per_row[0] != -512.0 * runs / 4096.0 {
        return Err(format!("sum {total}, row sum {}", per_row[0]).into());
    }

    let host = {
        let src = vec![1u8; 4 * n];
        let mut dst = vec![0u8; 4 * n];
        best(rounds.max(5), || {
            let start = Instant::now();
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
            Ok(start.elapsed())
        })?
    };
    let bytes = (4 * n) as f64;
    let gbs = |traffic: f64, d: Duration| traffic / d.as_secs_f64() / 1e9;
    let host_gbs = gbs(2.0 * bytes, host);
    println!("adapter: {}; {n} f32 elements; best of {rounds} rounds", dev.name());
    println!("host copy (read + write): {host_gbs:.2} GB/s");
    println!("{:<26} {:>10} {:>8} {:>10}", "op", "ms", "GB/s", "of host");
    let cases: [(&str, f64, OpFn<'_>); 6] = [
        ("neg", 2.0, Box::new(|| ops::unary(&x, UnaryOp::Neg))),
        ("add", 3.0, Box::new(|| ops::binary(&x, &y, BinaryOp::Add))),
        ("cast f32 -> f16", 1.5, Box::new(|| ops::cast(&x, DType::F16))),
        ("sum (one output)", 1.0, Box::new(|| ops::reduce(&x, ReduceOp::Sum, &[], false))),
        ("row sums (4096 outputs)", 1.0, Box::new(|| ops::reduce(&rows, ReduceOp::Sum, &[1], false))),
        ("softmax (4096 rows)", 2.0, Box::new(|| ops::softmax(&rows, 1, false))),
    ];
    for (name, traffic, op) in &cases {
        let d = best(rounds, || timed(&dev, op))?;
        let g = gbs(traffic * bytes, d);
        println!("{name:<26} {:>10.3} {g:>8.2} {:>9.1}%", d.as_secs_f64() * 1e3, 100.0 * g / host_gbs);
    }
    Ok(())
}
