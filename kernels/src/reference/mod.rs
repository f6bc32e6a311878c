//! Reference oracles: the truth every device is compared against.
//!
//! [`execute`] implements every [`Op`] variant for every dtype the op accepts, exactly as the
//! descriptors in `accel_core::op` document, and is never optimised: each output element is
//! computed by a plain loop that reads the inputs through their views, accumulates floats in
//! f64 (products of the widened inputs, summed in natural index order) and integers exactly
//! (i64/i128, then wrapped to the dtype's width where the contract says wrap), and rounds once
//! into the output dtype, to nearest even (see [`accel_core::round`] for f16/bf16).
//!
//! The output is written through `out.view` only; every other byte of the buffer is left as it
//! was. Input is assumed validated by core, but inconsistent operands (count, shape, dtype, a
//! view outside its buffer) are reported as [`Error::Backend`] instead of panicking.

mod conv;
mod elementwise;
mod epilogue;
mod matmul;
mod reduce;

#[cfg(test)]
mod tests;

use crate::{HostIn, HostOut};
use accel_core::dtype::{read_f64, write_f64};
use accel_core::{DType, Error, Op, Result, View};

/// Runs `op` on host memory with f64 / exact-integer accumulation and one rounding.
///
/// `inputs` are the op's operands in the order its descriptor documents; `out` is the output
/// view. Errors: [`Error::Backend`] for operands that contradict the descriptor,
/// [`Error::Unsupported`] for an op variant this oracle does not know.
pub fn execute(op: &Op, inputs: &[HostIn<'_>], mut out: HostOut<'_>) -> Result<()> {
    check_in_bounds("out", out.bytes.len(), out.view, out.dtype)?;
    for (i, x) in inputs.iter().enumerate() {
        check_in_bounds(&format!("input {i}"), x.bytes.len(), x.view, x.dtype)?;
    }
    match op {
        Op::Matmul(d) => matmul::matmul(d, inputs, &mut out),
        Op::Conv(d) => conv::conv(d, false, inputs, &mut out),
        Op::ConvTranspose(d) => conv::conv(d, true, inputs, &mut out),
        Op::Unary(d) => elementwise::unary(d, inputs, &mut out),
        Op::Binary(d) => elementwise::binary(d, inputs, &mut out),
        Op::Cast(d) => elementwise::cast(d, inputs, &mut out),
        Op::Reduce(d) => reduce::reduce(d, inputs, &mut out),
        Op::Softmax(d) => reduce::softmax(d, inputs, &mut out),
        _ => Err(Error::Unsupported { op: op.kind().name(), dtype: op.dtype(), backend: "reference".into() }),
    }
}

/// The error for operands that contradict the descriptor.
pub(super) fn bad(message: impl Into<String>) -> Error {
    Error::Backend { backend: "reference".into(), message: message.into() }
}

/// Checks that every element a view addresses lies inside a buffer of `len` bytes, so that
/// reads and writes through it cannot go out of range.
fn check_in_bounds(what: &str, len: usize, view: &View, dtype: DType) -> Result<()> {
    if view.shape().contains(&0) {
        // Nothing is read or written through an empty view.
        return Ok(());
    }
    let elems = len / dtype.size();
    match view.span() {
        Some(end) if end <= elems => Ok(()),
        _ => Err(bad(format!(
            "{what}: view (shape {:?}, strides {:?}, offset {}) reaches outside its buffer of {elems} {dtype} elements",
            view.shape(),
            view.strides(),
            view.offset()
        ))),
    }
}

/// Checks that `inputs` has exactly `n` operands.
pub(super) fn expect_count(op: &str, inputs: &[HostIn<'_>], n: usize) -> Result<()> {
    if inputs.len() == n { Ok(()) } else { Err(bad(format!("{op}: expected {n} operands, got {}", inputs.len()))) }
}

/// Checks an operand's shape and dtype against the descriptor.
pub(super) fn expect_operand(op: &str, what: &str, x: &HostIn<'_>, shape: &[usize], dtype: DType) -> Result<()> {
    if x.dtype != dtype {
        return Err(bad(format!("{op}: {what} has dtype {}, the descriptor says {dtype}", x.dtype)));
    }
    if x.view.shape() != shape {
        return Err(bad(format!("{op}: {what} has shape {:?}, expected {shape:?}", x.view.shape())));
    }
    Ok(())
}

/// Checks the output's shape and dtype against the descriptor.
pub(super) fn expect_out(op: &str, out: &HostOut<'_>, shape: &[usize], dtype: DType) -> Result<()> {
    if out.dtype != dtype {
        return Err(bad(format!("{op}: out has dtype {}, the descriptor says {dtype}", out.dtype)));
    }
    if out.view.shape() != shape {
        return Err(bad(format!("{op}: out has shape {:?}, expected {shape:?}", out.view.shape())));
    }
    Ok(())
}

/// Element `idx` of an input, widened exactly to f64.
pub(super) fn read(x: &HostIn<'_>, idx: &[usize]) -> f64 {
    read_f64(x.bytes, x.dtype, x.view.index(idx))
}

/// Element `idx` of an integer input, exactly.
pub(super) fn read_int(x: &HostIn<'_>, idx: &[usize]) -> i64 {
    // Every integer dtype (at most 32 bits) is exact in f64, so this cast is exact.
    read(x, idx) as i64
}

/// Element `idx` of the output as it is now (for matmul's beta).
pub(super) fn read_out(out: &HostOut<'_>, idx: &[usize]) -> f64 {
    read_f64(out.bytes, out.dtype, out.view.index(idx))
}

/// Writes `v` into element `idx` of the output, rounding once: floats to nearest even, integers
/// toward zero with saturation (NaN becomes 0), as casts do.
pub(super) fn write(out: &mut HostOut<'_>, idx: &[usize], v: f64) {
    // Core's conversion rounds once: f16/bf16 through `accel_core::round`, f32 by `as f32`
    // (nearest even), integers by `as` (toward zero, saturating).
    write_f64(out.bytes, out.dtype, out.view.index(idx), v);
}

/// Wraps an exact integer into `dtype`'s width (two's complement), returned as f64 (exact).
pub(super) fn wrap_int(v: i128, dtype: DType) -> f64 {
    match dtype {
        DType::I8 => v as i8 as f64,
        DType::U8 => v as u8 as f64,
        // I32, and the float dtypes, which never reach here.
        _ => v as i32 as f64,
    }
}

/// Calls `f` with every multi-index of `shape` in row-major order (once for rank 0, never
/// when a dim is 0).
pub(super) fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize]) -> Result<()>) -> Result<()> {
    if shape.contains(&0) {
        return Ok(());
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx)?;
        // Odometer increment: bump the last axis, carrying into earlier ones.
        let mut ax = shape.len();
        loop {
            if ax == 0 {
                return Ok(());
            }
            ax -= 1;
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
}

/// IEEE 754-2019 `maximum`: NaN if either is NaN, and +0 above −0.
pub(super) fn max_f64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 `minimum`: NaN if either is NaN, and −0 below +0.
pub(super) fn min_f64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}
