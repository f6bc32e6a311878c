//! The analog crossbar preset: array geometry, bit slicing, converters, device
//! non-idealities, timing and energy.

use crate::preset::{decode, in_range, non_negative, positive};
use accel_core::Result;
use serde::Deserialize;

/// A validated crossbar description.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalogConfig {
    /// Preset name.
    pub name: String,
    /// Where the numbers come from.
    pub source: String,
    /// Rows driven in parallel (one row group per array).
    pub rows: u64,
    /// Columns per array.
    pub cols: u64,
    /// Bits per cell (weight slice width).
    pub cell_bits: u32,
    /// Weight magnitude bits (at least 8: int8 operands shifted by a zero point reach 255).
    pub weight_bits: u32,
    /// Input magnitude bits (at least 8).
    pub input_bits: u32,
    /// DAC bits (input slice width).
    pub dac_bits: u32,
    /// ADC bits.
    pub adc_bits: u32,
    /// Fraction of the largest possible column sum the ADC spans (0 < f ≤ 1): a smaller
    /// range buys a finer step at the price of clipping large sums.
    pub adc_range: f64,
    /// Device non-idealities.
    pub noise: Noise,
    /// Crossbar read time per input slice, seconds.
    pub read_s: f64,
    /// ADC conversions per second, per ADC.
    pub adc_per_s: f64,
    /// ADCs per array (columns share them).
    pub adcs_per_array: u64,
    /// Digital periphery clock, Hz (cycles in cost reports).
    pub clock_hz: f64,
    /// Arrays in the device (weights stay resident).
    pub arrays: u64,
    /// Bandwidth of the buffer feeding inputs and collecting outputs, bytes/s.
    pub buffer_bytes_per_s: f64,
    /// Energy table.
    pub energy: AnalogEnergy,
}

/// Non-idealities, in units of one conductance level (programming) or of one column-sum
/// level (read noise). All zero is the ideal device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Seed of the counter-based noise generator.
    pub seed: u64,
    /// Programming error: σ of a cell's level, once per programming (NormalIndependent).
    pub programming_sigma: f64,
    /// Read noise: σ added to each column sum before the ADC.
    pub read_sigma: f64,
    /// Drift exponent ν: levels scale by `((t + t0)/t0)^(−ν)`.
    pub drift_nu: f64,
    /// Time since programming `t`, seconds.
    pub drift_time_s: f64,
    /// Drift reference time `t0`, seconds.
    pub drift_t0_s: f64,
    /// IR-drop strength (aihwkit's `ir_drop`; 0 disables).
    pub ir_drop: f64,
    /// Wire-to-device conductance ratio (aihwkit's `ir_drop_g_ratio`).
    pub ir_drop_g_ratio: f64,
}

/// Per-action energies of a crossbar (pJ).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalogEnergy {
    /// Where the numbers come from.
    pub source: String,
    /// One ADC conversion at the preset's resolution.
    pub adc_pj: f64,
    /// One DAC drive of one row.
    pub dac_pj: f64,
    /// One digital shift-and-add.
    pub shift_add_pj: f64,
    /// One array read (all cells of a row group, one input slice).
    pub array_read_pj: f64,
    /// One byte through the input/output buffer.
    pub buffer_pj_per_byte: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    kind: String,
    source: String,
    crossbar: RawXbar,
    noise: Noise,
    timing: RawTiming,
    energy: AnalogEnergy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawXbar {
    rows: u64,
    cols: u64,
    cell_bits: u32,
    weight_bits: u32,
    input_bits: u32,
    dac_bits: u32,
    adc_bits: u32,
    adc_range: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    read_ns: f64,
    adc_gsps: f64,
    adcs_per_array: u64,
    clock_mhz: f64,
    arrays: u64,
    buffer_gbs: f64,
}

impl AnalogConfig {
    pub(crate) fn from_table(name: &str, table: toml::Table) -> Result<AnalogConfig> {
        let raw: Raw = decode(name, table)?;
        let _ = (&raw.name, &raw.kind);
        let x = &raw.crossbar;
        in_range(name, "crossbar.rows", x.rows, 1, 4096)?;
        in_range(name, "crossbar.cols", x.cols, 1, 4096)?;
        in_range(name, "crossbar.cell_bits", x.cell_bits.into(), 1, 8)?;
        in_range(name, "crossbar.weight_bits", x.weight_bits.into(), 8, 16)?;
        in_range(name, "crossbar.input_bits", x.input_bits.into(), 8, 16)?;
        in_range(name, "crossbar.dac_bits", x.dac_bits.into(), 1, 8)?;
        in_range(name, "crossbar.adc_bits", x.adc_bits.into(), 1, 16)?;
        if !(x.adc_range > 0.0 && x.adc_range <= 1.0) {
            return Err(crate::preset::field_error(name, "crossbar.adc_range", "a fraction in (0, 1]", x.adc_range));
        }
        let range = x.rows * ((1u64 << x.cell_bits) - 1) * ((1u64 << x.dac_bits) - 1);
        if range >= 1 << 24 {
            return Err(crate::preset::field_error(
                name,
                "crossbar.rows",
                "rows·(2^cell_bits − 1)·(2^dac_bits − 1) below 2^24 (column sums are exact in f32)",
                range,
            ));
        }
        let n = &raw.noise;
        for (field, v) in [
            ("noise.programming_sigma", n.programming_sigma),
            ("noise.read_sigma", n.read_sigma),
            ("noise.drift_nu", n.drift_nu),
            ("noise.drift_time_s", n.drift_time_s),
            ("noise.ir_drop", n.ir_drop),
        ] {
            non_negative(name, field, v)?;
        }
        positive(name, "noise.drift_t0_s", n.drift_t0_s)?;
        positive(name, "noise.ir_drop_g_ratio", n.ir_drop_g_ratio)?;
        let t = &raw.timing;
        positive(name, "timing.read_ns", t.read_ns)?;
        positive(name, "timing.adc_gsps", t.adc_gsps)?;
        in_range(name, "timing.adcs_per_array", t.adcs_per_array, 1, x.cols)?;
        positive(name, "timing.clock_mhz", t.clock_mhz)?;
        in_range(name, "timing.arrays", t.arrays, 1, 1 << 32)?;
        positive(name, "timing.buffer_gbs", t.buffer_gbs)?;
        let e = &raw.energy;
        for (field, v) in [
            ("energy.adc_pj", e.adc_pj),
            ("energy.dac_pj", e.dac_pj),
            ("energy.shift_add_pj", e.shift_add_pj),
            ("energy.array_read_pj", e.array_read_pj),
            ("energy.buffer_pj_per_byte", e.buffer_pj_per_byte),
        ] {
            non_negative(name, field, v)?;
        }
        Ok(AnalogConfig {
            name: name.into(),
            source: raw.source,
            rows: x.rows,
            cols: x.cols,
            cell_bits: x.cell_bits,
            weight_bits: x.weight_bits,
            input_bits: x.input_bits,
            dac_bits: x.dac_bits,
            adc_bits: x.adc_bits,
            adc_range: x.adc_range,
            noise: raw.noise,
            read_s: t.read_ns * 1e-9,
            adc_per_s: t.adc_gsps * 1e9,
            adcs_per_array: t.adcs_per_array,
            clock_hz: t.clock_mhz * 1e6,
            arrays: t.arrays,
            buffer_bytes_per_s: t.buffer_gbs * 1e9,
            energy: raw.energy,
        })
    }

    /// Weight slices per weight (`⌈weight_bits / cell_bits⌉`).
    pub fn weight_slices(&self) -> u32 {
        self.weight_bits.div_ceil(self.cell_bits)
    }

    /// Input slices per input (`⌈input_bits / dac_bits⌉`).
    pub fn input_slices(&self) -> u32 {
        self.input_bits.div_ceil(self.dac_bits)
    }

    /// Largest ideal column sum of one conversion: `rows·(2^cell − 1)·(2^dac − 1)`.
    pub fn column_range(&self) -> f64 {
        self.rows as f64 * ((1u64 << self.cell_bits) - 1) as f64 * ((1u64 << self.dac_bits) - 1) as f64
    }

    /// The largest column sum the ADC reports (`adc_range × column_range`); larger sums clip.
    pub fn adc_top(&self) -> f64 {
        self.adc_range * self.column_range()
    }

    /// ADC step in column-sum units: 1 when the ADC resolves every integer sum in its range
    /// (lossless, CrossSim's granular policy), else its range over `2^bits − 1` steps.
    pub fn adc_step(&self) -> f64 {
        let steps = ((1u64 << self.adc_bits) - 1) as f64;
        (self.adc_top() / steps).max(1.0)
    }

    /// ADC bits for a lossless conversion: `⌈log2(rows·(2^cell − 1)·(2^dac − 1) + 1)⌉`.
    pub fn lossless_adc_bits(&self) -> u32 {
        let r = self.column_range() as u64 + 1;
        64 - (r - 1).leading_zeros()
    }

    /// True when the device reproduces the exact integer result (lossless ADC, no noise).
    pub fn is_ideal(&self) -> bool {
        let n = &self.noise;
        self.adc_step() == 1.0
            && self.adc_range == 1.0
            && n.programming_sigma == 0.0
            && n.read_sigma == 0.0
            && (n.drift_nu == 0.0 || n.drift_time_s == 0.0)
            && n.ir_drop == 0.0
    }

    /// The drift factor on every level.
    pub fn drift_factor(&self) -> f64 {
        let n = &self.noise;
        ((n.drift_time_s + n.drift_t0_s) / n.drift_t0_s).powf(-n.drift_nu)
    }
}
