//! Transposed 2-D convolution: a direct loop per (image, output channel) plane, parallel over
//! planes. Each input channel of the group is converted once into a plane buffer, then every
//! tap adds `w · in[iy, ix]` into `out[iy·sH − pT + ky·dH, ix·sW − pL + kx·dW]` over the
//! input range that lands inside the output (computed once per tap, so the inner loop has no
//! bound checks). Scattering into the task's own accumulator plane equals the gather
//! formulation of `accel_core::op::ConvDesc`.

use super::conv::{Setup, axpy, load_plane, valid_range};
use super::dtype::Elem;
use super::epilogue::At;
use super::gemm::{GemmAcc, ProductBody, Tile, TileEpi, dispatch_product};
use super::pack::ToAcc;
use super::{DenseFn, with_dense_out};
use crate::{HostIn, HostOut};
use accel_core::op::ConvDesc;
use accel_core::{Op, Result};
use rayon::prelude::*;

/// Runs a validated transposed [`ConvDesc`].
pub(crate) fn conv_transpose(d: &ConvDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let s = Setup::new("conv_transpose2d", d, inputs)?;
    with_dense_out(out, false, Run { d, s: &s })
}

struct Run<'r, 'a> {
    d: &'r ConvDesc,
    s: &'r Setup<'a>,
}

impl DenseFn for Run<'_, '_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        dispatch_product(&self, &self.s.xd, &self.s.wd, dst, || Op::ConvTranspose(self.d.clone()))
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
        dst.par_chunks_mut(oh * ow).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(plane, acc): &mut (Vec<V>, Vec<V>), (idx, out)| {
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
