//! Presets: every shipped file loads and cites its source; malformed or physically impossible
//! descriptions are rejected with a message naming the field.

use accel_emu::Preset;
use accel_emu::preset::BUILTIN;

#[test]
fn every_builtin_preset_loads_with_a_source() {
    for (file, text) in BUILTIN {
        let p = Preset::from_toml(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(format!("{}.toml", p.name()), *file);
        assert!(text.contains("source = \""), "{file} cites no source");
    }
    for name in accel_emu::REGISTERED {
        accel_emu::device(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

fn builtin(file: &str) -> &'static str {
    BUILTIN.iter().find(|(f, _)| *f == file).unwrap().1
}

fn rejects(text: &str, field: &str) {
    let err = Preset::from_toml(text).expect_err("a bad preset must be rejected").to_string();
    assert!(err.contains(field), "error does not name {field}: {err}");
}

#[test]
fn bad_presets_name_the_field() {
    let pim = builtin("hbm2-pim.toml");
    rejects(&pim.replace("banks_per_channel = 16", "banks_per_channel = 0"), "organization.banks_per_channel");
    rejects(&pim.replace("pin_gbps = 2.4", "pin_gbps = -2.4"), "io.pin_gbps");
    rejects(&pim.replace("accumulate = \"fp16\"", "accumulate = \"fp8\""), "unit.accumulate");
    let npu = builtin("tpu-v1.toml");
    rejects(&npu.replace("dram_gbs = 34.0", "dram_gbs = -34.0"), "memory.dram_gbs");
    rejects(&npu.replace("rows = 256", "rows = 0"), "array.rows");
    rejects(&npu.replace("dataflow = \"ws\"", "dataflow = \"xs\""), "array.dataflow");
    rejects(&npu.replace("clock_mhz = 700.0", "clock_mhz = 700.0\nclock_ghz = 1.0"), "clock_ghz");
    rejects(&npu.replace("kind = \"systolic\"", "kind = \"tpu\""), "kind");
    rejects(&npu.replace("source = \"", "sauce = \""), "source");
    rejects("name = \"x\"\nkind = ", "TOML");
    let xbar = builtin("isaac.toml");
    rejects(&xbar.replace("adc_bits = 9", "adc_bits = 0"), "crossbar.adc_bits");
    rejects(&xbar.replace("adc_range = 1.0", "adc_range = 1.5"), "crossbar.adc_range");
    rejects(&xbar.replace("weight_bits = 8", "weight_bits = 4"), "crossbar.weight_bits");
}
