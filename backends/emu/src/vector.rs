//! The vector unit every emulated device has beside its MAC datapath (an NPU's activation /
//! vector unit, a PIM device's host-side or bank-side SIMD), for the ops that are not MACs:
//! unary, binary, cast, reduce, softmax.
//!
//! Numerics are the CPU kernels' (`accel_kernels::cpu`: f32 compute, one rounding into the
//! output dtype); cost is a streaming model: `max(lane ops / lanes, bytes / bandwidth)`
//! cycles, energy as lane ops × pJ plus bytes × pJ.

use crate::model::{energy, roofline};
use crate::workload::Stream;
use accel_core::{Capabilities, Cost, DType, Op, OpKind, Result, Support};
use accel_kernels::{HostIn, HostOut};

/// A streaming job.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorPlan {
    /// The job.
    pub stream: Stream,
}

/// The vector unit's rates and energies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VectorUnit {
    pub(crate) lanes: u64,
    pub(crate) clock_hz: f64,
    pub(crate) bytes_per_s: f64,
    pub(crate) op_pj: f64,
    pub(crate) byte_pj: f64,
    pub(crate) level: &'static str,
}

/// The non-MAC capability table (the CPU kernels' coverage, as `Emulated`), with MAC ops
/// left unsupported for the device model to add.
pub(crate) fn capabilities(max_buffer_bytes: u64) -> Capabilities {
    let mut c = Capabilities::new(usize::try_from(max_buffer_bytes).unwrap_or(usize::MAX).min(isize::MAX as usize));
    let elementwise = [OpKind::Unary, OpKind::Binary, OpKind::Cast, OpKind::Reduce];
    for kind in elementwise.into_iter().chain([OpKind::Softmax]) {
        for d in [DType::F32, DType::F16, DType::BF16] {
            c.set(kind, d, Support::Emulated);
        }
    }
    for kind in elementwise {
        for d in [DType::I8, DType::U8, DType::I32] {
            c.set(kind, d, Support::Emulated);
        }
    }
    c
}

pub(crate) fn plan(s: &Stream) -> VectorPlan {
    VectorPlan { stream: s.clone() }
}

pub(crate) fn cost(p: &VectorPlan, u: &VectorUnit) -> Cost {
    let s = &p.stream;
    let compute = s.lane_ops.div_ceil(u.lanes.max(1));
    let bytes = s.bytes_in.saturating_add(s.bytes_out);
    let mem = (bytes as f64 / (u.bytes_per_s / u.clock_hz)).ceil() as u64;
    let cycles = compute.max(mem);
    let seconds = cycles as f64 / u.clock_hz;
    Cost {
        unit: "vector".into(),
        macs: 0,
        cycles,
        compute_cycles: compute,
        stall_cycles: cycles - compute,
        seconds,
        energy: vec![
            energy("vector_unit", "lane_op", s.lane_ops, u.op_pj),
            energy(u.level, "read", s.bytes_in, u.byte_pj),
            energy(u.level, "write", s.bytes_out, u.byte_pj),
        ],
        bytes_by_level: vec![(u.level.into(), bytes)],
        utilization: if cycles == 0 { 0.0 } else { s.lane_ops as f64 / (cycles as f64 * u.lanes as f64) },
        mapping_utilization: 1.0,
        compute_utilization: 1.0,
        roofline: vec![roofline(u.level, s.lane_ops, bytes, (u.lanes as f64) * u.clock_hz, u.bytes_per_s, seconds)],
    }
}

pub(crate) fn execute(op: &Op, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    accel_kernels::cpu::execute(op, inputs, out)
}
