//! [`EmuBackend`]: the one [`Backend`] implementation, generic over the [`DeviceModel`].
//!
//! It owns host buffers standing in for device memory, locks an op's buffers, asks the model
//! for a plan (which enforces modeled capacity), runs the model's numerics and returns the
//! model's cost in [`ExecReport::modeled`], so every profiled op carries its modeled cost
//! next to the measured host time.

use crate::buffer::EmuBuffer;
use crate::model::DeviceModel;
use crate::workload::Workload;
use accel_core::{Backend, Capabilities, Cost, DeviceInfo, Error, ExecReport, Op, Operands, Result};
use accel_kernels::{HostIn, HostOut};
use std::sync::{RwLockReadGuard, RwLockWriteGuard};

/// An emulated device: host memory plus a [`DeviceModel`].
#[derive(Debug)]
pub struct EmuBackend<M: DeviceModel> {
    model: M,
    info: DeviceInfo,
    caps: Capabilities,
}

impl<M: DeviceModel> EmuBackend<M> {
    /// Wraps a model.
    pub fn new(model: M) -> Self {
        EmuBackend { info: model.info(), caps: model.capabilities(), model }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Plans and costs a workload without data (shape-only).
    pub fn cost(&self, work: &Workload) -> Result<Cost> {
        let plan = self.model.plan(work)?;
        Ok(self.model.cost(&plan))
    }

    fn error(&self, message: String) -> Error {
        Error::Backend { backend: self.info.backend.clone(), message }
    }
}

impl<M: DeviceModel> Backend for EmuBackend<M> {
    type Buffer = EmuBuffer;

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn alloc(&self, bytes: usize) -> Result<EmuBuffer> {
        EmuBuffer::new(bytes, self.caps.max_buffer_bytes, &self.info.name)
    }

    fn write(&self, buffer: &EmuBuffer, offset: usize, data: &[u8]) -> Result<()> {
        let range = buffer.range(&self.info.backend, offset, data.len())?;
        let mut words = buffer.write();
        buffer.bytes_mut(&mut words)[range].copy_from_slice(data);
        Ok(())
    }

    fn read(&self, buffer: &EmuBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
        let range = buffer.range(&self.info.backend, offset, out.len())?;
        let words = buffer.read();
        out.copy_from_slice(&buffer.bytes(&words)[range]);
        Ok(())
    }

    fn execute(&self, op: &Op, operands: Operands<'_, EmuBuffer>) -> Result<ExecReport> {
        let out_buf = operands.output.buffer;
        let shapes: Vec<(&[usize], _)> = operands.inputs.iter().map(|o| (o.view.shape(), o.dtype)).collect();
        let work = Workload::from_op(op, &shapes, (operands.output.view.shape(), operands.output.dtype));
        let plan = self.model.plan(&work)?;
        // Inputs may share a buffer with each other (binary(a, a)) but never with the output
        // (core copies such inputs first); lock each distinct input buffer once.
        let mut unique: Vec<&EmuBuffer> = Vec::new();
        for o in &operands.inputs {
            if std::ptr::eq(o.buffer, out_buf) {
                return Err(self.error(format!("{}: an input shares the output's buffer", op.name())));
            }
            if !unique.iter().any(|u| std::ptr::eq(*u, o.buffer)) {
                unique.push(o.buffer);
            }
        }
        let guards: Vec<RwLockReadGuard<'_, Vec<u64>>> = unique.iter().map(|b| b.read()).collect();
        let inputs: Vec<HostIn<'_>> = operands
            .inputs
            .iter()
            .map(|o| {
                let slot = unique.iter().position(|u| std::ptr::eq(*u, o.buffer)).unwrap_or(0);
                HostIn { bytes: o.buffer.bytes(&guards[slot]), view: o.view, dtype: o.dtype }
            })
            .collect();
        let mut words: RwLockWriteGuard<'_, Vec<u64>> = out_buf.write();
        let out =
            HostOut { bytes: out_buf.bytes_mut(&mut words), view: operands.output.view, dtype: operands.output.dtype };
        self.model.execute(op, &plan, &inputs, out)?;
        Ok(ExecReport { device_time: None, modeled: Some(self.model.cost(&plan)) })
    }
}
