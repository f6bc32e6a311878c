//! Presets: device descriptions as TOML data with their sources.
//!
//! Every preset file has `name`, `kind` (`systolic`, `pim`, `analog`) and `source` (where its
//! numbers come from) at the top level, then the tables of its model. Unknown fields are
//! rejected (a typo must not silently fall back to a default), and every number is checked
//! for physical sense (no zero banks, no negative bandwidth, no 0-bit ADC); the error names
//! the preset and the field. [`BUILTIN`] lists the shipped files; users load their own with
//! [`Preset::from_toml`].

use crate::analog::AnalogConfig;
use crate::pim::PimConfig;
use crate::systolic::SystolicConfig;
use accel_core::{Error, Result};
use serde::de::DeserializeOwned;

/// The preset files shipped with accel-emu: (file name, contents).
pub const BUILTIN: &[(&str, &str)] = &[
    ("scalesim-32x32.toml", include_str!("../presets/scalesim-32x32.toml")),
    ("tpu-v1.toml", include_str!("../presets/tpu-v1.toml")),
    ("eyeriss.toml", include_str!("../presets/eyeriss.toml")),
    ("hbm2-pim.toml", include_str!("../presets/hbm2-pim.toml")),
    ("gddr6-aim.toml", include_str!("../presets/gddr6-aim.toml")),
    ("upmem.toml", include_str!("../presets/upmem.toml")),
    ("isaac.toml", include_str!("../presets/isaac.toml")),
    ("neurosim-rram.toml", include_str!("../presets/neurosim-rram.toml")),
];

/// A parsed, validated device description.
#[derive(Debug, Clone, PartialEq)]
pub enum Preset {
    /// A systolic-array NPU.
    Systolic(SystolicConfig),
    /// A bank-level DRAM PIM device.
    Pim(PimConfig),
    /// An analog crossbar.
    Analog(AnalogConfig),
}

/// The error for a bad field of a preset.
pub(crate) fn field_error(preset: &str, field: &str, expected: &str, got: impl ToString) -> Error {
    Error::invalid("preset", format!("{preset}: {field}"), expected, got.to_string())
}

/// Checks that a number is finite and > 0.
pub(crate) fn positive(preset: &str, field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 { Ok(()) } else { Err(field_error(preset, field, "a finite value > 0", v)) }
}

/// Checks that a number is finite and >= 0.
pub(crate) fn non_negative(preset: &str, field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 { Ok(()) } else { Err(field_error(preset, field, "a finite value >= 0", v)) }
}

/// Checks that an integer lies in `lo..=hi`.
pub(crate) fn in_range(preset: &str, field: &str, v: u64, lo: u64, hi: u64) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(field_error(preset, field, &format!("an integer in {lo}..={hi}"), v))
    }
}

/// Deserializes one model's tables, rejecting unknown fields, with the preset named in errors.
pub(crate) fn decode<T: DeserializeOwned>(name: &str, table: toml::Table) -> Result<T> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| field_error(name, "(structure)", "a field of this preset kind", e.message()))
}

impl Preset {
    /// Parses and validates a preset file.
    pub fn from_toml(text: &str) -> Result<Preset> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::invalid("preset", "(file)", "valid TOML", e.message().to_string()))?;
        let name = match table.get("name").and_then(|v| v.as_str()) {
            Some(n) if !n.trim().is_empty() => n.to_string(),
            _ => return Err(field_error("(unnamed)", "name", "a non-empty string", "missing or empty")),
        };
        match table.get("source").and_then(|v| v.as_str()) {
            Some(s) if !s.trim().is_empty() => {}
            _ => return Err(field_error(&name, "source", "a non-empty string citing the numbers' origin", "missing")),
        }
        let kind = table.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        match kind.as_str() {
            "systolic" => Ok(Preset::Systolic(SystolicConfig::from_table(&name, table)?)),
            "pim" => Ok(Preset::Pim(PimConfig::from_table(&name, table)?)),
            "analog" => Ok(Preset::Analog(AnalogConfig::from_table(&name, table)?)),
            other => Err(field_error(&name, "kind", "\"systolic\", \"pim\" or \"analog\"", format!("{other:?}"))),
        }
    }

    /// A shipped preset by name (`tpu-v1`, `hbm2-pim`, ...).
    pub fn builtin(name: &str) -> Result<Preset> {
        for (file, text) in BUILTIN {
            if file.trim_end_matches(".toml") == name {
                return Preset::from_toml(text);
            }
        }
        let names: Vec<&str> = BUILTIN.iter().map(|(f, _)| f.trim_end_matches(".toml")).collect();
        Err(Error::invalid("preset", "name", format!("one of {names:?}"), name))
    }

    /// The preset's name.
    pub fn name(&self) -> &str {
        match self {
            Preset::Systolic(c) => &c.name,
            Preset::Pim(c) => &c.name,
            Preset::Analog(c) => &c.name,
        }
    }
}
