//! Reference reductions and softmax.
//!
//! Reduce: the input view is `[kept.., reduced..]` with the last `reduced_rank` dims reduced;
//! the output view has the kept dims. Each output element folds its reduced elements in
//! row-major order. Floats: sum in f64, mean = sum / count (NaN for an empty set), max/min
//! propagate NaN; rounded once into the input dtype. Integers: sum exactly in i128, wrapped into
//! i32; mean = exact sum / count as f32; max/min exact, in the input dtype.
//!
//! Softmax: the axis is last in both views. Per row, in f64: `m = max(x)` (NaN if any is),
//! `s = Σ exp(x − m)`, softmax `exp(x − m) / s`, log-softmax `(x − m) − ln s`, each rounded once.

use super::{
    HostIn, HostOut, bad, expect_count, expect_operand, expect_out, for_each_index, max_f64, min_f64, read, read_int,
    wrap_int, write,
};
use accel_core::op::{ReduceDesc, ReduceOp, SoftmaxDesc};
use accel_core::{DType, Result};

/// Runs a validated [`ReduceDesc`].
pub(super) fn reduce(d: &ReduceDesc, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    const OP: &str = "reduce";
    expect_count(OP, inputs, 1)?;
    let x = &inputs[0];
    if d.out_dtype != d.op.out_dtype(d.dtype) {
        return Err(bad(format!("{OP}: {} of {} into {}", d.op.name(), d.dtype, d.out_dtype)));
    }
    let rank = x.view.rank();
    let Some(kept_rank) = rank.checked_sub(d.reduced_rank) else {
        return Err(bad(format!("{OP}: {} reduced dims of a rank-{rank} input", d.reduced_rank)));
    };
    let (kept, reduced) = x.view.shape().split_at(kept_rank);
    expect_operand(OP, "x", x, x.view.shape(), d.dtype)?;
    expect_out(OP, out, kept, d.out_dtype)?;
    // Not a usize product: the reduced dims of an empty input may multiply past usize. As f64
    // it is exact for any count a non-empty input can have below 2⁵³.
    let n: f64 = reduced.iter().map(|&n| n as f64).product();
    if reduced.contains(&0) && matches!(d.op, ReduceOp::Max | ReduceOp::Min) {
        return Err(bad(format!("{OP}: {} over an empty set", d.op.name())));
    }
    let float = d.dtype.is_float();
    let mut full = vec![0usize; rank];
    for_each_index(kept, |k| {
        full[..kept_rank].copy_from_slice(k);
        // Fold the reduced elements in row-major order: the float sum in f64, the integer sum
        // exactly (i128 cannot overflow), max/min on the exact values.
        let (mut sum_f, mut sum_i, mut best) = (0.0f64, 0i128, None::<f64>);
        for_each_index(reduced, |r| {
            full[kept_rank..].copy_from_slice(r);
            let v = read(x, &full);
            if float {
                sum_f += v;
            } else {
                sum_i += read_int(x, &full) as i128;
            }
            best = Some(match (best, d.op) {
                (None, _) => v,
                (Some(b), ReduceOp::Min) => min_f64(b, v),
                (Some(b), _) => max_f64(b, v),
            });
            Ok(())
        })?;
        let v = match (d.op, float) {
            (ReduceOp::Sum, true) => sum_f,
            (ReduceOp::Sum, false) => wrap_int(sum_i, DType::I32),
            // 0/0 is NaN: the mean of nothing.
            (ReduceOp::Mean, true) => sum_f / n,
            // The exact sum converts to f64 exactly for any realistic size (|sum| < 2⁵³), so
            // the quotient rounds once in f64 and once more, harmlessly, into f32.
            (ReduceOp::Mean, false) => sum_i as f64 / n,
            // Non-empty (checked above); for integers the exact extreme, in the input dtype.
            (ReduceOp::Max | ReduceOp::Min, _) => best.unwrap_or(f64::NAN),
        };
        write(out, k, v);
        Ok(())
    })
}

/// Runs a validated [`SoftmaxDesc`].
pub(super) fn softmax(d: &SoftmaxDesc, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    let op = if d.log { "log_softmax" } else { "softmax" };
    expect_count(op, inputs, 1)?;
    let x = &inputs[0];
    if !d.dtype.is_float() {
        return Err(bad(format!("{op}: dtype {}", d.dtype)));
    }
    let shape = x.view.shape().to_vec();
    expect_operand(op, "x", x, &shape, d.dtype)?;
    expect_out(op, out, &shape, d.dtype)?;
    let Some((&len, rows)) = shape.split_last() else {
        return Err(bad(format!("{op}: rank-0 input (the axis must be last)")));
    };
    let mut idx = vec![0usize; shape.len()];
    let last = shape.len() - 1;
    for_each_index(rows, |r| {
        idx[..last].copy_from_slice(r);
        let mut row = Vec::with_capacity(len);
        for t in 0..len {
            idx[last] = t;
            row.push(read(x, &idx));
        }
        let Some(&first) = row.first() else { return Ok(()) };
        let m = row.iter().copied().fold(first, max_f64);
        let s: f64 = row.iter().map(|&v| (v - m).exp()).sum();
        for (t, &v) in row.iter().enumerate() {
            idx[last] = t;
            let y = if d.log { (v - m) - s.ln() } else { (v - m).exp() / s };
            write(out, &idx, y);
        }
        Ok(())
    })
}
