//! Profiling: one [`OpRecord`] per executed op, with measured time and, on emulated devices,
//! a modeled [`Cost`]. Measured and modeled figures live in separate fields and are never mixed.

use crate::dtype::DType;
use std::time::Duration;

/// What one executed op did and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRecord {
    /// Op name (`matmul`, `conv2d`, `unary.exp`, ...).
    pub op: String,
    /// Device name.
    pub device: String,
    /// Shapes of the inputs, then the output.
    pub shapes: Vec<Vec<usize>>,
    /// Dtype of the main input.
    pub dtype: DType,
    /// Floating-point (or integer) operations, counting a multiply-add as 2.
    pub flops: u64,
    /// Bytes read from the inputs plus bytes written to the output.
    pub bytes: u64,
    /// Host wall time of the call, including any wait for the device.
    pub measured: Duration,
    /// Device time from the device's own clock (GPU timestamps), where it has one.
    pub device_time: Option<Duration>,
    /// Modeled cost, filled by emulated devices only.
    pub modeled: Option<Cost>,
}

/// A modeled cost as an emulated device reports it (shape-only: it never depends on data).
///
/// Op counts follow one convention: a multiply-accumulate is one MAC and two ops. Roofline
/// points give operational intensity in ops per byte moved at their level.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cost {
    /// The modeled unit that ran the op (`npu`, `pim`, `xbar`, `vector`); a composite device
    /// names the unit it routed the op to.
    pub unit: String,
    /// Multiply-accumulates the op performs (useful work, not padding).
    pub macs: u64,
    /// Modeled clock cycles, stalls included.
    pub cycles: u64,
    /// Cycles the compute units need with no memory stall.
    pub compute_cycles: u64,
    /// Cycles lost waiting for memory (`cycles - compute_cycles` when they do not overlap).
    pub stall_cycles: u64,
    /// Modeled time in seconds (cycles over the modeled clock, stalls included).
    pub seconds: f64,
    /// Modeled energy in picojoules, by component and action.
    pub energy: Vec<EnergyEntry>,
    /// Bytes moved per memory level (`dram`, `sram`, `reg`, ...).
    pub bytes_by_level: Vec<(String, u64)>,
    /// Fraction of the compute units busy over the whole op, stalls included, 0..=1.
    pub utilization: f64,
    /// Fraction of the compute units the mapping assigns work to, averaged over tiles, 0..=1.
    pub mapping_utilization: f64,
    /// Fraction of the compute units busy while computing (fill and drain count, stalls do
    /// not), 0..=1.
    pub compute_utilization: f64,
    /// One roofline point per memory level.
    pub roofline: Vec<RooflinePoint>,
}

impl Cost {
    /// Total modeled energy in picojoules.
    pub fn energy_pj(&self) -> f64 {
        self.energy.iter().map(|e| e.pj_per_action * e.actions as f64).sum()
    }

    /// Ops (2 per MAC).
    pub fn ops(&self) -> u64 {
        self.macs.saturating_mul(2)
    }

    /// Bytes moved at `level`, if the model reports that level.
    pub fn bytes_at(&self, level: &str) -> Option<u64> {
        self.bytes_by_level.iter().find(|(l, _)| l == level).map(|(_, b)| *b)
    }
}

/// Where an op sits on one memory level's roofline (Williams et al., CACM 2009):
/// `attainable = min(peak, bandwidth × intensity)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RooflinePoint {
    /// Memory level (`dram`, `pim_internal`, ...).
    pub level: String,
    /// Ops per byte actually moved at this level.
    pub ops_per_byte: f64,
    /// Ops per second the roofline allows at this intensity.
    pub attainable_ops_per_s: f64,
    /// Ops per second the model achieves (ops over modeled seconds).
    pub achieved_ops_per_s: f64,
}

/// One line of an Accelergy-style energy breakdown: `actions × pJ per action`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyEntry {
    /// Hardware component (`pe_array`, `global_buffer`, `dram`).
    pub component: String,
    /// Action (`mac`, `read`, `write`).
    pub action: String,
    /// How many times it happened.
    pub actions: u64,
    /// Energy per action, in picojoules.
    pub pj_per_action: f64,
}

/// What a backend reports about one execution beyond its result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecReport {
    /// Device time measured by the device, if it can.
    pub device_time: Option<Duration>,
    /// Modeled cost (emulated devices).
    pub modeled: Option<Cost>,
}
