//! Depthwise convolution (groups = C = O) on NCHW planes, parallel over (image, channel).
//!
//! Each input plane is converted once into zero-padded *phase planes*: for strides
//! `sH × sW`, phase `(a, b)` holds padded pixels `(a + sH·m, b + sW·n)`, every phase with the
//! same row length `L`. Output pixel `(y, x)` under tap `(i, j)` then reads phase
//! `(i·dH mod sH, j·dW mod sW)` at `(y + i·dH / sH, x + j·dW / sW)`, so if the output is
//! computed on a virtual grid of row length `L` (columns `x ≥ oW` are computed and dropped),
//! every tap is one contiguous run over the whole plane: `out[q] += w · phase[q + shift]`.
//! That loop keeps a block of outputs in registers over all taps and is compiled for the
//! active ISA ([`multiversion`]); it multiplies and adds separately (no FMA), so every ISA
//! path rounds alike. Padding is zero after the conversion (on the int8 path the
//! converted value is `x − zx`, so padding contributes nothing, as in the definition). The
//! epilogue then finishes each output row from the virtual grid.
//!
//! Shapes whose padding dwarfs the input and output (where the phase planes would mostly
//! hold zeros nobody reads) return `false`, and the caller uses its general loop.

use super::arch::multiversion::{self, Block};
use super::conv::Setup;
use super::dtype::Elem;
use super::epilogue::At;
use super::gemm::{Tile, TileEpi};
use super::isa::Isa;
use super::kernel::Acc;
use super::pack::ToAcc;
use super::par;
use accel_core::op::ConvDesc;

/// `out[q] = Σ_taps w · src[start + q]` for every `q < out.len()`.
struct Accumulate<'a, V> {
    out: &'a mut [V],
    src: &'a [V],
    /// `(start, w)` per tap.
    taps: &'a [(usize, V)],
}

impl<V: Acc> Block for Accumulate<'_, V> {
    #[inline(always)]
    fn run<const FMA: bool, const B: usize>(self) {
        let len = self.out.len();
        let mut q = 0;
        while q + B <= len {
            let mut acc = [V::default(); B];
            for &(s, w) in self.taps {
                let src = &self.src[s + q..s + q + B];
                for l in 0..B {
                    acc[l] = acc[l].add(w.mul(src[l]));
                }
            }
            self.out[q..q + B].copy_from_slice(&acc);
            q += B;
        }
        let out = &mut self.out[q..];
        out.fill(V::default());
        for &(s, w) in self.taps {
            let src = &self.src[s + q..s + q + out.len()];
            for (a, &x) in out.iter_mut().zip(src) {
                *a = a.add(w.mul(x));
            }
        }
    }
}

/// The phase-plane geometry of one convolution.
#[derive(Debug, Clone, Copy)]
struct Phases {
    /// Phase rows and row length.
    rows: usize,
    len: usize,
    /// Elements per phase (rows · len plus slack for the dropped columns' reads).
    size: usize,
}

/// The phase planes of `d` and the total scratch they take, or `None` when a size overflows.
fn phase_geometry(d: &ConvDesc) -> Option<(Phases, usize)> {
    let ([kh, kw], [oh, ow]) = (d.kernel, d.output);
    let ([sh, sw], [dh, dw]) = (d.stride, d.dilation);
    // Padded rows and columns the output reads.
    let need = |o: usize, st: usize, k: usize, dl: usize| {
        (o - 1).checked_mul(st)?.checked_add((k - 1).checked_mul(dl)?)?.checked_add(1)
    };
    let (rn, cn) = (need(oh, sh, kh, dh)?, need(ow, sw, kw, dw)?);
    let (rows, len) = (rn.div_ceil(sh), cn.div_ceil(sw));
    let size = rows.checked_mul(len)?.checked_add(len)?.checked_add((kw - 1).checked_mul(dw)? / sw + 1)?;
    let planes = size.checked_mul(sh)?.checked_mul(sw)?;
    Some((Phases { rows, len, size }, planes))
}

/// Runs the depthwise convolution `d` (see the module docs); `false` when the shape is left
/// to the caller's general loop.
pub(crate) fn depthwise<TX, TW, V, T>(isa: Isa, d: &ConvDesc, s: &Setup<'_>, x: &[TX], w: &[TW], dst: &mut [T]) -> bool
where
    TX: ToAcc<V>,
    TW: ToAcc<V>,
    V: Acc,
    T: Elem,
    for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
{
    let ([h, wi], [kh, kw], [oh, ow]) = (d.input, d.kernel, d.output);
    // Sizes in checked arithmetic: extreme strides or dilations (valid for a 1-pixel output)
    // must fall back to the general loop rather than overflow.
    let Some((ph, planes)) = phase_geometry(d) else { return false };
    if planes > 4 * (h * wi + oh * ow) + (1 << 16) {
        return false;
    }
    let ([sh, sw], [dh, dw]) = (d.stride, d.dilation);
    let (pt, pl) = (d.padding[0][0], d.padding[1][0]);
    let rn = (oh - 1) * sh + (kh - 1) * dh + 1;
    let (xs, ws) = (s.x.view.strides(), s.w.view.strides());
    let (xo, wo) = (s.x.view.offset(), s.w.view.offset());
    let (zx, zw) = d.zero_points;
    let channels = d.out_channels;
    par::chunks_init(
        dst,
        oh * ow,
        || (vec![V::default(); planes], vec![V::default(); oh * ph.len], Vec::new()),
        |(src, acc, taps): &mut (Vec<V>, Vec<V>, Vec<(usize, V)>), idx, out| {
            let (n, c) = (idx / channels, idx % channels);
            let base = xo + n * xs[0] + c * xs[1];
            for (a, rows) in src.chunks_exact_mut(ph.size * sw).enumerate() {
                for (b, phase) in rows.chunks_exact_mut(ph.size).enumerate() {
                    let off = b as i128 - pl as i128;
                    let (n0, n1) = super::patches::valid_range(ph.len, wi, sw, off);
                    for (m, row) in phase[..ph.rows * ph.len].chunks_exact_mut(ph.len).enumerate() {
                        // Padded row a + sH·m is input row a + sH·m − pT.
                        let iy = (a + sh * m).checked_sub(pt).filter(|&iy| iy < h && a + sh * m < rn);
                        match iy {
                            None => row.fill(V::default()),
                            Some(iy) => {
                                row[..n0].fill(V::default());
                                row[n1..].fill(V::default());
                                if n1 > n0 {
                                    let ix0 = (n0 as i128 * sw as i128 + off) as usize;
                                    let at = base + iy * xs[2] + ix0 * xs[3];
                                    super::patches::gather(&mut row[n0..n1], x, at, sw.wrapping_mul(xs[3]), |v| {
                                        v.to_acc(zx)
                                    });
                                }
                            }
                        }
                    }
                }
            }
            taps.clear();
            for i in 0..kh {
                for j in 0..kw {
                    let (dy, dx) = (i * dh, j * dw);
                    let phase = (dy % sh) * sw + dx % sw;
                    let start = phase * ph.size + (dy / sh) * ph.len + dx / sw;
                    taps.push((start, w[wo + c * ws[0] + i * ws[2] + j * ws[3]].to_acc(zw)));
                }
            }
            multiversion::run(isa, Accumulate { out: acc, src, taps });
            // Drop the virtual grid's extra columns, then finish the plane in one call.
            for y in 1..oh {
                acc.copy_within(y * ph.len..y * ph.len + ow, y * ow);
            }
            s.at(n, c).apply(Tile { r0: 0, c0: 0, rows: 1, cols: oh * ow }, &mut acc[..oh * ow], out, oh * ow);
        },
    );
    true
}
