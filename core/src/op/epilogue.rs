//! Fused epilogues for matmul and convolution.
//!
//! Applied per output element `i` with channel `c` (the column for matmul, the output channel
//! for convolution), in this order:
//!
//! ```text
//! v = alpha * acc + beta * out_prev      float path (int8 path: v = acc, exact i32)
//! v = v + bias[c]                        if bias
//! v = v + residual[i]                    if residual (broadcast to the output shape)
//! v = act(v)                             ReLU / GELU (erf) / SiLU / clamp
//! out = requant(v) or v                  requant: saturate(round_half_even(v * scale[c]) + zp)
//! ```
//!
//! On the float path `v` is computed in (at least) f32 and rounded once into the output dtype.
//! On the int8 path `acc`, bias and residual are i32 and the sum wraps as i32 hardware does;
//! only ReLU and clamp with whole-number bounds apply there. Requantization computes
//! `v * scale` in f64 so every backend rounds the same product.

use crate::dtype::DType;
use crate::error::{Error, Result, dims};
use crate::exec::same_device;
use crate::tensor::Tensor;

/// Activation applied in the epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// Identity.
    #[default]
    None,
    /// `max(v, 0)`.
    Relu,
    /// `v * Φ(v)` with the exact (erf) normal CDF.
    Gelu,
    /// `v * sigmoid(v)`.
    Silu,
    /// `min(max(v, min), max)`.
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

impl Activation {
    /// Lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Clamp { .. } => "clamp",
        }
    }
}

/// Requantization of the epilogue result to i8/u8 (user-facing).
#[derive(Debug, Clone, PartialEq)]
pub struct Requantize {
    /// One scale (per tensor) or one per output channel; each finite and > 0.
    pub scales: Vec<f32>,
    /// Output zero point, inside the range of `dtype`.
    pub zero_point: i32,
    /// `I8` or `U8`.
    pub dtype: DType,
}

/// What a matmul or convolution does after accumulating (user-facing; see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Epilogue<'a> {
    /// Per-channel bias, shape `[channels]`; the input's float dtype, or i32 on the int8 path.
    pub bias: Option<&'a Tensor>,
    /// Added elementwise; broadcastable to the output shape; same dtype as the bias would be.
    pub residual: Option<&'a Tensor>,
    /// Activation.
    pub activation: Activation,
    /// Requantization to i8/u8.
    pub requantize: Option<Requantize>,
}

impl<'a> Epilogue<'a> {
    /// No epilogue.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a per-channel bias.
    pub fn bias(mut self, bias: &'a Tensor) -> Self {
        self.bias = Some(bias);
        self
    }
    /// Adds a residual tensor.
    pub fn residual(mut self, residual: &'a Tensor) -> Self {
        self.residual = Some(residual);
        self
    }
    /// Sets the activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    /// Requantizes to `dtype` with the given scales and zero point.
    pub fn requantize(mut self, scales: Vec<f32>, zero_point: i32, dtype: DType) -> Self {
        self.requantize = Some(Requantize { scales, zero_point, dtype });
        self
    }
}

/// Validated requantization parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Requant {
    /// Length 1 (per tensor) or the channel count.
    pub scales: Vec<f32>,
    /// Output zero point.
    pub zero_point: i32,
}

impl Requant {
    /// Scale of channel `c`.
    pub fn scale(&self, c: usize) -> f32 {
        if self.scales.len() == 1 { self.scales[0] } else { self.scales[c] }
    }
}

/// Validated epilogue. Operands follow the op's own inputs: bias (if `bias`), then residual
/// (if `residual`, already broadcast to the output shape).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpilogueDesc {
    /// A bias operand follows the main inputs.
    pub bias: bool,
    /// A residual operand follows (after the bias, if any).
    pub residual: bool,
    /// Activation.
    pub activation: Activation,
    /// Requantization, if the output is i8/u8.
    pub requant: Option<Requant>,
}

impl EpilogueDesc {
    /// True when the epilogue changes nothing.
    pub fn is_identity(&self) -> bool {
        !self.bias && !self.residual && self.activation == Activation::None && self.requant.is_none()
    }
}

/// Validates an epilogue for an op whose accumulator has dtype `acc_dtype` (the float input
/// dtype, or i32 on the int8 path) and whose output has `out_shape` with `channels` channels.
/// Returns the descriptor, the output dtype and the bias/residual tensors to pass as operands.
pub(crate) fn validate<'a>(
    op: &'static str,
    epi: &Epilogue<'a>,
    like: &Tensor,
    acc_dtype: DType,
    out_shape: &[usize],
    channels: usize,
) -> Result<(EpilogueDesc, DType, Option<&'a Tensor>, Option<&'a Tensor>)> {
    let int_path = acc_dtype == DType::I32;
    if let Some(b) = epi.bias {
        same_device(op, &[("input", like), ("bias", b)])?;
        if b.dtype() != acc_dtype {
            return Err(Error::dtype(op, "bias", acc_dtype.name(), b.dtype()));
        }
        if b.shape() != [channels] {
            return Err(Error::shape(op, "bias", dims(&[channels]), dims(b.shape())));
        }
    }
    if let Some(r) = epi.residual {
        same_device(op, &[("input", like), ("residual", r)])?;
        if r.dtype() != acc_dtype {
            return Err(Error::dtype(op, "residual", acc_dtype.name(), r.dtype()));
        }
        r.view().broadcast_to(op, "residual", out_shape)?;
    }
    match epi.activation {
        Activation::Clamp { min, max } => {
            if min.is_nan() || max.is_nan() || min > max {
                return Err(Error::invalid(
                    op,
                    "activation",
                    "clamp bounds with min <= max",
                    format!("min={min}, max={max}"),
                ));
            }
            if int_path && (min.fract() != 0.0 || max.fract() != 0.0) {
                return Err(Error::invalid(
                    op,
                    "activation",
                    "whole-number clamp bounds on the int8 path",
                    format!("min={min}, max={max}"),
                ));
            }
        }
        Activation::Gelu | Activation::Silu if int_path => {
            return Err(Error::invalid(
                op,
                "activation",
                "none, relu or clamp on the int8 path",
                epi.activation.name(),
            ));
        }
        _ => {}
    }
    let (requant, out_dtype) = match &epi.requantize {
        None => (None, acc_dtype),
        Some(q) => {
            if !q.dtype.is_int8() {
                return Err(Error::dtype(op, "requantize.dtype", "i8 or u8", q.dtype));
            }
            if q.scales.len() != 1 && q.scales.len() != channels {
                return Err(Error::shape(
                    op,
                    "requantize.scales",
                    format!("1 or {channels} (one per channel) scales"),
                    format!("{} scales", q.scales.len()),
                ));
            }
            if let Some((index, &got)) = q.scales.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0)) {
                return Err(Error::InvalidScale { op, arg: "requantize.scales".into(), index, got });
            }
            let (lo, hi) = q.dtype.int_range().unwrap_or((0.0, 0.0));
            if (q.zero_point as f64) < lo || (q.zero_point as f64) > hi {
                return Err(Error::invalid(
                    op,
                    "requantize.zero_point",
                    format!("a value in {lo}..={hi} for {}", q.dtype),
                    q.zero_point.to_string(),
                ));
            }
            (Some(Requant { scales: q.scales.clone(), zero_point: q.zero_point }), q.dtype)
        }
    };
    let desc = EpilogueDesc {
        bias: epi.bias.is_some(),
        residual: epi.residual.is_some(),
        activation: epi.activation,
        requant,
    };
    Ok((desc, out_dtype, epi.bias, epi.residual))
}

/// Checks a zero point against the range of the dtype it applies to.
pub(crate) fn check_zero_point(op: &'static str, arg: &str, dtype: DType, zp: i32) -> Result<()> {
    let (lo, hi) = dtype.int_range().unwrap_or((0.0, 0.0));
    if (zp as f64) < lo || (zp as f64) > hi {
        return Err(Error::invalid(op, arg, format!("a value in {lo}..={hi} for {dtype}"), zp.to_string()));
    }
    Ok(())
}
