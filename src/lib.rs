//! # accel: one tensor and kernel contract over CPU, GPU and emulated accelerators
//!
//! ```
//! use accel::{Tensor, ops};
//!
//! # fn main() -> accel::Result<()> {
//! let cpu = accel::cpu();
//! let a = Tensor::from_slice(&cpu, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let b = Tensor::from_slice(&cpu, &[3, 2], &[1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0])?;
//! let c = ops::matmul(&a, &b)?;
//! assert_eq!(c.to_vec::<f32>()?, vec![4.0, 5.0, 10.0, 11.0]);
//! # Ok(())
//! # }
//! ```
//!
//! Every op returns [`Result`]; every device in [`devices()`] answers the same contract and
//! is checked against the same oracle by the conformance suite. This crate re-exports
//! [`accel_core`] and registers the backends compiled in (cargo features).

#![forbid(unsafe_code)]

pub use accel_core::*;

/// The host CPU device (rayon-parallel SIMD kernels).
#[cfg(feature = "cpu")]
pub fn cpu() -> Device {
    accel_cpu::device()
}

/// The emulation backend: presets, shape-only cost models and emulated devices
/// (`accel::emu::device("tpu-v1")`).
#[cfg(feature = "emu")]
pub use accel_emu as emu;

/// The GPU backend: one device per wgpu adapter (`ACCEL_WGPU_ADAPTER` picks by name).
#[cfg(feature = "wgpu")]
pub use accel_wgpu as wgpu;

/// Every usable device this build knows, CPU first. This is the one registry: tests, benches
/// and examples take their devices from here, and a new backend joins by adding one line
/// (a function listing its devices: one per GPU adapter, one per emulated preset, ...).
pub fn devices() -> Vec<Device> {
    let backends: &[fn() -> Vec<Device>] = &[
        #[cfg(feature = "cpu")]
        || vec![cpu()],
        #[cfg(feature = "emu")]
        accel_emu::devices,
        #[cfg(feature = "wgpu")]
        accel_wgpu::devices,
    ];
    backends.iter().flat_map(|list| list()).collect()
}

/// The README's code blocks, compiled and run as doctests so they cannot drift.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
