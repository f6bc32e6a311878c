//! The systolic-array preset: array, memories, clock, formats and energy table.

use crate::preset::{decode, field_error, in_range, non_negative, positive};
use accel_core::{DType, Result};
use serde::Deserialize;

/// Which operand stays in the processing elements (SCALE-Sim's three dataflows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataflow {
    /// Output stationary: each PE accumulates one output over the whole reduction.
    Os,
    /// Weight stationary: filter tiles stay, the ifmap streams, psums flow down the columns.
    Ws,
    /// Input stationary: ifmap tiles stay, filters stream.
    Is,
}

/// A validated systolic-array description.
#[derive(Debug, Clone, PartialEq)]
pub struct SystolicConfig {
    /// Preset name.
    pub name: String,
    /// Where the numbers come from.
    pub source: String,
    /// PE rows `R`.
    pub rows: u64,
    /// PE columns `C`.
    pub cols: u64,
    /// Dataflow.
    pub dataflow: Dataflow,
    /// Clock in Hz.
    pub clock_hz: f64,
    /// MAC input formats the array takes (i8/u8 stand for the int8 path).
    pub formats: Vec<DType>,
    /// Scratchpad bytes for the ifmap, filter and ofmap operands (each double-buffered).
    pub sram_bytes: [u64; 3],
    /// Off-chip bandwidth in bytes per second.
    pub dram_bytes_per_s: f64,
    /// Off-chip capacity in bytes.
    pub dram_bytes: u64,
    /// Lanes of the vector unit that runs non-MAC ops.
    pub vector_lanes: u64,
    /// Energy per action, in pJ.
    pub energy: SystolicEnergy,
}

/// Accelergy-style energy table of a systolic array (pJ per action).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystolicEnergy {
    /// Where the numbers come from.
    pub source: String,
    /// One int8 MAC (8-bit multiply, 32-bit accumulate).
    pub mac_int8_pj: f64,
    /// One fp16/bf16 MAC (16-bit multiply, fp32 accumulate).
    pub mac_fp16_pj: f64,
    /// One fp32 MAC.
    pub mac_fp32_pj: f64,
    /// One byte read from or written to a scratchpad.
    pub sram_pj_per_byte: f64,
    /// One byte moved to or from DRAM.
    pub dram_pj_per_byte: f64,
    /// One vector-unit lane op.
    pub vector_op_pj: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    kind: String,
    source: String,
    array: RawArray,
    memory: RawMemory,
    vector: RawVector,
    energy: SystolicEnergy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArray {
    rows: u64,
    cols: u64,
    dataflow: String,
    clock_mhz: f64,
    formats: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    ifmap_sram_kib: f64,
    filter_sram_kib: f64,
    ofmap_sram_kib: f64,
    dram_gbs: f64,
    dram_gib: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVector {
    lanes: u64,
}

impl SystolicConfig {
    pub(crate) fn from_table(name: &str, table: toml::Table) -> Result<SystolicConfig> {
        let raw: Raw = decode(name, table)?;
        let _ = (&raw.name, &raw.kind);
        let a = &raw.array;
        in_range(name, "array.rows", a.rows, 1, 1 << 16)?;
        in_range(name, "array.cols", a.cols, 1, 1 << 16)?;
        positive(name, "array.clock_mhz", a.clock_mhz)?;
        let dataflow = match a.dataflow.as_str() {
            "os" => Dataflow::Os,
            "ws" => Dataflow::Ws,
            "is" => Dataflow::Is,
            other => return Err(field_error(name, "array.dataflow", "\"os\", \"ws\" or \"is\"", format!("{other:?}"))),
        };
        let mut formats = Vec::new();
        for f in &a.formats {
            match f.as_str() {
                "int8" => formats.extend([DType::I8, DType::U8]),
                "fp16" => formats.push(DType::F16),
                "bf16" => formats.push(DType::BF16),
                "fp32" => formats.push(DType::F32),
                other => {
                    return Err(field_error(name, "array.formats", "int8, fp16, bf16 or fp32", format!("{other:?}")));
                }
            }
        }
        if formats.is_empty() {
            return Err(field_error(name, "array.formats", "at least one MAC format", "[]"));
        }
        let m = &raw.memory;
        let mut sram_bytes = [0u64; 3];
        for (slot, (field, kib)) in sram_bytes.iter_mut().zip([
            ("memory.ifmap_sram_kib", m.ifmap_sram_kib),
            ("memory.filter_sram_kib", m.filter_sram_kib),
            ("memory.ofmap_sram_kib", m.ofmap_sram_kib),
        ]) {
            positive(name, field, kib)?;
            *slot = (kib * 1024.0) as u64;
        }
        positive(name, "memory.dram_gbs", m.dram_gbs)?;
        positive(name, "memory.dram_gib", m.dram_gib)?;
        in_range(name, "vector.lanes", raw.vector.lanes, 1, 1 << 20)?;
        let e = &raw.energy;
        for (field, v) in [
            ("energy.mac_int8_pj", e.mac_int8_pj),
            ("energy.mac_fp16_pj", e.mac_fp16_pj),
            ("energy.mac_fp32_pj", e.mac_fp32_pj),
            ("energy.sram_pj_per_byte", e.sram_pj_per_byte),
            ("energy.dram_pj_per_byte", e.dram_pj_per_byte),
            ("energy.vector_op_pj", e.vector_op_pj),
        ] {
            non_negative(name, field, v)?;
        }
        Ok(SystolicConfig {
            name: name.into(),
            source: raw.source,
            rows: a.rows,
            cols: a.cols,
            dataflow,
            clock_hz: a.clock_mhz * 1e6,
            formats,
            sram_bytes,
            dram_bytes_per_s: m.dram_gbs * 1e9,
            dram_bytes: (m.dram_gib * (1u64 << 30) as f64) as u64,
            vector_lanes: raw.vector.lanes,
            energy: raw.energy,
        })
    }

    /// Peak MAC rate (MACs per second).
    pub fn peak_macs_per_s(&self) -> f64 {
        (self.rows * self.cols) as f64 * self.clock_hz
    }

    /// Peak op rate (2 ops per MAC).
    pub fn peak_ops_per_s(&self) -> f64 {
        2.0 * self.peak_macs_per_s()
    }

    /// Roofline ridge against DRAM in MACs per byte (the TPU paper's "ops per weight byte"
    /// axis counts MACs; emulation.md §0.1).
    pub fn ridge_macs_per_byte(&self) -> f64 {
        self.peak_macs_per_s() / self.dram_bytes_per_s
    }
}
