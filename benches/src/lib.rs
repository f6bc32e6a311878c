//! Benchmark workloads and the checks that run before anything is timed.
//!
//! Every benchmark builds its inputs here, runs the op once on the device and once on the f64
//! reference device, and refuses to time a kernel whose result disagrees: a fast wrong answer
//! is not a benchmark result.

use accel::ops::{self, Conv2dOptions};
use accel::{DType, Device, Error, Result, Tensor};

/// One benchmarked op on concrete inputs.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `[m, k] @ [k, n]`.
    Matmul {
        /// Rows.
        m: usize,
        /// Columns.
        n: usize,
        /// Reduction length.
        k: usize,
    },
    /// NCHW conv2d: input `[n, c, h, w]`, `o` filters of `r × r`, stride, padding.
    Conv2d {
        /// Batch.
        n: usize,
        /// Input channels.
        c: usize,
        /// Height = width.
        hw: usize,
        /// Output channels.
        o: usize,
        /// Kernel size.
        r: usize,
        /// Stride.
        stride: usize,
        /// Padding on every side.
        pad: usize,
    },
    /// Elementwise add of two `[len]` vectors.
    Add {
        /// Elements.
        len: usize,
    },
}

impl Workload {
    /// Short name for reports (`matmul/256x256x256`).
    pub fn name(&self) -> String {
        match self {
            Workload::Matmul { m, n, k } => format!("matmul/{m}x{n}x{k}"),
            Workload::Conv2d { n, c, hw, o, r, stride, pad } => {
                format!("conv2d/n{n}c{c}hw{hw}o{o}r{r}s{stride}p{pad}")
            }
            Workload::Add { len } => format!("add/{len}"),
        }
    }

    /// Operations per run (a multiply-add counts 2).
    pub fn flops(&self) -> u64 {
        match *self {
            Workload::Matmul { m, n, k } => 2 * (m * n * k) as u64,
            Workload::Conv2d { n, c, hw, o, r, stride, pad } => {
                let out = (hw + 2 * pad - r) / stride + 1;
                2 * (n * o * out * out * c * r * r) as u64
            }
            Workload::Add { len } => len as u64,
        }
    }

    /// Input tensors on `device` (deterministic values).
    pub fn inputs(&self, device: &Device, dtype: DType) -> Result<Vec<Tensor>> {
        let shapes: Vec<Vec<usize>> = match *self {
            Workload::Matmul { m, n, k } => vec![vec![m, k], vec![k, n]],
            Workload::Conv2d { n, c, hw, o, r, .. } => vec![vec![n, c, hw, hw], vec![o, c, r, r]],
            Workload::Add { len } => vec![vec![len], vec![len]],
        };
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let len = s.iter().product();
                let data: Vec<f32> = (0..len).map(|j| (((j * 7 + i * 13) % 17) as f32 - 8.0) / 8.0).collect();
                Tensor::from_slice(device, s, &data)?.cast(dtype)
            })
            .collect()
    }

    /// Runs the op once.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Tensor> {
        match *self {
            Workload::Matmul { .. } => ops::matmul(&inputs[0], &inputs[1]),
            Workload::Conv2d { stride, pad, .. } => {
                ops::conv2d(&inputs[0], &inputs[1], &Conv2dOptions::new().stride(stride).padding(pad))
            }
            Workload::Add { .. } => inputs[0].add(&inputs[1]),
        }
    }

    /// Length of the reduction behind each output element (sets the comparison tolerance).
    pub fn reduction_len(&self) -> usize {
        match *self {
            Workload::Matmul { k, .. } => k,
            Workload::Conv2d { c, r, .. } => c * r * r,
            Workload::Add { .. } => 1,
        }
    }

    /// Runs once on `device` and on the reference device and fails unless they agree within
    /// the conformance suite's tolerance for this dtype and reduction length.
    pub fn check(&self, device: &Device, dtype: DType) -> Result<()> {
        let reference = accel_tests::reference_device();
        let got = self.run(&self.inputs(device, dtype)?)?;
        let want = self.run(&self.inputs(&reference, dtype)?)?;
        let tol = accel_tests::Tolerance::reduction(dtype, self.reduction_len());
        accel_tests::compare_tensors(&got, &want, tol).map_err(|e| Error::Backend {
            backend: device.name().into(),
            message: format!("{} {dtype}: result differs from the oracle: {e}", self.name()),
        })
    }
}
