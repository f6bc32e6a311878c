//! The README's quick start: a matmul with a fused bias + ReLU, and a convolution, on the CPU.
//!
//! `cargo run --release -p accel-examples --example quickstart`

use accel::ops::{self, Conv2dOptions, MatmulOptions};
use accel::{Activation, Epilogue, Tensor};

fn main() -> accel::Result<()> {
    let cpu = accel::cpu();
    let x = Tensor::from_slice(&cpu, &[2, 3], &[1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0])?;
    let w = Tensor::from_slice(&cpu, &[3, 2], &[0.5f32, -1.0, 0.25, 1.0, -0.5, 2.0])?;
    let bias = Tensor::from_slice(&cpu, &[2], &[0.1f32, -0.1])?;
    let epi = Epilogue::new().bias(&bias).activation(Activation::Relu);
    let y = ops::matmul_with(&x, &w, &MatmulOptions::new().epilogue(epi))?;
    println!("relu(x @ w + bias) = {:?}", y.to_vec::<f32>()?);

    let image = Tensor::full(&cpu, &[1, 1, 4, 4], accel::DType::F32, 1.0)?;
    let kernel = Tensor::full(&cpu, &[1, 1, 3, 3], accel::DType::F32, 1.0)?;
    let edges = ops::conv2d(&image, &kernel, &Conv2dOptions::new().padding(1))?;
    println!("3x3 box sum with padding 1 = {:?}", edges.to_vec::<f32>()?);
    Ok(())
}
