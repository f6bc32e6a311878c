//! Elementwise ops: unary, binary with numpy broadcasting, and casts between all dtypes.
//!
//! Float dtypes compute in (at least) f32 and round once into the output dtype. Integer
//! arithmetic wraps (two's complement), as the hardware does. Casts: float → float rounds to
//! nearest even; float → integer rounds toward zero and saturates, NaN becoming 0; integer →
//! integer saturates. A cast to the same dtype is a strided copy. NaN propagates through relu,
//! clamp, max and min (+0 counts as larger than −0), here and in the epilogue and reductions.

use super::Op;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::exec::{check_out, launch, same_device};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

/// Unary ops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    /// `-x` (floats, i8, i32).
    Neg,
    /// `|x|` (all dtypes).
    Abs,
    /// `x²` (all dtypes).
    Square,
    /// `max(x, 0)` (all dtypes).
    Relu,
    /// `√x` (floats).
    Sqrt,
    /// `1/√x` (floats).
    Rsqrt,
    /// `1/x` (floats).
    Recip,
    /// `eˣ` (floats).
    Exp,
    /// `ln x` (floats).
    Log,
    /// `tanh x` (floats).
    Tanh,
    /// `1/(1+e⁻ˣ)` (floats).
    Sigmoid,
    /// `x·Φ(x)`, exact erf form (floats).
    Gelu,
    /// `x·sigmoid(x)` (floats).
    Silu,
    /// `sin x` (floats).
    Sin,
    /// `cos x` (floats).
    Cos,
    /// `min(max(x, min), max)` (floats).
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

impl UnaryOp {
    /// Every op (with example clamp bounds), for tests and benches.
    pub const ALL: [UnaryOp; 16] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Relu,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Recip,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Gelu,
        UnaryOp::Silu,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Clamp { min: -0.5, max: 0.5 },
    ];

    /// Lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Square => "square",
            UnaryOp::Relu => "relu",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Silu => "silu",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Clamp { .. } => "clamp",
        }
    }

    /// True when the op is defined on `dtype`.
    pub fn accepts(&self, dtype: DType) -> bool {
        match self {
            UnaryOp::Abs | UnaryOp::Square | UnaryOp::Relu => true,
            UnaryOp::Neg => dtype != DType::U8,
            _ => dtype.is_float(),
        }
    }
}

/// Binary ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b` (all dtypes; integers wrap).
    Add,
    /// `a − b` (all dtypes; integers wrap).
    Sub,
    /// `a · b` (all dtypes; integers wrap).
    Mul,
    /// `a / b` (floats).
    Div,
    /// `max(a, b)` (all dtypes).
    Max,
    /// `min(a, b)` (all dtypes).
    Min,
    /// `aᵇ` (floats).
    Pow,
}

impl BinaryOp {
    /// Every op.
    pub const ALL: [BinaryOp; 7] =
        [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Max, BinaryOp::Min, BinaryOp::Pow];

    /// Lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
            BinaryOp::Pow => "pow",
        }
    }

    /// True when the op is defined on `dtype`.
    pub fn accepts(&self, dtype: DType) -> bool {
        !matches!(self, BinaryOp::Div | BinaryOp::Pow) || dtype.is_float()
    }
}

/// Validated unary op. Operands: `[x]` with the output's shape; output same dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryDesc {
    /// The op.
    pub op: UnaryOp,
    /// Input and output dtype.
    pub dtype: DType,
}

/// Validated binary op. Operands: `[a, b]`, both broadcast to the output shape; output same
/// dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryDesc {
    /// The op.
    pub op: BinaryOp,
    /// Dtype of both inputs and the output.
    pub dtype: DType,
}

/// Validated cast. Operands: `[x]` with the output's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct CastDesc {
    /// Input dtype.
    pub from: DType,
    /// Output dtype.
    pub to: DType,
}

fn unary_desc(x: &Tensor, op: UnaryOp) -> Result<UnaryDesc> {
    if !op.accepts(x.dtype()) {
        let expected = if op == UnaryOp::Neg { "a signed dtype" } else { "f32, f16 or bf16" };
        return Err(Error::dtype("unary", format!("x (op {})", op.name()), expected, x.dtype()));
    }
    if let UnaryOp::Clamp { min, max } = op
        && (min.is_nan() || max.is_nan() || min > max)
    {
        return Err(Error::invalid("unary", "clamp", "bounds with min <= max", format!("min={min}, max={max}")));
    }
    Ok(UnaryDesc { op, dtype: x.dtype() })
}

/// Applies a unary op into a new tensor.
pub fn unary(x: &Tensor, op: UnaryOp) -> Result<Tensor> {
    let desc = unary_desc(x, op)?;
    let out = Tensor::alloc("unary", x.device(), x.shape(), x.dtype())?;
    let v = out.view().clone();
    launch(Op::Unary(desc), &[(x, x.view().clone())], &out, v, x.numel() as u64)?;
    Ok(out)
}

/// Applies a unary op into a caller-owned tensor (may be `x` itself).
pub fn unary_into(x: &Tensor, op: UnaryOp, out: &mut Tensor) -> Result<()> {
    let desc = unary_desc(x, op)?;
    check_out("unary", out, x, x.shape(), x.dtype())?;
    let v = out.view().clone();
    launch(Op::Unary(desc), &[(x, x.view().clone())], out, v, x.numel() as u64)
}

fn binary_plan(a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<(BinaryDesc, Vec<usize>)> {
    same_device("binary", &[("a", a), ("b", b)])?;
    if b.dtype() != a.dtype() {
        return Err(Error::dtype("binary", "b", a.dtype().name(), b.dtype()));
    }
    if !op.accepts(a.dtype()) {
        return Err(Error::dtype("binary", format!("a (op {})", op.name()), "f32, f16 or bf16", a.dtype()));
    }
    let shape = broadcast_shapes("binary", a.shape(), b.shape())?;
    crate::shape::checked_numel("binary", "out", &shape)?;
    Ok((BinaryDesc { op, dtype: a.dtype() }, shape))
}

fn binary_launch(a: &Tensor, b: &Tensor, desc: BinaryDesc, shape: &[usize], out: &Tensor) -> Result<()> {
    let inputs =
        vec![(a, a.view().broadcast_to("binary", "a", shape)?), (b, b.view().broadcast_to("binary", "b", shape)?)];
    let v = out.view().clone();
    let n = v.numel() as u64;
    launch(Op::Binary(desc), &inputs, out, v, n)
}

/// Applies a binary op with broadcasting into a new tensor.
pub fn binary(a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let (desc, shape) = binary_plan(a, b, op)?;
    let out = Tensor::alloc("binary", a.device(), &shape, a.dtype())?;
    binary_launch(a, b, desc, &shape, &out)?;
    Ok(out)
}

/// Applies a binary op with broadcasting into a caller-owned tensor (may alias an input).
pub fn binary_into(a: &Tensor, b: &Tensor, op: BinaryOp, out: &mut Tensor) -> Result<()> {
    let (desc, shape) = binary_plan(a, b, op)?;
    check_out("binary", out, a, &shape, a.dtype())?;
    binary_launch(a, b, desc, &shape, out)
}

/// Converts to `dtype` into a new contiguous tensor (see the module docs for rounding).
pub fn cast(x: &Tensor, dtype: DType) -> Result<Tensor> {
    let out = Tensor::alloc("cast", x.device(), x.shape(), dtype)?;
    let v = out.view().clone();
    launch(Op::Cast(CastDesc { from: x.dtype(), to: dtype }), &[(x, x.view().clone())], &out, v, 0)?;
    Ok(out)
}

/// Converts into a caller-owned tensor of the same shape; its dtype is the target.
pub fn cast_into(x: &Tensor, out: &mut Tensor) -> Result<()> {
    let to = out.dtype();
    check_out("cast", out, x, x.shape(), to)?;
    let v = out.view().clone();
    launch(Op::Cast(CastDesc { from: x.dtype(), to }), &[(x, x.view().clone())], out, v, 0)
}

impl Tensor {
    /// See [`cast`].
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        cast(self, dtype)
    }
    /// See [`unary`].
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        unary(self, op)
    }
    /// `self + rhs` with broadcasting.
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinaryOp::Add)
    }
    /// `self − rhs` with broadcasting.
    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinaryOp::Sub)
    }
    /// `self · rhs` with broadcasting.
    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinaryOp::Mul)
    }
    /// `self / rhs` with broadcasting (floats).
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinaryOp::Div)
    }
}
