//! The fused epilogue of matmul and convolution, applied to each finished accumulator tile
//! (see `accel_core::op::epilogue` for the semantics):
//!
//! ```text
//! float: v = alpha·acc + beta·prev + bias[c] + residual[i]; act(v); requant or round into T
//! int8:  v = acc + bias[c] + residual[i] (i32, wrapping); relu/clamp; requant or saturate
//! ```
//!
//! Requantization is `T::from_f64(round_half_even(v · scale[c]) + zp)` with the product in f64,
//! which saturates exactly as the oracle does. Bias and scales are converted once per op;
//! residual rows are read through per-row and per-column offset tables so the same code
//! serves matmul (`[.., m, n]`) and convolution (`[N, O, oH·oW]`).

use super::arch::FastAct;
use super::dtype::{Data, Elem, with_data};
use super::gemm::{FastPlan, Tile, TileEpi, out_kind};
use super::layout::{Layout, gather};
use crate::HostIn;
use crate::math::{gelu, round_half_even};
use accel_core::op::{Activation, EpilogueDesc};

/// Which tile coordinate is the epilogue's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChanAxis {
    /// Output channel = row (convolution).
    Row,
    /// Output channel = column (matmul).
    Col,
}

/// A residual operand: element `(r, c)` of one product lives at
/// `base + roff[row_base + r] + coff[c]`.
#[derive(Debug)]
pub(crate) struct Residual<'a> {
    pub(crate) data: Data<'a>,
    pub(crate) roff: Vec<usize>,
    pub(crate) coff: Vec<usize>,
}

/// The per-op epilogue state.
#[derive(Debug)]
pub(crate) struct Epilogue<'a> {
    alpha: f32,
    beta: f32,
    axis: ChanAxis,
    bias_f: Option<Vec<f32>>,
    bias_i: Option<Vec<i32>>,
    residual: Option<Residual<'a>>,
    act: Activation,
    /// Per-channel scales (length 1 or channels) and the zero point.
    requant: Option<(Vec<f64>, f64)>,
}

impl<'a> Epilogue<'a> {
    /// Prepares the epilogue of an op; `bias` is the `[channels]` operand if any.
    pub(crate) fn new(
        desc: &EpilogueDesc,
        alpha: f32,
        beta: f32,
        axis: ChanAxis,
        bias: Option<HostIn<'_>>,
        residual: Option<Residual<'a>>,
    ) -> Epilogue<'a> {
        let (mut bias_f, mut bias_i) = (None, None);
        if let Some(b) = bias {
            let lay = Layout::new(b.view);
            let data = Data::new(b.bytes, b.dtype);
            if b.dtype.is_float() {
                let mut v = vec![0f32; lay.numel()];
                with_data!(&data, |s| gather(s, &lay, 0, &mut v, Elem::to_f32));
                bias_f = Some(v);
            } else {
                let mut v = vec![0i32; lay.numel()];
                with_data!(&data, |s| gather(s, &lay, 0, &mut v, Elem::to_i32));
                bias_i = Some(v);
            }
        }
        let requant = desc
            .requant
            .as_ref()
            .map(|q| (q.scales.iter().map(|&s| s as f64).collect::<Vec<f64>>(), q.zero_point as f64));
        Epilogue { alpha, beta, axis, bias_f, bias_i, residual, act: desc.activation, requant }
    }

    /// Binds the epilogue to one product: its residual base offset and the channel of its row 0.
    pub(crate) fn at(&self, res_base: usize, row_base: usize) -> At<'_, 'a> {
        At { epi: self, res_base, row_base }
    }
}

/// An [`Epilogue`] bound to one product (one batch matrix, or one image and group).
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'e, 'a> {
    epi: &'e Epilogue<'a>,
    res_base: usize,
    row_base: usize,
}

#[inline(always)]
fn scale_of(scales: &[f64], c: usize) -> f64 {
    if scales.len() == 1 { scales[0] } else { scales[c] }
}

/// Applies a float activation in place (NaN propagates through relu and clamp).
pub(crate) fn activate_f32(act: Activation, v: &mut [f32]) {
    match act {
        Activation::None => {}
        Activation::Relu => v.iter_mut().for_each(|x| *x = if *x < 0.0 { 0.0 } else { *x }),
        Activation::Gelu => v.iter_mut().for_each(|x| *x = gelu(*x as f64) as f32),
        Activation::Silu => v.iter_mut().for_each(|x| *x *= sigmoid_f32(*x)),
        Activation::Clamp { min, max } => v.iter_mut().for_each(|x| *x = clamp_f32(*x, min, max)),
    }
}

/// `min(max(x, lo), hi)` that keeps NaN.
#[inline(always)]
pub(crate) fn clamp_f32(x: f32, lo: f32, hi: f32) -> f32 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// `1/(1+e⁻ˣ)` without overflow for large |x|.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl At<'_, '_> {
    #[inline(always)]
    fn chan(&self, r0: usize, i: usize, c0: usize, j: usize) -> usize {
        match self.epi.axis {
            ChanAxis::Row => self.row_base + r0 + i,
            ChanAxis::Col => c0 + j,
        }
    }
}

impl At<'_, '_> {
    /// The in-register plan when the activation has one and nothing else needs the general
    /// path (residual, requantization, beta).
    fn plan<'s, V: 'static, T: 'static>(&'s self, bias: Option<&'s [V]>) -> Option<FastPlan<'s, V>> {
        let e = self.epi;
        if e.beta != 0.0 || e.residual.is_some() || e.requant.is_some() {
            return None;
        }
        let act = match e.act {
            Activation::None => FastAct::None,
            Activation::Relu => FastAct::Relu,
            Activation::Clamp { min, max } => FastAct::Clamp(min, max),
            Activation::Gelu | Activation::Silu => return None,
        };
        let out = out_kind::<V, T>()?;
        Some(FastPlan { alpha: e.alpha, bias, axis: e.axis, row_base: self.row_base, act, out })
    }
}

impl<T: Elem> TileEpi<f32, T> for At<'_, '_> {
    fn reads_prev(&self) -> bool {
        self.epi.beta != 0.0
    }

    fn fast(&self) -> Option<FastPlan<'_, f32>> {
        self.plan::<f32, T>(self.epi.bias_f.as_deref())
    }

    fn apply(&self, t: Tile, acc: &mut [f32], dst: &mut [T], ld: usize) {
        let (e, Tile { r0, c0, rows, cols }) = (self.epi, t);
        for (i, v) in acc.chunks_exact_mut(cols).take(rows).enumerate() {
            let d = &mut dst[i * ld..i * ld + cols];
            if e.alpha != 1.0 {
                v.iter_mut().for_each(|x| *x *= e.alpha);
            }
            if e.beta != 0.0 {
                for (x, p) in v.iter_mut().zip(d.iter()) {
                    *x += e.beta * p.to_f32();
                }
            }
            if let Some(bias) = &e.bias_f {
                match e.axis {
                    ChanAxis::Row => {
                        let b = bias[self.row_base + r0 + i];
                        v.iter_mut().for_each(|x| *x += b);
                    }
                    ChanAxis::Col => v.iter_mut().zip(&bias[c0..c0 + cols]).for_each(|(x, b)| *x += b),
                }
            }
            if let Some(res) = &e.residual {
                let base = self.res_base + res.roff[self.row_base + r0 + i];
                let coff = &res.coff[c0..c0 + cols];
                with_data!(&res.data, |s| {
                    for (x, &o) in v.iter_mut().zip(coff) {
                        *x += s[base + o].to_f32();
                    }
                });
            }
            activate_f32(e.act, v);
            match &e.requant {
                None => d.iter_mut().zip(v.iter()).for_each(|(d, &x)| *d = T::from_f32(x)),
                Some((scales, zp)) => {
                    for (j, (d, &x)) in d.iter_mut().zip(v.iter()).enumerate() {
                        let s = scale_of(scales, self.chan(r0, i, c0, j));
                        *d = T::from_f64(round_half_even(x as f64 * s) + zp);
                    }
                }
            }
        }
    }
}

impl<T: Elem> TileEpi<i32, T> for At<'_, '_> {
    fn reads_prev(&self) -> bool {
        false
    }

    fn fast(&self) -> Option<FastPlan<'_, i32>> {
        self.plan::<i32, T>(self.epi.bias_i.as_deref())
    }

    fn apply(&self, t: Tile, acc: &mut [i32], dst: &mut [T], ld: usize) {
        let (e, Tile { r0, c0, rows, cols }) = (self.epi, t);
        for (i, v) in acc.chunks_exact_mut(cols).take(rows).enumerate() {
            let d = &mut dst[i * ld..i * ld + cols];
            if let Some(bias) = &e.bias_i {
                match e.axis {
                    ChanAxis::Row => {
                        let b = bias[self.row_base + r0 + i];
                        v.iter_mut().for_each(|x| *x = x.wrapping_add(b));
                    }
                    ChanAxis::Col => {
                        v.iter_mut().zip(&bias[c0..c0 + cols]).for_each(|(x, &b)| *x = x.wrapping_add(b));
                    }
                }
            }
            if let Some(res) = &e.residual {
                let base = self.res_base + res.roff[self.row_base + r0 + i];
                let coff = &res.coff[c0..c0 + cols];
                with_data!(&res.data, |s| {
                    for (x, &o) in v.iter_mut().zip(coff) {
                        *x = x.wrapping_add(s[base + o].to_i32());
                    }
                });
            }
            // Activations on the int8 path: relu, or clamp to whole-number bounds (which may
            // lie outside i32; the value is carried as i64 so nothing wraps).
            let (lo, hi) = match e.act {
                Activation::Relu => (0i64, i64::MAX),
                Activation::Clamp { min, max } => (min as i64, max as i64),
                _ => (i64::MIN, i64::MAX),
            };
            let act = |x: i32| (x as i64).max(lo).min(hi);
            match &e.requant {
                None => d.iter_mut().zip(v.iter()).for_each(|(d, &x)| *d = T::from_f64(act(x) as f64)),
                Some((scales, zp)) => {
                    for (j, (d, &x)) in d.iter_mut().zip(v.iter()).enumerate() {
                        let s = scale_of(scales, self.chan(r0, i, c0, j));
                        *d = T::from_f64(round_half_even(act(x) as f64 * s) + zp);
                    }
                }
            }
        }
    }
}
