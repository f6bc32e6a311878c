//! Stage 3: analog MAC on NVM crossbars (emulation.md §3, design §6.6).
//!
//! - **plan**: the filter operand (`[k × n]` int8 weights, zero point removed) is
//!   programmed once into crossbars: `⌈k/rows⌉` row groups × `⌈2·slices·n/cols⌉` column
//!   tiles per repeat, all resident; more arrays than the device has is an error.
//! - **cost**: per ifmap row, `2 × input_slices` passes (sign × DAC slices); each pass reads
//!   every array at once and converts every used column, so a pass takes
//!   `max(t_read, columns per ADC / ADC rate)`. Energy is conversions × E_ADC + row drives ×
//!   E_DAC + array reads + shift-adds + buffer bytes; ADC conversions per MAC is reported as
//!   the `adc.convert` action count against `macs`.
//! - **execute**: the `numerics` module, integer-exact with ideal settings, with seeded counter-based
//!   noise otherwise. The model states its error bound ([`Analog::error_bound`]) so the
//!   conformance suite checks it against exactly what it promises.
//!
//! Only the int8 path runs on the crossbars (they hold integer conductance levels); float
//! MAC ops are unsupported. Non-MAC ops run on the digital periphery's vector unit.

mod bits;
pub mod config;
pub(crate) mod numerics;
pub(crate) mod rng;

pub use config::{AnalogConfig, AnalogEnergy, Noise};

use crate::lower::run_lowered;
use crate::model::{DeviceModel, div_ceil, energy, roofline};
use crate::vector;
use crate::workload::{Gemm, Workload};
use accel_core::{Capabilities, Cost, DType, DeviceInfo, DeviceKind, Error, ErrorBound, Op, OpKind, Result, Support};
use accel_kernels::{HostIn, HostOut};

/// An analog crossbar model.
#[derive(Debug, Clone)]
pub struct Analog {
    cfg: AnalogConfig,
    shortcut: bool,
    bit_planes: bool,
}

/// How a GEMM maps onto crossbars.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalogPlan {
    /// Crossbar MVMs.
    Crossbar {
        /// The lowered GEMM.
        gemm: Gemm,
        /// Row groups (`⌈k/rows⌉`).
        row_groups: u64,
        /// Column tiles per row group.
        col_tiles: u64,
    },
    /// A job for the digital vector unit.
    Vector(vector::VectorPlan),
}

/// `a·b`, saturating.
fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

impl Analog {
    /// A model of `cfg`.
    pub fn new(cfg: AnalogConfig) -> Analog {
        Analog { cfg, shortcut: true, bit_planes: true }
    }

    /// Whether an ideal device may skip the bit-sliced simulation and compute the exact
    /// integer result directly (the default; the two agree, which a test checks). Turn it
    /// off to run every conversion.
    pub fn with_ideal_shortcut(mut self, on: bool) -> Analog {
        self.shortcut = on;
        self
    }

    /// Whether devices with integer conductance levels use the bit-plane (popcount) form of
    /// the datapath (the default; it performs the same conversions in the same order, which
    /// a test checks). Turn it off to run the level-by-level form.
    pub fn with_bit_planes(mut self, on: bool) -> Analog {
        self.bit_planes = on;
        self
    }

    /// The preset.
    pub fn config(&self) -> &AnalogConfig {
        &self.cfg
    }

    /// The error the model promises for one output, per row group, beyond the exact integer
    /// result: every conversion is off by at most half an ADC step (when the step exceeds
    /// one level, or noise makes sums fractional), by the drift loss `(1 − f)·range`, and by
    /// the largest IR-drop correction, each weighted by its shift `2^(cell·t + dac·b)`; plus
    /// six standard deviations of the Gaussian noise (read noise and every active cell's
    /// programming error), weighted the same way; sums beyond a reduced ADC range clip by at
    /// most the omitted part of the range. `None` for an ideal device.
    pub fn group_error(&self) -> Option<f64> {
        let c = &self.cfg;
        if c.is_ideal() {
            return None;
        }
        let n = &c.noise;
        let range = c.column_range();
        let dmax = ((1u64 << c.dac_bits) - 1) as f64;
        let noisy = n.programming_sigma > 0.0 || n.read_sigma > 0.0 || n.ir_drop > 0.0 || c.drift_factor() != 1.0;
        let step = c.adc_step();
        let quant = if step > 1.0 || noisy { step / 2.0 } else { 0.0 };
        // Sums above the ADC's range clip: off by at most the part of the range it omits.
        let clip = range - (c.adc_top() / step).floor() * step;
        let drift = (1.0 - c.drift_factor()) * range;
        let a_max = (c.rows * c.rows) as f64 / n.ir_drop_g_ratio;
        let ir = n.ir_drop * (a_max * (a_max * (0.05 * a_max - 0.2) + 0.5)).abs() * range;
        let sigma = (n.read_sigma.powi(2) + c.rows as f64 * (n.programming_sigma * dmax).powi(2)).sqrt();
        let (mut linear, mut square) = (0.0, 0.0);
        for t in 0..c.weight_slices() {
            for b in 0..c.input_slices() {
                let w = 2f64.powi((c.cell_bits * t + c.dac_bits * b) as i32);
                linear += 4.0 * w;
                square += 4.0 * w * w;
            }
        }
        Some(linear * (quant.max(clip) + drift + ir) + 6.0 * sigma * square.sqrt())
    }

    /// The bound in the form the conformance suite reads: `⌈K/rows⌉ · group_error ≤ abs +
    /// per_term·K·P` with `P = 255²` (the int8 full-scale product, zero points included).
    pub fn error_bound(&self) -> Option<ErrorBound> {
        let e = self.group_error()?;
        Some(ErrorBound { abs: e, rel: 0.0, per_term: e / (self.cfg.rows as f64 * 65025.0), per_sqrt_term: 0.0 })
    }

    fn plan_gemm(&self, g: &Gemm) -> Result<AnalogPlan> {
        let c = &self.cfg;
        if !g.dtype.is_int8() {
            return Err(Error::Unsupported { op: "matmul", dtype: g.dtype, backend: format!("xbar:{}", c.name) });
        }
        let row_groups = div_ceil(g.k, c.rows);
        let col_tiles = div_ceil(mul(g.n, 2 * c.weight_slices() as u64), c.cols);
        let arrays = mul(mul(row_groups, col_tiles), g.repeats);
        if arrays > c.arrays {
            return Err(Error::Backend {
                backend: "emu".into(),
                message: format!(
                    "xbar:{}: {} cannot be tiled: its weights need {arrays} crossbars of {}×{}, the device has {}",
                    c.name, g.op, c.rows, c.cols, c.arrays
                ),
            });
        }
        Ok(AnalogPlan::Crossbar { gemm: g.clone(), row_groups, col_tiles })
    }

    fn cost_gemm(&self, g: &Gemm, row_groups: u64, col_tiles: u64) -> Cost {
        let c = &self.cfg;
        let passes = 2 * c.input_slices() as u64;
        let used_cols = div_ceil(mul(g.n, 2 * c.weight_slices() as u64), col_tiles.max(1));
        let t_adc = div_ceil(used_cols, c.adcs_per_array) as f64 / c.adc_per_s;
        let t_pass = c.read_s.max(t_adc);
        let vectors = mul(g.m, g.repeats);
        let seconds = mul(vectors, passes) as f64 * t_pass;
        let cycles = (seconds * c.clock_hz).ceil() as u64;
        let conversions = mul(mul(vectors, passes), mul(row_groups, mul(g.n, 2 * c.weight_slices() as u64)));
        let drives = mul(mul(vectors, passes), mul(g.k, col_tiles));
        let reads = mul(mul(vectors, passes), mul(row_groups, col_tiles));
        let buffer = mul(vectors, g.k.saturating_add(mul(g.n, g.out_dtype.size() as u64)));
        let macs = g.macs();
        let e = &c.energy;
        // Peak: every array busy, one 8-bit MAC per (row, weight) per full set of passes.
        let weights_per_array = (c.rows * c.cols) as f64 / (2.0 * c.weight_slices() as f64);
        let peak_ops = 2.0 * c.arrays as f64 * weights_per_array / (passes as f64 * c.read_s.max(t_adc));
        let achieved = if seconds > 0.0 { 2.0 * macs as f64 / seconds } else { 0.0 };
        Cost {
            unit: "xbar".into(),
            macs,
            cycles,
            compute_cycles: cycles,
            stall_cycles: 0,
            seconds,
            energy: vec![
                energy("adc", "convert", conversions, e.adc_pj),
                energy("dac", "drive", drives, e.dac_pj),
                energy("crossbar", "read", reads, e.array_read_pj),
                energy("shift_add", "add", conversions, e.shift_add_pj),
                energy("buffer", "access", buffer, e.buffer_pj_per_byte),
            ],
            bytes_by_level: vec![("buffer".into(), buffer)],
            utilization: if peak_ops > 0.0 { achieved / peak_ops } else { 0.0 },
            mapping_utilization: (g.k * g.n * 2 * c.weight_slices() as u64) as f64
                / (mul(mul(row_groups, col_tiles), c.rows * c.cols)).max(1) as f64,
            compute_utilization: 1.0,
            roofline: vec![roofline("buffer", mul(macs, 2), buffer, peak_ops, c.buffer_bytes_per_s, seconds)],
        }
    }
}

impl DeviceModel for Analog {
    type Plan = AnalogPlan;

    fn info(&self) -> DeviceInfo {
        let c = &self.cfg;
        let passes = 2.0 * c.input_slices() as f64;
        let t_adc = (c.cols / c.adcs_per_array) as f64 / c.adc_per_s;
        let weights = (c.rows * c.cols) as f64 / (2.0 * c.weight_slices() as f64);
        let peak = 2.0 * c.arrays as f64 * weights / (passes * c.read_s.max(t_adc));
        DeviceInfo {
            name: format!("xbar:{}", c.name),
            kind: DeviceKind::Analog,
            backend: "emu".into(),
            emulated: true,
            peak_gflops: Some(peak / 1e9),
            peak_bandwidth_gbs: Some(c.buffer_bytes_per_s / 1e9),
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = vector::capabilities(1 << 40);
        let bound = self.error_bound();
        for d in [DType::I8, DType::U8] {
            for kind in [OpKind::Matmul, OpKind::Conv, OpKind::ConvTranspose] {
                caps.set(kind, d, Support::Native);
                if let Some(b) = bound {
                    caps.set_error_bound(kind, d, b);
                }
            }
        }
        caps
    }

    fn plan(&self, work: &Workload) -> Result<AnalogPlan> {
        match work {
            Workload::Gemm(g) => self.plan_gemm(g),
            Workload::Stream(s) => Ok(AnalogPlan::Vector(vector::plan(s))),
        }
    }

    fn cost(&self, plan: &AnalogPlan) -> Cost {
        match plan {
            AnalogPlan::Crossbar { gemm, row_groups, col_tiles } => self.cost_gemm(gemm, *row_groups, *col_tiles),
            AnalogPlan::Vector(v) => vector::cost(
                v,
                &vector::VectorUnit {
                    lanes: 64,
                    clock_hz: self.cfg.clock_hz,
                    bytes_per_s: self.cfg.buffer_bytes_per_s,
                    op_pj: self.cfg.energy.shift_add_pj,
                    byte_pj: self.cfg.energy.buffer_pj_per_byte,
                    level: "buffer",
                },
            ),
        }
    }

    fn execute(&self, op: &Op, plan: &AnalogPlan, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
        let zero_points = match op {
            Op::Matmul(d) => d.zero_points,
            Op::Conv(d) | Op::ConvTranspose(d) => d.zero_points,
            _ => (0, 0),
        };
        match plan {
            AnalogPlan::Vector(_) => vector::execute(op, inputs, out),
            // Ideal settings: the exact integer result (the CPU's exact int8 kernels).
            AnalogPlan::Crossbar { .. } if self.shortcut && self.cfg.is_ideal() => {
                accel_kernels::cpu::execute(op, inputs, out)
            }
            AnalogPlan::Crossbar { .. } => {
                let cfg = &self.cfg;
                let n = &cfg.noise;
                // Integer levels (no programming error, drift or IR drop): the bit-plane form.
                let integer = n.programming_sigma == 0.0 && cfg.drift_factor() == 1.0 && n.ir_drop == 0.0;
                let planes = integer && self.bit_planes;
                let kernel = move |rep, a: &[f32], b: &[f32], m, k, n| {
                    let dims = (m, k, n);
                    let y = if planes {
                        bits::gemm(cfg, rep, zero_points, a, b, dims)
                    } else {
                        numerics::gemm(cfg, rep, zero_points, a, b, dims)
                    };
                    // The digital periphery rounds the recombined codes to the integer output.
                    y.into_iter().map(f64::round).collect()
                };
                run_lowered(op, inputs, out, &kernel, f32::NAN)
            }
        }
    }
}
