//! Stage 2: bank-level DRAM processing-in-memory (emulation.md §2, cost model §2.5).
//!
//! - **plan**: a MAC op is GEMV-first: its filter operand (`[k × n]` weights) is resident in
//!   the banks, spread evenly over the processing units, and each of the `m` ifmap rows is
//!   one GEMV (GEMM = batched GEMV, convolution = one GEMV per output pixel). The weights of
//!   every repeat must fit in the banks, else the op is refused.
//! - **cost**: command counts. Per GEMV and unit: `col_ops = ⌈bytes/column_bytes⌉` MAC
//!   column operations `mac_interval` tCK apart, `row_opens = ⌈bytes/(row_bytes·banks per
//!   unit)⌉` activations costing `tRCD + tRP` each unless two banks share the unit (even/odd
//!   ping-pong hides them); the input vector is broadcast over each channel's pins and the
//!   results (all lanes' partial sums on a lane-SIMD device) read back over them; a fixed
//!   mode-switch cost per op. These phases run one after another. Energy separates bits
//!   used next to the banks from bits sent off-chip (FGDRAM / AttAcc per-bit figures).
//! - **execute**: the units' formats and order (the `numerics` module); int8 units are exact.
//!
//! Non-MAC ops are streamed through the units at the internal bandwidth (HBM-PIM runs
//! ADD/MUL/ReLU in all-bank mode); their numerics are the CPU kernels'.

pub mod config;
pub(crate) mod numerics;

pub use config::{AccFormat, PimConfig, PimEnergy, UnitStyle};

use crate::lower::{GATED, run_lowered};
use crate::model::{DeviceModel, div_ceil, energy, roofline};
use crate::vector;
use crate::workload::{Gemm, Workload};
use accel_core::{Capabilities, Cost, DeviceInfo, DeviceKind, Error, ErrorBound, Op, OpKind, Result, Support};
use accel_kernels::{HostIn, HostOut};

/// A bank-level PIM model.
#[derive(Debug, Clone)]
pub struct Pim {
    cfg: PimConfig,
}

/// The command counts of one GEMV on one unit, and how many GEMVs run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemvCounts {
    /// Weight bytes each unit holds (per repeat).
    pub bytes_per_unit: u64,
    /// MAC column operations per unit per GEMV.
    pub col_ops: u64,
    /// Row activations per unit per GEMV.
    pub row_opens: u64,
    /// GEMVs in all (`m × repeats`).
    pub gemvs: u64,
}

/// How a workload maps onto the device.
#[derive(Debug, Clone, PartialEq)]
pub enum PimPlan {
    /// Batched GEMV on the units.
    Gemv {
        /// The lowered GEMM.
        gemm: Gemm,
        /// Its command counts.
        counts: GemvCounts,
    },
    /// A streaming job on the units.
    Vector(vector::VectorPlan),
}

impl Pim {
    /// A model of `cfg`.
    pub fn new(cfg: PimConfig) -> Pim {
        Pim { cfg }
    }

    /// The preset.
    pub fn config(&self) -> &PimConfig {
        &self.cfg
    }

    fn plan_gemv(&self, g: &Gemm) -> Result<PimPlan> {
        let c = &self.cfg;
        if !c.formats.contains(&g.dtype) {
            return Err(Error::Unsupported { op: "matmul", dtype: g.dtype, backend: format!("pim:{}", c.name) });
        }
        let w_bytes = g.operand_bytes()[1];
        let resident = w_bytes.saturating_mul(g.repeats.max(1));
        if resident > c.capacity_bytes() {
            return Err(Error::Backend {
                backend: "emu".into(),
                message: format!(
                    "pim:{}: {} cannot be tiled: its weights need {resident} bytes resident in the banks, \
                     which hold {} bytes",
                    c.name,
                    g.op,
                    c.capacity_bytes()
                ),
            });
        }
        let bytes_per_unit = div_ceil(w_bytes, c.units());
        let counts = GemvCounts {
            bytes_per_unit,
            col_ops: div_ceil(bytes_per_unit, c.column_bytes),
            row_opens: div_ceil(bytes_per_unit, c.row_bytes.saturating_mul(c.banks_per_unit)),
            gemvs: g.m.saturating_mul(g.repeats),
        };
        Ok(PimPlan::Gemv { gemm: g.clone(), counts })
    }

    /// Bytes the host reads back per GEMV: one value per output, or every lane's partial sum
    /// on a lane-SIMD device (the host reduces them).
    fn readback_bytes(&self, g: &Gemm) -> u64 {
        let acc_bytes = match self.cfg.accumulate {
            AccFormat::F16 | AccFormat::Bf16 => 2,
            AccFormat::F32 | AccFormat::I32 => 4,
        };
        match self.cfg.style {
            UnitStyle::LaneSimd => g.n.saturating_mul(self.cfg.lanes).saturating_mul(acc_bytes),
            _ => g.n.saturating_mul(acc_bytes),
        }
    }

    fn cost_gemv(&self, g: &Gemm, k: &GemvCounts) -> Cost {
        let c = &self.cfg;
        let ext_per_channel = c.external_bytes_per_s() / c.channels as f64;
        let tck_s = c.tck_ns * 1e-9;
        let to_tck = |bytes: u64, bw: f64| ((bytes as f64 / bw) / tck_s).ceil() as u64;
        let mac = k.col_ops.saturating_mul(c.mac_interval);
        let hidden = c.banks_per_unit >= 2;
        let row = if hidden { 0 } else { k.row_opens.saturating_mul(c.trcd + c.trp) };
        // The input vector goes to every channel at once (each over its own pins).
        let input_bytes = g.k.saturating_mul(g.dtype.size() as u64);
        let t_in = to_tck(input_bytes, ext_per_channel);
        let out_bytes = self.readback_bytes(g);
        let t_out = to_tck(out_bytes, c.external_bytes_per_s());
        let per_gemv = t_in.saturating_add(mac).saturating_add(row).saturating_add(t_out);
        let compute = mac.saturating_mul(k.gemvs);
        let cycles = per_gemv.saturating_mul(k.gemvs).saturating_add(c.mode_switch);
        let seconds = cycles as f64 * tck_s;
        let units = c.units();
        let internal = k.col_ops.saturating_mul(c.column_bytes).saturating_mul(units).saturating_mul(k.gemvs);
        let external = input_bytes.saturating_mul(c.channels).saturating_add(out_bytes).saturating_mul(k.gemvs);
        let acts = k.row_opens.saturating_mul(units).saturating_mul(k.gemvs);
        let macs = g.macs();
        let e = &c.energy;
        let lanes_total = (units * c.lanes) as f64;
        let peak = c.peak_ops_per_s();
        let ops = macs.saturating_mul(2);
        Cost {
            unit: "pim".into(),
            macs,
            cycles,
            compute_cycles: compute,
            stall_cycles: cycles.saturating_sub(compute),
            seconds,
            energy: vec![
                energy("pim_units", &format!("mac_{}", g.dtype.name()), macs, e.mac_pj),
                energy("banks", "activate", acts, e.act_pj),
                energy("banks", "read_internal", internal, 8.0 * e.internal_pj_per_bit),
                energy("io", "transfer_external", external, 8.0 * e.external_pj_per_bit),
            ],
            bytes_by_level: vec![("pim_internal".into(), internal), ("external".into(), external)],
            utilization: if cycles == 0 {
                0.0
            } else {
                macs as f64 / (cycles as f64 / c.mac_interval as f64 * lanes_total)
            },
            mapping_utilization: if k.col_ops == 0 {
                0.0
            } else {
                g.operand_bytes()[1] as f64 / (k.col_ops.saturating_mul(c.column_bytes).saturating_mul(units)) as f64
            },
            compute_utilization: if mac + row == 0 { 0.0 } else { mac as f64 / (mac + row) as f64 },
            roofline: vec![
                roofline("pim_internal", ops, internal, peak, c.internal_bytes_per_s(), seconds),
                roofline("external", ops, external, peak, c.external_bytes_per_s(), seconds),
            ],
        }
    }

    /// The error bound the units' accumulation adds beyond the contract's f32 accumulation
    /// (none for f32 and integer accumulators), as six standard deviations of the modeled
    /// rounding errors for independent zero-mean products of standard deviation
    /// `σ ≤ P/√3` (a stated, tested promise; the worst case, which grows like `K²`, is far
    /// looser). With the format's unit roundoff `u`, `L` lanes and `K` products:
    ///
    /// - lane sums of `K/L` terms: partial sums `√j·σ`, errors `u·√j·σ`, so a standard
    ///   deviation `u·σ·K/√(6L)` over all lanes: `√2·u/√L` per term (× `P`);
    /// - product roundings (`K` errors of `u·σ`) and the host's `L`-step reduction of
    ///   partial sums up to `√K·σ`: `(2 + √(2L))·u` per `√K` (× `P`).
    pub fn error_bound(&self) -> Option<ErrorBound> {
        let u = match self.cfg.accumulate {
            AccFormat::F16 => 2f64.powi(-11),
            AccFormat::Bf16 => 2f64.powi(-8),
            AccFormat::F32 | AccFormat::I32 => return None,
        };
        let lanes = match self.cfg.style {
            UnitStyle::LaneSimd => self.cfg.lanes as f64,
            // One accumulator per output, fed by an adder tree over the lanes.
            _ => 1.0,
        };
        let sqrt2 = std::f64::consts::SQRT_2;
        Some(ErrorBound {
            abs: 0.0,
            rel: 0.0,
            per_term: sqrt2 * u / lanes.sqrt(),
            per_sqrt_term: (2.0 + sqrt2 * lanes.sqrt()) * u,
        })
    }

    /// Time the same GEMM would take on the same memory without PIM: weights, inputs and
    /// outputs over the external interface at 85% efficiency (AttAcc's
    /// `MAX_OFF_MEM_BW_UTIL`), emulation.md §2.5.
    pub fn baseline_seconds(&self, g: &Gemm) -> f64 {
        let [_, w, _] = g.operand_bytes();
        let inputs = g.m.saturating_mul(g.k).saturating_mul(g.dtype.size() as u64);
        let outputs = g.m.saturating_mul(g.n).saturating_mul(g.out_dtype.size() as u64);
        let bytes = w.saturating_add(inputs).saturating_add(outputs).saturating_mul(g.repeats);
        bytes as f64 / (0.85 * self.cfg.external_bytes_per_s())
    }
}

impl DeviceModel for Pim {
    type Plan = PimPlan;

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            name: format!("pim:{}", self.cfg.name),
            kind: DeviceKind::Pim,
            backend: "emu".into(),
            emulated: true,
            peak_gflops: Some(self.cfg.peak_ops_per_s() / 1e9),
            peak_bandwidth_gbs: Some(self.cfg.internal_bytes_per_s() / 1e9),
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = vector::capabilities(self.cfg.capacity_bytes());
        let bound = self.error_bound();
        for &d in &self.cfg.formats {
            caps.set(OpKind::Matmul, d, Support::Native);
            // Convolutions are lowered by the host into one GEMV per output pixel.
            caps.set(OpKind::Conv, d, Support::Emulated);
            caps.set(OpKind::ConvTranspose, d, Support::Emulated);
            if let Some(b) = bound {
                for kind in [OpKind::Matmul, OpKind::Conv, OpKind::ConvTranspose] {
                    caps.set_error_bound(kind, d, b);
                }
            }
        }
        caps
    }

    fn plan(&self, work: &Workload) -> Result<PimPlan> {
        match work {
            Workload::Gemm(g) => self.plan_gemv(g),
            Workload::Stream(s) => Ok(PimPlan::Vector(vector::plan(s))),
        }
    }

    fn cost(&self, plan: &PimPlan) -> Cost {
        match plan {
            PimPlan::Gemv { gemm, counts } => self.cost_gemv(gemm, counts),
            PimPlan::Vector(v) => {
                let c = &self.cfg;
                vector::cost(
                    v,
                    &vector::VectorUnit {
                        lanes: c.units() * c.lanes,
                        clock_hz: 1.0 / c.mac_period_s(),
                        bytes_per_s: c.internal_bytes_per_s(),
                        op_pj: c.energy.mac_pj,
                        byte_pj: 8.0 * c.energy.internal_pj_per_bit,
                        level: "pim_internal",
                    },
                )
            }
        }
    }

    fn execute(&self, op: &Op, plan: &PimPlan, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
        let (fmt, lanes) = (self.cfg.accumulate, self.cfg.lanes as usize);
        match (plan, self.cfg.style) {
            (PimPlan::Vector(_), _) => vector::execute(op, inputs, out),
            (PimPlan::Gemv { .. }, UnitStyle::IntCore) => accel_kernels::cpu::execute(op, inputs, out),
            (PimPlan::Gemv { .. }, UnitStyle::LaneSimd) => {
                let kernel = move |_, a: &[f32], b: &[f32], m, k, n| numerics::lane_simd(fmt, lanes, a, b, m, k, n);
                run_lowered(op, inputs, out, &kernel, GATED)
            }
            (PimPlan::Gemv { .. }, UnitStyle::DotProduct) => {
                let kernel = move |_, a: &[f32], b: &[f32], m, k, n| numerics::dot_product(fmt, lanes, a, b, m, k, n);
                run_lowered(op, inputs, out, &kernel, GATED)
            }
        }
    }
}
