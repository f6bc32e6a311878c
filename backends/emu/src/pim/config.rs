//! The bank-level PIM preset: organization, DRAM timing, I/O, processing units and energy.

use crate::preset::{decode, field_error, in_range, non_negative, positive};
use accel_core::{DType, Result};
use serde::Deserialize;

/// How a processing unit combines the products of one column access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitStyle {
    /// Lane-wise SIMD (Samsung HBM-PIM): lane `l` accumulates the products of reduction
    /// indices `p ≡ l (mod lanes)`; the host reduces the lanes afterwards.
    LaneSimd,
    /// A dot product per column (SK hynix AiM): the lane products go through an adder tree
    /// into one accumulator.
    DotProduct,
    /// A general-purpose integer core per bank (UPMEM-like): exact integer MACs at an
    /// instruction-throughput rate.
    IntCore,
}

/// Number format of the units' accumulators (and of the lane products on `LaneSimd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccFormat {
    /// IEEE binary16, rounded to nearest even after every operation.
    F16,
    /// bfloat16, rounded to nearest even after every operation.
    Bf16,
    /// IEEE binary32.
    F32,
    /// Wrapping 32-bit integers.
    I32,
}

/// A validated PIM description.
#[derive(Debug, Clone, PartialEq)]
pub struct PimConfig {
    /// Preset name.
    pub name: String,
    /// Where the numbers come from.
    pub source: String,
    /// Channels (pseudo-channels for HBM).
    pub channels: u64,
    /// Banks per channel.
    pub banks_per_channel: u64,
    /// Banks sharing one processing unit.
    pub banks_per_unit: u64,
    /// Rows per bank.
    pub rows_per_bank: u64,
    /// Bytes per row of one bank.
    pub row_bytes: u64,
    /// Bytes one column access delivers to a unit.
    pub column_bytes: u64,
    /// DRAM clock period in ns.
    pub tck_ns: f64,
    /// Activate-to-read delay (tCK).
    pub trcd: u64,
    /// Precharge time (tCK).
    pub trp: u64,
    /// tCK between two MAC column operations of one unit (tCCD_L, or the power-limited gap).
    pub mac_interval: u64,
    /// Fixed tCK per kernel for mode switches and unit programming.
    pub mode_switch: u64,
    /// Data pins per channel.
    pub pins_per_channel: u64,
    /// Gb/s per pin.
    pub pin_gbps: f64,
    /// Lanes (multipliers) per unit.
    pub lanes: u64,
    /// Unit style.
    pub style: UnitStyle,
    /// Input formats the units take (i8/u8 for int8).
    pub formats: Vec<DType>,
    /// Accumulator format.
    pub accumulate: AccFormat,
    /// Energy table.
    pub energy: PimEnergy,
}

/// Per-bit and per-action energies of a PIM device (pJ).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PimEnergy {
    /// Where the numbers come from.
    pub source: String,
    /// Per bit read from a bank and consumed next to it.
    pub internal_pj_per_bit: f64,
    /// Per bit moved over the off-chip interface.
    pub external_pj_per_bit: f64,
    /// Per row activation (and precharge).
    pub act_pj: f64,
    /// Per MAC.
    pub mac_pj: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    kind: String,
    source: String,
    organization: RawOrg,
    timing: RawTiming,
    io: RawIo,
    unit: RawUnit,
    energy: PimEnergy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    channels: u64,
    banks_per_channel: u64,
    banks_per_unit: u64,
    rows_per_bank: u64,
    row_bytes: u64,
    column_bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    tck_ns: f64,
    trcd: u64,
    trp: u64,
    mac_interval: u64,
    mode_switch: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIo {
    pins_per_channel: u64,
    pin_gbps: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    style: String,
    lanes: u64,
    formats: Vec<String>,
    accumulate: String,
}

impl PimConfig {
    pub(crate) fn from_table(name: &str, table: toml::Table) -> Result<PimConfig> {
        let raw: Raw = decode(name, table)?;
        let _ = (&raw.name, &raw.kind);
        let o = &raw.organization;
        in_range(name, "organization.channels", o.channels, 1, 1 << 16)?;
        in_range(name, "organization.banks_per_channel", o.banks_per_channel, 1, 1 << 16)?;
        in_range(name, "organization.banks_per_unit", o.banks_per_unit, 1, o.banks_per_channel)?;
        if !o.banks_per_channel.is_multiple_of(o.banks_per_unit) {
            return Err(field_error(
                name,
                "organization.banks_per_unit",
                &format!("a divisor of banks_per_channel = {}", o.banks_per_channel),
                o.banks_per_unit,
            ));
        }
        in_range(name, "organization.rows_per_bank", o.rows_per_bank, 1, 1 << 32)?;
        in_range(name, "organization.row_bytes", o.row_bytes, 1, 1 << 20)?;
        in_range(name, "organization.column_bytes", o.column_bytes, 1, o.row_bytes)?;
        let t = &raw.timing;
        positive(name, "timing.tck_ns", t.tck_ns)?;
        in_range(name, "timing.trcd", t.trcd, 0, 1 << 20)?;
        in_range(name, "timing.trp", t.trp, 0, 1 << 20)?;
        in_range(name, "timing.mac_interval", t.mac_interval, 1, 1 << 20)?;
        in_range(name, "timing.mode_switch", t.mode_switch, 0, 1 << 32)?;
        in_range(name, "io.pins_per_channel", raw.io.pins_per_channel, 1, 1 << 12)?;
        positive(name, "io.pin_gbps", raw.io.pin_gbps)?;
        let u = &raw.unit;
        in_range(name, "unit.lanes", u.lanes, 1, 1 << 12)?;
        let style = match u.style.as_str() {
            "lane_simd" => UnitStyle::LaneSimd,
            "dot_product" => UnitStyle::DotProduct,
            "int_core" => UnitStyle::IntCore,
            other => {
                return Err(field_error(
                    name,
                    "unit.style",
                    "lane_simd, dot_product or int_core",
                    format!("{other:?}"),
                ));
            }
        };
        let mut formats = Vec::new();
        for f in &u.formats {
            match f.as_str() {
                "int8" => formats.extend([DType::I8, DType::U8]),
                "fp16" => formats.push(DType::F16),
                "bf16" => formats.push(DType::BF16),
                other => return Err(field_error(name, "unit.formats", "int8, fp16 or bf16", format!("{other:?}"))),
            }
        }
        if formats.is_empty() {
            return Err(field_error(name, "unit.formats", "at least one format", "[]"));
        }
        let accumulate = match u.accumulate.as_str() {
            "fp16" => AccFormat::F16,
            "bf16" => AccFormat::Bf16,
            "fp32" => AccFormat::F32,
            "int32" => AccFormat::I32,
            other => {
                return Err(field_error(name, "unit.accumulate", "fp16, bf16, fp32 or int32", format!("{other:?}")));
            }
        };
        let int_units = style == UnitStyle::IntCore;
        let int_formats = formats.iter().all(|d| d.is_int8());
        if int_units != int_formats || int_units != (accumulate == AccFormat::I32) {
            return Err(field_error(
                name,
                "unit.style",
                "int_core with int8 formats and int32 accumulation, or a float style with float formats and accumulation",
                format!("{} with {:?} accumulating in {}", u.style, u.formats, u.accumulate),
            ));
        }
        let e = &raw.energy;
        for (field, v) in [
            ("energy.internal_pj_per_bit", e.internal_pj_per_bit),
            ("energy.external_pj_per_bit", e.external_pj_per_bit),
            ("energy.act_pj", e.act_pj),
            ("energy.mac_pj", e.mac_pj),
        ] {
            non_negative(name, field, v)?;
        }
        Ok(PimConfig {
            name: name.into(),
            source: raw.source,
            channels: o.channels,
            banks_per_channel: o.banks_per_channel,
            banks_per_unit: o.banks_per_unit,
            rows_per_bank: o.rows_per_bank,
            row_bytes: o.row_bytes,
            column_bytes: o.column_bytes,
            tck_ns: t.tck_ns,
            trcd: t.trcd,
            trp: t.trp,
            mac_interval: t.mac_interval,
            mode_switch: t.mode_switch,
            pins_per_channel: raw.io.pins_per_channel,
            pin_gbps: raw.io.pin_gbps,
            lanes: u.lanes,
            style,
            formats,
            accumulate,
            energy: raw.energy,
        })
    }

    /// Processing units in the device.
    pub fn units(&self) -> u64 {
        self.channels * (self.banks_per_channel / self.banks_per_unit)
    }

    /// Seconds between two MAC column operations of one unit.
    pub fn mac_period_s(&self) -> f64 {
        self.mac_interval as f64 * self.tck_ns * 1e-9
    }

    /// Peak rate in ops per second (2 per MAC): units × lanes × 2 / MAC period.
    pub fn peak_ops_per_s(&self) -> f64 {
        (self.units() * self.lanes) as f64 * 2.0 / self.mac_period_s()
    }

    /// Bandwidth the units draw from their banks, bytes per second.
    pub fn internal_bytes_per_s(&self) -> f64 {
        (self.units() * self.column_bytes) as f64 / self.mac_period_s()
    }

    /// Off-chip bandwidth, bytes per second.
    pub fn external_bytes_per_s(&self) -> f64 {
        (self.channels * self.pins_per_channel) as f64 * self.pin_gbps * 1e9 / 8.0
    }

    /// Bytes the banks hold.
    pub fn capacity_bytes(&self) -> u64 {
        self.channels
            .saturating_mul(self.banks_per_channel)
            .saturating_mul(self.rows_per_bank)
            .saturating_mul(self.row_bytes)
    }
}
