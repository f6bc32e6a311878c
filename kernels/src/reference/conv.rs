//! Reference convolution, forward and transposed, one output element at a time, on the
//! canonical views: input `[N, C, H, W]`, weight `[O, C/g, kH, kW]` (transposed:
//! `[C, O/g, kH, kW]`), bias `[O]`, residual and output `[N, O, oH, oW]`.
//!
//! Forward: `out[n,o,y,x] = Σ_{c,i,j} in[n, g·Cg+c, y·sH − pT + i·dH, x·sW − pL + j·dW] ·
//! w[o,c,i,j]` with `g = o / (O/groups)`; taps outside the input contribute nothing.
//!
//! Transposed: `out[n,o,y,x] = Σ_{c,i,j} in[n, g·Cg+c, iy, ix] · w[g·Cg+c, o mod (O/g), i, j]`
//! over taps with `y + pT − i·dH = iy·sH` (same along x) and `iy`, `ix` inside the input.
//!
//! Sums run over `c`, then `i`, then `j`, in f64 (float) or exactly in i64 with
//! `(in − zx)(w − zw)` products (int8), then the shared epilogue with channel `o`.

use super::epilogue;
use super::{HostIn, HostOut, bad, expect_operand, expect_out, for_each_index, read, read_int, write};
use accel_core::op::ConvDesc;
use accel_core::{DType, Result};

/// Runs a validated [`ConvDesc`], forward or `transposed`.
pub(super) fn conv(d: &ConvDesc, transposed: bool, inputs: &[HostIn<'_>], out: &mut HostOut<'_>) -> Result<()> {
    let op = if transposed { "conv_transpose2d" } else { "conv" };
    let int8 = d.is_int8();
    if (int8 && !d.w_dtype.is_int8()) || (!int8 && (!d.dtype.is_float() || d.w_dtype != d.dtype)) {
        return Err(bad(format!("{op}: input of dtype {} with weight of dtype {}", d.dtype, d.w_dtype)));
    }
    let (c_in, c_out, groups) = (d.in_channels, d.out_channels, d.groups);
    if groups == 0 || c_in % groups != 0 || c_out % groups != 0 {
        return Err(bad(format!("{op}: {groups} groups for {c_in} input and {c_out} output channels")));
    }
    if d.stride.contains(&0) {
        return Err(bad(format!("{op}: stride {:?}", d.stride)));
    }
    let (cg, og) = (c_in / groups, c_out / groups);
    let [h, w] = d.input;
    let [kh, kw] = d.kernel;
    let out_shape = [d.batch, c_out, d.output[0], d.output[1]];
    expect_out(op, out, &out_shape, d.out_dtype)?;
    let acc_dtype = if int8 { DType::I32 } else { d.dtype };
    let (main, epi) = epilogue::split(op, inputs, 2, &d.epilogue, acc_dtype, c_out, out)?;
    let (x, wt) = (&main[0], &main[1]);
    expect_operand(op, "input", x, &[d.batch, c_in, h, w], d.dtype)?;
    let w_shape = if transposed { [c_in, og, kh, kw] } else { [c_out, cg, kh, kw] };
    expect_operand(op, "weight", wt, &w_shape, d.w_dtype)?;

    // Coordinates in i128: products and differences of usizes cannot overflow it.
    let (s, dil) = (d.stride.map(|v| v as i128), d.dilation.map(|v| v as i128));
    let pad = [d.padding[0][0] as i128, d.padding[1][0] as i128];
    // The input coordinate that tap `t` of output coordinate `o` reads along `axis`, if any.
    let source = |axis: usize, o: usize, t: usize, size: usize| -> Option<usize> {
        let (o, t) = (o as i128, t as i128);
        let pos = if transposed {
            // o + p − t·d = pos·s: only taps landing exactly on an input sample contribute.
            let q = o + pad[axis] - t * dil[axis];
            if q < 0 || q % s[axis] != 0 {
                return None;
            }
            q / s[axis]
        } else {
            o * s[axis] - pad[axis] + t * dil[axis]
        };
        (0..size as i128).contains(&pos).then_some(pos as usize)
    };
    let (zx, zw) = (d.zero_points.0 as i64, d.zero_points.1 as i64);
    for_each_index(&out_shape, |idx| {
        let [n, o, y, xo] = [idx[0], idx[1], idx[2], idx[3]];
        let g = o / og;
        let mut acc_f = 0.0f64;
        let mut acc_i = 0i64;
        for c in 0..cg {
            let ci = g * cg + c;
            for i in 0..kh {
                let Some(iy) = source(0, y, i, h) else { continue };
                for j in 0..kw {
                    let Some(ix) = source(1, xo, j, w) else { continue };
                    let x_at = [n, ci, iy, ix];
                    let w_at = if transposed { [ci, o % og, i, j] } else { [o, c, i, j] };
                    if int8 {
                        let prod = (read_int(x, &x_at) - zx) * (read_int(wt, &w_at) - zw);
                        acc_i = acc_i.wrapping_add(prod);
                    } else {
                        acc_f += read(x, &x_at) * read(wt, &w_at);
                    }
                }
            }
        }
        let v = if int8 { epi.int(acc_i, o, idx) } else { epi.float(acc_f, o, idx) };
        write(out, idx, v);
        Ok(())
    })
}
