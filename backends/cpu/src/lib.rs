//! # accel-cpu (being written)
#![forbid(unsafe_code)]
use accel_core::Device;

/// The host CPU as an accel device.
pub fn device() -> Device {
    unimplemented!()
}
