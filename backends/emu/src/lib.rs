//! # accel-emu: emulated accelerators behind the same contract as real hardware
//!
//! Each emulated device is a [`DeviceModel`] of specific hardware, in three parts:
//! `plan` (shape-only lowering and mapping, enforcing modeled capacity), `cost` (shape-only
//! cycles, energy, traffic, utilization and roofline point) and `execute` (numerics bit-exact
//! to the modeled datapath). [`EmuBackend`] turns a model into an accel [`Backend`]: ops run
//! through the model, and every executed op reports its modeled [`Cost`] in
//! [`ExecReport::modeled`], so profiling records carry it next to the measured host time
//! (never mixed: [`accel_core::OpRecord::modeled`] versus `measured`).
//!
//! Models (see `../shared/reference/emulation.md` for the equations and sources):
//! - [`systolic`]: a SCALE-Sim-style `R × C` NPU (OS/WS/IS dataflows, double-buffered
//!   scratchpads, DRAM bandwidth and capacity);
//! - [`pim`]: bank-level DRAM processing-in-memory (Samsung HBM2-PIM, SK hynix GDDR6-AiM,
//!   UPMEM-like), GEMV-first with command-count timing;
//! - [`analog`]: NVM crossbars with bit slicing, DAC/ADC, programming error, read noise,
//!   drift and IR drop, seeded counter-based noise;
//! - [`composite`]: an NPU with PIM memory that routes each op to the unit that serves it best;
//! - [`interconnect`]: topologies and link presets that price collectives between emulated
//!   devices (α-β per algorithm) in their profiling records.
//!
//! Devices come from [`Preset`]s, TOML files with their sources ([`preset::BUILTIN`], or a
//! user's own through [`Preset::from_toml`]). [`devices()`] lists the ones `accel::devices()`
//! registers; [`device()`] builds any shipped preset; [`cost()`] costs a shape-only
//! [`Workload`] without data.
//!
//! [`Backend`]: accel_core::Backend
//! [`ExecReport::modeled`]: accel_core::ExecReport::modeled

#![forbid(unsafe_code)]

pub mod analog;
mod backend;
mod buffer;
pub mod composite;
mod epilogue;
pub mod interconnect;
mod lower;
pub mod model;
pub mod pim;
pub mod preset;
pub mod systolic;
pub mod vector;
pub mod workload;

pub use backend::EmuBackend;
pub use buffer::EmuBuffer;
pub use model::DeviceModel;
pub use preset::Preset;
pub use workload::{ConvShape, Gemm, Stream, Workload};

use accel_core::{Cost, Device, Result};

/// The presets [`devices()`] registers, one per modeled unit kind plus the composite: enough
/// for the conformance suite to cover every model without multiplying its run time.
pub const REGISTERED: &[&str] =
    &["scalesim-32x32", "tpu-v1", "hbm2-pim", "gddr6-aim", "upmem", "isaac", "neurosim-rram", composite::NAME];

/// A device for a preset.
pub fn from_preset(preset: &Preset) -> Device {
    match preset {
        Preset::Systolic(c) => Device::new(EmuBackend::new(systolic::Systolic::new(c.clone()))),
        Preset::Pim(c) => Device::new(EmuBackend::new(pim::Pim::new(c.clone()))),
        Preset::Analog(c) => Device::new(EmuBackend::new(analog::Analog::new(c.clone()))),
    }
}

/// The device of a shipped preset (`tpu-v1`, `hbm2-pim`, `isaac`, ...) or the composite
/// `npu+pim`.
pub fn device(name: &str) -> Result<Device> {
    if name == composite::NAME {
        return composite::device();
    }
    Ok(from_preset(&Preset::builtin(name)?))
}

/// The emulated devices `accel::devices()` registers ([`REGISTERED`]). A preset that fails
/// to load is skipped (the shipped ones are tested to load).
pub fn devices() -> Vec<Device> {
    REGISTERED.iter().filter_map(|n| device(n).ok()).collect()
}

/// Shape-only cost of a workload on a registered or shipped device by name (`tpu-v1`,
/// `npu+pim`, ...), without data or allocation.
pub fn cost_by_name(name: &str, work: &Workload) -> Result<Cost> {
    if name == composite::NAME {
        return EmuBackend::new(composite::Composite::default_package()?).cost(work);
    }
    cost(&Preset::builtin(name)?, work)
}

/// Shape-only cost of a workload on a preset (no data, no allocation).
pub fn cost(preset: &Preset, work: &Workload) -> Result<Cost> {
    match preset {
        Preset::Systolic(c) => EmuBackend::new(systolic::Systolic::new(c.clone())).cost(work),
        Preset::Pim(c) => EmuBackend::new(pim::Pim::new(c.clone())).cost(work),
        Preset::Analog(c) => EmuBackend::new(analog::Analog::new(c.clone())).cost(work),
    }
}

/// The README's code blocks, compiled and run as doctests so they cannot drift.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
