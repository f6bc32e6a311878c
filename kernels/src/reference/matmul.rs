//! Reference matmul: `out[b, i, j] = epilogue(Σ_p a[b, i, p] · b[b, p, j])`, one output
//! element at a time.
//!
//! Float path: products of the f64-widened inputs summed in f64 in order `p = 0..k`, then
//! `alpha·acc + beta·prev` (prev read through the output view; not read at all when
//! `beta == 0`, as BLAS does, so stale NaNs in a fresh output do not leak), then the epilogue,
//! rounded once into the output dtype.
//!
//! Int8 path: `Σ (a − za)(b − zb)` exactly in i64, wrapped into i32, then the int epilogue.

use super::epilogue;
use super::{HostIn, HostOut, bad, expect_operand, expect_out, for_each_index, read, read_int, read_out, write};
use accel_core::op::MatmulDesc;
use accel_core::{DType, Result};

const OP: &str = "matmul";

/// Runs a validated [`MatmulDesc`].
pub(super) fn matmul(d: &MatmulDesc, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    let int8 = d.is_int8();
    if int8 {
        if !d.b_dtype.is_int8() {
            return Err(bad(format!("{OP}: int8 path with b of dtype {}", d.b_dtype)));
        }
        if d.alpha != 1.0 || d.beta != 0.0 {
            return Err(bad(format!("{OP}: alpha={} beta={} on the int8 path", d.alpha, d.beta)));
        }
    } else if !d.dtype.is_float() || d.b_dtype != d.dtype {
        return Err(bad(format!("{OP}: a of dtype {} with b of dtype {}", d.dtype, d.b_dtype)));
    }
    let nb = d.batch.len();
    let shape_with = |r: usize, c: usize| -> Vec<usize> { d.batch.iter().copied().chain([r, c]).collect() };
    let out_shape = shape_with(d.m, d.n);
    expect_out(OP, out, &out_shape, d.out_dtype)?;
    let acc_dtype = if int8 { DType::I32 } else { d.dtype };
    let (main, epi) = epilogue::split(OP, inputs, 2, &d.epilogue, acc_dtype, d.n, out)?;
    let (a, b) = (&main[0], &main[1]);
    expect_operand(OP, "a", a, &shape_with(d.m, d.k), d.dtype)?;
    expect_operand(OP, "b", b, &shape_with(d.k, d.n), d.b_dtype)?;

    let (za, zb) = (d.zero_points.0 as i64, d.zero_points.1 as i64);
    let mut a_idx = vec![0usize; nb + 2];
    let mut b_idx = vec![0usize; nb + 2];
    for_each_index(&out_shape, |idx| {
        let (i, j) = (idx[nb], idx[nb + 1]);
        a_idx[..nb].copy_from_slice(&idx[..nb]);
        b_idx[..nb].copy_from_slice(&idx[..nb]);
        a_idx[nb] = i;
        b_idx[nb + 1] = j;
        let v = if int8 {
            let mut acc = 0i64;
            for p in 0..d.k {
                a_idx[nb + 1] = p;
                b_idx[nb] = p;
                // Factors and products fit i64 exactly; only the sum could (absurdly) overflow,
                // and it wraps, which the i32 wrap of the result does not notice.
                acc = acc.wrapping_add((read_int(a, &a_idx) - za) * (read_int(b, &b_idx) - zb));
            }
            epi.int(acc, j, idx)
        } else {
            let mut acc = 0.0f64;
            for p in 0..d.k {
                a_idx[nb + 1] = p;
                b_idx[nb] = p;
                acc += read(a, &a_idx) * read(b, &b_idx);
            }
            let mut v = d.alpha as f64 * acc;
            if d.beta != 0.0 {
                v += d.beta as f64 * read_out(out, idx);
            }
            epi.float(v, j, idx)
        };
        write(out, idx, v);
        Ok(())
    })
}
