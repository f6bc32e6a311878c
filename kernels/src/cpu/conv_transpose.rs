//! Transposed 2-D convolution.
//!
//! Main path (weights dense in `(o, ky, kx)`, input planes flat in `H·W`): per (image, group,
//! block of output channels) one GEMM `cols[(o, ky, kx), (iy, ix)] = Σ_c w[c, o, ky, kx] ·
//! in[c, iy, ix]` on the blocked GEMM (every dtype pair and zero point as in matmul), then
//! "col2im": every output plane adds its `kH·kW` rows of `cols` at
//! `out[iy·sH − pT + ky·dH, ix·sW − pL + kx·dW]` and is finished by the epilogue. Blocks of
//! output channels keep `cols` near 4 MiB.
//!
//! Other views take a direct loop per (image, output channel) plane, parallel over planes:
//! each input channel of the group is converted once into a plane buffer, then every tap adds
//! `w · in[iy, ix]` over the input range that lands inside the output (computed once per tap,
//! so the inner loop has no bound checks). Scattering into the task's own accumulator plane
//! equals the gather formulation of `accel_core::op::ConvDesc`.

use super::arch::{FastAct, OutKind};
use super::conv::{Setup, axpy, load_plane, valid_range};
use super::dtype::{Data, Elem};
use super::epilogue::{At, ChanAxis};
use super::gemm::{FastPlan, GemmAcc, Product, ProductBody, Tile, TileEpi, dispatch_product};
use super::isa::Isa;
use super::pack::{StridedMat, ToAcc};
use super::par;
use super::{DenseFn, with_dense_out};
use crate::{HostIn, HostOut};
use accel_core::op::ConvDesc;
use accel_core::{Op, Result};

/// Runs a validated transposed [`ConvDesc`].
pub(crate) fn conv_transpose(isa: Isa, d: &ConvDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let s = Setup::new("conv_transpose2d", d, inputs)?;
    with_dense_out(out, false, Run { isa, d, s: &s })
}

struct Run<'r, 'a> {
    isa: Isa,
    d: &'r ConvDesc,
    s: &'r Setup<'a>,
}

impl DenseFn for Run<'_, '_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        if self.gemm_fits() {
            // The GEMM path stores raw sums as the accumulator type, so it is dispatched on
            // concrete accumulators here.
            let done = match (&self.s.xd, &self.s.wd) {
                (Data::F32(x), Data::F32(w)) => self.gemm::<_, _, f32, T>(x, w, dst),
                (Data::F16(x), Data::F16(w)) => self.gemm::<_, _, f32, T>(x, w, dst),
                (Data::BF16(x), Data::BF16(w)) => self.gemm::<_, _, f32, T>(x, w, dst),
                (Data::I8(x), Data::I8(w)) => self.gemm::<_, _, i32, T>(x, w, dst),
                (Data::U8(x), Data::I8(w)) => self.gemm::<_, _, i32, T>(x, w, dst),
                _ => false,
            };
            if done {
                return Ok(());
            }
        }
        dispatch_product(&self, &self.s.xd, &self.s.wd, dst, || Op::ConvTranspose(self.d.clone()))
    }
}

/// Stores raw GEMM sums (the `cols` matrix).
struct Raw;

impl<V: GemmAcc + Elem> TileEpi<V, V> for Raw {
    fn reads_prev(&self) -> bool {
        false
    }
    fn apply(&self, t: Tile, acc: &mut [V], dst: &mut [V], ld: usize) {
        for (i, row) in acc.chunks_exact(t.cols).take(t.rows).enumerate() {
            dst[i * ld..i * ld + t.cols].copy_from_slice(row);
        }
    }
    fn fast(&self) -> Option<FastPlan<'_, V>> {
        let (alpha, bias, axis, row_base) = (1.0, None, ChanAxis::Row, 0);
        Some(FastPlan { alpha, bias, axis, row_base, act: FastAct::None, out: OutKind::Acc })
    }
}

/// Elements of the `cols` buffer one block aims at.
const COLS_BLOCK: usize = 1 << 20;

impl Run<'_, '_> {
    /// Whether the weights are dense in `(o, ky, kx)` and the input planes flat in `H·W`.
    fn gemm_fits(&self) -> bool {
        let (xs, ws) = (self.s.x.view.strides(), self.s.w.view.strides());
        let ([h, wi], [kh, kw]) = (self.d.input, self.d.kernel);
        // Row `o·taps + t` of the GEMM's A sits at `o·ws[1] + ky·ws[2] + kx·ws[3]`, which is
        // `o·taps + t` when each axis that has more than one index is packed.
        let og = self.d.out_per_group();
        let w_dense = (kw == 1 || ws[3] == 1) && (kh == 1 || ws[2] == kw) && (og == 1 || ws[1] == kh * kw);
        w_dense && (h == 1 || xs[2] == wi * xs[3])
    }

    /// The GEMM path; always true (the caller checked [`Run::gemm_fits`]).
    fn gemm<TX, TW, V, T>(&self, x: &[TX], w: &[TW], dst: &mut [T]) -> bool
    where
        TX: ToAcc<V>,
        TW: ToAcc<V>,
        V: GemmAcc + Elem,
        T: Elem,
        for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
    {
        self.gemm_blocks::<TX, TW, V, T>(x, w, dst);
        true
    }

    fn gemm_blocks<TX, TW, V, T>(&self, x: &[TX], w: &[TW], dst: &mut [T])
    where
        TX: ToAcc<V>,
        TW: ToAcc<V>,
        V: GemmAcc + Elem,
        T: Elem,
        for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
    {
        let d = self.d;
        let (xs, ws) = (self.s.x.view.strides(), self.s.w.view.strides());
        let (xo, wo) = (self.s.x.view.offset(), self.s.w.view.offset());
        let ([h, wi], [kh, kw], [oh, ow]) = (d.input, d.kernel, d.output);
        let ([sh, sw], [dh, dw]) = (d.stride, d.dilation);
        let (pt, pl) = (d.padding[0][0] as i128, d.padding[1][0] as i128);
        let (zx, zw) = d.zero_points;
        let (g, cg, og, channels) = (d.groups, d.in_per_group(), d.out_per_group(), d.out_channels);
        let (taps, pixels, plane) = (kh * kw, h * wi, oh * ow);
        let block = (COLS_BLOCK / (taps * pixels).max(1)).clamp(1, og);
        // Per tap: the valid input rows and columns and where they land.
        let spans: Vec<_> = (0..taps)
            .map(|t| {
                let (yoff, xoff) = (((t / kw) * dh) as i128 - pt, ((t % kw) * dw) as i128 - pl);
                let (iy0, iy1) = valid_range(h, oh, sh, yoff);
                let (ix0, ix1) = valid_range(wi, ow, sw, xoff);
                (iy0, iy1, ix0, ix1, yoff, xoff)
            })
            .collect();
        let mut cols: Vec<V> = Vec::new();
        for n in 0..d.batch {
            for gi in 0..g {
                for o0 in (0..og).step_by(block) {
                    let ob = block.min(og - o0);
                    let a = StridedMat { data: w, base: wo + gi * cg * ws[0] + o0 * taps, rs: 1, cs: ws[0] };
                    let b = StridedMat { data: x, base: xo + n * xs[0] + gi * cg * xs[1], rs: xs[1], cs: xs[3] };
                    let (m, k) = (ob * taps, cg);
                    cols.resize(m * pixels, V::default());
                    let p = Product { isa: self.isa, a: &a, b: &b, m, n: pixels, k, za: zw, zb: zx };
                    V::gemm(&p, &mut cols, &Raw);
                    let first = n * channels + gi * og + o0;
                    let out = &mut dst[first * plane..(first + ob) * plane];
                    let cols = &cols;
                    par::chunks_init(out, plane, Vec::new, |acc: &mut Vec<V>, oi, out| {
                        acc.clear();
                        acc.resize(plane, V::default());
                        for (t, &(iy0, iy1, ix0, ix1, yoff, xoff)) in spans.iter().enumerate() {
                            if ix0 >= ix1 {
                                continue;
                            }
                            let row = &cols[(oi * taps + t) * pixels..];
                            let x0 = (ix0 as i128 * sw as i128 + xoff) as usize;
                            for iy in iy0..iy1 {
                                let y = (iy as i128 * sh as i128 + yoff) as usize;
                                let (dst, src) = (&mut acc[y * ow + x0..], &row[iy * wi + ix0..]);
                                add_strided(dst, sw, src, ix1 - ix0);
                            }
                        }
                        let tile = Tile { r0: 0, c0: 0, rows: 1, cols: plane };
                        self.s.at(n, gi * og + o0 + oi).apply(tile, acc, out, plane);
                    });
                }
            }
        }
    }
}

/// `dst[i·ds] += src[i]` for `i < count`.
#[inline]
fn add_strided<V: GemmAcc>(dst: &mut [V], ds: usize, src: &[V], count: usize) {
    if ds == 1 {
        for (a, &v) in dst[..count].iter_mut().zip(&src[..count]) {
            *a = a.add(v);
        }
    } else {
        for (i, &v) in src[..count].iter().enumerate() {
            dst[i * ds] = dst[i * ds].add(v);
        }
    }
}

impl ProductBody for Run<'_, '_> {
    fn go<TX, TW, V, T>(&self, x: &[TX], w: &[TW], dst: &mut [T]) -> Result<()>
    where
        TX: ToAcc<V>,
        TW: ToAcc<V>,
        V: GemmAcc,
        T: Elem,
        for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
    {
        let d = self.d;
        let (xs, ws) = (self.s.x.view.strides(), self.s.w.view.strides());
        let (xo, wo) = (self.s.x.view.offset(), self.s.w.view.offset());
        let ([h, wi], [kh, kw], [oh, ow]) = (d.input, d.kernel, d.output);
        let ([sh, sw], [dh, dw]) = (d.stride, d.dilation);
        let (pt, pl) = (d.padding[0][0] as i128, d.padding[1][0] as i128);
        let (zx, zw) = d.zero_points;
        let (cg, og, channels) = (d.in_per_group(), d.out_per_group(), d.out_channels);
        par::chunks_init(
            dst,
            oh * ow,
            || (Vec::new(), Vec::new()),
            |(plane, acc): &mut (Vec<V>, Vec<V>), idx, out| {
                let (n, o) = (idx / channels, idx % channels);
                let (g, oo) = (o / og, o % og);
                acc.clear();
                acc.resize(oh * ow, V::default());
                for c in g * cg..(g + 1) * cg {
                    let base = xo + n * xs[0] + c * xs[1];
                    load_plane(x, base, [h, wi], [xs[2], xs[3]], zx, plane);
                    for i in 0..kh {
                        let yoff = (i * dh) as i128 - pt;
                        let (iy0, iy1) = valid_range(h, oh, sh, yoff);
                        for j in 0..kw {
                            let xoff = (j * dw) as i128 - pl;
                            let (ix0, ix1) = valid_range(wi, ow, sw, xoff);
                            if ix0 >= ix1 {
                                continue;
                            }
                            let wv: V = w[wo + c * ws[0] + oo * ws[1] + i * ws[2] + j * ws[3]].to_acc(zw);
                            let x0 = (ix0 as i128 * sw as i128 + xoff) as usize;
                            for iy in iy0..iy1 {
                                let y = (iy as i128 * sh as i128 + yoff) as usize;
                                axpy(&mut acc[y * ow + x0..], sw, &plane[iy * wi + ix0..], 1, ix1 - ix0, wv);
                            }
                        }
                    }
                }
                self.s.at(n, o).apply(Tile { r0: 0, c0: 0, rows: 1, cols: oh * ow }, acc, out, oh * ow);
            },
        );
        Ok(())
    }
}
