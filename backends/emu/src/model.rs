//! The [`DeviceModel`] contract every emulated device implements, and helpers the models
//! share to build a [`Cost`].

use crate::workload::Workload;
use accel_core::{Capabilities, Cost, DeviceInfo, EnergyEntry, Op, Result, RooflinePoint};
use accel_kernels::{HostIn, HostOut};
use std::fmt;

/// An emulated device: a model of specific hardware in three separable parts.
///
/// - [`plan`](DeviceModel::plan): shape-only lowering and mapping onto the hardware; fails
///   when the op cannot be tiled into the modeled memories (capacity is enforced here);
/// - [`cost`](DeviceModel::cost): shape-only cycles, energy and traffic of a plan, so a
///   harness can cost a network without data;
/// - [`execute`](DeviceModel::execute): the numerics, bit-exact to the modeled datapath
///   (or, for analog devices, to the modeled noise with a seeded counter-based RNG).
///
/// `execute` receives ops `accel-core` validated and that the model's
/// [`capabilities`](DeviceModel::capabilities) accept; operands are host memory laid out as
/// the op's descriptor documents.
pub trait DeviceModel: Send + Sync + fmt::Debug + 'static {
    /// The mapping `plan` chooses.
    type Plan: fmt::Debug + Send + Sync;
    /// Name, kind and modeled peak rates.
    fn info(&self) -> DeviceInfo;
    /// Which (op kind, dtype) pairs the modeled datapath runs.
    fn capabilities(&self) -> Capabilities;
    /// Lowers and maps a workload (shape-only).
    fn plan(&self, work: &Workload) -> Result<Self::Plan>;
    /// Cost of a plan (shape-only).
    fn cost(&self, plan: &Self::Plan) -> Cost;
    /// Runs the op's numerics.
    fn execute(&self, op: &Op, plan: &Self::Plan, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()>;
}

/// One energy line: `actions × pj` for `component.action`.
pub(crate) fn energy(component: &str, action: &str, actions: u64, pj: f64) -> EnergyEntry {
    EnergyEntry { component: component.into(), action: action.into(), actions, pj_per_action: pj }
}

/// A roofline point for `level`: `ops` over `bytes` moved there, against `peak_ops_s` and
/// `bandwidth_bytes_s`, with the achieved rate `ops / seconds`.
pub(crate) fn roofline(
    level: &str,
    ops: u64,
    bytes: u64,
    peak_ops_s: f64,
    bandwidth_bytes_s: f64,
    seconds: f64,
) -> RooflinePoint {
    let oi = if bytes == 0 { f64::INFINITY } else { ops as f64 / bytes as f64 };
    RooflinePoint {
        level: level.into(),
        ops_per_byte: oi,
        attainable_ops_per_s: peak_ops_s.min(bandwidth_bytes_s * oi),
        achieved_ops_per_s: if seconds > 0.0 { ops as f64 / seconds } else { 0.0 },
    }
}

/// Ceiling division that never divides by zero (0 for a zero divisor).
pub(crate) fn div_ceil(a: u64, b: u64) -> u64 {
    if b == 0 { 0 } else { a.div_ceil(b) }
}
