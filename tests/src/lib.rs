//! # accel-tests: support code for accel's conformance suite (DESIGN.md §8)
//!
//! The suite (`tests/conformance/`, run with `cargo test -p accel-tests --test conformance`)
//! runs every op × dtype × case on every device of [`devices_under_test()`] and compares each
//! result with the reference oracle. This library holds what that suite, the bad-input tests
//! and the property tests share. Its public API is stable; extend it, do not change it:
//!
//! - devices: [`devices_under_test()`] (the devices checked) and [`reference_device()`] (the
//!   oracle, `accel_kernels::reference`, behind the ordinary [`accel::Device`] API);
//! - data: [`Rng`] (seeded SplitMix64), [`seed_for`] (seed from a case name), [`Domain`],
//!   [`gen_value`]/[`gen_values`], [`quantize`] and [`HostTensor`] (exactly representable
//!   host arrays that upload to any device);
//! - views as data: [`In`] (storage shape + [`ViewStep`]s), [`apply_views`], [`slice`](fn@slice);
//! - checking: [`Tolerance`] (per dtype; NaN = NaN, inf = inf), [`compare`],
//!   [`check_against_reference`] (run one closure on a device and on the oracle, compare) and
//!   [`CheckError`];
//! - running: [`Suite`] and [`TrialSpec`] (libtest-mimic trials with capability-aware
//!   ignoring and a per-family summary).
//!
//! ## How a backend joins the suite
//!
//! Add one line to the facade's `accel::devices()` (`src/lib.rs` of the `accel` crate).
//! [`devices_under_test()`] returns exactly that list, so the new device then runs every
//! case; (op, dtype) pairs its capabilities mark unsupported show up as ignored, never as
//! passed.

pub mod check;
pub mod data;
pub mod reference_device;
pub mod rng;
pub mod runner;
pub mod tolerance;
pub mod views;

pub use check::{CheckError, check_against_reference, compare_tensors};
pub use data::{Domain, FLOAT_SPECIALS, HostTensor, gen_value, gen_values, quantize};
pub use reference_device::{ReferenceBackend, reference_device};
pub use rng::{Rng, seed_for};
pub use runner::{Suite, TrialSpec};
pub use tolerance::{Tolerance, compare, unravel};
pub use views::{In, ViewStep, apply_views, slice};

use accel::{DType, Device};

/// The float dtypes, in the order trials list them.
pub const FLOAT_DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

/// The int8 input dtypes of matmul and convolution (`a`/input dtype; `b`/weight is i8).
pub const INT8_DTYPES: [DType; 2] = [DType::I8, DType::U8];

/// The devices the conformance suite checks: `accel::devices()`, the one registry, plus one
/// CPU device per other ISA path this machine runs (`cpu[avx2]`, `cpu[scalar]`, ...), so every
/// SIMD path is checked against the oracle in the same run. Paths the machine lacks are
/// named on stderr as skipped.
pub fn devices_under_test() -> Vec<Device> {
    let mut devices = accel::devices();
    gpu_presence(&devices);
    devices.extend(accel_cpu::isa_devices());
    let features = accel_kernels::cpu::isa::features();
    for isa in accel_kernels::cpu::isa::Isa::ALL.into_iter().filter(|&i| !features.supports(i)) {
        eprintln!("conformance: skipping the cpu[{isa}] kernels: this CPU does not support {isa}");
    }
    devices
}

/// Says on stderr when no GPU (wgpu) device is present, so a skipped GPU run is visible; with
/// `ACCEL_REQUIRE_GPU=1` (CI, where lavapipe is installed) a missing GPU is a failure instead.
fn gpu_presence(devices: &[Device]) {
    if devices.iter().any(|d| d.info().backend == "wgpu") {
        return;
    }
    let msg = "no wgpu adapter found (install mesa-vulkan-drivers for lavapipe, or build with the `wgpu` feature)";
    if std::env::var("ACCEL_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        panic!("conformance: ACCEL_REQUIRE_GPU=1 but {msg}");
    }
    eprintln!("conformance: skipping the GPU: {msg}");
}

/// Trial label of a matmul/conv input dtype: `f32`, ..., `i8xi8`, `u8xi8`.
pub fn mac_label(dtype: DType) -> String {
    if dtype.is_int8() { format!("{dtype}xi8") } else { dtype.name().to_string() }
}

/// Zero points `(input, weight)` the suite uses on the int8 path of matmul and convolution:
/// non-zero, so a backend that ignores them fails.
pub fn int8_zero_points(dtype: DType) -> (i32, i32) {
    if dtype == DType::U8 { (121, -3) } else { (-5, 4) }
}
