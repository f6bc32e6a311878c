//! Reference elementwise ops: unary, binary (inputs already broadcast to the output shape),
//! and casts.
//!
//! Floats: the f64-widened inputs go through the f64 function and the result is rounded once
//! into the dtype. ReLU, clamp, max and min propagate NaN (IEEE 754-2019 maximum/minimum, with
//! +0 above −0). Integers: computed exactly in i128, then wrapped (two's complement) into the
//! dtype's own width: i8 `-128 + -1 = 127`, `abs(-128) = -128`, u8 `16² = 0`.
//! Casts: exact read, then the output conversion of `write`: float → float to nearest
//! even, float → int toward zero with saturation and NaN → 0, int → int saturating; a cast to
//! the same dtype copies the bits.

use super::{
    HostIn, HostOut, bad, expect_count, expect_operand, expect_out, for_each_index, max_f64, min_f64, read, read_int,
    wrap_int, write,
};
use crate::math::{gelu, sigmoid, silu};
use accel_core::Result;
use accel_core::op::{BinaryDesc, BinaryOp, CastDesc, UnaryDesc, UnaryOp};

/// Runs a validated [`UnaryDesc`].
pub(super) fn unary(d: &UnaryDesc, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    const OP: &str = "unary";
    if !d.op.accepts(d.dtype) {
        return Err(bad(format!("{OP}: {} on {}", d.op.name(), d.dtype)));
    }
    expect_count(OP, inputs, 1)?;
    let shape = out.view.shape().to_vec();
    expect_out(OP, out, &shape, d.dtype)?;
    let x = &inputs[0];
    expect_operand(OP, "x", x, &shape, d.dtype)?;
    let float = d.dtype.is_float();
    for_each_index(&shape, |idx| {
        let v = if float {
            unary_f64(d.op, read(x, idx))
        } else {
            let v = read_int(x, idx) as i128;
            let r = match d.op {
                UnaryOp::Neg => -v,
                UnaryOp::Abs => v.abs(),
                UnaryOp::Square => v * v,
                UnaryOp::Relu => v.max(0),
                // `accepts` admits only the four above on integers.
                op => return Err(bad(format!("{OP}: {} on {}", op.name(), d.dtype))),
            };
            wrap_int(r, d.dtype)
        };
        write(out, idx, v);
        Ok(())
    })
}

/// A float unary op in f64.
fn unary_f64(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Square => x * x,
        UnaryOp::Relu => max_f64(x, 0.0),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => 1.0 / x.sqrt(),
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Gelu => gelu(x),
        UnaryOp::Silu => silu(x),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Clamp { min, max } => min_f64(max_f64(x, min as f64), max as f64),
    }
}

/// Runs a validated [`BinaryDesc`].
pub(super) fn binary(d: &BinaryDesc, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    const OP: &str = "binary";
    if !d.op.accepts(d.dtype) {
        return Err(bad(format!("{OP}: {} on {}", d.op.name(), d.dtype)));
    }
    expect_count(OP, inputs, 2)?;
    let shape = out.view.shape().to_vec();
    expect_out(OP, out, &shape, d.dtype)?;
    let (a, b) = (&inputs[0], &inputs[1]);
    expect_operand(OP, "a", a, &shape, d.dtype)?;
    expect_operand(OP, "b", b, &shape, d.dtype)?;
    let float = d.dtype.is_float();
    for_each_index(&shape, |idx| {
        let v = if float {
            let (a, b) = (read(a, idx), read(b, idx));
            match d.op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Max => max_f64(a, b),
                BinaryOp::Min => min_f64(a, b),
                BinaryOp::Pow => a.powf(b),
            }
        } else {
            let (a, b) = (read_int(a, idx) as i128, read_int(b, idx) as i128);
            let r = match d.op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Max => a.max(b),
                BinaryOp::Min => a.min(b),
                // `accepts` keeps div and pow to floats.
                op => return Err(bad(format!("{OP}: {} on {}", op.name(), d.dtype))),
            };
            wrap_int(r, d.dtype)
        };
        write(out, idx, v);
        Ok(())
    })
}

/// Runs a [`CastDesc`] (every dtype pair; equal dtypes make a strided copy).
pub(super) fn cast(d: &CastDesc, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    const OP: &str = "cast";
    expect_count(OP, inputs, 1)?;
    let shape = out.view.shape().to_vec();
    expect_out(OP, out, &shape, d.to)?;
    let x = &inputs[0];
    expect_operand(OP, "x", x, &shape, d.from)?;
    if d.from == d.to {
        // A copy moves the bits, NaN payloads included.
        let size = d.to.size();
        return for_each_index(&shape, |idx| {
            let (src, dst) = (x.view.index(idx) * size, out.view.index(idx) * size);
            out.bytes[dst..dst + size].copy_from_slice(&x.bytes[src..src + size]);
            Ok(())
        });
    }
    for_each_index(&shape, |idx| {
        // Every dtype widens exactly to f64; `write` performs the one conversion.
        write(out, idx, read(x, idx));
        Ok(())
    })
}
