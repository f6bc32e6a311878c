//! The fused epilogue on the float path, applied by the modeled output (activation) unit to
//! one accumulator value, exactly as `accel_core::op::epilogue` documents: `alpha·acc +
//! beta·prev`, bias, residual, activation, requantization, in f64, rounded once into the
//! output dtype. (The int8 path runs through `accel_kernels::cpu`, which is exact.)

use accel_core::dtype::{read_f64, write_f64};
use accel_core::op::{Activation, EpilogueDesc};
use accel_kernels::math::{gelu, round_half_even, silu};
use accel_kernels::{HostIn, HostOut};

/// A float epilogue with its operands.
pub(crate) struct FloatEpilogue<'a> {
    pub(crate) desc: &'a EpilogueDesc,
    pub(crate) bias: Option<HostIn<'a>>,
    pub(crate) residual: Option<HostIn<'a>>,
    pub(crate) alpha: f64,
    pub(crate) beta: f64,
    /// The int8 path: the accumulator is an exact integer and bias, residual and sum wrap as
    /// i32 before the activation.
    pub(crate) int_path: bool,
}

/// IEEE `maximum`/`minimum` semantics for NaN (propagate) as the oracle uses.
fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

fn min_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

impl FloatEpilogue<'_> {
    /// Finishes accumulator `acc` of output element `idx` (channel `c`) and writes it.
    pub(crate) fn write(&self, out: &mut HostOut<'_>, idx: &[usize], c: usize, acc: f64) {
        let at = out.view.index(idx);
        if self.int_path {
            return self.write_int(out, at, idx, c, acc);
        }
        let mut v = self.alpha * acc;
        if self.beta != 0.0 {
            v += self.beta * read_f64(out.bytes, out.dtype, at);
        }
        if let Some(b) = &self.bias {
            v += read_f64(b.bytes, b.dtype, b.view.index(&[c]));
        }
        if let Some(r) = &self.residual {
            v += read_f64(r.bytes, r.dtype, r.view.index(idx));
        }
        v = match self.desc.activation {
            Activation::None => v,
            Activation::Relu => max_nan(v, 0.0),
            Activation::Gelu => gelu(v),
            Activation::Silu => silu(v),
            Activation::Clamp { min, max } => min_nan(max_nan(v, min as f64), max as f64),
        };
        self.finish(out, at, c, v);
    }

    /// The contract's int8 epilogue: i32 wrapping sums, ReLU or whole-number clamp.
    fn write_int(&self, out: &mut HostOut<'_>, at: usize, idx: &[usize], c: usize, acc: f64) {
        let read_i32 = |x: &HostIn<'_>, i: usize| read_f64(x.bytes, x.dtype, i) as i32;
        let mut v = (acc as i64) as i32;
        if let Some(b) = &self.bias {
            v = v.wrapping_add(read_i32(b, b.view.index(&[c])));
        }
        if let Some(r) = &self.residual {
            v = v.wrapping_add(read_i32(r, r.view.index(idx)));
        }
        let v = match self.desc.activation {
            Activation::Relu => v.max(0) as f64,
            Activation::Clamp { min, max } => {
                (v as f64).max(min as f64).min(max as f64).clamp(i32::MIN as f64, i32::MAX as f64)
            }
            _ => v as f64,
        };
        self.finish(out, at, c, v);
    }

    /// Requantizes if asked, then writes with one rounding.
    fn finish(&self, out: &mut HostOut<'_>, at: usize, c: usize, mut v: f64) {
        if let Some(q) = &self.desc.requant {
            let r = round_half_even(v * q.scale(c) as f64) + q.zero_point as f64;
            let (lo, hi) = out.dtype.int_range().unwrap_or((0.0, 0.0));
            v = if r.is_nan() { 0.0 } else { r.clamp(lo, hi) };
        }
        write_f64(out.bytes, out.dtype, at, v);
    }
}
