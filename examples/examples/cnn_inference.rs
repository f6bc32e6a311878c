//! A small CNN's forward pass built from accel's ops, run on every device that can run it and
//! compared with the f64 oracle:
//!
//! ```text
//! x [2, 3, 32, 32] → conv 3×3 (16) + bias + ReLU (fused) → max-pool 2×2
//!                  → conv 3×3 (32) + bias + ReLU (fused) → global average pool
//!                  → linear 32 → 10 + bias (fused)       → logits [2, 10]
//! ```
//!
//! Pooling needs no op of its own: a 2×2 max-pool is a max-reduction over the two inner axes
//! of a reshaped view (no copy), a global average pool a mean over H and W. Each device runs
//! the network in the first float dtype it supports for every op used (f32, else bf16, else
//! f16); devices with none (int8-only accelerators) are listed as skipped — see `int8_mlp`
//! for those.
//!
//! `cargo run --release -p accel-examples --example cnn_inference`

use accel::ops::{self, Conv2dOptions, MatmulOptions, ReduceOp};
use accel::{Activation, DType, Device, Epilogue, Error, OpKind, Result, Support, Tensor, bf16, f16};
use accel_examples::{max_errors, random_values};
use std::process::ExitCode;

/// The network's parameters, as host f32 values (uploaded to each device in its dtype).
struct Weights {
    conv1: Vec<f32>,
    bias1: Vec<f32>,
    conv2: Vec<f32>,
    bias2: Vec<f32>,
    fc: Vec<f32>,
    bias_fc: Vec<f32>,
}

impl Weights {
    /// Seeded values scaled like a trained network's (fan-in scaling keeps activations O(1)).
    fn new() -> Weights {
        let scaled = |n: usize, seed: u64, fan_in: usize| -> Vec<f32> {
            let s = (2.0 / fan_in as f32).sqrt();
            random_values(n, seed).into_iter().map(|v| v * s).collect()
        };
        Weights {
            conv1: scaled(16 * 3 * 9, 1, 27),
            bias1: scaled(16, 2, 16),
            conv2: scaled(32 * 16 * 9, 3, 144),
            bias2: scaled(32, 4, 32),
            fc: scaled(32 * 10, 5, 32),
            bias_fc: scaled(10, 6, 10),
        }
    }
}

/// Uploads host f32 values to `device` as `dtype` (rounded on the host).
fn upload(device: &Device, shape: &[usize], values: &[f32], dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::BF16 => {
            Tensor::from_slice(device, shape, &values.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<_>>())
        }
        DType::F16 => Tensor::from_slice(device, shape, &values.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>()),
        _ => Tensor::from_slice(device, shape, values),
    }
}

/// `max` over non-overlapping 2×2 windows of an NCHW tensor: a reshape (metadata only) and
/// one reduction.
fn max_pool_2x2(x: &Tensor) -> Result<Tensor> {
    let &[n, c, h, w] = x.shape() else {
        return Err(Error::invalid("max_pool_2x2", "x", "an NCHW tensor", format!("shape {:?}", x.shape())));
    };
    x.reshape(&[n, c, h / 2, 2, w / 2, 2])?.max(&[3, 5], false)
}

/// The forward pass on `x`'s device, in `x`'s dtype.
fn forward(x: &Tensor, w: &Weights) -> Result<Tensor> {
    let (device, dtype) = (x.device().clone(), x.dtype());
    let up = |shape: &[usize], v: &[f32]| upload(&device, shape, v, dtype);
    let (k1, b1) = (up(&[16, 3, 3, 3], &w.conv1)?, up(&[16], &w.bias1)?);
    let (k2, b2) = (up(&[32, 16, 3, 3], &w.conv2)?, up(&[32], &w.bias2)?);
    let (fc, bfc) = (up(&[32, 10], &w.fc)?, up(&[10], &w.bias_fc)?);

    let relu = |b| Epilogue::new().bias(b).activation(Activation::Relu);
    let h = ops::conv2d(x, &k1, &Conv2dOptions::new().padding(1).epilogue(relu(&b1)))?; // [2, 16, 32, 32]
    let h = max_pool_2x2(&h)?; // [2, 16, 16, 16]
    let h = ops::conv2d(&h, &k2, &Conv2dOptions::new().padding(1).epilogue(relu(&b2)))?; // [2, 32, 16, 16]
    let h = ops::reduce(&h, ReduceOp::Mean, &[2, 3], false)?; // [2, 32]
    ops::matmul_with(&h, &fc, &MatmulOptions::new().epilogue(Epilogue::new().bias(&bfc))) // [2, 10]
}

/// The first float dtype `device` runs every op of the network in.
fn pick_dtype(device: &Device) -> Option<DType> {
    let ops = [OpKind::Conv, OpKind::Reduce, OpKind::Matmul];
    [DType::F32, DType::BF16, DType::F16]
        .into_iter()
        .find(|&d| ops.iter().all(|&k| device.supports(k, d) != Support::Unsupported))
}

/// Largest error relative to the oracle's largest logit that counts as agreement.
fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => 1e-4,
        DType::F16 => 1e-2,
        _ => 5e-2,
    }
}

fn argmax(v: &[f64]) -> Vec<usize> {
    v.chunks(10).map(|row| (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0)).collect()
}

/// Runs the network on every device; returns how many disagreed with the oracle.
fn run() -> Result<usize> {
    let w = Weights::new();
    let input = random_values(2 * 3 * 32 * 32, 7);
    let oracle = accel_tests::reference_device();
    let want = forward(&Tensor::from_slice(&oracle, &[2, 3, 32, 32], &input)?, &w)?;
    let want_classes = argmax(&want.to_f64_vec()?);
    println!("small CNN, batch 2: oracle classes {want_classes:?}");
    println!("{:<20} {:>6} {:>12} {:>10}  result", "device", "dtype", "max rel err", "classes");
    let mut failed = 0;
    for device in accel::devices() {
        let Some(dtype) = pick_dtype(&device) else {
            println!("{:<20} {:>6} {:>12} {:>10}  skipped: no float conv/reduce/matmul", device.name(), "–", "–", "–");
            continue;
        };
        let x = upload(&device, &[2, 3, 32, 32], &input, dtype)?;
        let got = match forward(&x, &w) {
            Ok(t) => t,
            Err(e) => {
                println!("{:<20} {:>6} {:>12} {:>10}  skipped: {e}", device.name(), dtype.name(), "–", "–");
                continue;
            }
        };
        let (_, rel) = max_errors(&got, &want)?;
        let classes = argmax(&got.to_f64_vec()?);
        let ok = rel <= tolerance(dtype) && classes == want_classes;
        failed += usize::from(!ok);
        let verdict = if ok { "agrees with the oracle" } else { "DISAGREES" };
        println!("{:<20} {:>6} {rel:>12.2e} {:>10}  {verdict}", device.name(), dtype.name(), format!("{classes:?}"));
    }
    Ok(failed)
}

fn main() -> Result<ExitCode> {
    Ok(if run()? == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

// `cargo test` runs the example (examples/Cargo.toml: `test = true`), so CI runs it.
#[cfg(test)]
mod tests {
    #[test]
    fn every_device_that_runs_the_cnn_agrees_with_the_oracle() {
        assert_eq!(super::run().map_err(|e| e.to_string()), Ok(0));
    }
}
