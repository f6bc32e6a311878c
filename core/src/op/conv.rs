//! Convolution: 1-D and 2-D, channels-first (NCHW / NCL) or channels-last (NHWC / NLC),
//! per-side padding, stride, dilation, groups (depthwise is groups = channels), transposed 2-D
//! convolution; float and int8 (u8/i8 input × i8 weight → i32 with zero points) with a fused
//! [`Epilogue`].
//!
//! Backends see one canonical form: every operand is a (possibly permuted) view in NCHW order,
//! and 1-D convolutions are lifted to 2-D with H = 1. `layout` tells a backend which order the
//! data really has, so it can pick a kernel, but the views alone define the math.

use super::Op;
use super::epilogue::{self, Epilogue, EpilogueDesc};
use crate::dtype::DType;
use crate::error::{Error, Result, dims};
use crate::exec::{Input, check_out, launch, same_device};
use crate::shape::{View, checked_numel};
use crate::tensor::Tensor;

/// Memory order of activations (input, output, residual). Weights are always `[O, C/g, kH, kW]`
/// (`[C, O/g, kH, kW]` when transposed) in logical order; pass a permuted view for other
/// weight layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DataLayout {
    /// `[N, C, H, W]` (`[N, C, L]` in 1-D).
    #[default]
    Nchw,
    /// `[N, H, W, C]` (`[N, L, C]` in 1-D).
    Nhwc,
}

/// Validated convolution (forward or transposed).
///
/// Forward: `out[n,o,y,x] = epilogue(Σ in[n, g·Cg+c, y·sH − pT + i·dH, x·sW − pL + j·dW] ·
/// w[o, c, i, j])` over `c < Cg = C/groups`, taps outside the input contributing nothing, with
/// `g = o / (O/groups)`. On the int8 path each product is `(in − zx)(w − zw)`.
///
/// Transposed: `out[n,o,y,x] = epilogue(Σ in[n, g·Cg+c, iy, ix] · w[g·Cg+c, o mod (O/groups), i, j])`
/// over taps with `y + pT − i·dH = iy·sH` (same for x) inside the input.
///
/// Operands: input `[N, C, H, W]`, weight, then bias `[O]` and residual `[N, O, oH, oW]`;
/// output `[N, O, oH, oW]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvDesc {
    /// 1 or 2 (1-D convolutions are lifted to H = 1; this only names the op).
    pub spatial_rank: usize,
    /// Physical order of the activations (a hint; the views are canonical).
    pub layout: DataLayout,
    /// N.
    pub batch: usize,
    /// C.
    pub in_channels: usize,
    /// O.
    pub out_channels: usize,
    /// Group count; C and O are multiples of it.
    pub groups: usize,
    /// [H, W] of the input.
    pub input: [usize; 2],
    /// [kH, kW].
    pub kernel: [usize; 2],
    /// [oH, oW].
    pub output: [usize; 2],
    /// [sH, sW].
    pub stride: [usize; 2],
    /// [dH, dW].
    pub dilation: [usize; 2],
    /// [[top, bottom], [left, right]].
    pub padding: [[usize; 2]; 2],
    /// Extra rows/columns at the bottom/right of a transposed convolution's output.
    pub output_padding: [usize; 2],
    /// Input dtype.
    pub dtype: DType,
    /// Weight dtype.
    pub w_dtype: DType,
    /// Output dtype.
    pub out_dtype: DType,
    /// Zero points of input and weight (int8 path).
    pub zero_points: (i32, i32),
    /// Epilogue; its channel is `o`.
    pub epilogue: EpilogueDesc,
}

impl ConvDesc {
    /// True on the int8 path.
    pub fn is_int8(&self) -> bool {
        self.dtype.is_int8()
    }
    /// Input channels per group.
    pub fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }
    /// Output channels per group.
    pub fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }
    /// True for the depthwise case (groups = C = O).
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.in_channels && self.groups == self.out_channels && self.groups > 1
    }
}

/// Options of a 2-D convolution.
#[derive(Debug, Clone)]
pub struct Conv2dOptions<'a> {
    /// [sH, sW] (default [1, 1]).
    pub stride: [usize; 2],
    /// [top, bottom, left, right] (default 0).
    pub padding: [usize; 4],
    /// [dH, dW] (default [1, 1]).
    pub dilation: [usize; 2],
    /// Groups (default 1).
    pub groups: usize,
    /// Activation layout (default NCHW).
    pub layout: DataLayout,
    /// Zero points of input and weight on the int8 path.
    pub zero_points: (i32, i32),
    /// Fused epilogue.
    pub epilogue: Epilogue<'a>,
}

impl Default for Conv2dOptions<'_> {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: [0; 4],
            dilation: [1, 1],
            groups: 1,
            layout: DataLayout::Nchw,
            zero_points: (0, 0),
            epilogue: Epilogue::default(),
        }
    }
}

impl<'a> Conv2dOptions<'a> {
    /// Defaults: stride 1, no padding, dilation 1, one group, NCHW.
    pub fn new() -> Self {
        Self::default()
    }
    /// Same stride on both axes.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// Same padding on all four sides.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = [p; 4];
        self
    }
    /// Same dilation on both axes.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }
    /// Group count.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// Activation layout.
    pub fn layout(mut self, layout: DataLayout) -> Self {
        self.layout = layout;
        self
    }
    /// Int8 zero points of input and weight.
    pub fn zero_points(mut self, x: i32, w: i32) -> Self {
        self.zero_points = (x, w);
        self
    }
    /// Fused epilogue.
    pub fn epilogue(mut self, e: Epilogue<'a>) -> Self {
        self.epilogue = e;
        self
    }
}

/// Options of a 1-D convolution.
#[derive(Debug, Clone)]
pub struct Conv1dOptions<'a> {
    /// Stride (default 1).
    pub stride: usize,
    /// [left, right] (default 0).
    pub padding: [usize; 2],
    /// Dilation (default 1).
    pub dilation: usize,
    /// Groups (default 1).
    pub groups: usize,
    /// NCHW means `[N, C, L]`, NHWC means `[N, L, C]`.
    pub layout: DataLayout,
    /// Zero points of input and weight on the int8 path.
    pub zero_points: (i32, i32),
    /// Fused epilogue.
    pub epilogue: Epilogue<'a>,
}

impl Default for Conv1dOptions<'_> {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: [0, 0],
            dilation: 1,
            groups: 1,
            layout: DataLayout::Nchw,
            zero_points: (0, 0),
            epilogue: Epilogue::default(),
        }
    }
}

/// Options of a transposed 2-D convolution.
#[derive(Debug, Clone, Default)]
pub struct ConvTranspose2dOptions<'a> {
    /// Stride, padding, dilation, groups, layout, zero points and epilogue as for conv2d.
    pub conv: Conv2dOptions<'a>,
    /// Extra output rows/columns at the bottom/right, each below max(stride, dilation).
    pub output_padding: [usize; 2],
}

struct Geometry {
    rank: usize,
    transposed: bool,
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: [[usize; 2]; 2],
    output_padding: [usize; 2],
    groups: usize,
    layout: DataLayout,
    zero_points: (i32, i32),
}

struct Plan<'t> {
    transposed: bool,
    desc: ConvDesc,
    out_shape: Vec<usize>,
    out_perm: Vec<usize>,
    inputs: Vec<Input<'t>>,
    flops: u64,
}

/// Axis permutation taking the user's activation shape to canonical channels-first order,
/// and the inverse (canonical → user) used to build shapes.
fn perms(rank: usize, layout: DataLayout) -> (Vec<usize>, Vec<usize>) {
    match (rank, layout) {
        (1, DataLayout::Nhwc) => (vec![0, 2, 1], vec![0, 2, 1]),
        (2, DataLayout::Nhwc) => (vec![0, 3, 1, 2], vec![0, 2, 3, 1]),
        (r, _) => ((0..r + 2).collect(), (0..r + 2).collect()),
    }
}

/// Lifts a canonical 1-D view `[N, C, L]` to `[N, C, 1, L]`.
fn lift(rank: usize, v: View) -> View {
    if rank == 1 { v.unsqueeze(2) } else { v }
}

fn plan<'t>(op: &'static str, x: &'t Tensor, w: &'t Tensor, g: &Geometry, epi: &Epilogue<'t>) -> Result<Plan<'t>> {
    same_device(op, &[("input", x), ("weight", w)])?;
    let r = g.rank;
    let layout_name = match (r, g.layout) {
        (1, DataLayout::Nchw) => "[N, C, L]",
        (1, DataLayout::Nhwc) => "[N, L, C]",
        (_, DataLayout::Nchw) => "[N, C, H, W]",
        (_, DataLayout::Nhwc) => "[N, H, W, C]",
    };
    if x.rank() != r + 2 {
        return Err(Error::shape(op, "input", format!("rank {} {layout_name}", r + 2), dims(x.shape())));
    }
    let w_name = match (r, g.transposed) {
        (1, _) => "[O, C/groups, K]",
        (_, false) => "[O, C/groups, kH, kW]",
        (_, true) => "[C, O/groups, kH, kW]",
    };
    if w.rank() != r + 2 {
        return Err(Error::shape(op, "weight", format!("rank {} {w_name}", r + 2), dims(w.shape())));
    }
    let int8 = x.dtype().is_int8();
    match x.dtype() {
        DType::F32 | DType::F16 | DType::BF16 if w.dtype() != x.dtype() => {
            return Err(Error::dtype(op, "weight", x.dtype().name(), w.dtype()));
        }
        DType::I8 | DType::U8 if w.dtype() != DType::I8 => {
            return Err(Error::dtype(op, "weight", "i8 (int8 convolution is i8×i8 or u8×i8)", w.dtype()));
        }
        DType::I32 => return Err(Error::dtype(op, "input", "f32, f16, bf16, i8 or u8", x.dtype())),
        _ => {}
    }
    if int8 {
        epilogue::check_zero_point(op, "zero_points.0", x.dtype(), g.zero_points.0)?;
        epilogue::check_zero_point(op, "zero_points.1", w.dtype(), g.zero_points.1)?;
    } else if g.zero_points != (0, 0) {
        return Err(Error::invalid(op, "zero_points", "(0, 0) on the float path", format!("{:?}", g.zero_points)));
    }
    let (to_canon, to_user) = perms(r, g.layout);
    let xv = lift(r, x.view().permute(op, &to_canon)?);
    let wv = lift(r, w.view().clone());
    let (n, c, in_hw) = (xv.shape()[0], xv.shape()[1], [xv.shape()[2], xv.shape()[3]]);
    let kernel = [wv.shape()[2], wv.shape()[3]];
    let groups = g.groups;
    if groups == 0 {
        return Err(Error::InvalidGroups { op, arg: "groups".into(), detail: "must be at least 1, got 0".into() });
    }
    if c % groups != 0 {
        return Err(Error::InvalidGroups {
            op,
            arg: "groups".into(),
            detail: format!("{groups} groups do not divide the input's {c} channels"),
        });
    }
    let cg = c / groups;
    let out_channels = if g.transposed {
        if wv.shape()[0] != c {
            return Err(Error::shape(
                op,
                "weight",
                format!("{w_name} with C = {c} (the input's channels)"),
                dims(w.shape()),
            ));
        }
        wv.shape()[1].checked_mul(groups).ok_or_else(|| Error::InvalidGroups {
            op,
            arg: "groups".into(),
            detail: format!("{groups} groups of {} output channels overflow usize", wv.shape()[1]),
        })?
    } else {
        let o = wv.shape()[0];
        if wv.shape()[1] != cg {
            return Err(Error::InvalidGroups {
                op,
                arg: "weight".into(),
                detail: format!(
                    "weight has {} input channels per group, input has {c} channels with groups={groups} (expected {cg})",
                    wv.shape()[1]
                ),
            });
        }
        if !o.is_multiple_of(groups) {
            return Err(Error::InvalidGroups {
                op,
                arg: "weight".into(),
                detail: format!("{groups} groups do not divide the weight's {o} output channels"),
            });
        }
        o
    };
    let axis_name = |i: usize| if r == 1 { "L" } else { ["H", "W"][i] };
    let mut output = [0usize; 2];
    for i in 0..2 {
        let (s, d) = (g.stride[i], g.dilation[i]);
        let key = if r == 1 { String::new() } else { format!("[{i}]") };
        if s == 0 {
            return Err(Error::ZeroStep { op, arg: format!("stride{key}") });
        }
        if d == 0 {
            return Err(Error::ZeroStep { op, arg: format!("dilation{key}") });
        }
        if kernel[i] == 0 {
            return Err(Error::shape(
                op,
                "weight",
                format!("kernel size >= 1 along {}", axis_name(i)),
                dims(w.shape()),
            ));
        }
        let extent = d.checked_mul(kernel[i] - 1).and_then(|e| e.checked_add(1)).ok_or_else(|| {
            Error::invalid(
                op,
                format!("dilation{key}"),
                "a dilated kernel extent dilation * (k - 1) + 1 that fits in usize",
                format!("{d} with kernel size {}", kernel[i]),
            )
        })?;
        let [pa, pb] = g.padding[i];
        if g.transposed {
            let op_pad = g.output_padding[i];
            if op_pad >= s.max(d) {
                return Err(Error::invalid(
                    op,
                    format!("output_padding{key}"),
                    format!("a value below max(stride, dilation) = {}", s.max(d)),
                    op_pad.to_string(),
                ));
            }
            if in_hw[i] == 0 {
                return Err(Error::shape(op, "input", format!("{} >= 1", axis_name(i)), dims(x.shape())));
            }
            let full = (in_hw[i] - 1)
                .checked_mul(s)
                .and_then(|v| v.checked_add(extent))
                .and_then(|v| v.checked_add(op_pad))
                .ok_or_else(|| {
                    Error::invalid(
                        op,
                        format!("output size along {}", axis_name(i)),
                        "a size that fits in usize",
                        format!("({} - 1) * {s} + {extent} + {op_pad}", in_hw[i]),
                    )
                })?;
            if pa.checked_add(pb).is_none_or(|pads| pads >= full) {
                return Err(Error::invalid(
                    op,
                    format!("padding along {}", axis_name(i)),
                    format!("a total below the uncropped output size {full}"),
                    format!("{pa} + {pb}"),
                ));
            }
            output[i] = full - pa - pb;
        } else {
            let padded = in_hw[i].checked_add(pa).and_then(|v| v.checked_add(pb)).ok_or_else(|| {
                Error::invalid(
                    op,
                    format!("padding along {}", axis_name(i)),
                    "a padded input size that fits in usize",
                    format!("{} + {pa} + {pb}", in_hw[i]),
                )
            })?;
            if extent > padded {
                return Err(Error::KernelTooLarge {
                    op,
                    dim: axis_name(i),
                    kernel_extent: extent,
                    padded_input: padded,
                });
            }
            output[i] = (padded - extent) / s + 1;
        }
    }
    let canon_out = [n, out_channels, output[0], output[1]];
    let user_canon: Vec<usize> = if r == 1 { vec![n, out_channels, output[1]] } else { canon_out.to_vec() };
    let out_shape: Vec<usize> = to_user.iter().map(|&a| user_canon[a]).collect();
    checked_numel(op, "out", &out_shape)?;
    let acc = if int8 { DType::I32 } else { x.dtype() };
    let (epi_desc, out_dtype, bias, residual) = epilogue::validate(op, epi, x, acc, &out_shape, out_channels)?;
    let mut inputs = vec![(x, xv), (w, wv)];
    if let Some(t) = bias {
        inputs.push((t, t.view().clone()));
    }
    if let Some(t) = residual {
        let v = t.view().broadcast_to(op, "residual", &out_shape)?.permute(op, &to_canon)?;
        inputs.push((t, lift(r, v)));
    }
    let taps = (c / groups) as u64 * kernel[0] as u64 * kernel[1] as u64;
    let flops = 2u64
        .saturating_mul(n as u64)
        .saturating_mul(out_channels as u64)
        .saturating_mul(output[0] as u64 * output[1] as u64)
        .saturating_mul(taps);
    let flops = if g.transposed {
        // Each input pixel scatters into every tap once.
        2u64.saturating_mul(n as u64 * c as u64 * in_hw[0] as u64 * in_hw[1] as u64)
            .saturating_mul((out_channels / groups) as u64 * kernel[0] as u64 * kernel[1] as u64)
    } else {
        flops
    };
    let desc = ConvDesc {
        spatial_rank: r,
        layout: g.layout,
        batch: n,
        in_channels: c,
        out_channels,
        groups,
        input: in_hw,
        kernel,
        output,
        stride: g.stride,
        dilation: g.dilation,
        padding: g.padding,
        output_padding: g.output_padding,
        dtype: x.dtype(),
        w_dtype: w.dtype(),
        out_dtype,
        zero_points: g.zero_points,
        epilogue: epi_desc,
    };
    Ok(Plan { transposed: g.transposed, desc, out_shape, out_perm: to_canon, inputs, flops })
}

fn run(op: &'static str, p: Plan<'_>, x: &Tensor, out: Option<&mut Tensor>) -> Result<Option<Tensor>> {
    let transposed = p.transposed;
    let wrap = |d| if transposed { Op::ConvTranspose(d) } else { Op::Conv(d) };
    let r = p.desc.spatial_rank;
    match out {
        Some(out) => {
            check_out(op, out, x, &p.out_shape, p.desc.out_dtype)?;
            let view = lift(r, out.view().permute(op, &p.out_perm)?);
            launch(wrap(p.desc), &p.inputs, out, view, p.flops)?;
            Ok(None)
        }
        None => {
            let out = Tensor::alloc(op, x.device(), &p.out_shape, p.desc.out_dtype)?;
            let view = lift(r, out.view().permute(op, &p.out_perm)?);
            launch(wrap(p.desc), &p.inputs, &out, view, p.flops)?;
            Ok(Some(out))
        }
    }
}

fn geometry2d(o: &Conv2dOptions<'_>, transposed: bool, output_padding: [usize; 2]) -> Geometry {
    Geometry {
        rank: 2,
        transposed,
        stride: o.stride,
        dilation: o.dilation,
        padding: [[o.padding[0], o.padding[1]], [o.padding[2], o.padding[3]]],
        output_padding,
        groups: o.groups,
        layout: o.layout,
        zero_points: o.zero_points,
    }
}

fn geometry1d(o: &Conv1dOptions<'_>) -> Geometry {
    Geometry {
        rank: 1,
        transposed: false,
        stride: [1, o.stride],
        dilation: [1, o.dilation],
        padding: [[0, 0], o.padding],
        output_padding: [0, 0],
        groups: o.groups,
        layout: o.layout,
        zero_points: o.zero_points,
    }
}

/// 2-D convolution into a new tensor.
pub fn conv2d(input: &Tensor, weight: &Tensor, opts: &Conv2dOptions<'_>) -> Result<Tensor> {
    let p = plan("conv2d", input, weight, &geometry2d(opts, false, [0, 0]), &opts.epilogue)?;
    run("conv2d", p, input, None)?.ok_or_else(no_output)
}

/// 2-D convolution into a caller-owned tensor.
pub fn conv2d_into(input: &Tensor, weight: &Tensor, opts: &Conv2dOptions<'_>, out: &mut Tensor) -> Result<()> {
    let p = plan("conv2d", input, weight, &geometry2d(opts, false, [0, 0]), &opts.epilogue)?;
    run("conv2d", p, input, Some(out)).map(drop)
}

/// 1-D convolution into a new tensor.
pub fn conv1d(input: &Tensor, weight: &Tensor, opts: &Conv1dOptions<'_>) -> Result<Tensor> {
    let p = plan("conv1d", input, weight, &geometry1d(opts), &opts.epilogue)?;
    run("conv1d", p, input, None)?.ok_or_else(no_output)
}

/// 1-D convolution into a caller-owned tensor.
pub fn conv1d_into(input: &Tensor, weight: &Tensor, opts: &Conv1dOptions<'_>, out: &mut Tensor) -> Result<()> {
    let p = plan("conv1d", input, weight, &geometry1d(opts), &opts.epilogue)?;
    run("conv1d", p, input, Some(out)).map(drop)
}

/// Transposed 2-D convolution into a new tensor. Weight is `[C, O/groups, kH, kW]`.
pub fn conv_transpose2d(input: &Tensor, weight: &Tensor, opts: &ConvTranspose2dOptions<'_>) -> Result<Tensor> {
    let g = geometry2d(&opts.conv, true, opts.output_padding);
    let p = plan("conv_transpose2d", input, weight, &g, &opts.conv.epilogue)?;
    run("conv_transpose2d", p, input, None)?.ok_or_else(no_output)
}

/// Transposed 2-D convolution into a caller-owned tensor.
pub fn conv_transpose2d_into(
    input: &Tensor,
    weight: &Tensor,
    opts: &ConvTranspose2dOptions<'_>,
    out: &mut Tensor,
) -> Result<()> {
    let g = geometry2d(&opts.conv, true, opts.output_padding);
    let p = plan("conv_transpose2d", input, weight, &g, &opts.conv.epilogue)?;
    run("conv_transpose2d", p, input, Some(out)).map(drop)
}

fn no_output() -> Error {
    Error::Backend { backend: "accel-core".into(), message: "convolution produced no output tensor".into() }
}
