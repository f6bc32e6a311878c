//! The fused epilogue of matmul and convolution, applied to one accumulated value.
//!
//! Float path (f64 throughout, one rounding when the caller writes the result):
//! `v = acc' (alpha/beta already applied by the caller) + bias[c] + residual[idx]`, then the
//! activation, then requantization if any.
//!
//! Int8 path: `v = wrap_i32(acc) +wrap bias[c] +wrap residual[idx]` in i32 two's complement,
//! then ReLU (`max(v, 0)`) or clamp (whole-number bounds, saturated to i32), then
//! requantization if any, else the i32 value.
//!
//! Requantization: `saturate(round_half_even(v · scale[c]) + zp)` with `v · scale` in f64 and the
//! saturation to the output dtype's range (NaN, possible only on the float path, becomes 0 as in
//! a cast).

use super::{HostIn, HostOut, bad, expect_operand, max_f64, min_f64, read, read_int};
use crate::math::{gelu, round_half_even, silu};
use accel_core::op::{Activation, EpilogueDesc};
use accel_core::{DType, Result};

/// A validated epilogue with its operands.
pub(super) struct Epilogue<'a, 'b> {
    desc: &'a EpilogueDesc,
    bias: Option<&'a HostIn<'b>>,
    residual: Option<&'a HostIn<'b>>,
    out_dtype: DType,
}

/// Splits `inputs` into the op's `n_main` own operands and its epilogue, checking the operand
/// count, the bias (`[channels]`) and residual (the output's shape) operands against
/// `acc_dtype` (the float input dtype, or i32 on the int8 path), the activation, and the
/// requantization against the output dtype.
pub(super) fn split<'a, 'b>(
    op: &str,
    inputs: &'a [HostIn<'b>],
    n_main: usize,
    desc: &'a EpilogueDesc,
    acc_dtype: DType,
    channels: usize,
    out: &HostOut<'_>,
) -> Result<(&'a [HostIn<'b>], Epilogue<'a, 'b>)> {
    let (out_shape, out_dtype) = (out.view.shape(), out.dtype);
    let n = n_main + usize::from(desc.bias) + usize::from(desc.residual);
    if inputs.len() != n {
        return Err(bad(format!(
            "{op}: expected {n} operands ({n_main} + bias {} + residual {}), got {}",
            desc.bias,
            desc.residual,
            inputs.len()
        )));
    }
    let (main, rest) = inputs.split_at(n_main);
    let bias = if desc.bias { rest.first() } else { None };
    let residual = if desc.residual { rest.last() } else { None };
    if let Some(b) = bias {
        expect_operand(op, "bias", b, &[channels], acc_dtype)?;
    }
    if let Some(r) = residual {
        expect_operand(op, "residual", r, out_shape, acc_dtype)?;
    }
    let int_path = acc_dtype == DType::I32;
    match desc.activation {
        Activation::Gelu | Activation::Silu if int_path => {
            return Err(bad(format!("{op}: activation {} on the int8 path", desc.activation.name())));
        }
        Activation::Clamp { min, max } if min.is_nan() || max.is_nan() || min > max => {
            return Err(bad(format!("{op}: clamp bounds min={min}, max={max}")));
        }
        Activation::Clamp { min, max } if int_path && (min.fract() != 0.0 || max.fract() != 0.0) => {
            return Err(bad(format!("{op}: non-integer clamp bounds min={min}, max={max} on the int8 path")));
        }
        _ => {}
    }
    match &desc.requant {
        Some(q) => {
            if !out_dtype.is_int8() {
                return Err(bad(format!("{op}: requantization to {out_dtype}")));
            }
            if q.scales.len() != 1 && q.scales.len() != channels {
                return Err(bad(format!("{op}: {} requantization scales for {channels} channels", q.scales.len())));
            }
        }
        None if out_dtype != acc_dtype => {
            return Err(bad(format!("{op}: output dtype {out_dtype} without requantization (expected {acc_dtype})")));
        }
        None => {}
    }
    Ok((main, Epilogue { desc, bias, residual, out_dtype }))
}

impl Epilogue<'_, '_> {
    /// Float path: `v` is `alpha·acc + beta·prev` in f64; returns the value to write.
    pub(super) fn float(&self, mut v: f64, c: usize, idx: &[usize]) -> f64 {
        if let Some(b) = self.bias {
            v += read(b, &[c]);
        }
        if let Some(r) = self.residual {
            v += read(r, idx);
        }
        v = match self.desc.activation {
            Activation::None => v,
            Activation::Relu => max_f64(v, 0.0),
            Activation::Gelu => gelu(v),
            Activation::Silu => silu(v),
            Activation::Clamp { min, max } => min_f64(max_f64(v, min as f64), max as f64),
        };
        self.requant(v, c)
    }

    /// Int8 path: `acc` is the exact (or i64-wrapped) sum of products; returns the value to
    /// write (an i32 value, or the requantized one).
    pub(super) fn int(&self, acc: i64, c: usize, idx: &[usize]) -> f64 {
        let mut v = acc as i32;
        if let Some(b) = self.bias {
            v = v.wrapping_add(read_int(b, &[c]) as i32);
        }
        if let Some(r) = self.residual {
            v = v.wrapping_add(read_int(r, idx) as i32);
        }
        let v = match self.desc.activation {
            Activation::Relu => v.max(0) as f64,
            // Whole-number bounds (checked in `split`); the result is saturated to i32, which
            // only matters for bounds outside the i32 range.
            Activation::Clamp { min, max } => {
                (v as f64).max(min as f64).min(max as f64).clamp(i32::MIN as f64, i32::MAX as f64)
            }
            // None (Gelu/Silu are rejected in `split`).
            _ => v as f64,
        };
        self.requant(v, c)
    }

    /// Requantizes `v` for channel `c` when the epilogue asks for it.
    fn requant(&self, v: f64, c: usize) -> f64 {
        let Some(q) = &self.desc.requant else { return v };
        // `split` checked the scale count is 1 or the channel count.
        let scale = if q.scales.len() == 1 { q.scales[0] } else { q.scales[c] };
        let r = round_half_even(v * scale as f64) + q.zero_point as f64;
        let (lo, hi) = self.out_dtype.int_range().unwrap_or((0.0, 0.0));
        if r.is_nan() { 0.0 } else { r.clamp(lo, hi) }
    }
}
