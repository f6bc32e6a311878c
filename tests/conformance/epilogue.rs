//! Fused-epilogue conformance: bias, activation, residual and requantization on matmul and
//! convolution, for f32, f16, bf16 (float path) and i8×i8, u8×i8 (int8 path, i32 bias and
//! residual, zero points) on every device.
//!
//! GELU and SiLU exist only on the float path, so those cases skip the int8 dtypes. Clamp
//! bounds are (−0.75, 1.25) on the float path and whole numbers on the int8 path. Requant
//! scales are drawn per case so outputs spread over the i8/u8 range and some saturate.
//!
//! Each case that can be written as separate ops (no requant, no caller-owned output) also
//! runs as `epilogue.unfused`: the base op, then `binary` bias/residual adds and the `unary`
//! activation on the device under test, compared with the oracle's fused result (DESIGN.md
//! §3: a fused call equals the unfused sequence within tolerance).

use crate::spec;
use accel::backend::Support;
use accel::ops::{
    self, Activation, BinaryOp, Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, Epilogue, MatmulOptions, UnaryOp,
};
use accel::{DType, DataLayout, Device, OpKind, Tensor};
use accel_tests::ViewStep::Transpose;
use accel_tests::{
    CheckError, Domain, FLOAT_DTYPES, HostTensor, INT8_DTYPES, In, Rng, Suite, Tolerance, check_against_reference,
    compare_tensors, int8_zero_points, mac_label, reference_device, slice,
};

#[derive(Clone, Copy)]
enum Base {
    /// `a @ b`.
    Mm { a: In, b: In },
    /// conv2d with uniform padding and stride.
    Conv2d { x: In, w: In, layout: DataLayout, pad: usize, stride: usize, groups: usize },
    /// conv1d (NCL) with uniform padding.
    Conv1d { x: In, w: In, pad: usize },
    /// Transposed conv2d (NCHW), weight `[C, O, kH, kW]`.
    ConvT2d { x: In, w: In, pad: usize, stride: usize },
}

#[derive(Clone, Copy, PartialEq)]
enum Act {
    None,
    Relu,
    Gelu,
    Silu,
    Clamp,
}

#[derive(Clone, Copy)]
struct Rq {
    per_channel: bool,
    dtype: DType,
}

struct Case {
    name: &'static str,
    base: Base,
    bias: bool,
    residual: Option<In>,
    act: Act,
    requant: Option<Rq>,
    /// Float matmul only: beta of `matmul_into` (needs `out`).
    beta: f32,
    out: Option<In>,
}

const fn case(name: &'static str, base: Base) -> Case {
    Case { name, base, bias: false, residual: None, act: Act::None, requant: None, beta: 0.0, out: None }
}

impl Case {
    const fn bias(mut self) -> Case {
        self.bias = true;
        self
    }
    const fn residual(mut self, r: In) -> Case {
        self.residual = Some(r);
        self
    }
    const fn act(mut self, a: Act) -> Case {
        self.act = a;
        self
    }
    const fn requant(mut self, per_channel: bool, dtype: DType) -> Case {
        self.requant = Some(Rq { per_channel, dtype });
        self
    }
    const fn into(mut self, out: In, beta: f32) -> Case {
        self.out = Some(out);
        self.beta = beta;
        self
    }
}

const MM: Base = Base::Mm { a: In::c(&[7, 13]), b: In::c(&[13, 17]) };
const MM_BATCH: Base = Base::Mm { a: In::c(&[2, 5, 6]), b: In::c(&[6, 7]) };
const MM_LARGE: Base = Base::Mm { a: In::c(&[128, 256]), b: In::c(&[256, 96]) };
const CONV: Base = Base::Conv2d {
    x: In::c(&[2, 6, 9, 9]),
    w: In::c(&[8, 6, 3, 3]),
    layout: DataLayout::Nchw,
    pad: 1,
    stride: 1,
    groups: 1,
};
const CONV_NHWC: Base = Base::Conv2d {
    x: In::c(&[2, 9, 9, 6]),
    w: In::c(&[8, 6, 3, 3]),
    layout: DataLayout::Nhwc,
    pad: 1,
    stride: 1,
    groups: 1,
};
const CONV_DW: Base = Base::Conv2d {
    x: In::c(&[1, 8, 10, 10]),
    w: In::c(&[8, 1, 3, 3]),
    layout: DataLayout::Nchw,
    pad: 1,
    stride: 2,
    groups: 8,
};
/// Whole blocks of 16 channels for the lane-interleaved depthwise kernel.
const CONV_DW32: Base = Base::Conv2d {
    x: In::c(&[2, 32, 7, 7]),
    w: In::c(&[32, 1, 3, 3]),
    layout: DataLayout::Nchw,
    pad: 1,
    stride: 1,
    groups: 32,
};
const CONV_LARGE: Base = Base::Conv2d {
    x: In::c(&[1, 32, 28, 28]),
    w: In::c(&[32, 32, 3, 3]),
    layout: DataLayout::Nchw,
    pad: 1,
    stride: 1,
    groups: 1,
};
const CONV1D: Base = Base::Conv1d { x: In::c(&[2, 4, 20]), w: In::c(&[6, 4, 3]), pad: 1 };
const CONVT: Base = Base::ConvT2d { x: In::c(&[1, 4, 5, 5]), w: In::c(&[4, 6, 3, 3]), pad: 1, stride: 2 };

const CASES: &[Case] = &[
    // Matmul (out [7, 17], channel = column).
    case("mm_bias", MM).bias(),
    case("mm_relu", MM).act(Act::Relu),
    case("mm_gelu", MM).act(Act::Gelu),
    case("mm_silu", MM).act(Act::Silu),
    case("mm_clamp", MM).act(Act::Clamp),
    case("mm_residual_full", MM).residual(In::c(&[7, 17])),
    case("mm_residual_row_broadcast", MM).residual(In::c(&[17])),
    case("mm_residual_column_broadcast", MM).residual(In::c(&[7, 1])),
    case("mm_residual_transposed", MM).residual(In::v(&[17, 7], &[Transpose(0, 1)])),
    case("mm_bias_residual_relu", MM).bias().residual(In::c(&[7, 17])).act(Act::Relu),
    case("mm_requant_tensor_i8", MM).requant(false, DType::I8),
    case("mm_requant_channel_u8", MM).requant(true, DType::U8),
    case("mm_bias_relu_requant_channel_i8", MM).bias().act(Act::Relu).requant(true, DType::I8),
    case("mm_bias_gelu_requant_tensor_u8", MM).bias().act(Act::Gelu).requant(false, DType::U8),
    case("mm_batch_bias_residual", MM_BATCH).bias().residual(In::c(&[2, 5, 7])),
    case("mm_into_beta_bias_relu", MM)
        .bias()
        .act(Act::Relu)
        .into(In::v(&[14, 34], &[slice(0, 0, 14, 2), slice(1, 1, 34, 2)]), 0.5),
    case("mm_into_requant_channel_i8", MM)
        .bias()
        .requant(true, DType::I8)
        .into(In::v(&[17, 7], &[Transpose(0, 1)]), 0.0),
    case("mm_large_bias_residual_relu", MM_LARGE).bias().residual(In::c(&[96])).act(Act::Relu),
    // Convolution (out [2, 8, 9, 9] NCHW, channel = output channel).
    case("conv_bias", CONV).bias(),
    case("conv_bias_relu", CONV).bias().act(Act::Relu),
    case("conv_gelu", CONV).act(Act::Gelu),
    case("conv_silu", CONV).act(Act::Silu),
    case("conv_clamp", CONV).bias().act(Act::Clamp),
    case("conv_residual_full", CONV).residual(In::c(&[2, 8, 9, 9])),
    case("conv_residual_channel_broadcast", CONV).residual(In::c(&[1, 8, 1, 1])),
    case("conv_bias_residual_relu_requant_channel_u8", CONV)
        .bias()
        .residual(In::c(&[2, 8, 9, 9]))
        .act(Act::Relu)
        .requant(true, DType::U8),
    case("conv_nhwc_bias_residual_relu", CONV_NHWC).bias().residual(In::c(&[2, 9, 9, 8])).act(Act::Relu),
    case("conv_nhwc_requant_tensor_i8", CONV_NHWC).bias().requant(false, DType::I8),
    case("conv_depthwise_bias_relu", CONV_DW).bias().act(Act::Relu),
    case("conv_depthwise_32ch_bias_residual_relu", CONV_DW32).bias().residual(In::c(&[2, 32, 7, 7])).act(Act::Relu),
    case("conv_into_strided_bias_requant_i8", CONV)
        .bias()
        .requant(true, DType::I8)
        .into(In::v(&[2, 8, 9, 18], &[slice(3, 1, 18, 2)]), 0.0),
    case("conv1d_bias_residual_silu", CONV1D).bias().residual(In::c(&[2, 6, 20])).act(Act::Silu),
    case("conv1d_bias_clamp_requant_u8", CONV1D).bias().act(Act::Clamp).requant(false, DType::U8),
    case("convt_bias_relu", CONVT).bias().act(Act::Relu),
    case("convt_residual_requant_channel_i8", CONVT).residual(In::c(&[1, 6, 1, 1])).requant(true, DType::I8),
    case("conv_large_bias_relu_requant_u8", CONV_LARGE).bias().act(Act::Relu).requant(true, DType::U8),
];

/// Adds every case × applicable dtype for `device`.
pub(crate) fn add(suite: &mut Suite, device: &Device) {
    for case in CASES {
        let kind = if matches!(case.base, Base::ConvT2d { .. }) { OpKind::ConvTranspose } else { OpKind::Conv };
        let kind = if matches!(case.base, Base::Mm { .. }) { OpKind::Matmul } else { kind };
        for dtype in FLOAT_DTYPES.into_iter().chain(INT8_DTYPES) {
            if dtype.is_int8() && matches!(case.act, Act::Gelu | Act::Silu) {
                continue; // float-path only
            }
            let s = spec("epilogue", "epilogue", mac_label(dtype), case.name, kind, dtype);
            suite.add(device, s, move |dev, seed| run(case, dtype, dev, seed));
            let acc = if dtype.is_int8() { DType::I32 } else { dtype };
            let sequence_runs = device.supports(OpKind::Binary, acc) != Support::Unsupported
                && device.supports(OpKind::Unary, acc) != Support::Unsupported;
            if has_unfused_form(case, dtype) && sequence_runs {
                let s = spec("epilogue", "epilogue.unfused", mac_label(dtype), case.name, kind, dtype);
                suite.add(device, s, move |dev, seed| run_unfused(case, dtype, dev, seed));
            }
        }
    }
}

/// (reduction length, channel count) of the base op.
fn geometry(base: &Base) -> (usize, usize) {
    match base {
        Base::Mm { a, b } => (a.logical_shape()[a.shape.len() - 1], b.logical_shape()[b.shape.len() - 1]),
        Base::Conv2d { w, .. } | Base::Conv1d { w, .. } => {
            let w = w.logical_shape();
            (w[1..].iter().product(), w[0])
        }
        Base::ConvT2d { x, w, .. } => {
            let (x, w) = (x.logical_shape(), w.logical_shape());
            (x[1] * w[2] * w[3], w[1])
        }
    }
}

fn base_inputs(base: &Base) -> (In, In) {
    match *base {
        Base::Mm { a, b } => (a, b),
        Base::Conv2d { x, w, .. } | Base::Conv1d { x, w, .. } | Base::ConvT2d { x, w, .. } => (x, w),
    }
}

/// Everything one case × dtype needs, generated from the seed.
struct Data {
    x: HostTensor,
    w: HostTensor,
    bias: Option<HostTensor>,
    residual: Option<HostTensor>,
    requant: Option<(Vec<f32>, i32, DType)>,
    prev: Option<HostTensor>,
    activation: Activation,
    zp: (i32, i32),
    beta: f32,
    tol: Tolerance,
}

fn generate(case: &Case, dtype: DType, seed: u64, device: &Device) -> Data {
    let mut rng = Rng::new(seed);
    let int8 = dtype.is_int8();
    let acc = if int8 { DType::I32 } else { dtype };
    let (k, channels) = geometry(&case.base);
    let (xin, win) = base_inputs(&case.base);
    let main = if int8 { Domain::Full } else { Domain::Standard };
    let x = xin.generate(&mut rng, dtype, main);
    let w = win.generate(&mut rng, if int8 { DType::I8 } else { dtype }, main);
    let side = if int8 { Domain::Uniform(-20000.0, 20000.0) } else { Domain::Standard };
    let bias = case.bias.then(|| HostTensor::random(&mut rng, &[channels], acc, side));
    let residual = case.residual.map(|r| r.generate(&mut rng, acc, side));
    // Typical accumulator magnitude: √K × σ(product), plus bias/residual.
    let typical = if int8 { (k as f64).sqrt() * 5500.0 + 20000.0 } else { (k as f64).sqrt() * 1.4 + 2.0 };
    let requant = case.requant.map(|rq| {
        let n = if rq.per_channel { channels } else { 1 };
        let scales: Vec<f32> = (0..n).map(|_| (60.0 / typical * rng.uniform(0.5, 1.5)) as f32).collect();
        let zp = if rq.dtype == DType::U8 { 110 } else { -7 };
        (scales, zp, rq.dtype)
    });
    let out_dtype = requant.as_ref().map_or(acc, |r| r.2);
    let prev = case.out.map(|o| o.generate(&mut rng, out_dtype, Domain::Standard));
    let activation = match case.act {
        Act::None => Activation::None,
        Act::Relu => Activation::Relu,
        Act::Gelu => Activation::Gelu,
        Act::Silu => Activation::Silu,
        Act::Clamp if int8 => Activation::Clamp { min: -20000.0, max: 30000.0 },
        Act::Clamp => Activation::Clamp { min: -0.75, max: 1.25 },
    };
    let kind = match case.base {
        Base::Mm { .. } => OpKind::Matmul,
        Base::ConvT2d { .. } => OpKind::ConvTranspose,
        _ => OpKind::Conv,
    };
    // A device's stated bound is on the accumulator; an activation changes it by at most its
    // largest slope (below 1.2), a requantization by its scale.
    let bound = device.capabilities().error_bound(kind, dtype);
    let max_product = main.max_product(dtype);
    let tol = match &requant {
        Some((scales, _, _)) => {
            let scale = scales.iter().fold(0.0f64, |m, &s| m.max(s as f64));
            Tolerance::requantized().widened(bound, k, max_product, 1.2 * scale)
        }
        None => Tolerance::reduction(out_dtype, k).widened(bound, k, max_product, 1.2),
    };
    let zp = if int8 { int8_zero_points(dtype) } else { (0, 0) };
    let beta = if int8 { 0.0 } else { case.beta };
    Data { x, w, bias, residual, requant, prev, activation, zp, beta, tol }
}

fn run(case: &'static Case, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let data = generate(case, dtype, seed, device);
    check_against_reference(device, data.tol, |dev| fused(case, &data, dev))
}

/// The fused call on `dev`.
fn fused(case: &Case, d: &Data, dev: &Device) -> accel::Result<Tensor> {
    let (xin, win) = base_inputs(&case.base);
    let (_, x) = xin.realize(dev, &d.x)?;
    let (_, w) = win.realize(dev, &d.w)?;
    let bias = d.bias.as_ref().map(|b| b.upload(dev)).transpose()?;
    let residual = match (&case.residual, &d.residual) {
        (Some(spec), Some(data)) => Some(spec.realize(dev, data)?.1),
        _ => None,
    };
    let mut epi = Epilogue::new().activation(d.activation);
    epi.bias = bias.as_ref();
    epi.residual = residual.as_ref();
    if let Some((scales, zp, dtype)) = &d.requant {
        epi = epi.requantize(scales.clone(), *zp, *dtype);
    }
    let out = match (&case.out, &d.prev) {
        (Some(spec), Some(prev)) => Some(spec.realize(dev, prev)?),
        _ => None,
    };
    call(&case.base, epi, d.zp, d.beta, &x, &w, out)
}

/// True when the case can be written as separate public ops: no requantization (no such
/// op), no caller-owned output, and no clamp on the int8 path (unary clamp is float-only).
fn has_unfused_form(case: &Case, dtype: DType) -> bool {
    case.requant.is_none() && case.out.is_none() && !(dtype.is_int8() && case.act == Act::Clamp)
}

/// DESIGN.md §3: a fused call equals the unfused sequence (base op, `binary` adds of bias and
/// residual, `unary` activation) within tolerance. The sequence runs on the device under test
/// and is compared with the oracle's fused result.
fn run_unfused(case: &'static Case, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let data = generate(case, dtype, seed, device);
    let got = unfused(case, &data, device)
        .map_err(|e| if e.is_unsupported() { CheckError::Unsupported(e) } else { CheckError::Device(e) })?;
    let expected = fused(case, &data, &reference_device()).map_err(CheckError::Oracle)?;
    compare_tensors(&got, &expected, data.tol)
}

fn unfused(case: &Case, d: &Data, dev: &Device) -> accel::Result<Tensor> {
    let (xin, win) = base_inputs(&case.base);
    let (_, x) = xin.realize(dev, &d.x)?;
    let (_, w) = win.realize(dev, &d.w)?;
    let mut y = call(&case.base, Epilogue::new(), d.zp, 0.0, &x, &w, None)?;
    if let Some(b) = &d.bias {
        // Bias runs along the channel axis: the last for matmul and channels-last layouts.
        let c = b.shape[0];
        let shape: &[usize] = match case.base {
            Base::Mm { .. } | Base::Conv2d { layout: DataLayout::Nhwc, .. } => &[c],
            Base::Conv2d { .. } | Base::ConvT2d { .. } => &[c, 1, 1],
            Base::Conv1d { .. } => &[c, 1],
        };
        y = ops::binary(&y, &b.upload(dev)?.reshape(shape)?, BinaryOp::Add)?;
    }
    if let (Some(spec), Some(r)) = (&case.residual, &d.residual) {
        y = ops::binary(&y, &spec.realize(dev, r)?.1, BinaryOp::Add)?;
    }
    let act = match d.activation {
        Activation::None => return Ok(y),
        Activation::Relu => UnaryOp::Relu,
        Activation::Gelu => UnaryOp::Gelu,
        Activation::Silu => UnaryOp::Silu,
        Activation::Clamp { min, max } => UnaryOp::Clamp { min, max },
    };
    ops::unary(&y, act)
}

/// Runs the base op with the epilogue, into `out = (storage, view)` when given (returning the
/// storage), else into a new tensor.
fn call(
    base: &Base,
    epilogue: Epilogue<'_>,
    zp: (i32, i32),
    beta: f32,
    x: &Tensor,
    w: &Tensor,
    out: Option<(Tensor, Tensor)>,
) -> accel::Result<Tensor> {
    let (storage, mut view) = match out {
        Some((s, v)) => (Some(s), Some(v)),
        None => (None, None),
    };
    let result = match *base {
        Base::Mm { .. } => {
            let opts = MatmulOptions::new().beta(beta).zero_points(zp.0, zp.1).epilogue(epilogue);
            match view.as_mut() {
                Some(v) => ops::matmul_into(x, w, &opts, v).map(|()| None),
                None => ops::matmul_with(x, w, &opts).map(Some),
            }
        }
        Base::Conv2d { layout, pad, stride, groups, .. } => {
            let opts = Conv2dOptions::new()
                .layout(layout)
                .padding(pad)
                .stride(stride)
                .groups(groups)
                .zero_points(zp.0, zp.1)
                .epilogue(epilogue);
            match view.as_mut() {
                Some(v) => ops::conv2d_into(x, w, &opts, v).map(|()| None),
                None => ops::conv2d(x, w, &opts).map(Some),
            }
        }
        Base::Conv1d { pad, .. } => {
            let opts = Conv1dOptions { padding: [pad, pad], zero_points: zp, epilogue, ..Default::default() };
            match view.as_mut() {
                Some(v) => ops::conv1d_into(x, w, &opts, v).map(|()| None),
                None => ops::conv1d(x, w, &opts).map(Some),
            }
        }
        Base::ConvT2d { pad, stride, .. } => {
            let conv = Conv2dOptions::new().padding(pad).stride(stride).zero_points(zp.0, zp.1).epilogue(epilogue);
            let opts = ConvTranspose2dOptions { conv, output_padding: [0, 0] };
            match view.as_mut() {
                Some(v) => ops::conv_transpose2d_into(x, w, &opts, v).map(|()| None),
                None => ops::conv_transpose2d(x, w, &opts).map(Some),
            }
        }
    }?;
    match (storage, result) {
        (Some(storage), _) => Ok(storage),
        (None, Some(t)) => Ok(t),
        (None, None) => Err(accel::Error::Backend { backend: "accel-tests".into(), message: "no output".into() }),
    }
}
