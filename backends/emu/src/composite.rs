//! Stub.
#![allow(missing_docs)]
use accel_core::{Device, Error, Result};
pub const NAME: &str = "npu+pim";
pub fn device() -> Result<Device> {
    Err(Error::Backend { backend: "emu".into(), message: "stub".into() })
}
