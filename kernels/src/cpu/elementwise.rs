//! Unary, binary and cast kernels.
//!
//! The dense output is cut into chunks processed in parallel; each chunk is walked in blocks of
//! [`BLOCK`] elements: inputs are gathered through their (coalesced) layouts into f32 buffers
//! (floats) or i32 buffers (integers), the op runs over the buffer with one `match` per block,
//! and the block is converted into the output. Floats compute in f32 (GELU in f64, as
//! [`crate::math::gelu`]); integers compute in i32 and wrap into their own width. Max, min,
//! ReLU and clamp propagate NaN and order +0 above −0 (IEEE 754-2019 maximum/minimum). Casts
//! convert exactly through f64 with one rounding; a same-dtype cast copies bits.

use super::dtype::{Data, Elem, with_data};
use super::epilogue::sigmoid_f32;
use super::layout::{Layout, gather};
use super::par;
use super::{DenseFn, input, unsupported, with_dense_out};
use crate::math::gelu;
use crate::{HostIn, HostOut};
use accel_core::op::{BinaryDesc, BinaryOp, CastDesc, UnaryDesc, UnaryOp};
use accel_core::{Op, Result};

/// Elements converted per inner block (stack buffers).
const BLOCK: usize = 256;
/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// IEEE 754-2019 maximum: NaN if either is, +0 above −0.
#[inline(always)]
pub(crate) fn max_f32(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else if b > a {
        b
    } else if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a.is_sign_negative() {
        b
    } else {
        a
    }
}

/// IEEE 754-2019 minimum: NaN if either is, −0 below +0.
#[inline(always)]
pub(crate) fn min_f32(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else if b < a {
        b
    } else if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a.is_sign_negative() {
        a
    } else {
        b
    }
}

/// Runs `f(start, chunk)` over the dense output in parallel chunks.
fn chunks<T: Elem>(dst: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if dst.len() <= CHUNK {
        f(0, dst);
    } else {
        par::chunks(dst, CHUNK, |i, c| f(i * CHUNK, c));
    }
}

fn apply_unary_f32(op: UnaryOp, v: &mut [f32]) {
    match op {
        UnaryOp::Neg => v.iter_mut().for_each(|x| *x = -*x),
        UnaryOp::Abs => v.iter_mut().for_each(|x| *x = x.abs()),
        UnaryOp::Square => v.iter_mut().for_each(|x| *x *= *x),
        UnaryOp::Relu => v.iter_mut().for_each(|x| *x = max_f32(*x, 0.0)),
        UnaryOp::Sqrt => v.iter_mut().for_each(|x| *x = x.sqrt()),
        UnaryOp::Rsqrt => v.iter_mut().for_each(|x| *x = 1.0 / x.sqrt()),
        UnaryOp::Recip => v.iter_mut().for_each(|x| *x = 1.0 / *x),
        UnaryOp::Exp => v.iter_mut().for_each(|x| *x = x.exp()),
        UnaryOp::Log => v.iter_mut().for_each(|x| *x = x.ln()),
        UnaryOp::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
        UnaryOp::Sigmoid => v.iter_mut().for_each(|x| *x = sigmoid_f32(*x)),
        UnaryOp::Gelu => v.iter_mut().for_each(|x| *x = gelu(*x as f64) as f32),
        UnaryOp::Silu => v.iter_mut().for_each(|x| *x *= sigmoid_f32(*x)),
        UnaryOp::Sin => v.iter_mut().for_each(|x| *x = x.sin()),
        UnaryOp::Cos => v.iter_mut().for_each(|x| *x = x.cos()),
        UnaryOp::Clamp { min, max } => v.iter_mut().for_each(|x| *x = min_f32(max_f32(*x, min), max)),
    }
}

/// Integer unary ops (those `UnaryOp::accepts` admits on integers), wrapping.
fn apply_unary_i32(op: UnaryOp, v: &mut [i32]) {
    match op {
        UnaryOp::Neg => v.iter_mut().for_each(|x| *x = x.wrapping_neg()),
        UnaryOp::Abs => v.iter_mut().for_each(|x| *x = x.wrapping_abs()),
        UnaryOp::Square => v.iter_mut().for_each(|x| *x = x.wrapping_mul(*x)),
        UnaryOp::Relu => v.iter_mut().for_each(|x| *x = (*x).max(0)),
        _ => {}
    }
}

fn apply_binary_f32(op: BinaryOp, a: &mut [f32], b: &[f32]) {
    let it = a.iter_mut().zip(b);
    match op {
        BinaryOp::Add => it.for_each(|(x, y)| *x += y),
        BinaryOp::Sub => it.for_each(|(x, y)| *x -= y),
        BinaryOp::Mul => it.for_each(|(x, y)| *x *= y),
        BinaryOp::Div => it.for_each(|(x, y)| *x /= y),
        BinaryOp::Max => it.for_each(|(x, &y)| *x = max_f32(*x, y)),
        BinaryOp::Min => it.for_each(|(x, &y)| *x = min_f32(*x, y)),
        BinaryOp::Pow => it.for_each(|(x, &y)| *x = x.powf(y)),
    }
}

/// Integer binary ops, wrapping in i32 (exact for i8/u8 operands before the final wrap).
fn apply_binary_i32(op: BinaryOp, a: &mut [i32], b: &[i32]) {
    let it = a.iter_mut().zip(b);
    match op {
        BinaryOp::Add => it.for_each(|(x, y)| *x = x.wrapping_add(*y)),
        BinaryOp::Sub => it.for_each(|(x, y)| *x = x.wrapping_sub(*y)),
        BinaryOp::Mul => it.for_each(|(x, y)| *x = x.wrapping_mul(*y)),
        BinaryOp::Max => it.for_each(|(x, &y)| *x = (*x).max(y)),
        BinaryOp::Min => it.for_each(|(x, &y)| *x = (*x).min(y)),
        BinaryOp::Div | BinaryOp::Pow => {}
    }
}

/// Runs a validated [`UnaryDesc`].
pub(crate) fn unary(d: &UnaryDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let x = input("unary", inputs, 0)?;
    if !d.op.accepts(d.dtype) || x.dtype != d.dtype || out.dtype != d.dtype {
        return Err(unsupported(&Op::Unary(d.clone())));
    }
    with_dense_out(out, false, Unary { op: d.op, x })
}

struct Unary<'a> {
    op: UnaryOp,
    x: HostIn<'a>,
}

impl DenseFn for Unary<'_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        // Input and output share the dtype, so the input is read as `T` too.
        let src = super::dtype::typed::<T>(self.x.bytes);
        let lay = Layout::new(self.x.view);
        let float = self.x.dtype.is_float();
        chunks(dst, |start, chunk| {
            for (bi, block) in chunk.chunks_mut(BLOCK).enumerate() {
                let at = start + bi * BLOCK;
                if float {
                    let mut buf = [0f32; BLOCK];
                    let buf = &mut buf[..block.len()];
                    gather(&src, &lay, at, buf, T::to_f32);
                    apply_unary_f32(self.op, buf);
                    block.iter_mut().zip(buf.iter()).for_each(|(d, &v)| *d = T::from_f32(v));
                } else {
                    let mut buf = [0i32; BLOCK];
                    let buf = &mut buf[..block.len()];
                    gather(&src, &lay, at, buf, T::to_i32);
                    apply_unary_i32(self.op, buf);
                    block.iter_mut().zip(buf.iter()).for_each(|(d, &v)| *d = T::from_i32_wrapping(v));
                }
            }
        });
        Ok(())
    }
}

/// Runs a validated [`BinaryDesc`].
pub(crate) fn binary(d: &BinaryDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let a = input("binary", inputs, 0)?;
    let b = input("binary", inputs, 1)?;
    if !d.op.accepts(d.dtype) || a.dtype != d.dtype || b.dtype != d.dtype || out.dtype != d.dtype {
        return Err(unsupported(&Op::Binary(d.clone())));
    }
    with_dense_out(out, false, Binary { op: d.op, a, b })
}

struct Binary<'a> {
    op: BinaryOp,
    a: HostIn<'a>,
    b: HostIn<'a>,
}

impl DenseFn for Binary<'_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        let (sa, sb) = (super::dtype::typed::<T>(self.a.bytes), super::dtype::typed::<T>(self.b.bytes));
        let (la, lb) = (Layout::new(self.a.view), Layout::new(self.b.view));
        let float = self.a.dtype.is_float();
        chunks(dst, |start, chunk| {
            for (bi, block) in chunk.chunks_mut(BLOCK).enumerate() {
                let at = start + bi * BLOCK;
                let n = block.len();
                if float {
                    let (mut x, mut y) = ([0f32; BLOCK], [0f32; BLOCK]);
                    gather(&sa, &la, at, &mut x[..n], T::to_f32);
                    gather(&sb, &lb, at, &mut y[..n], T::to_f32);
                    apply_binary_f32(self.op, &mut x[..n], &y[..n]);
                    block.iter_mut().zip(&x[..n]).for_each(|(d, &v)| *d = T::from_f32(v));
                } else {
                    let (mut x, mut y) = ([0i32; BLOCK], [0i32; BLOCK]);
                    gather(&sa, &la, at, &mut x[..n], T::to_i32);
                    gather(&sb, &lb, at, &mut y[..n], T::to_i32);
                    apply_binary_i32(self.op, &mut x[..n], &y[..n]);
                    block.iter_mut().zip(&x[..n]).for_each(|(d, &v)| *d = T::from_i32_wrapping(v));
                }
            }
        });
        Ok(())
    }
}

/// Runs a [`CastDesc`] (every dtype pair).
pub(crate) fn cast(d: &CastDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let x = input("cast", inputs, 0)?;
    if x.dtype != d.from || out.dtype != d.to {
        return Err(unsupported(&Op::Cast(d.clone())));
    }
    let data = Data::new(x.bytes, x.dtype);
    with_dense_out(out, false, Cast { data: &data, lay: Layout::new(x.view), same: d.from == d.to })
}

struct Cast<'r, 'a> {
    data: &'r Data<'a>,
    lay: Layout,
    same: bool,
}

impl DenseFn for Cast<'_, '_> {
    fn call<D: Elem>(self, dst: &mut [D]) -> Result<()> {
        let lay = &self.lay;
        if self.same {
            // Same dtype: a bit copy (NaN payloads included).
            let src = with_data!(self.data, |s| bytemuck::cast_slice::<_, u8>(s));
            let src = super::dtype::typed::<D>(src);
            chunks(dst, |start, chunk| gather(&src, lay, start, chunk, |v| v));
            return Ok(());
        }
        with_data!(self.data, |s| {
            chunks(dst, |start, chunk| gather(s, lay, start, chunk, |v| D::from_f64(v.to_f64())));
        });
        Ok(())
    }
}
