//! An int8-quantized MLP (64 → 128 → 128 → 10, batch 8) with the requantization fused into
//! each matmul's epilogue, run on every device with an int8 matmul and compared with the CPU
//! and with the f32 network it was quantized from.
//!
//! The recipe a runtime follows (all of it host-side arithmetic except the three matmuls):
//! - weights: symmetric per output channel, `W_q[:, j] = round(W[:, j] / s_w[j])`,
//!   `s_w[j] = max|W[:, j]| / 127` (i8);
//! - input: symmetric per tensor (i8); hidden activations follow a ReLU, so they are u8 with
//!   zero point 0 and a scale calibrated on the f32 network's activations;
//! - each hidden layer is one call: `acc = Σ x_q·W_q` (exact i32), `+ bias_q` (i32,
//!   `round(b / (s_x·s_w[j]))`), ReLU, then `saturate(round(v · s_x·s_w[j]/s_y))` into u8 —
//!   the epilogue's bias, activation and per-channel requantize;
//! - the last layer keeps its i32 accumulators; the host dequantizes them to logits.
//!
//! `cargo run --release -p accel-examples --example int8_mlp`

use accel::ops::{self, MatmulOptions};
use accel::{Activation, DType, Device, Epilogue, OpKind, Result, Support, Tensor};
use accel_examples::random_values;
use std::process::ExitCode;

const BATCH: usize = 8;
const SIZES: [usize; 4] = [64, 128, 128, 10];

/// One f32 layer: `[fan_in, fan_out]` weights and a bias.
struct Layer {
    w: Vec<f32>,
    b: Vec<f32>,
    fan_in: usize,
    fan_out: usize,
}

fn layers() -> Vec<Layer> {
    SIZES
        .windows(2)
        .enumerate()
        .map(|(i, d)| {
            let s = (2.0 / d[0] as f32).sqrt();
            let w = random_values(d[0] * d[1], 10 + i as u64).into_iter().map(|v| v * s).collect();
            let b = random_values(d[1], 20 + i as u64).into_iter().map(|v| 0.1 * v).collect();
            Layer { w, b, fan_in: d[0], fan_out: d[1] }
        })
        .collect()
}

/// The f32 network on the CPU; returns the logits and each hidden layer's largest output
/// (the calibration the u8 activation scales come from).
fn float_forward(x: &[f32], layers: &[Layer]) -> Result<(Vec<f64>, Vec<f32>)> {
    let cpu = accel::cpu();
    let mut h = Tensor::from_slice(&cpu, &[BATCH, SIZES[0]], x)?;
    let mut ranges = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let w = Tensor::from_slice(&cpu, &[l.fan_in, l.fan_out], &l.w)?;
        let b = Tensor::from_slice(&cpu, &[l.fan_out], &l.b)?;
        let last = i + 1 == layers.len();
        let act = if last { Activation::None } else { Activation::Relu };
        h = ops::matmul_with(&h, &w, &MatmulOptions::new().epilogue(Epilogue::new().bias(&b).activation(act)))?;
        if !last {
            ranges.push(h.to_vec::<f32>()?.into_iter().fold(1e-6f32, f32::max));
        }
    }
    Ok((h.to_f64_vec()?, ranges))
}

/// One quantized layer, ready to upload.
struct QLayer {
    w: Vec<i8>,
    bias: Vec<i32>,
    /// Per-channel requantization scale (`s_x·s_w[j]/s_y`), or the dequantization scale
    /// (`s_x·s_w[j]`) of the last layer.
    scales: Vec<f32>,
    fan_in: usize,
    fan_out: usize,
}

fn quantize(layers: &[Layer], input_scale: f32, ranges: &[f32]) -> Vec<QLayer> {
    let mut s_x = input_scale;
    let mut out = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let s_w: Vec<f32> = (0..l.fan_out)
            .map(|j| (0..l.fan_in).map(|r| l.w[r * l.fan_out + j].abs()).fold(1e-12f32, f32::max) / 127.0)
            .collect();
        let w = (0..l.fan_in * l.fan_out).map(|idx| (l.w[idx] / s_w[idx % l.fan_out]).round() as i8).collect();
        let bias = (0..l.fan_out).map(|j| (l.b[j] / (s_x * s_w[j])).round() as i32).collect();
        // Hidden layers requantize into u8 with the calibrated scale; the last dequantizes.
        let s_y = ranges.get(i).map_or(1.0, |r| r / 255.0);
        let scales = s_w.iter().map(|sw| s_x * sw / s_y).collect();
        out.push(QLayer { w, bias, scales, fan_in: l.fan_in, fan_out: l.fan_out });
        s_x = s_y;
    }
    out
}

/// The quantized network on `device`: i8 input, u8 hidden activations, i32 logits.
fn int8_forward(device: &Device, x_q: &[i8], layers: &[QLayer]) -> Result<Vec<i32>> {
    let mut h = Tensor::from_slice(device, &[BATCH, SIZES[0]], x_q)?;
    for (i, l) in layers.iter().enumerate() {
        let w = Tensor::from_slice(device, &[l.fan_in, l.fan_out], &l.w)?;
        let bias = Tensor::from_slice(device, &[l.fan_out], &l.bias)?;
        let mut epi = Epilogue::new().bias(&bias);
        if i + 1 < layers.len() {
            epi = epi.activation(Activation::Relu).requantize(l.scales.clone(), 0, DType::U8);
        }
        h = ops::matmul_with(&h, &w, &MatmulOptions::new().epilogue(epi))?;
    }
    h.to_vec::<i32>()
}

fn argmax(v: &[f64]) -> Vec<usize> {
    v.chunks(SIZES[3]).map(|r| (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap_or(0)).collect()
}

/// Runs the quantized MLP on every device; returns how many disagreed.
fn run() -> Result<usize> {
    let layers = layers();
    let x = random_values(BATCH * SIZES[0], 1);
    let (logits, ranges) = float_forward(&x, &layers)?;
    let s_in = x.iter().fold(1e-12f32, |m, v| m.max(v.abs())) / 127.0;
    let x_q: Vec<i8> = x.iter().map(|v| (v / s_in).round() as i8).collect();
    let q = quantize(&layers, s_in, &ranges);
    let dequant = |acc: &[i32]| -> Vec<f64> {
        let last = &q[q.len() - 1];
        acc.iter().enumerate().map(|(i, &a)| f64::from(a) * f64::from(last.scales[i % last.fan_out])).collect()
    };
    let scale = logits.iter().fold(1e-30f64, |m, v| m.max(v.abs()));

    let reference = int8_forward(&accel::cpu(), &x_q, &q)?;
    let float_classes = argmax(&logits);
    println!("int8 MLP {SIZES:?}, batch {BATCH}; f32 classes {float_classes:?}");
    println!("{:<20} {:>14} {:>16} {:>9}  result", "device", "vs cpu (int32)", "vs f32 (rel)", "classes");
    let mut failed = 0;
    for device in accel::devices() {
        if [DType::I8, DType::U8].iter().any(|&d| device.supports(OpKind::Matmul, d) == Support::Unsupported) {
            println!("{:<20} {:>14} {:>16} {:>9}  skipped: no int8 matmul", device.name(), "–", "–", "–");
            continue;
        }
        let acc = match int8_forward(&device, &x_q, &q) {
            Ok(acc) => acc,
            Err(e) => {
                println!("{:<20} {:>14} {:>16} {:>9}  skipped: {e}", device.name(), "–", "–", "–");
                continue;
            }
        };
        let diff = acc.iter().zip(&reference).map(|(a, b)| (i64::from(*a) - i64::from(*b)).abs()).max().unwrap_or(0);
        let got = dequant(&acc);
        let rel = got.iter().zip(&logits).fold(0.0f64, |m, (g, w)| m.max((g - w).abs())) / scale;
        let classes = argmax(&got);
        let matches = classes.iter().zip(&float_classes).filter(|(a, b)| a == b).count();
        // Exact int8 datapaths must match the CPU bit for bit; a lossy one (analog
        // conversion) states an error bound and is reported, not required to match.
        let lossy = device.capabilities().error_bound(OpKind::Matmul, DType::U8).is_some();
        let ok = lossy || (diff == 0 && rel < 0.1);
        failed += usize::from(!ok);
        let verdict = match (ok, lossy) {
            (true, false) => "bit-exact with the cpu".to_string(),
            (true, true) => "lossy device (stated error bound)".to_string(),
            _ => "DISAGREES".to_string(),
        };
        println!("{:<20} {diff:>14} {rel:>16.2e} {:>9}  {verdict}", device.name(), format!("{matches}/{BATCH}"));
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
    fn exact_int8_devices_match_the_cpu_bit_for_bit() {
        assert_eq!(super::run().map_err(|e| e.to_string()), Ok(0));
    }
}
