//! What is benchmarked: a [`Case`] (op and shape, dtype, layout, epilogue), its seeded
//! inputs, the public-API call that is timed, and the check against the oracle that runs
//! before anything is timed.
//!
//! The check runs the op once on the device and once on the f64 reference device
//! (`accel_tests::reference_device`) and compares them with the conformance suite's
//! tolerance. The oracle is a naive loop, so for large cases it recomputes a sample only:
//! evenly spaced output rows of a matmul (first and last included), or whole images of a
//! batched convolution, chosen so the oracle does at most [`CHECK_FLOPS`] operations. Every
//! output element of the sample is compared.

use crate::shape::{ConvShape, MatmulShape};
use accel::ops::{self, Activation, BinaryOp, Conv2dOptions, Epilogue, MatmulOptions};
use accel::{DType, DataLayout, Device, Tensor};
use accel_tests::{Domain, HostTensor, Rng, Tolerance, seed_for};

/// Errors of the benchmark harness: a message for a person.
pub type BenchResult<T> = Result<T, String>;

/// Converts an accel error into the harness's message type.
pub fn err(context: &str) -> impl Fn(accel::Error) -> String + '_ {
    move |e| format!("{context}: {e}")
}

/// Most operations the oracle performs to check one case (see the module docs).
pub const CHECK_FLOPS: u64 = 400_000_000;

/// Data types of the benchmark command line. `I8` is u8 activations × i8 weights → i32
/// (onnxruntime's MatMulInteger / ConvInteger convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum BenchDType {
    /// f32.
    F32,
    /// bf16 storage (f32 accumulation).
    Bf16,
    /// f16 storage (f32 accumulation).
    F16,
    /// u8 × i8 → i32.
    I8,
}

impl BenchDType {
    /// Name on the command line and in records.
    pub const fn name(self) -> &'static str {
        match self {
            BenchDType::F32 => "f32",
            BenchDType::Bf16 => "bf16",
            BenchDType::F16 => "f16",
            BenchDType::I8 => "i8",
        }
    }
    /// Dtype of `a` / the conv input.
    pub const fn input(self) -> DType {
        match self {
            BenchDType::F32 => DType::F32,
            BenchDType::Bf16 => DType::BF16,
            BenchDType::F16 => DType::F16,
            BenchDType::I8 => DType::U8,
        }
    }
    /// Dtype of `b` / the conv weight.
    pub const fn weight(self) -> DType {
        match self {
            BenchDType::I8 => DType::I8,
            d => d.input(),
        }
    }
    /// Dtype of the output, bias and residual.
    pub const fn output(self) -> DType {
        match self {
            BenchDType::I8 => DType::I32,
            d => d.input(),
        }
    }
}

/// Fused epilogue variants the harness measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum EpilogueKind {
    /// The bare op.
    #[default]
    None,
    /// Per-channel bias then ReLU, fused into the op.
    BiasRelu,
}

impl EpilogueKind {
    /// Name on the command line and in records.
    pub const fn name(self) -> &'static str {
        match self {
            EpilogueKind::None => "none",
            EpilogueKind::BiasRelu => "bias-relu",
        }
    }
}

/// Activation layouts on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Layout {
    /// `[N, C, H, W]`.
    #[default]
    Nchw,
    /// `[N, H, W, C]`.
    Nhwc,
}

impl Layout {
    /// Name in records.
    pub const fn name(self) -> &'static str {
        match self {
            Layout::Nchw => "nchw",
            Layout::Nhwc => "nhwc",
        }
    }
    /// The core layout.
    pub const fn data_layout(self) -> DataLayout {
        match self {
            Layout::Nchw => DataLayout::Nchw,
            Layout::Nhwc => DataLayout::Nhwc,
        }
    }
}

/// One benchmarked op and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// `[m, k] @ [k, n]`, row-major.
    Matmul(MatmulShape),
    /// 2-D convolution.
    Conv2d(ConvShape),
    /// Elementwise add of two `[len]` vectors.
    Add {
        /// Elements.
        len: usize,
    },
}

impl Workload {
    /// Op name in records.
    pub const fn op(&self) -> &'static str {
        match self {
            Workload::Matmul(_) => "matmul",
            Workload::Conv2d(_) => "conv2d",
            Workload::Add { .. } => "add",
        }
    }
    /// Shape string in records (the command-line syntax).
    pub fn shape(&self) -> String {
        match self {
            Workload::Matmul(s) => s.to_string(),
            Workload::Conv2d(s) => s.to_string(),
            Workload::Add { len } => len.to_string(),
        }
    }
    /// Operations per run (a multiply-add counts 2).
    pub fn flops(&self) -> u64 {
        match self {
            Workload::Matmul(s) => s.flops(),
            Workload::Conv2d(s) => s.flops(),
            Workload::Add { len } => *len as u64,
        }
    }
    /// Length of the reduction behind each output element (sets the tolerance).
    pub fn reduction_len(&self) -> usize {
        match self {
            Workload::Matmul(s) => s.k,
            Workload::Conv2d(s) => s.c / s.groups * s.r * s.s,
            Workload::Add { .. } => 1,
        }
    }
    /// Output channels (the bias length).
    fn channels(&self) -> usize {
        match self {
            Workload::Matmul(s) => s.n,
            Workload::Conv2d(s) => s.k,
            Workload::Add { len } => *len,
        }
    }
}

/// A workload with its dtype, activation layout (convolution only) and epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Case {
    /// Op and shape.
    pub workload: Workload,
    /// Data types.
    pub dtype: BenchDType,
    /// Activation layout (convolution only; matmuls are row-major).
    pub layout: Layout,
    /// Fused epilogue (matmul and convolution).
    pub epilogue: EpilogueKind,
}

/// Seeded host inputs of a case; every value is exact in its dtype.
#[derive(Debug, Clone)]
pub struct HostInputs {
    /// `a` or the conv input (in the case's layout).
    pub a: HostTensor,
    /// `b` or the conv weight `[K, C/groups, R, S]`.
    pub b: HostTensor,
    /// Per-channel bias when the epilogue has one.
    pub bias: Option<HostTensor>,
}

/// A case's inputs and preallocated output on a device.
#[derive(Debug)]
pub struct Prepared {
    /// The host values the device tensors hold.
    pub host: HostInputs,
    a: Tensor,
    b: Tensor,
    bias: Option<Tensor>,
    /// The output, written by every run.
    pub out: Tensor,
}

impl Case {
    /// A case with default layout (NCHW) and no epilogue.
    pub fn new(workload: Workload, dtype: BenchDType) -> Case {
        Case { workload, dtype, layout: Layout::Nchw, epilogue: EpilogueKind::None }
    }

    /// Name for reports and seeds (`matmul/256,256,256/f32/nchw/none`).
    pub fn name(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.workload.op(),
            self.workload.shape(),
            self.dtype.name(),
            self.layout.name(),
            self.epilogue.name()
        )
    }

    /// Shapes of `a`, `b` and the output, in the case's layout.
    fn shapes(&self) -> [Vec<usize>; 3] {
        match self.workload {
            Workload::Matmul(s) => [vec![s.m, s.k], vec![s.k, s.n], vec![s.m, s.n]],
            Workload::Conv2d(s) => {
                let [oh, ow] = s.out_hw();
                let w = vec![s.k, s.c / s.groups, s.r, s.s];
                match self.layout {
                    Layout::Nchw => [vec![s.n, s.c, s.h, s.w], w, vec![s.n, s.k, oh, ow]],
                    Layout::Nhwc => [vec![s.n, s.h, s.w, s.c], w, vec![s.n, oh, ow, s.k]],
                }
            }
            Workload::Add { len } => [vec![len], vec![len], vec![len]],
        }
    }

    /// Dtype of the output tensor.
    fn out_dtype(&self) -> DType {
        if matches!(self.workload, Workload::Add { .. }) { self.dtype.input() } else { self.dtype.output() }
    }

    /// Smallest traffic of one run in bytes: inputs read once, output written once.
    pub fn bytes(&self) -> u64 {
        let [a, b, out] = self.shapes();
        let n = |s: &Vec<usize>| s.iter().product::<usize>() as u64;
        let bias = if self.epilogue == EpilogueKind::BiasRelu { self.workload.channels() as u64 } else { 0 };
        n(&a) * self.dtype.input().size() as u64
            + n(&b) * self.dtype.weight().size() as u64
            + (n(&out) + bias) * self.dtype.output().size() as u64
    }

    /// The seeded inputs (the seed comes from [`Case::name`]).
    pub fn host_inputs(&self) -> HostInputs {
        let mut rng = Rng::new(seed_for(&self.name()));
        let [a, b, _] = self.shapes();
        let a = HostTensor::random(&mut rng, &a, self.dtype.input(), Domain::Standard);
        let b = HostTensor::random(&mut rng, &b, self.dtype.weight(), Domain::Standard);
        let bias = (self.epilogue == EpilogueKind::BiasRelu)
            .then(|| HostTensor::random(&mut rng, &[self.workload.channels()], self.dtype.output(), Domain::Standard));
        HostInputs { a, b, bias }
    }

    /// Uploads the inputs to `device` and allocates the output.
    pub fn prepare(&self, device: &Device) -> BenchResult<Prepared> {
        let host = self.host_inputs();
        let up = |t: &HostTensor| t.upload(device).map_err(err("uploading inputs"));
        let (a, b) = (up(&host.a)?, up(&host.b)?);
        let bias = host.bias.as_ref().map(up).transpose()?;
        let [_, _, out_shape] = self.shapes();
        let out = Tensor::zeros(device, &out_shape, self.out_dtype()).map_err(err("allocating the output"))?;
        Ok(Prepared { host, a, b, bias, out })
    }

    /// Runs the op once into the preallocated output (the call that is timed).
    pub fn run(&self, p: &mut Prepared) -> BenchResult<()> {
        let Prepared { a, b, bias, out, .. } = p;
        self.call(a, b, bias.as_ref(), out).map_err(err("running the op"))
    }

    /// The public-API call: `matmul_into`, `conv2d_into` or `binary_into`.
    fn call(&self, a: &Tensor, b: &Tensor, bias: Option<&Tensor>, out: &mut Tensor) -> accel::Result<()> {
        let epilogue = match bias {
            Some(bias) => Epilogue::new().bias(bias).activation(Activation::Relu),
            None => Epilogue::new(),
        };
        match self.workload {
            Workload::Matmul(_) => ops::matmul_into(a, b, &MatmulOptions::new().epilogue(epilogue), out),
            Workload::Conv2d(s) => {
                let opts = Conv2dOptions::new()
                    .stride(s.stride)
                    .padding(s.pad)
                    .groups(s.groups)
                    .layout(self.layout.data_layout())
                    .epilogue(epilogue);
                ops::conv2d_into(a, b, &opts, out)
            }
            Workload::Add { .. } => ops::binary_into(a, b, BinaryOp::Add, out),
        }
    }

    /// Runs once and compares the output with the oracle (see the module docs).
    pub fn check(&self, p: &mut Prepared) -> BenchResult<()> {
        self.run(p)?;
        p.out.device().synchronize().map_err(err("synchronizing"))?;
        let got = p.out.to_f64_vec().map_err(err("reading the output"))?;
        self.check_output(&p.host, &got)
    }

    /// Compares a full row-major output (from any implementation, e.g. a peer crate run on
    /// [`Case::host_inputs`]) with the oracle on the sample the module docs describe.
    pub fn check_output(&self, host: &HostInputs, got: &[f64]) -> BenchResult<()> {
        self.check_sampled(host, got, CHECK_FLOPS)
    }

    /// [`Case::check_output`] with the oracle limited to about `budget` operations.
    pub fn check_sampled(&self, host: &HostInputs, got: &[f64], budget: u64) -> BenchResult<()> {
        let [_, _, out_shape] = self.shapes();
        let numel: usize = out_shape.iter().product();
        if got.len() != numel {
            return Err(format!("{}: output has {} elements, expected {numel}", self.name(), got.len()));
        }
        // Split along the leading axis (matmul rows, conv batch): both are row-major there.
        let (lead, per) = (out_shape[0], numel / out_shape[0].max(1));
        let per_lead_flops = (self.workload.flops() / lead.max(1) as u64).max(1);
        let count = ((budget / per_lead_flops) as usize).clamp(1, lead.max(1));
        let picks: Vec<usize> = if count >= lead {
            (0..lead).collect()
        } else if count == 1 {
            vec![0]
        } else {
            (0..count).map(|i| i * (lead - 1) / (count - 1)).collect()
        };
        let sub = |t: &HostTensor| {
            let per_in = t.data.len() / t.shape[0].max(1);
            let mut shape = t.shape.clone();
            shape[0] = picks.len();
            let data: Vec<f64> =
                picks.iter().flat_map(|&i| t.data[i * per_in..(i + 1) * per_in].iter().copied()).collect();
            HostTensor { shape, dtype: t.dtype, data }
        };
        let reference = accel_tests::reference_device();
        let up = |t: &HostTensor| t.upload(&reference).map_err(err("oracle upload"));
        let a = up(&sub(&host.a))?;
        let b = if self.workload.op() == "add" { up(&sub(&host.b))? } else { up(&host.b)? };
        let bias = host.bias.as_ref().map(up).transpose()?;
        let mut want_shape = out_shape.clone();
        want_shape[0] = picks.len();
        let mut want = Tensor::zeros(&reference, &want_shape, self.out_dtype()).map_err(err("oracle output"))?;
        self.call(&a, &b, bias.as_ref(), &mut want).map_err(err("oracle"))?;
        let want = want.to_f64_vec().map_err(err("oracle output"))?;
        let got: Vec<f64> = picks.iter().flat_map(|&i| got[i * per..(i + 1) * per].iter().copied()).collect();
        let tol = Tolerance::reduction(self.dtype.input(), self.workload.reduction_len());
        match accel_tests::compare(&got, &want, &want_shape, tol, accel_tests::check::MAX_REPORTED) {
            None => Ok(()),
            Some(report) => Err(format!(
                "{}: result differs from the oracle (checked {} of {lead} along the leading axis: {picks:?}): {report}",
                self.name(),
                picks.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(threads: usize) -> Device {
        Device::new(accel_cpu::CpuBackend::with_threads(threads))
    }

    #[test]
    fn every_dtype_epilogue_and_layout_checks_on_the_cpu() {
        let conv = ConvShape::parse("2,8,9,9,6,3,3,2,1,2").unwrap();
        let mm = MatmulShape { m: 17, n: 23, k: 31 };
        for dtype in [BenchDType::F32, BenchDType::Bf16, BenchDType::F16, BenchDType::I8] {
            for epilogue in [EpilogueKind::None, EpilogueKind::BiasRelu] {
                for (workload, layout) in [
                    (Workload::Matmul(mm), Layout::Nchw),
                    (Workload::Conv2d(conv), Layout::Nchw),
                    (Workload::Conv2d(conv), Layout::Nhwc),
                ] {
                    let case = Case { workload, dtype, layout, epilogue };
                    let mut p = case.prepare(&cpu(2)).unwrap();
                    case.check(&mut p).unwrap_or_else(|e| panic!("{}: {e}", case.name()));
                }
            }
        }
    }

    #[test]
    fn a_wrong_output_is_caught() {
        let case = Case::new(Workload::Matmul(MatmulShape { m: 8, n: 8, k: 8 }), BenchDType::F32);
        let mut p = case.prepare(&cpu(1)).unwrap();
        case.run(&mut p).unwrap();
        let mut got = p.out.to_f64_vec().unwrap();
        case.check_output(&p.host, &got).unwrap();
        got[63] += 1.0;
        let e = case.check_output(&p.host, &got).unwrap_err();
        assert!(e.contains("differs"), "{e}");
        assert!(case.check_output(&p.host, &got[1..]).unwrap_err().contains("elements"));
    }

    #[test]
    fn large_cases_check_a_sample_of_rows() {
        // A budget of 16 rows (2·512·64 flops each): rows 0, 34, ..., 511 are recomputed.
        let case = Case::new(Workload::Matmul(MatmulShape { m: 512, n: 512, k: 64 }), BenchDType::I8);
        let mut p = case.prepare(&cpu(2)).unwrap();
        case.run(&mut p).unwrap();
        let mut got = p.out.to_f64_vec().unwrap();
        let budget = 16 * 2 * 512 * 64;
        case.check_sampled(&p.host, &got, budget).unwrap();
        got[511 * 512 + 7] += 1.0;
        let e = case.check_sampled(&p.host, &got, budget).unwrap_err();
        assert!(e.contains("checked 16 of 512") && e.contains("511]"), "{e}");
        // An element outside the sample goes unnoticed: the check is a sample.
        got[511 * 512 + 7] -= 1.0;
        got[512 + 7] += 1.0;
        case.check_sampled(&p.host, &got, budget).unwrap();
    }

    #[test]
    fn bytes_count_inputs_output_and_bias() {
        let mm = Workload::Matmul(MatmulShape { m: 2, n: 3, k: 4 });
        let case = Case { epilogue: EpilogueKind::BiasRelu, ..Case::new(mm, BenchDType::I8) };
        assert_eq!(case.bytes(), 8 + 12 + (6 + 3) * 4);
    }
}
