//! Reductions over axes (sum, max, min, mean) and softmax / log-softmax over one axis.
//!
//! Float inputs accumulate in (at least) f32 and round once into the output. Integer sums
//! accumulate exactly and wrap into i32; integer means are f32; max/min keep the dtype.

use super::Op;
use crate::dtype::DType;
use crate::error::{Error, Result, dims};
use crate::exec::{check_out, launch};
use crate::shape::View;
use crate::tensor::Tensor;

/// Reduction ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum (integers → i32).
    Sum,
    /// Maximum; NaN propagates.
    Max,
    /// Minimum; NaN propagates.
    Min,
    /// Arithmetic mean (integers → f32).
    Mean,
}

impl ReduceOp {
    /// Every op.
    pub const ALL: [ReduceOp; 4] = [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Mean];

    /// Lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::Mean => "mean",
        }
    }

    /// Output dtype for an input of `dtype`.
    pub fn out_dtype(&self, dtype: DType) -> DType {
        match (self, dtype.is_float()) {
            (_, true) => dtype,
            (ReduceOp::Sum, false) => DType::I32,
            (ReduceOp::Mean, false) => DType::F32,
            _ => dtype,
        }
    }
}

/// Validated reduction. Operands: `[x]` permuted to `[kept.., reduced..]` where the last
/// `reduced_rank` dims are reduced; output view has the kept dims only.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceDesc {
    /// The op.
    pub op: ReduceOp,
    /// Input dtype.
    pub dtype: DType,
    /// Output dtype.
    pub out_dtype: DType,
    /// Number of trailing input dims that are reduced.
    pub reduced_rank: usize,
}

/// Validated softmax. Operands: `[x]` with the softmax axis moved last; the output view has
/// the same shape (axis last).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxDesc {
    /// Input and output dtype (a float).
    pub dtype: DType,
    /// Log-softmax instead of softmax.
    pub log: bool,
}

struct Plan {
    desc: ReduceDesc,
    out_shape: Vec<usize>,
    axes: Vec<usize>,
    x_view: View,
}

fn plan(x: &Tensor, op: ReduceOp, axes: &[usize], keepdim: bool) -> Result<Plan> {
    let name = "reduce";
    let rank = x.rank();
    let mut sorted: Vec<usize> = if axes.is_empty() { (0..rank).collect() } else { axes.to_vec() };
    for &a in &sorted {
        if a >= rank {
            return Err(Error::AxisOutOfRange { op: name, arg: "axes".into(), axis: a, rank });
        }
    }
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::invalid(name, "axes", "distinct axes", dims(axes)));
    }
    let extent: usize = sorted.iter().map(|&a| x.shape()[a]).product();
    if extent == 0 && matches!(op, ReduceOp::Max | ReduceOp::Min) {
        return Err(Error::shape(
            name,
            format!("x (op {})", op.name()),
            "non-empty reduced axes (max/min of nothing is undefined)",
            dims(x.shape()),
        ));
    }
    let kept: Vec<usize> = (0..rank).filter(|a| !sorted.contains(a)).collect();
    let perm: Vec<usize> = kept.iter().chain(&sorted).copied().collect();
    let out_shape: Vec<usize> = if keepdim {
        (0..rank).map(|a| if sorted.contains(&a) { 1 } else { x.shape()[a] }).collect()
    } else {
        kept.iter().map(|&a| x.shape()[a]).collect()
    };
    let desc = ReduceDesc { op, dtype: x.dtype(), out_dtype: op.out_dtype(x.dtype()), reduced_rank: sorted.len() };
    let x_view = x.view().permute(name, &perm)?;
    Ok(Plan { desc, out_shape, axes: if keepdim { sorted } else { Vec::new() }, x_view })
}

/// Reduces `axes` (all axes when empty) into a new tensor; `keepdim` keeps them as size 1.
pub fn reduce(x: &Tensor, op: ReduceOp, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let p = plan(x, op, axes, keepdim)?;
    let out = Tensor::alloc("reduce", x.device(), &p.out_shape, p.desc.out_dtype)?;
    let v = out.view().squeeze_axes(&p.axes);
    launch(Op::Reduce(p.desc), &[(x, p.x_view)], &out, v, x.numel() as u64)?;
    Ok(out)
}

/// Reduces into a caller-owned tensor of the reduced shape.
pub fn reduce_into(x: &Tensor, op: ReduceOp, axes: &[usize], keepdim: bool, out: &mut Tensor) -> Result<()> {
    let p = plan(x, op, axes, keepdim)?;
    check_out("reduce", out, x, &p.out_shape, p.desc.out_dtype)?;
    let v = out.view().squeeze_axes(&p.axes);
    launch(Op::Reduce(p.desc), &[(x, p.x_view)], out, v, x.numel() as u64)
}

fn softmax_plan(x: &Tensor, axis: usize) -> Result<Vec<usize>> {
    if !x.dtype().is_float() {
        return Err(Error::dtype("softmax", "x", "f32, f16 or bf16", x.dtype()));
    }
    if axis >= x.rank() {
        return Err(Error::AxisOutOfRange { op: "softmax", arg: "axis".into(), axis, rank: x.rank() });
    }
    let mut perm: Vec<usize> = (0..x.rank()).filter(|&a| a != axis).collect();
    perm.push(axis);
    Ok(perm)
}

fn softmax_launch(x: &Tensor, axis: usize, log: bool, out: Option<&mut Tensor>) -> Result<Option<Tensor>> {
    let perm = softmax_plan(x, axis)?;
    let desc = SoftmaxDesc { dtype: x.dtype(), log };
    let flops = 5u64.saturating_mul(x.numel() as u64);
    let xv = x.view().permute("softmax", &perm)?;
    match out {
        Some(out) => {
            check_out("softmax", out, x, x.shape(), x.dtype())?;
            let v = out.view().permute("softmax", &perm)?;
            launch(Op::Softmax(desc), &[(x, xv)], out, v, flops)?;
            Ok(None)
        }
        None => {
            let out = Tensor::alloc("softmax", x.device(), x.shape(), x.dtype())?;
            let v = out.view().permute("softmax", &perm)?;
            launch(Op::Softmax(desc), &[(x, xv)], &out, v, flops)?;
            Ok(Some(out))
        }
    }
}

/// Softmax (or log-softmax) over `axis` into a new tensor.
pub fn softmax(x: &Tensor, axis: usize, log: bool) -> Result<Tensor> {
    softmax_launch(x, axis, log, None)?.ok_or_else(|| Error::invalid("softmax", "out", "a new tensor", "none"))
}

/// Softmax (or log-softmax) over `axis` into a caller-owned tensor.
pub fn softmax_into(x: &Tensor, axis: usize, log: bool, out: &mut Tensor) -> Result<()> {
    softmax_launch(x, axis, log, Some(out)).map(drop)
}

impl Tensor {
    /// Sum over `axes` (all when empty).
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        reduce(self, ReduceOp::Sum, axes, keepdim)
    }
    /// Maximum over `axes` (all when empty).
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        reduce(self, ReduceOp::Max, axes, keepdim)
    }
    /// Mean over `axes` (all when empty).
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        reduce(self, ReduceOp::Mean, axes, keepdim)
    }
    /// Softmax over `axis`.
    pub fn softmax(&self, axis: usize) -> Result<Tensor> {
        softmax(self, axis, false)
    }
}
