//! The implicit im2col matrix of a forward convolution, read by the GEMM's B packing.
//!
//! Row `t` is a tap (input channel, ky, kx), column `p` an output pixel `(y, x) = (p / oW,
//! p % oW)`. Tap `t` reads the input at `base + off[t] + y·ystep + x·xstep` for the output
//! rows and columns its valid ranges allow, and the pad value elsewhere (zero for floats, the
//! zero point on the int8 path, so padding contributes nothing). Both are computed once per
//! convolution ([`PatchTables::new`]), so gathering a row of pixels ([`MatSrc::row_into`]) is
//! one copy per output row it spans (a `memcpy` at stride 1 along contiguous input rows, a
//! strided gather otherwise) with the padding filled in bulk; no im2col buffer is ever built.

use super::dtype::Elem;
use super::pack::MatSrc;

/// For `i = o·stride + off`, the range of `o < out_len` with `0 <= i < in_len`.
pub(crate) fn valid_range(out_len: usize, in_len: usize, stride: usize, off: i128) -> (usize, usize) {
    let s = stride as i128;
    let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
    let room = in_len as i128 - off;
    let hi = if room <= 0 { 0 } else { ((room + s - 1) / s).min(out_len as i128) };
    let lo = lo.min(hi);
    (lo as usize, hi as usize)
}

/// The geometry of one convolution's patches, shared by every (image, group).
#[derive(Debug, Default)]
pub(crate) struct PatchTables {
    /// Offset of tap `t` at pixel (0, 0) from the group's base (meaningful only where the
    /// tap has valid pixels).
    off: Vec<isize>,
    /// Valid output rows `[y0, y1)` of tap `t`.
    rows: Vec<[usize; 2]>,
    /// Valid output columns `[x0, x1)` of tap `t`.
    cols: Vec<[usize; 2]>,
    /// Output width.
    ow: usize,
    /// Input elements between consecutive output rows (`sH·hs`) and columns (`sW·ws`).
    ystep: usize,
    xstep: usize,
}

/// A convolution's geometry for [`PatchTables::new`], strides in elements of the input view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    /// Input channels per group, `[H, W]`, `[kH, kW]`, `[oH, oW]`.
    pub(crate) channels: usize,
    pub(crate) input: [usize; 2],
    pub(crate) kernel: [usize; 2],
    pub(crate) output: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) dilation: [usize; 2],
    /// Top and left padding.
    pub(crate) pad: [usize; 2],
    /// Input view strides of C, H, W.
    pub(crate) strides: [usize; 3],
}

impl PatchTables {
    /// Tables for taps in `(channel, ky, kx)` order.
    pub(crate) fn new(g: &Geometry) -> PatchTables {
        let ([h, w], [kh, kw], [oh, ow]) = (g.input, g.kernel, g.output);
        let [cs, hs, ws] = g.strides;
        let taps = g.channels * kh * kw;
        let mut t = PatchTables {
            off: Vec::with_capacity(taps),
            rows: Vec::with_capacity(taps),
            cols: Vec::with_capacity(taps),
            ow,
            // Wrapping: a stride beyond the buffer leaves one valid pixel per axis, which
            // multiplies the step by 0 (see `at`).
            ystep: g.stride[0].wrapping_mul(hs),
            xstep: g.stride[1].wrapping_mul(ws),
        };
        for c in 0..g.channels {
            for i in 0..kh {
                let yoff = (i * g.dilation[0]) as i128 - g.pad[0] as i128;
                let rows = valid_range(oh, h, g.stride[0], yoff);
                for j in 0..kw {
                    let xoff = (j * g.dilation[1]) as i128 - g.pad[1] as i128;
                    let cols = valid_range(ow, w, g.stride[1], xoff);
                    let off = (c * cs) as i128 + yoff * hs as i128 + xoff * ws as i128;
                    // Truncated (wrapping) like the steps: `at` needs the sum exact only modulo 2⁶⁴.
                    t.off.push(off as isize);
                    t.rows.push([rows.0, rows.1]);
                    t.cols.push([cols.0, cols.1]);
                }
            }
        }
        t
    }
}

/// The implicit im2col matrix `[taps × pixels]` of one (image, group): element `(t, p)` is the
/// input value under tap `t` of output pixel `p`, or `pad` where the tap falls in the padding.
pub(crate) struct Patches<'a, T> {
    pub(crate) data: &'a [T],
    /// Element offset of the (image, group)'s first channel.
    pub(crate) base: usize,
    pub(crate) tables: &'a PatchTables,
    pub(crate) pad: T,
}

impl<T: Elem> Patches<'_, T> {
    /// The element index of tap `t` at valid pixel `(y, x)`.
    #[inline(always)]
    fn at(&self, t: usize, y: usize, x: usize) -> usize {
        let tb = self.tables;
        // A valid pixel lies inside the buffer, so the exact sum is a small non-negative index
        // and the two's-complement (wrapping) sum equals it even when a term overflows.
        let y = y.wrapping_mul(tb.ystep).wrapping_add(x.wrapping_mul(tb.xstep));
        self.base.wrapping_add_signed(tb.off[t]).wrapping_add(y)
    }
}

impl<T: Elem> MatSrc for Patches<'_, T> {
    type T = T;
    #[inline(always)]
    fn get(&self, t: usize, p: usize) -> T {
        let tb = self.tables;
        let (y, x) = (p / tb.ow, p % tb.ow);
        let ([y0, y1], [x0, x1]) = (tb.rows[t], tb.cols[t]);
        if (y0..y1).contains(&y) && (x0..x1).contains(&x) { self.data[self.at(t, y, x)] } else { self.pad }
    }

    fn row_into(&self, t: usize, c: usize, out: &mut [T]) {
        let tb = self.tables;
        let ([y0, y1], [x0, x1]) = (tb.rows[t], tb.cols[t]);
        let (mut y, mut x) = (c / tb.ow, c % tb.ow);
        let mut rest = out;
        while !rest.is_empty() {
            let seg = (tb.ow - x).min(rest.len());
            let (dst, tail) = rest.split_at_mut(seg);
            rest = tail;
            if !(y0..y1).contains(&y) {
                dst.fill(self.pad);
            } else {
                // Valid columns of this segment: [a, b) within [x, x + seg).
                let a = x.max(x0).min(x + seg);
                let b = (x + seg).min(x1).max(a);
                dst[..a - x].fill(self.pad);
                dst[b - x..].fill(self.pad);
                if b > a {
                    let mid = &mut dst[a - x..b - x];
                    let start = self.at(t, y, a);
                    gather(mid, self.data, start, tb.xstep, |v| v);
                }
            }
            y += 1;
            x = 0;
        }
    }
}

/// Fills `dst` with `f(src[start + i·step])`; `step` may be 0 (a broadcast view), and may have
/// wrapped when `dst` holds one element.
pub(crate) fn gather<S: Copy, D>(dst: &mut [D], src: &[S], start: usize, step: usize, f: impl Fn(S) -> D) {
    let n = dst.len();
    match step {
        0 => {
            let v = src[start];
            dst.iter_mut().for_each(|d| *d = f(v));
        }
        1 => dst.iter_mut().zip(&src[start..start + n]).for_each(|(d, &v)| *d = f(v)),
        // Stride 2 (a stride-2 convolution's patches): pairs, which the compiler vectorises
        // as interleaved loads (the 7×7 stem 8 % and res3's 3×3 s2 layer 5 % faster, Zen 3);
        // the last element alone, since its pair may pass the buffer.
        2 if n > 0 => {
            let (body, last) = dst.split_at_mut(n - 1);
            body.iter_mut().zip(src[start..start + 2 * (n - 1)].chunks_exact(2)).for_each(|(d, p)| *d = f(p[0]));
            last[0] = f(src[start + 2 * (n - 1)]);
        }
        _ => {
            let run = &src[start..start + (n.max(1) - 1) * step + 1];
            dst.iter_mut().zip(run.iter().step_by(step)).for_each(|(d, &v)| *d = f(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element `(t, p)` computed straight from the definition.
    fn naive(x: &[f32], base: usize, g: &Geometry, t: usize, p: usize) -> f32 {
        let (c, i, j) = (t / (g.kernel[0] * g.kernel[1]), t / g.kernel[1] % g.kernel[0], t % g.kernel[1]);
        let (y, xo) = (p / g.output[1], p % g.output[1]);
        let iy = (y * g.stride[0] + i * g.dilation[0]) as isize - g.pad[0] as isize;
        let ix = (xo * g.stride[1] + j * g.dilation[1]) as isize - g.pad[1] as isize;
        if iy < 0 || ix < 0 || iy as usize >= g.input[0] || ix as usize >= g.input[1] {
            return -1.0;
        }
        x[base + c * g.strides[0] + iy as usize * g.strides[1] + ix as usize * g.strides[2]]
    }

    #[test]
    fn rows_match_the_definition() {
        // NCHW and NHWC strides, strides 1..3, dilation, padding wider than the kernel.
        for (stride, dil, pad, nhwc) in [(1, 1, 1, false), (2, 1, 1, false), (3, 2, 2, true), (1, 1, 0, true)] {
            let (ch, h, w, k) = (3, 5, 7, 3);
            let input = [h, w];
            let out = |n: usize| (n + 2 * pad - dil * (k - 1) - 1) / stride + 1;
            let output = [out(h), out(w)];
            let strides = if nhwc { [1, w * ch, ch] } else { [h * w, w, 1] };
            let g = Geometry {
                channels: ch,
                input,
                kernel: [k, k],
                output,
                stride: [stride; 2],
                dilation: [dil; 2],
                pad: [pad; 2],
                strides,
            };
            let data: Vec<f32> = (0..2 + ch * h * w).map(|v| v as f32).collect();
            let tables = PatchTables::new(&g);
            let p = Patches { data: &data, base: 2, tables: &tables, pad: -1.0 };
            let pixels = output[0] * output[1];
            for t in 0..ch * k * k {
                for c in 0..pixels {
                    assert_eq!(p.get(t, c), naive(&data, 2, &g, t, c), "get t={t} p={c}");
                    for len in [1, 5, 32].map(|l: usize| l.min(pixels - c)) {
                        let mut row = vec![0.0; len];
                        p.row_into(t, c, &mut row);
                        let want: Vec<f32> = (c..c + len).map(|q| naive(&data, 2, &g, t, q)).collect();
                        assert_eq!(row, want, "row t={t} c={c} len={len} {g:?}");
                    }
                }
            }
        }
    }
}
