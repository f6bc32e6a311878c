//! Forward convolution over canonical `[N, C, H, W]` views (NHWC and 1-D arrive as permuted
//! or lifted views, so any strides).
//!
//! General case: an implicit GEMM per (image, group): `out[n, g·Og.., :] = W_g (Og × Cg·kH·kW)
//! · X (Cg·kH·kW × oH·oW)`, where `X` is never built: the GEMM's packing gathers it a row of
//! pixels at a time through [`Patches`] (padding reads as zero; on the int8 path that is
//! "contributes nothing", as if padded with the zero point). A 1×1 stride-1 unpadded
//! convolution needs no gather: `X` is the input's `[Cg, H·W]` matrix itself. The dense output
//! of one (image, group) is a contiguous `[Og, oH·oW]` block, so the epilogue's channel is the
//! GEMM row.
//!
//! Depthwise (groups = C = O): `depthwise_lanes` (small planes, 16 channels across the
//! vector lanes) or `depthwise` (phase planes, register-blocked, compiled per ISA); shapes
//! both decline take a direct loop per (image, channel) plane over the taps, with
//! the valid output range of each tap computed once so the inner loop has no bound checks.

use super::dtype::{Data, Elem};
use super::epilogue::{At, ChanAxis, Epilogue, Residual};
use super::gemm::{GemmAcc, Product, ProductBody, Tile, TileEpi, dispatch_product};
use super::isa::Isa;
use super::kernel::Acc;
use super::pack::{MatSrc, StridedMat, TableMat, ToAcc};
use super::par;
pub(crate) use super::patches::valid_range;
use super::patches::{Geometry, PatchTables, Patches};
use super::{DenseFn, input, with_dense_out};
use crate::{HostIn, HostOut};
use accel_core::op::ConvDesc;
use accel_core::{Op, Result};

/// Loads input plane `base` (`h × w`, strides `hs`, `ws`) into `plane`, row-major, converted.
pub(crate) fn load_plane<T: ToAcc<V>, V: Acc>(
    x: &[T],
    base: usize,
    [h, w]: [usize; 2],
    [hs, ws]: [usize; 2],
    zp: i32,
    plane: &mut Vec<V>,
) {
    plane.clear();
    if w == 0 {
        // An empty input (only padding reaches the output): nothing to read, and `base` may
        // lie past the end of an empty buffer.
        return;
    }
    for iy in 0..h {
        let row = base + iy * hs;
        if ws == 1 {
            plane.extend(x[row..row + w].iter().map(|v| v.to_acc(zp)));
        } else {
            plane.extend((0..w).map(|ix| x[row + ix * ws].to_acc(zp)));
        }
    }
}

/// `dst[i·ds] += wv · src[i·ss]` for `i < count` (unit steps take a vectorisable path).
#[inline]
pub(crate) fn axpy<V: Acc>(dst: &mut [V], ds: usize, src: &[V], ss: usize, count: usize, wv: V) {
    if ds == 1 && ss == 1 {
        for (a, &v) in dst[..count].iter_mut().zip(&src[..count]) {
            *a = a.add(wv.mul(v));
        }
    } else {
        for i in 0..count {
            dst[i * ds] = dst[i * ds].add(wv.mul(src[i * ss]));
        }
    }
}

/// The residual operand of a convolution (`[N, O, oH, oW]` view) and the per-image offset of
/// its view.
pub(crate) fn residual<'a>(r: HostIn<'a>, d: &ConvDesc) -> (Residual<'a>, [usize; 2]) {
    let st = r.view.strides();
    let [oh, ow] = d.output;
    let roff = (0..d.out_channels).map(|o| o * st[1]).collect();
    let coff = (0..oh).flat_map(|y| (0..ow).map(move |x| y * st[2] + x * st[3])).collect();
    (Residual { data: Data::new(r.bytes, r.dtype), roff, coff }, [r.view.offset(), st[0]])
}

/// Shared setup of forward and transposed convolution: operands and the epilogue.
pub(crate) struct Setup<'a> {
    pub(crate) x: HostIn<'a>,
    pub(crate) w: HostIn<'a>,
    pub(crate) xd: Data<'a>,
    pub(crate) wd: Data<'a>,
    pub(crate) epi: Epilogue<'a>,
    /// Offset and image stride of the residual view (zeros without one).
    pub(crate) res: [usize; 2],
}

impl<'a> Setup<'a> {
    pub(crate) fn new(op: &'static str, d: &ConvDesc, inputs: &[HostIn<'a>]) -> Result<Setup<'a>> {
        let x = input(op, inputs, 0)?;
        let w = input(op, inputs, 1)?;
        let mut next = 2;
        let bias = if d.epilogue.bias {
            next += 1;
            Some(input(op, inputs, next - 1)?)
        } else {
            None
        };
        let (residual, res) = if d.epilogue.residual {
            let (r, off) = residual(input(op, inputs, next)?, d);
            (Some(r), off)
        } else {
            (None, [0, 0])
        };
        let epi = Epilogue::new(&d.epilogue, 1.0, 0.0, ChanAxis::Row, bias, residual);
        Ok(Setup { x, w, xd: Data::new(x.bytes, x.dtype), wd: Data::new(w.bytes, w.dtype), epi, res })
    }

    /// The epilogue bound to image `n` (row base 0 = channel 0).
    pub(crate) fn at(&self, n: usize, row_base: usize) -> At<'_, 'a> {
        self.epi.at(self.res[0] + n * self.res[1], row_base)
    }
}

/// Runs a validated forward [`ConvDesc`].
pub(crate) fn conv(isa: Isa, d: &ConvDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let s = Setup::new("conv", d, inputs)?;
    with_dense_out(out, false, Run { isa, d, s: &s })
}

struct Run<'r, 'a> {
    isa: Isa,
    d: &'r ConvDesc,
    s: &'r Setup<'a>,
}

impl DenseFn for Run<'_, '_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        dispatch_product(&self, &self.s.xd, &self.s.wd, dst, || Op::Conv(self.d.clone()))
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
        if self.d.is_depthwise() {
            // Small planes go lane-interleaved, larger ones as phase planes, shapes neither
            // takes (padding that dwarfs the plane) through the direct loop.
            let done = super::depthwise_lanes::depthwise(self.isa, self.d, self.s, x, w, dst)
                || super::depthwise::depthwise(self.isa, self.d, self.s, x, w, dst);
            if !done {
                self.depthwise::<TX, TW, V, T>(x, w, dst);
            }
        } else {
            self.implicit_gemm::<TX, TW, V, T>(x, w, dst);
        }
        Ok(())
    }
}

impl Run<'_, '_> {
    fn implicit_gemm<TX, TW, V, T>(&self, x: &[TX], w: &[TW], dst: &mut [T])
    where
        TX: ToAcc<V>,
        TW: ToAcc<V>,
        V: GemmAcc,
        T: Elem,
        for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
    {
        let d = self.d;
        let xs = self.s.x.view.strides();
        let (cg, [kh, kw], [h, wi]) = (d.in_per_group(), d.kernel, d.input);
        let xbase = |n: usize, gi: usize| self.s.x.view.offset() + n * xs[0] + gi * cg * xs[1];
        let unpadded = d.padding == [[0, 0], [0, 0]];
        // A 1×1 stride-1 convolution without padding reads the input planes as they are: B is
        // the `[Cg, H·W]` matrix itself, packed from contiguous rows when W is innermost (NCHW)
        // or from contiguous columns when C is (NHWC).
        if kh == 1 && kw == 1 && d.stride == [1, 1] && unpadded && (h == 1 || xs[2] == wi * xs[3]) {
            self.products(w, dst, |n, gi| StridedMat { data: x, base: xbase(n, gi), rs: xs[1], cs: xs[3] });
        } else {
            let t = PatchTables::new(&Geometry {
                channels: cg,
                input: d.input,
                kernel: d.kernel,
                output: d.output,
                stride: d.stride,
                dilation: d.dilation,
                pad: [d.padding[0][0], d.padding[1][0]],
                strides: [xs[1], xs[2], xs[3]],
            });
            let pad = TX::from_i32_wrapping(d.zero_points.0);
            self.products(w, dst, |n, gi| Patches { data: x, base: xbase(n, gi), tables: &t, pad });
        }
    }

    /// One GEMM per (image, group): `out[n, g·Og.., :] = W_g · B(n, g)`.
    fn products<TW, V, T, B>(&self, w: &[TW], dst: &mut [T], b: impl Fn(usize, usize) -> B + Sync)
    where
        TW: ToAcc<V>,
        V: GemmAcc,
        T: Elem,
        B: MatSrc,
        for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
    {
        let d = self.d;
        let ws = self.s.w.view.strides();
        let (g, cg, og) = (d.groups, d.in_per_group(), d.out_per_group());
        let ([kh, kw], [oh, ow]) = (d.kernel, d.output);
        let (taps, pixels) = (cg * kh * kw, oh * ow);
        let mut wcoff = Vec::with_capacity(taps);
        for c in 0..cg {
            for i in 0..kh {
                for j in 0..kw {
                    wcoff.push(c * ws[1] + i * ws[2] + j * ws[3]);
                }
            }
        }
        let wdense = wcoff.iter().enumerate().all(|(i, &o)| o == i);
        let (zx, zw) = d.zero_points;
        par::outer_chunks(dst, og * pixels, |idx, chunk| {
            let (n, gi) = (idx / g, idx % g);
            let a = TableMat {
                data: w,
                base: self.s.w.view.offset() + gi * og * ws[0],
                rs: ws[0],
                coff: &wcoff,
                dense: wdense,
            };
            let (b, epi) = (b(n, gi), self.s.at(n, gi * og));
            let p = Product { isa: self.isa, a: &a, b: &b, m: og, n: pixels, k: taps, za: zw, zb: zx };
            V::gemm(&p, chunk, &epi);
        });
    }

    fn depthwise<TX, TW, V, T>(&self, x: &[TX], w: &[TW], dst: &mut [T])
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
        let channels = d.out_channels;
        par::chunks_init(
            dst,
            oh * ow,
            || (Vec::new(), Vec::new()),
            |(plane, acc): &mut (Vec<V>, Vec<V>), idx, out| {
                let (n, c) = (idx / channels, idx % channels);
                let base = xo + n * xs[0] + c * xs[1];
                load_plane(x, base, [h, wi], [xs[2], xs[3]], zx, plane);
                acc.clear();
                acc.resize(oh * ow, V::default());
                for i in 0..kh {
                    let yoff = (i * dh) as i128 - pt;
                    let (y0, y1) = valid_range(oh, h, sh, yoff);
                    for j in 0..kw {
                        let wv: V = w[wo + c * ws[0] + i * ws[2] + j * ws[3]].to_acc(zw);
                        let xoff = (j * dw) as i128 - pl;
                        let (x0, x1) = valid_range(ow, wi, sw, xoff);
                        if x0 >= x1 {
                            continue;
                        }
                        for y in y0..y1 {
                            let iy = (y as i128 * sh as i128 + yoff) as usize;
                            let ix0 = (x0 as i128 * sw as i128 + xoff) as usize;
                            axpy(&mut acc[y * ow + x0..], 1, &plane[iy * wi + ix0..], sw, x1 - x0, wv);
                        }
                    }
                }
                self.s.at(n, c).apply(Tile { r0: 0, c0: 0, rows: 1, cols: oh * ow }, acc, out, oh * ow);
            },
        );
    }
}
