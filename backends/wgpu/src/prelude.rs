//! The host-generated head of each kernel: per-binding dtype loads, the output's stores and
//! the op's constants. Together with the kernel body it is the pipeline cache's key, so one
//! (kernel, dtypes, op) combination compiles once per device.

use accel_core::DType;
use std::fmt::Write;

/// `ldf{name}(e) -> f32` and `ldi{name}(e) -> i32` for element offset `e` of a binding whose
/// words are read by `word` (a WGSL expression template with `W` for the word index).
fn loads(out: &mut String, name: &str, word: &str, dtype: DType) {
    let w = |idx: &str| word.replace('W', idx);
    let (f, i) = match dtype {
        DType::F32 => (format!("bitcast<f32>({})", w("e")), format!("i32(ldf{name}(e))")),
        DType::F16 => (format!("f16_to_f32(ld_field({}, e, 16u))", w("e / 2u")), format!("i32(ldf{name}(e))")),
        DType::BF16 => (format!("bf16_to_f32(ld_field({}, e, 16u))", w("e / 2u")), format!("i32(ldf{name}(e))")),
        DType::I8 => {
            (format!("f32(ldi{name}(e))"), format!("bitcast<i32>(ld_field({}, e, 8u) << 24u) >> 24u", w("e / 4u")))
        }
        DType::U8 => (format!("f32(ldi{name}(e))"), format!("i32(ld_field({}, e, 8u))", w("e / 4u"))),
        DType::I32 => (format!("f32(ldi{name}(e))"), format!("bitcast<i32>({})", w("e"))),
    };
    let _ = writeln!(out, "fn ldf{name}(e: u32) -> f32 {{ return {f}; }}");
    let _ = writeln!(out, "fn ldi{name}(e: u32) -> i32 {{ return {i}; }}");
}

/// Saturation bounds of an integer dtype (floats: the i32 range, unused).
pub(crate) fn int_range(dtype: DType) -> (i32, i32) {
    match dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        _ => (i32::MIN, i32::MAX),
    }
}

/// A WGSL i32 literal (i32::MIN has no literal form).
pub(crate) fn int_lit(v: i32) -> String {
    if v == i32::MIN { "(-2147483647 - 1)".into() } else { format!("{v}") }
}

/// A WGSL f32 literal that is exact (bit pattern).
pub(crate) fn f32_lit(v: f32) -> String {
    format!("bitcast<f32>({}u)", v.to_bits())
}

/// The prelude: loads for `inputs` (slots 0..), loads (`ldfo`/`ldio`) and stores (`stf`/`sti`)
/// for the output dtype, and `OUT_LO`/`OUT_HI`.
pub(crate) fn prelude(inputs: &[DType], out_dtype: DType) -> String {
    let mut s = String::new();
    for (slot, &d) in inputs.iter().enumerate() {
        loads(&mut s, &slot.to_string(), &format!("in{slot}[W]"), d);
    }
    loads(&mut s, "o", "atomicLoad(&out[W])", out_dtype);
    let (lo, hi) = int_range(out_dtype);
    let _ = writeln!(s, "const OUT_LO: i32 = {};\nconst OUT_HI: i32 = {};", int_lit(lo), int_lit(hi));
    let (stf, sti) = match out_dtype {
        DType::F32 => ("atomicStore(&out[e], bitcast<u32>(v));", "stf(e, f32(v));"),
        DType::F16 => ("st_field(e, f32_to_f16(v), 16u);", "stf(e, f32(v));"),
        DType::BF16 => ("st_field(e, f32_to_bf16(v), 16u);", "stf(e, f32(v));"),
        DType::I8 | DType::U8 => ("sti(e, f2i(v, OUT_LO, OUT_HI));", "st_field(e, bitcast<u32>(v) & 0xffu, 8u);"),
        DType::I32 => ("sti(e, f2i(v, OUT_LO, OUT_HI));", "atomicStore(&out[e], bitcast<u32>(v));"),
    };
    let _ = writeln!(s, "fn stf(e: u32, v: f32) {{ {stf} }}\nfn sti(e: u32, v: i32) {{ {sti} }}");
    s
}
