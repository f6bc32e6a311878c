//! Matrix multiplication: batched with broadcast batch dims, strided and transposed operands
//! (any view), alpha/beta, float (f32/f16/bf16 with f32 accumulation) and int8
//! (i8×i8 or u8×i8 → i32 with zero points) with a fused [`Epilogue`].

use super::Op;
use super::epilogue::{self, Epilogue, EpilogueDesc};
use crate::dtype::DType;
use crate::error::{Error, Result, dims};
use crate::exec::{Input, check_out, launch, same_device};
use crate::shape::{broadcast_shapes, checked_numel};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// Validated matmul. `out[b, i, j] = epilogue(Σ_p a[b, i, p] * b[b, p, j])`.
///
/// Operands: `a` as `[batch.., m, k]`, `b` as `[batch.., k, n]` (both already broadcast over the
/// batch dims, any strides), then the epilogue's bias `[n]` and residual `[batch.., m, n]`.
/// Output: `[batch.., m, n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatmulDesc {
    /// Batch dims of the output (possibly empty).
    pub batch: Vec<usize>,
    /// Rows of `a` and of the output.
    pub m: usize,
    /// Columns of `b` and of the output.
    pub n: usize,
    /// Reduction length.
    pub k: usize,
    /// Dtype of `a`.
    pub dtype: DType,
    /// Dtype of `b` (equal to `dtype` except u8×i8).
    pub b_dtype: DType,
    /// Dtype of the output.
    pub out_dtype: DType,
    /// Scale of the product (float path; 1 on the int8 path).
    pub alpha: f32,
    /// Scale of the previous output contents (float path; 0 on the int8 path).
    pub beta: f32,
    /// Zero points of `a` and `b` (int8 path; (0, 0) otherwise).
    pub zero_points: (i32, i32),
    /// Epilogue; its channel is the column `j`.
    pub epilogue: EpilogueDesc,
}

impl MatmulDesc {
    /// Number of matrices in the batch.
    pub fn batch_count(&self) -> usize {
        self.batch.iter().product()
    }
    /// True on the int8 path.
    pub fn is_int8(&self) -> bool {
        self.dtype.is_int8()
    }
}

/// Options of [`matmul_with`] and [`matmul_into`].
#[derive(Debug, Clone)]
pub struct MatmulOptions<'a> {
    /// Scale of the product (default 1).
    pub alpha: f32,
    /// Scale of the output's previous contents; meaningful with [`matmul_into`] (default 0).
    pub beta: f32,
    /// Zero points of `a` and `b` on the int8 path (default (0, 0)).
    pub zero_points: (i32, i32),
    /// Fused epilogue.
    pub epilogue: Epilogue<'a>,
}

impl Default for MatmulOptions<'_> {
    fn default() -> Self {
        MatmulOptions { alpha: 1.0, beta: 0.0, zero_points: (0, 0), epilogue: Epilogue::default() }
    }
}

impl<'a> MatmulOptions<'a> {
    /// Defaults: alpha 1, beta 0, no zero points, no epilogue.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets alpha.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }
    /// Sets beta.
    pub fn beta(mut self, beta: f32) -> Self {
        self.beta = beta;
        self
    }
    /// Sets the int8 zero points of `a` and `b`.
    pub fn zero_points(mut self, a: i32, b: i32) -> Self {
        self.zero_points = (a, b);
        self
    }
    /// Sets the epilogue.
    pub fn epilogue(mut self, epilogue: Epilogue<'a>) -> Self {
        self.epilogue = epilogue;
        self
    }
}

const OP: &str = "matmul";

struct Plan<'t> {
    desc: MatmulDesc,
    out_shape: SmallVec<[usize; 6]>,
    inputs: SmallVec<[Input<'t>; 4]>,
    flops: u64,
}

fn plan<'t>(a: &'t Tensor, b: &'t Tensor, opts: &MatmulOptions<'t>) -> Result<Plan<'t>> {
    same_device(OP, &[("a", a), ("b", b)])?;
    for (name, t) in [("a", a), ("b", b)] {
        if t.rank() < 2 {
            return Err(Error::shape(OP, name, "rank >= 2 ([.., rows, cols])", dims(t.shape())));
        }
    }
    let int8 = a.dtype().is_int8();
    match a.dtype() {
        DType::F32 | DType::F16 | DType::BF16 if b.dtype() != a.dtype() => {
            return Err(Error::dtype(OP, "b", a.dtype().name(), b.dtype()));
        }
        DType::I8 | DType::U8 if b.dtype() != DType::I8 => {
            return Err(Error::dtype(OP, "b", "i8 (int8 matmul is i8×i8 or u8×i8)", b.dtype()));
        }
        DType::I32 => return Err(Error::dtype(OP, "a", "f32, f16, bf16, i8 or u8", a.dtype())),
        _ => {}
    }
    let (ar, br) = (a.rank(), b.rank());
    let (m, k) = (a.shape()[ar - 2], a.shape()[ar - 1]);
    let (kb, n) = (b.shape()[br - 2], b.shape()[br - 1]);
    if k != kb {
        return Err(Error::shape(
            OP,
            "b",
            format!("[.., {k}, n] (k = {k} from a {})", dims(a.shape())),
            dims(b.shape()),
        ));
    }
    let batch = broadcast_shapes(OP, &a.shape()[..ar - 2], &b.shape()[..br - 2]).map_err(|_| {
        Error::shape(OP, "b", format!("batch dims broadcastable with a {}", dims(a.shape())), dims(b.shape()))
    })?;
    if int8 {
        if opts.alpha != 1.0 || opts.beta != 0.0 {
            return Err(Error::invalid(
                OP,
                "alpha/beta",
                "alpha = 1 and beta = 0 on the int8 path",
                format!("alpha={}, beta={}", opts.alpha, opts.beta),
            ));
        }
        epilogue::check_zero_point(OP, "zero_points.0", a.dtype(), opts.zero_points.0)?;
        epilogue::check_zero_point(OP, "zero_points.1", b.dtype(), opts.zero_points.1)?;
    } else if opts.zero_points != (0, 0) {
        return Err(Error::invalid(OP, "zero_points", "(0, 0) on the float path", format!("{:?}", opts.zero_points)));
    }
    // Inline vectors: a small product's whole call is a few microseconds, and each heap
    // allocation on its path is a noticeable share of it.
    let with_batch = |last: [usize; 2]| batch.iter().copied().chain(last).collect::<SmallVec<[usize; 6]>>();
    let out_shape = with_batch([m, n]);
    checked_numel(OP, "out", &out_shape)?;
    let acc = if int8 { DType::I32 } else { a.dtype() };
    let (epi, out_dtype, bias, residual) = epilogue::validate(OP, &opts.epilogue, a, acc, &out_shape, n)?;
    let mut inputs: SmallVec<[Input<'t>; 4]> = smallvec::smallvec![
        (a, a.view().broadcast_to(OP, "a", &with_batch([m, k]))?),
        (b, b.view().broadcast_to(OP, "b", &with_batch([k, n]))?)
    ];
    if let Some(t) = bias {
        inputs.push((t, t.view().clone()));
    }
    if let Some(t) = residual {
        inputs.push((t, t.view().broadcast_to(OP, "residual", &out_shape)?));
    }
    let flops = 2u64.saturating_mul(checked_numel(OP, "out", &out_shape)? as u64).saturating_mul(k as u64);
    let desc = MatmulDesc {
        batch,
        m,
        n,
        k,
        dtype: a.dtype(),
        b_dtype: b.dtype(),
        out_dtype,
        alpha: opts.alpha,
        beta: opts.beta,
        zero_points: opts.zero_points,
        epilogue: epi,
    };
    Ok(Plan { desc, out_shape, inputs, flops })
}

/// `a @ b` with default options.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    matmul_with(a, b, &MatmulOptions::default())
}

/// `a @ b` with alpha, zero points and an epilogue, into a new tensor.
pub fn matmul_with(a: &Tensor, b: &Tensor, opts: &MatmulOptions<'_>) -> Result<Tensor> {
    let p = plan(a, b, opts)?;
    let out = Tensor::alloc(OP, a.device(), &p.out_shape, p.desc.out_dtype)?;
    let view = out.view().clone();
    launch(Op::Matmul(p.desc), &p.inputs, &out, view, p.flops)?;
    Ok(out)
}

/// `out = epilogue(alpha * a @ b + beta * out)`, into a caller-owned tensor of the output
/// shape and dtype (any non-overlapping strides).
pub fn matmul_into(a: &Tensor, b: &Tensor, opts: &MatmulOptions<'_>, out: &mut Tensor) -> Result<()> {
    let p = plan(a, b, opts)?;
    check_out(OP, out, a, &p.out_shape, p.desc.out_dtype)?;
    let view = out.view().clone();
    launch(Op::Matmul(p.desc), &p.inputs, out, view, p.flops)
}

impl Tensor {
    /// `self @ rhs`; see [`matmul`].
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        matmul(self, rhs)
    }
}
