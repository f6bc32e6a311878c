//! Float MAC ops lowered to GEMMs as the MAC hardware sees them, with the fused epilogue.
//!
//! Matmul batch `b` becomes repeat `b` with `A = a[b]` (`[m × k]`) and `B = b[b]` (`[k × n]`).
//! A convolution becomes one GEMM per group in SCALE-Sim's convention: `A` rows are output
//! pixels `(image, y, x)`, `A` columns the window `(i, j, c)` with the channel fastest (the
//! NHWC window order of SCALE-Sim's operand matrices), `B` is the filter `[window × O/g]`.
//! Taps that fall in the padding (or, for a transposed convolution, between strides) are
//! gated: they enter the array as zeros. A device model supplies the accumulation (its
//! datapath's order and formats) as a [`Kernel`]; this module gathers the operands (exact
//! f32: every float input dtype widens exactly) and applies the epilogue once per output, in
//! f64, rounding once into the output dtype.

use crate::epilogue::FloatEpilogue;
use accel_core::dtype::read_f64;
use accel_core::op::{ConvDesc, EpilogueDesc, MatmulDesc};
use accel_core::{Error, Op, Result};
use accel_kernels::{HostIn, HostOut};

/// A model's accumulation: given the repeat index (batch matrix or group), row-major `a`
/// (`[m × k]`) and `b` (`[k × n]`), returns the accumulator values `[m × n]` (exactly widened
/// to f64). Gated taps arrive as [`GATED`] in `a`.
pub(crate) type Kernel<'k> = &'k (dyn Fn(usize, &[f32], &[f32], usize, usize, usize) -> Vec<f64> + Sync);

/// The value gated convolution taps take in `a`: zero for float datapaths (a zero enters the
/// array), NaN where the model must know (int8 zero points: a gated tap contributes nothing).
pub(crate) const GATED: f32 = 0.0;

fn bad(message: String) -> Error {
    Error::Backend { backend: "emu".into(), message }
}

fn operand<'a>(op: &str, inputs: &[HostIn<'a>], i: usize) -> Result<HostIn<'a>> {
    inputs.get(i).copied().ok_or_else(|| bad(format!("{op}: operand {i} is missing ({} given)", inputs.len())))
}

/// Runs a matmul / convolution / transposed convolution through `kernel`, gated taps taking
/// the value `gate`. On the int8 path (integer inputs, exact in f32) the epilogue follows the
/// contract's i32 semantics.
pub(crate) fn run_lowered(
    op: &Op,
    inputs: &[HostIn<'_>],
    out: HostOut<'_>,
    kernel: Kernel<'_>,
    gate: f32,
) -> Result<()> {
    match op {
        Op::Matmul(d) => matmul(d, inputs, out, kernel),
        Op::Conv(d) => conv(d, false, inputs, out, kernel, gate),
        Op::ConvTranspose(d) => conv(d, true, inputs, out, kernel, gate),
        _ => Err(Error::Unsupported { op: op.kind().name(), dtype: op.dtype(), backend: "emu".into() }),
    }
}

fn epilogue<'a>(
    op: &str,
    desc: &'a EpilogueDesc,
    inputs: &[HostIn<'a>],
    alpha: f32,
    beta: f32,
    int_path: bool,
) -> Result<FloatEpilogue<'a>> {
    let mut next = 2;
    let mut take = |on: bool| -> Result<Option<HostIn<'a>>> {
        if !on {
            return Ok(None);
        }
        let x = operand(op, inputs, next)?;
        next += 1;
        Ok(Some(x))
    };
    let bias = take(desc.bias)?;
    let residual = take(desc.residual)?;
    Ok(FloatEpilogue { desc, bias, residual, alpha: alpha as f64, beta: beta as f64, int_path })
}

/// Calls `f` with every multi-index of `shape`, row-major (once for rank 0).
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx);
        let mut ax = shape.len();
        loop {
            if ax == 0 {
                return;
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

fn matmul(d: &MatmulDesc, inputs: &[HostIn<'_>], mut out: HostOut<'_>, kernel: Kernel<'_>) -> Result<()> {
    let (a, b) = (operand("matmul", inputs, 0)?, operand("matmul", inputs, 1)?);
    let epi = epilogue("matmul", &d.epilogue, inputs, d.alpha, d.beta, d.is_int8())?;
    let (m, k, n) = (d.m, d.k, d.n);
    let mut batches = Vec::new();
    for_each_index(&d.batch, |bi| batches.push(bi.to_vec()));
    for (rep, bi) in batches.into_iter().enumerate() {
        let mut idx = bi.clone();
        idx.extend([0, 0]);
        let r = idx.len() - 2;
        let mut av = vec![0f32; m * k];
        for i in 0..m {
            for p in 0..k {
                (idx[r], idx[r + 1]) = (i, p);
                av[i * k + p] = read_f64(a.bytes, a.dtype, a.view.index(&idx)) as f32;
            }
        }
        let mut bv = vec![0f32; k * n];
        for p in 0..k {
            for j in 0..n {
                (idx[r], idx[r + 1]) = (p, j);
                bv[p * n + j] = read_f64(b.bytes, b.dtype, b.view.index(&idx)) as f32;
            }
        }
        let acc = kernel(rep, &av, &bv, m, k, n);
        for i in 0..m {
            for j in 0..n {
                (idx[r], idx[r + 1]) = (i, j);
                epi.write(&mut out, &idx, j, acc[i * n + j]);
            }
        }
    }
    Ok(())
}

/// The input tap a (transposed) convolution reads for output coordinate `o` along one axis,
/// kernel tap `t`, or `None` when the tap is gated.
fn tap(d: &ConvDesc, transposed: bool, axis: usize, o: usize, t: usize) -> Option<usize> {
    let (s, dil, pad, len) = (d.stride[axis], d.dilation[axis], d.padding[axis][0], d.input[axis]);
    if transposed {
        let pos = (o + pad).checked_sub(t * dil)?;
        (pos % s == 0 && pos / s < len).then_some(pos / s)
    } else {
        let pos = (o * s + t * dil).checked_sub(pad)?;
        (pos < len).then_some(pos)
    }
}

fn conv(
    d: &ConvDesc,
    transposed: bool,
    inputs: &[HostIn<'_>],
    mut out: HostOut<'_>,
    kernel: Kernel<'_>,
    gate: f32,
) -> Result<()> {
    let name = if transposed { "conv_transpose2d" } else { "conv2d" };
    let (x, w) = (operand(name, inputs, 0)?, operand(name, inputs, 1)?);
    let epi = epilogue(name, &d.epilogue, inputs, 1.0, 0.0, d.is_int8())?;
    let (cg, og) = (d.in_per_group(), d.out_per_group());
    let [kh, kw] = d.kernel;
    let [oh, ow] = d.output;
    let (m, k, n) = (d.batch * oh * ow, cg * kh * kw, og);
    for g in 0..d.groups {
        let mut av = vec![gate; m * k];
        for img in 0..d.batch {
            for y in 0..oh {
                for xo in 0..ow {
                    let row = ((img * oh + y) * ow + xo) * k;
                    for i in 0..kh {
                        let Some(iy) = tap(d, transposed, 0, y, i) else { continue };
                        for j in 0..kw {
                            let Some(ix) = tap(d, transposed, 1, xo, j) else { continue };
                            for c in 0..cg {
                                let at = x.view.index(&[img, g * cg + c, iy, ix]);
                                av[row + (i * kw + j) * cg + c] = read_f64(x.bytes, x.dtype, at) as f32;
                            }
                        }
                    }
                }
            }
        }
        let mut bv = vec![0f32; k * n];
        for i in 0..kh {
            for j in 0..kw {
                for c in 0..cg {
                    for o in 0..og {
                        let idx = if transposed { [g * cg + c, o, i, j] } else { [g * og + o, c, i, j] };
                        bv[((i * kw + j) * cg + c) * n + o] = read_f64(w.bytes, w.dtype, w.view.index(&idx)) as f32;
                    }
                }
            }
        }
        let acc = kernel(g, &av, &bv, m, k, n);
        for img in 0..d.batch {
            for y in 0..oh {
                for xo in 0..ow {
                    let row = (img * oh + y) * ow + xo;
                    for o in 0..og {
                        let ch = g * og + o;
                        epi.write(&mut out, &[img, ch, y, xo], ch, acc[row * n + o]);
                    }
                }
            }
        }
    }
    Ok(())
}
