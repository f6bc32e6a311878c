//! Reference oracles (being written).
use crate::{HostIn, HostOut};
use accel_core::{Error, Op, Result};

/// Runs `op` on host memory with f64 / exact-integer accumulation.
pub fn execute(op: &Op, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let _ = (inputs, out);
    Err(Error::Unsupported { op: op.kind().name(), dtype: op.dtype(), backend: "reference".into() })
}
