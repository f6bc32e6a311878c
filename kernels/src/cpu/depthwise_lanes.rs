//! Depthwise convolution with channels across the vector lanes, for small planes.
//!
//! The phase-plane kernel ([`super::depthwise`]) vectorises along one channel's plane, so a
//! 7×7 or 14×14 plane leaves it all per-plane overhead (measured: ~265 ns per 7×7 plane, where
//! the arithmetic is 441 MACs). Here a block of [`LANES`] consecutive (image, channel) planes
//! is interleaved into one zero-padded buffer `[row][col][lane]`, so every output pixel is one
//! vector of `LANES` channels and every tap one vector multiply-add with that tap's weights of
//! the `LANES` channels, at any stride or dilation. The loop keeps a few pixels in registers
//! over all taps and is compiled for the active ISA; like the phase-plane kernel it multiplies
//! and adds separately, taps in the same order, so both kernels give identical bits.

use super::arch::multiversion::{self, Block};
use super::arch::{FastAct, OutKind};
use super::conv::Setup;
use super::dtype::Elem;
use super::epilogue::At;
use super::gemm::{Tile, TileEpi, as_same, as_same_mut};
use super::isa::Isa;
use super::kernel::Acc;
use super::pack::ToAcc;
use super::par;
use super::transpose::transpose;
use accel_core::op::ConvDesc;

/// Channels per block: one 512-bit vector of 32-bit accumulators.
pub(crate) const LANES: usize = 16;

/// Largest interleaved input block (elements) this kernel takes on: beyond it a block and
/// its staging buffers fall out of L2 (112×112 stride 2: 0.93× the phase-plane kernel).
const MAX_BLOCK: usize = 64 << 10;

/// Largest stride-1 output plane this kernel takes on. A stride-1 plane costs the phase-plane
/// kernel one padded copy, all in L1, where this one passes a block's data through L2 four
/// times; measured (one thread, 3×3 f32): 7×7 2.5× and 14×14 1.4× faster here, 28×28 and
/// 56×56 1.4–1.6× slower. Strided planes cost the phase-plane kernel a gather into phases,
/// and come here up to `MAX_BLOCK` (56×56 stride 2: 1.3× faster).
const MAX_UNIT_STRIDE_PLANE: usize = 20 * 20;

/// Largest output plane this kernel takes on without AVX-512 or AVX2, where its transposes
/// run scalar: measured on Zen 3 (one thread, 3×3 f32, scalar transposes forced), 7×7
/// 1.7–3× faster here, 14×14 and 56×56 stride 2 1.3–2.5× slower. With AVX2's 8×8
/// transposes it takes the planes AVX-512 does (Zen 3, input planes: 28×28 stride 2 3.3 → 6.3 GFLOP/s,
/// 14×14 stride 2 2.8 → 4.9, 7×7 5.2 → 7.6).
const MAX_PLANE_SCALAR_TRANSPOSE: usize = 10 * 10;

/// The geometry the pixel loop needs.
#[derive(Debug, Clone, Copy)]
struct Geo {
    out: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// Row length of the interleaved input, in pixels.
    cols: usize,
}

/// `out[p] = Σ_taps w[tap] · src[pixel(p, tap)]`, `LANES` channels per pixel.
struct Pixels<'a, V> {
    out: &'a mut [V],
    src: &'a [V],
    wts: &'a [V],
    geo: Geo,
}

impl<V: Acc> Pixels<'_, V> {
    /// Accumulates output pixels `p..p + U` (row-major over the output plane).
    #[inline(always)]
    fn pixels<const U: usize>(&mut self, p: usize) {
        let g = self.geo;
        // Where each pixel's window starts in the padded block.
        let mut at = [0; U];
        for (u, at) in at.iter_mut().enumerate() {
            let (y, x) = ((p + u) / g.out[1], (p + u) % g.out[1]);
            *at = y * g.stride[0] * g.cols + x * g.stride[1];
        }
        // A local array (not a slice of the caller's) so the accumulators live in registers.
        let mut acc = [[V::default(); LANES]; U];
        for i in 0..g.kernel[0] {
            for j in 0..g.kernel[1] {
                let tap = i * g.dilation[0] * g.cols + j * g.dilation[1];
                let w = &self.wts[(i * g.kernel[1] + j) * LANES..][..LANES];
                for (a, &at) in acc.iter_mut().zip(&at) {
                    let src = &self.src[(at + tap) * LANES..][..LANES];
                    for l in 0..LANES {
                        a[l] = a[l].add(w[l].mul(src[l]));
                    }
                }
            }
        }
        for (o, a) in self.out[p * LANES..(p + U) * LANES].chunks_exact_mut(LANES).zip(&acc) {
            o.copy_from_slice(a);
        }
    }
}

impl<V: Acc> Block for Pixels<'_, V> {
    #[inline(always)]
    fn run<const FMA: bool, const B: usize>(mut self) {
        // `B` lanes of registers hold `B / LANES` pixels, taken in row-major order across the
        // plane's rows (a 7-pixel row would otherwise leave most of a block idle).
        let total = self.geo.out[0] * self.geo.out[1];
        let mut p = 0;
        if B / LANES >= 4 {
            while p + 4 <= total {
                self.pixels::<4>(p);
                p += 4;
            }
        }
        while p + 2 <= total {
            self.pixels::<2>(p);
            p += 2;
        }
        if p < total {
            self.pixels::<1>(p);
        }
    }
}

/// One worker's buffers, in the order a block passes through them.
struct Scratch<V> {
    /// The block's input planes, converted, one after another.
    stage: Vec<V>,
    /// The same pixel-major, lanes innermost.
    pix: Vec<V>,
    /// The zero-padded interleaved input `[row][col][lane]`.
    src: Vec<V>,
    /// Weights `[tap][lane]`.
    wts: Vec<V>,
    /// Output pixels `[pixel][lane]`, then planes `[lane][pixel]`.
    out: Vec<V>,
    acc: Vec<V>,
}

/// Runs the depthwise convolution `d` lane-interleaved when its planes are small enough;
/// `false` leaves the shape to the caller.
pub(crate) fn depthwise<TX, TW, V, T>(isa: Isa, d: &ConvDesc, s: &Setup<'_>, x: &[TX], w: &[TW], dst: &mut [T]) -> bool
where
    TX: ToAcc<V>,
    TW: ToAcc<V>,
    V: Acc,
    T: Elem,
    for<'e, 'x> At<'e, 'x>: TileEpi<V, T>,
{
    let ([h, wi], [kh, kw], [oh, ow]) = (d.input, d.kernel, d.output);
    if !isa.has_avx2() && oh * ow > MAX_PLANE_SCALAR_TRANSPOSE {
        return false;
    }
    let ([sh, sw], [dh, dw]) = (d.stride, d.dilation);
    // Padded rows and columns the output reads (checked: extreme strides or dilations are
    // valid for a one-pixel output).
    let need = |o: usize, st: usize, k: usize, dl: usize| {
        (o - 1).checked_mul(st)?.checked_add((k - 1).checked_mul(dl)?)?.checked_add(1)
    };
    let (Some(rows), Some(cols)) = (need(oh, sh, kh, dh), need(ow, sw, kw, dw)) else { return false };
    let block = rows.saturating_mul(cols).saturating_mul(LANES);
    let unit_stride = d.stride == [1, 1];
    if block > MAX_BLOCK || block > 4 * LANES * (h * wi + oh * ow) || (unit_stride && oh * ow > MAX_UNIT_STRIDE_PLANE) {
        return false;
    }
    let geo = Geo { out: [oh, ow], kernel: [kh, kw], stride: [sh, sw], dilation: [dh, dw], cols };
    let (pt, pl) = (d.padding[0][0], d.padding[1][0]);
    let (xs, ws) = (s.x.view.strides(), s.w.view.strides());
    let (xo, wo) = (s.x.view.offset(), s.w.view.offset());
    let (zx, zw) = d.zero_points;
    let (channels, plane) = (d.out_channels, oh * ow);
    // Input rows and columns that hold data (the rest of the block is padding).
    let (r0, r1) = (pt.min(rows), (pt + h).min(rows));
    let (c0, c1) = (pl.min(cols), (pl + wi).min(cols));
    let (hw, taps) = (h * wi, kh * kw);
    let dense_plane = xs[3] == 1 && (h == 1 || xs[2] == wi);
    // When blocks hold whole groups of `LANES` channels of one image, every block's weights
    // `[tap][lane]` are made once here rather than gathered per block.
    let lane_wts = channels.is_multiple_of(LANES).then(|| {
        let mut t = vec![V::default(); channels * taps];
        // Dense weights of the accumulator type: each group's `[LANES][taps]` rows are one
        // run, transposed as a square block (per element, the index arithmetic took 15 % of
        // a 7×7 layer).
        let dense = ws[3] == 1 && ws[2] == kw && ws[0] == taps && taps <= LANES;
        if let Some(wv) = as_same::<TW, V>(w).filter(|_| dense) {
            let (mut square, mut turned) = ([V::default(); LANES * LANES], [V::default(); LANES * LANES]);
            for (g, group) in t.chunks_exact_mut(LANES * taps).enumerate() {
                let rows = &wv[wo + g * LANES * taps..][..LANES * taps];
                for (dst, row) in square.chunks_exact_mut(LANES).zip(rows.chunks_exact(taps)) {
                    dst[..taps].copy_from_slice(row);
                }
                transpose(isa, &square, LANES, &mut turned, LANES, LANES, LANES);
                group.copy_from_slice(&turned[..taps * LANES]);
            }
            return t;
        }
        for c in 0..channels {
            for i in 0..kh {
                for j in 0..kw {
                    let at = ((c / LANES) * taps + i * kw + j) * LANES + c % LANES;
                    t[at] = w[wo + c * ws[0] + i * ws[2] + j * ws[3]].to_acc(zw);
                }
            }
        }
        t
    });
    par::chunks_init(
        dst,
        LANES * plane,
        || Scratch {
            stage: vec![V::default(); LANES * hw],
            pix: vec![V::default(); LANES * hw],
            src: vec![V::default(); block],
            wts: vec![V::default(); LANES * taps],
            out: vec![V::default(); LANES * plane],
            acc: vec![V::default(); LANES * plane],
        },
        |sc: &mut Scratch<V>, blk, dst| {
            let planes = dst.len() / plane;
            let first = blk * LANES;
            // A block of one image's consecutive channels (`whole`) takes one epilogue tile;
            // with the lane weights made up front, its dense input planes of the accumulator
            // type are transposed straight from the input, without the converting copy.
            let (n0, ch0) = (first / channels, first % channels);
            let whole = planes == LANES && ch0 + LANES <= channels;
            let direct = if whole && dense_plane && lane_wts.is_some() { as_same::<TX, V>(x) } else { None };
            if let Some(xv) = direct {
                let base = xo + n0 * xs[0] + ch0 * xs[1];
                transpose(isa, &xv[base..], xs[1], &mut sc.pix, LANES, LANES, hw);
            } else {
                // Each lane's input plane converted, one after another (in a partial last block
                // the unused lanes keep stale values whose outputs nobody reads).
                for l in 0..planes {
                    let (n, c) = ((first + l) / channels, (first + l) % channels);
                    let base = xo + n * xs[0] + c * xs[1];
                    let stage = &mut sc.stage[l * hw..(l + 1) * hw];
                    if hw == 0 {
                        // An empty plane (H or W = 0): the block is all padding.
                    } else if dense_plane {
                        stage.iter_mut().zip(&x[base..base + hw]).for_each(|(d, &v)| *d = v.to_acc(zx));
                    } else {
                        for (iy, row) in stage.chunks_exact_mut(wi).enumerate() {
                            let at = base + iy * xs[2];
                            row.iter_mut().enumerate().for_each(|(k, d)| *d = x[at + k * xs[3]].to_acc(zx));
                        }
                    }
                    if lane_wts.is_none() {
                        for i in 0..kh {
                            for j in 0..kw {
                                sc.wts[(i * kw + j) * LANES + l] = w[wo + c * ws[0] + i * ws[2] + j * ws[3]].to_acc(zw);
                            }
                        }
                    }
                }
                // Pixel-major with the lanes innermost, then row by row into the padded block
                // (whose padding cells were zeroed when it was made and are never written).
                transpose(isa, &sc.stage, hw, &mut sc.pix, LANES, LANES, hw);
            }
            let wts = match &lane_wts {
                Some(t) => &t[(first % channels) * taps..][..LANES * taps],
                None => &sc.wts[..],
            };
            if c1 > c0 {
                let run = (c1 - c0) * LANES;
                for r in r0..r1 {
                    let from = ((r - pt) * wi + (c0 - pl)) * LANES;
                    let to = (r * cols + c0) * LANES;
                    sc.src[to..to + run].copy_from_slice(&sc.pix[from..from + run]);
                }
            }
            multiversion::run(isa, Pixels { out: &mut sc.out, src: &sc.src, wts, geo });
            // Back to one plane per channel; the epilogue finishes each plane.
            let at = s.at(n0, ch0);
            let identity = at
                .fast()
                .is_some_and(|f| f.alpha == 1.0 && f.bias.is_none() && f.act == FastAct::None && f.out == OutKind::Acc);
            // An identity epilogue into the accumulator type: transposed straight into the
            // output.
            if whole
                && identity
                && let Some(d) = as_same_mut::<T, V>(dst)
            {
                transpose(isa, &sc.out, LANES, d, plane, plane, LANES);
                return;
            }
            transpose(isa, &sc.out, LANES, &mut sc.acc, plane, plane, LANES);
            if whole {
                // Row l of the tile is channel ch0 + l.
                at.apply(Tile { r0: 0, c0: 0, rows: LANES, cols: plane }, &mut sc.acc, dst, plane);
            } else {
                for ((l, dst), acc) in dst.chunks_exact_mut(plane).enumerate().zip(sc.acc.chunks_exact_mut(plane)) {
                    let (n, c) = ((first + l) / channels, (first + l) % channels);
                    s.at(n, c).apply(Tile { r0: 0, c0: 0, rows: 1, cols: plane }, acc, dst, plane);
                }
            }
        },
    );
    true
}
