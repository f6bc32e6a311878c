//! # accel-kernels: the math of accel
//!
//! - [`reference`](mod@reference): obviously-correct oracles for every op, accumulating in f64 (exact i64 for
//!   integers) and rounding once, to nearest even, into the output dtype. The conformance suite
//!   compares every device against them. Never optimised.
//! - [`cpu`]: the CPU kernels the `accel-cpu` backend launches (rayon-parallel).
//! - [`math`]: scalar functions both share (erf, GELU, rounding).
//! - [`probe`]: in-process peak-rate (FMA, VNNI, BF16) and memory-bandwidth probes that
//!   benchmarks report their kernels against.
//!
//! Both `reference::execute` and `cpu::execute` take an op descriptor validated by
//! `accel-core` and host memory: each operand is a whole buffer plus the view and dtype the
//! descriptor documents. This crate is the only one in accel allowed to hold `unsafe` (SIMD).

pub mod cpu;
pub mod math;
pub mod probe;
pub mod reference;
pub mod wgsl;

use accel_core::{DType, View};

/// A read-only operand in host memory: the whole buffer, the view over it, the dtype.
#[derive(Debug, Clone, Copy)]
pub struct HostIn<'a> {
    /// Buffer bytes (little-endian elements).
    pub bytes: &'a [u8],
    /// Shape, strides and offset in elements.
    pub view: &'a View,
    /// Element type.
    pub dtype: DType,
}

/// The output operand in host memory.
#[derive(Debug)]
pub struct HostOut<'a> {
    /// Buffer bytes (little-endian elements).
    pub bytes: &'a mut [u8],
    /// Shape, strides and offset in elements (non-overlapping).
    pub view: &'a View,
    /// Element type.
    pub dtype: DType,
}
