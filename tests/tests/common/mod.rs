//! Shared by the bad-input tests: the device under test and a second, distinct device.
//!
//! The second device is a tiny host-memory backend that supports every op but computes
//! nothing: it exists only so that tests can put tensors on two different devices and check
//! that core rejects the mix before any kernel runs.

use accel::backend::{Backend, Capabilities, DeviceInfo, DeviceKind, Operands, Support};
use accel::profile::ExecReport;
use accel::{DType, Device, Op, OpKind};
use std::sync::Mutex;

/// The device the bad-input tests run on (validation happens in core, before any kernel).
pub(crate) fn dev() -> Device {
    accel::cpu()
}

/// A host-memory backend that allocates and copies but never computes.
#[derive(Debug)]
struct Inert {
    info: DeviceInfo,
    caps: Capabilities,
}

impl Backend for Inert {
    type Buffer = Mutex<Vec<u8>>;

    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    fn alloc(&self, bytes: usize) -> accel::Result<Self::Buffer> {
        Ok(Mutex::new(vec![0; bytes]))
    }
    fn write(&self, buffer: &Self::Buffer, offset: usize, data: &[u8]) -> accel::Result<()> {
        let mut b = buffer.lock().unwrap_or_else(|e| e.into_inner());
        b[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn read(&self, buffer: &Self::Buffer, offset: usize, out: &mut [u8]) -> accel::Result<()> {
        let b = buffer.lock().unwrap_or_else(|e| e.into_inner());
        out.copy_from_slice(&b[offset..offset + out.len()]);
        Ok(())
    }
    fn execute(&self, _op: &Op, _operands: Operands<'_, Self::Buffer>) -> accel::Result<ExecReport> {
        Ok(ExecReport::default())
    }
}

/// A device distinct from [`dev`], named `other`, that never computes.
pub(crate) fn other_device() -> Device {
    inert("other")
}

/// A new inert device called `name`.
pub(crate) fn inert(name: &str) -> Device {
    let mut caps = Capabilities::new(1 << 30);
    for kind in OpKind::ALL {
        for dtype in DType::ALL {
            caps.set(kind, dtype, Support::Native);
        }
    }
    let info = DeviceInfo {
        name: name.into(),
        kind: DeviceKind::Cpu,
        backend: "inert".into(),
        emulated: false,
        peak_gflops: None,
        peak_bandwidth_gbs: None,
    };
    Device::new(Inert { info, caps })
}
