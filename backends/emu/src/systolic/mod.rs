//! Stage 1: a systolic-array NPU (SCALE-Sim's model; emulation.md §1).
//!
//! - **plan**: MAC ops lower to GEMMs in SCALE-Sim's convention ([`crate::workload`]) and
//!   map onto the `R × C` array by the preset's dataflow ([`Folds`]); the stationary tile must
//!   fit in half its double-buffered scratchpad and the operands in DRAM, else the op is
//!   refused ("cannot be tiled"), never silently run.
//! - **cost**: compute cycles from SCALE-Sim's closed form; DRAM bytes from the scratchpad
//!   model ([`Traffic`]); stall cycles where DRAM time exceeds compute time (double buffering
//!   overlaps the two); energy as Σ actions × pJ (MACs, scratchpad bytes, DRAM bytes).
//! - **execute**: int8 is exact (i8/u8 × i8 products, wrapping i32 accumulation) and runs on
//!   `accel_kernels::cpu`, since integer sums do not depend on order; f16/bf16/f32 run
//!   through the `numerics` module in the array's order. Non-MAC ops run on the modeled vector unit,
//!   whose numerics are the CPU kernels' (f32 compute, one rounding).

pub mod config;
pub mod cycles;
pub(crate) mod numerics;

pub use config::{Dataflow, SystolicConfig, SystolicEnergy};
pub use cycles::{Folds, Traffic};

use crate::lower::{GATED, run_lowered};
use crate::model::{DeviceModel, energy, roofline};
use crate::vector;
use crate::workload::{Gemm, Workload};
use accel_core::{Capabilities, Cost, DType, DeviceInfo, DeviceKind, Error, Op, OpKind, Result, Support};
use accel_kernels::{HostIn, HostOut};
use cycles::{TrafficInput, traffic};

/// A systolic-array NPU model.
#[derive(Debug, Clone)]
pub struct Systolic {
    cfg: SystolicConfig,
}

/// How a workload maps onto the array.
#[derive(Debug, Clone, PartialEq)]
pub enum SystolicPlan {
    /// A MAC job on the array.
    Array {
        /// The lowered GEMM.
        gemm: Gemm,
        /// Its folds (per repeat).
        folds: Folds,
        /// Its DRAM traffic (per repeat).
        traffic: Traffic,
    },
    /// A job for the vector unit.
    Vector(vector::VectorPlan),
}

impl Systolic {
    /// A model of `cfg`.
    pub fn new(cfg: SystolicConfig) -> Systolic {
        Systolic { cfg }
    }

    /// The preset.
    pub fn config(&self) -> &SystolicConfig {
        &self.cfg
    }

    fn mac_pj(&self, dtype: DType) -> f64 {
        match dtype {
            DType::F32 => self.cfg.energy.mac_fp32_pj,
            DType::F16 | DType::BF16 => self.cfg.energy.mac_fp16_pj,
            _ => self.cfg.energy.mac_int8_pj,
        }
    }

    fn plan_gemm(&self, g: &Gemm) -> Result<SystolicPlan> {
        let c = &self.cfg;
        let name = format!("npu:{}", c.name);
        if !c.formats.contains(&g.dtype) {
            return Err(Error::Unsupported { op: "matmul", dtype: g.dtype, backend: name });
        }
        let folds = Folds::new(c.dataflow, c.rows, c.cols, g.m, g.k, g.n);
        let (stationary, which, sram) = match c.dataflow {
            Dataflow::Ws => (g.w_dtype.size() as u64, "filter", c.sram_bytes[1]),
            Dataflow::Is => (g.dtype.size() as u64, "ifmap", c.sram_bytes[0]),
            Dataflow::Os => (4, "ofmap", c.sram_bytes[2]),
        };
        let tile = c.rows * c.cols * stationary; // rows, cols <= 2^16 (validated)
        if tile > sram / 2 {
            return Err(Error::Backend {
                backend: "emu".into(),
                message: format!(
                    "{name}: {} cannot be tiled: one {}×{} {which} tile needs {tile} bytes, half of the \
                     double-buffered {which} scratchpad holds {} bytes",
                    g.op,
                    c.rows,
                    c.cols,
                    sram / 2
                ),
            });
        }
        let bytes = g.operand_bytes();
        let all = bytes.iter().fold(0u64, |a, b| a.saturating_add(*b)).saturating_mul(g.repeats.max(1));
        if all > c.dram_bytes {
            return Err(Error::Backend {
                backend: "emu".into(),
                message: format!(
                    "{name}: {} cannot be tiled: its operands need {all} bytes of DRAM, the modeled DRAM holds {} bytes",
                    g.op, c.dram_bytes
                ),
            });
        }
        // Partial sums are 32-bit on every path (i32 for int8, f32 for floats).
        let acc_bytes = 4;
        let traffic = traffic(&TrafficInput {
            dataflow: c.dataflow,
            cols: c.cols,
            folds,
            bytes,
            acc_bytes,
            sram: c.sram_bytes,
            npx: g.m,
            f: g.n,
        });
        Ok(SystolicPlan::Array { gemm: g.clone(), folds, traffic })
    }

    fn cost_gemm(&self, g: &Gemm, folds: &Folds, tr: &Traffic) -> Cost {
        let c = &self.cfg;
        let reps = g.repeats;
        let compute = folds.compute_cycles().saturating_mul(reps);
        let bytes_per_cycle = c.dram_bytes_per_s / c.clock_hz;
        let dram_bytes = tr.total().saturating_mul(reps);
        let dram_cycles = (dram_bytes as f64 / bytes_per_cycle).ceil() as u64;
        let stall = dram_cycles.saturating_sub(compute);
        let cycles = compute.saturating_add(stall);
        let seconds = cycles as f64 / c.clock_hz;
        let macs = g.macs();
        let (bi, bw, bo) = (g.dtype.size() as u64, g.w_dtype.size() as u64, 4u64);
        let sram_reads = folds
            .ifmap_reads
            .saturating_mul(bi)
            .saturating_add(folds.filter_reads.saturating_mul(bw))
            .saturating_mul(reps);
        let sram_writes = folds.ofmap_writes.saturating_mul(bo).saturating_mul(reps);
        let e = &c.energy;
        let pes = (c.rows * c.cols) as f64;
        let peak = c.peak_ops_per_s();
        Cost {
            unit: "npu".into(),
            macs,
            cycles,
            compute_cycles: compute,
            stall_cycles: stall,
            seconds,
            energy: vec![
                energy("pe_array", &format!("mac_{}", g.dtype.name()), macs, self.mac_pj(g.dtype)),
                // Scratchpad actions are word accesses (SCALE-Sim's counts), each costing its
                // word's bytes.
                energy("ifmap_sram", "read", folds.ifmap_reads.saturating_mul(reps), bi as f64 * e.sram_pj_per_byte),
                energy("filter_sram", "read", folds.filter_reads.saturating_mul(reps), bw as f64 * e.sram_pj_per_byte),
                energy("ofmap_sram", "write", folds.ofmap_writes.saturating_mul(reps), bo as f64 * e.sram_pj_per_byte),
                energy("dram", "read", (tr.ifmap + tr.filter).saturating_mul(reps), e.dram_pj_per_byte),
                energy("dram", "write", tr.ofmap.saturating_mul(reps), e.dram_pj_per_byte),
            ],
            bytes_by_level: vec![("dram".into(), dram_bytes), ("sram".into(), sram_reads.saturating_add(sram_writes))],
            utilization: if cycles == 0 { 0.0 } else { macs as f64 / (cycles as f64 * pes) },
            mapping_utilization: folds.mapping_efficiency,
            compute_utilization: folds.compute_utilization,
            roofline: vec![roofline("dram", macs.saturating_mul(2), dram_bytes, peak, c.dram_bytes_per_s, seconds)],
        }
    }
}

impl DeviceModel for Systolic {
    type Plan = SystolicPlan;

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            name: format!("npu:{}", self.cfg.name),
            kind: DeviceKind::Npu,
            backend: "emu".into(),
            emulated: true,
            peak_gflops: Some(self.cfg.peak_ops_per_s() / 1e9),
            peak_bandwidth_gbs: Some(self.cfg.dram_bytes_per_s / 1e9),
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = vector::capabilities(self.cfg.dram_bytes);
        for &d in &self.cfg.formats {
            for kind in [OpKind::Matmul, OpKind::Conv, OpKind::ConvTranspose] {
                caps.set(kind, d, Support::Native);
            }
        }
        caps
    }

    fn plan(&self, work: &Workload) -> Result<SystolicPlan> {
        match work {
            Workload::Gemm(g) => self.plan_gemm(g),
            Workload::Stream(s) => Ok(SystolicPlan::Vector(vector::plan(s))),
        }
    }

    fn cost(&self, plan: &SystolicPlan) -> Cost {
        match plan {
            SystolicPlan::Array { gemm, folds, traffic } => self.cost_gemm(gemm, folds, traffic),
            SystolicPlan::Vector(v) => vector::cost(
                v,
                &vector::VectorUnit {
                    lanes: self.cfg.vector_lanes,
                    clock_hz: self.cfg.clock_hz,
                    bytes_per_s: self.cfg.dram_bytes_per_s,
                    op_pj: self.cfg.energy.vector_op_pj,
                    byte_pj: self.cfg.energy.dram_pj_per_byte,
                    level: "dram",
                },
            ),
        }
    }

    fn execute(&self, op: &Op, plan: &SystolicPlan, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
        match plan {
            SystolicPlan::Array { .. } if op.dtype().is_int8() => accel_kernels::cpu::execute(op, inputs, out),
            SystolicPlan::Array { .. } => {
                let (df, rows) = (self.cfg.dataflow, self.cfg.rows as usize);
                let kernel = move |_, a: &[f32], b: &[f32], m, k, n| numerics::gemm(df, rows, a, b, m, k, n);
                run_lowered(op, inputs, out, &kernel, GATED)
            }
            SystolicPlan::Vector(_) => vector::execute(op, inputs, out),
        }
    }
}
