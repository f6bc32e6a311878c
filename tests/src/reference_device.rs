//! The oracle as a device: [`ReferenceBackend`] implements [`Backend`] over host byte buffers
//! and runs every op through `accel_kernels::reference::execute`.
//!
//! Because the oracle sits behind the same public API as every other device, a conformance
//! case is written once, as calls to `accel::ops::*`, and run twice: on the device under test
//! and on [`reference_device()`]. Core validates and canonicalises both calls identically, so
//! the suite never rebuilds descriptors and cannot drift from core's semantics.
//!
//! It claims every (op kind, dtype) as native; what the oracle does not implement comes back
//! as its own error and fails the case, so a gap in the oracle is never silently skipped.

use accel::backend::{Backend, Capabilities, DeviceInfo, DeviceKind, Operand, Operands, Support};
use accel::{DType, Device, Error, ExecReport, Op, OpKind, Result};
use accel_kernels::{HostIn, HostOut};
use std::sync::{RwLock, RwLockReadGuard};

/// Host memory buffer of the reference device.
#[derive(Debug, Default)]
pub struct RefBuffer {
    bytes: RwLock<Vec<u8>>,
}

/// The reference oracle as a [`Backend`] (safe code only: a buffer is an `RwLock<Vec<u8>>`).
#[derive(Debug)]
pub struct ReferenceBackend {
    info: DeviceInfo,
    caps: Capabilities,
}

impl ReferenceBackend {
    /// A reference backend; see the module docs.
    pub fn new() -> ReferenceBackend {
        let mut caps = Capabilities::new(isize::MAX as usize);
        for kind in OpKind::ALL {
            for dtype in DType::ALL {
                caps.set(kind, dtype, Support::Native);
            }
        }
        let info = DeviceInfo {
            name: "reference".into(),
            kind: DeviceKind::Cpu,
            backend: "reference".into(),
            emulated: false,
            peak_gflops: None,
            peak_bandwidth_gbs: None,
        };
        ReferenceBackend { info, caps }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Backend { backend: self.info.backend.clone(), message: message.into() }
    }
}

impl Default for ReferenceBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// A new reference device (cheap; devices share nothing).
pub fn reference_device() -> Device {
    Device::new(ReferenceBackend::new())
}

impl Backend for ReferenceBackend {
    type Buffer = RefBuffer;

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn alloc(&self, bytes: usize) -> Result<RefBuffer> {
        let mut v = Vec::new();
        v.try_reserve_exact(bytes).map_err(|_| Error::OutOfMemory {
            op: "alloc",
            requested: bytes,
            limit: self.caps.max_buffer_bytes,
            device: self.info.name.clone(),
        })?;
        v.resize(bytes, 0);
        Ok(RefBuffer { bytes: RwLock::new(v) })
    }

    fn write(&self, buffer: &RefBuffer, offset: usize, data: &[u8]) -> Result<()> {
        let mut b = buffer.bytes.write().unwrap_or_else(|e| e.into_inner());
        let dst = offset
            .checked_add(data.len())
            .and_then(|end| b.get_mut(offset..end))
            .ok_or_else(|| self.error(format!("write of {} bytes at {offset} outside the buffer", data.len())))?;
        dst.copy_from_slice(data);
        Ok(())
    }

    fn read(&self, buffer: &RefBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
        let b = buffer.bytes.read().unwrap_or_else(|e| e.into_inner());
        let src = offset
            .checked_add(out.len())
            .and_then(|end| b.get(offset..end))
            .ok_or_else(|| self.error(format!("read of {} bytes at {offset} outside the buffer", out.len())))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn execute(&self, op: &Op, operands: Operands<'_, RefBuffer>) -> Result<ExecReport> {
        let out_buf = operands.output.buffer;
        // Inputs may share a buffer (binary(a, a)); take each buffer's read lock once, since
        // re-locking an RwLock on the same thread may deadlock.
        let mut unique: Vec<&RefBuffer> = Vec::new();
        for Operand { buffer, .. } in &operands.inputs {
            if std::ptr::eq(*buffer, out_buf) {
                return Err(self.error("an input shares the output buffer (core should have copied it)"));
            }
            if !unique.iter().any(|u| std::ptr::eq(*u, *buffer)) {
                unique.push(buffer);
            }
        }
        let guards: Vec<RwLockReadGuard<'_, Vec<u8>>> =
            unique.iter().map(|b| b.bytes.read().unwrap_or_else(|e| e.into_inner())).collect();
        let inputs: Vec<HostIn<'_>> = operands
            .inputs
            .iter()
            .map(|o| {
                let slot = unique.iter().position(|u| std::ptr::eq(*u, o.buffer)).unwrap_or(0);
                HostIn { bytes: &guards[slot], view: o.view, dtype: o.dtype }
            })
            .collect();
        let mut out_bytes = out_buf.bytes.write().unwrap_or_else(|e| e.into_inner());
        let out = HostOut { bytes: &mut out_bytes, view: operands.output.view, dtype: operands.output.dtype };
        accel_kernels::reference::execute(op, &inputs, out)?;
        Ok(ExecReport::default())
    }
}

#[cfg(test)]
mod tests {
    //! The harness must catch a wrong device: a "mutant" that is the reference plus one
    //! corrupted storage element fails, whether it corrupts a result or a gap of a strided
    //! output.
    use super::*;
    use crate::check::{CheckError, check_against_reference};
    use crate::tolerance::Tolerance;
    use accel::Tensor;
    use accel::dtype::{read_f64, write_f64};
    use accel::ops;

    /// The reference backend, then `+1` at storage element `offset + skip` of the output.
    #[derive(Debug)]
    struct Mutant {
        inner: ReferenceBackend,
        skip: usize,
    }

    impl Backend for Mutant {
        type Buffer = RefBuffer;
        fn info(&self) -> &DeviceInfo {
            self.inner.info()
        }
        fn capabilities(&self) -> &Capabilities {
            self.inner.capabilities()
        }
        fn alloc(&self, bytes: usize) -> Result<RefBuffer> {
            self.inner.alloc(bytes)
        }
        fn write(&self, buffer: &RefBuffer, offset: usize, data: &[u8]) -> Result<()> {
            self.inner.write(buffer, offset, data)
        }
        fn read(&self, buffer: &RefBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
            self.inner.read(buffer, offset, out)
        }
        fn execute(&self, op: &Op, operands: Operands<'_, RefBuffer>) -> Result<ExecReport> {
            let out = operands.output;
            let report = self.inner.execute(op, operands)?;
            let mut bytes = out.buffer.bytes.write().unwrap_or_else(|e| e.into_inner());
            let i = out.view.offset() + self.skip;
            let v = read_f64(&bytes, out.dtype, i);
            write_f64(&mut bytes, out.dtype, i, v + 1.0);
            Ok(report)
        }
    }

    fn matmul_into_strided(dev: &Device) -> Result<Tensor> {
        let a = Tensor::from_slice(dev, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
        let b = Tensor::from_slice(dev, &[3, 2], &[1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0])?;
        let storage = Tensor::zeros(dev, &[2, 4], DType::F32)?;
        let mut out = storage.slice_step(1, 0..4, 2)?;
        ops::matmul_into(&a, &b, &ops::MatmulOptions::new(), &mut out)?;
        Ok(storage)
    }

    #[test]
    fn reference_agrees_with_itself() {
        check_against_reference(&reference_device(), Tolerance::EXACT, matmul_into_strided).unwrap();
    }

    #[test]
    fn a_wrong_result_is_caught() {
        let mutant = Device::new(Mutant { inner: ReferenceBackend::new(), skip: 0 });
        match check_against_reference(&mutant, Tolerance::reduction(DType::F32, 3), matmul_into_strided) {
            Err(CheckError::Mismatch(m)) => assert!(m.contains("at [0, 0]"), "{m}"),
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[test]
    fn a_write_into_a_strided_gap_is_caught() {
        let mutant = Device::new(Mutant { inner: ReferenceBackend::new(), skip: 1 });
        match check_against_reference(&mutant, Tolerance::reduction(DType::F32, 3), matmul_into_strided) {
            Err(CheckError::Mismatch(m)) => assert!(m.contains("at [0, 1]"), "{m}"),
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }
}
