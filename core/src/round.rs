//! Correct f64 → f16 / bf16 conversion: round to nearest, ties to even, once (used by every
//! f64 → half conversion in accel: `Element::from_f64`, `write_f64`, the oracle).
//!
//! `half` 2.x does not round f64 correctly: its portable path drops the low 32 mantissa bits
//! before rounding (losing the sticky bits), and its F16C path goes through f32 (rounding
//! twice). Either turns a value just above a halfway point into a tie that then rounds to even,
//! i.e. the wrong way. So accel rounds here, arithmetically: scale the value by the
//! target's quantum at its binade (a power of two, hence exact), round that to the nearest even
//! integer (exact in f64), scale back (exact), and only then convert to the 16-bit type, which
//! is now exact.

use half::{bf16, f16};

/// A binary floating-point format with `mant` explicit mantissa bits and normal exponents in
/// `min_exp..=max_exp`.
struct Format {
    mant: i32,
    min_exp: i32,
    max_exp: i32,
}

const F16: Format = Format { mant: 10, min_exp: -14, max_exp: 15 };
const BF16: Format = Format { mant: 7, min_exp: -126, max_exp: 127 };

/// `v` rounded to the nearest value of `fmt` (ties to even), as an f64; ±∞ past the overflow
/// threshold; NaN stays NaN; the sign of zero is kept.
fn round_to(v: f64, fmt: &Format) -> f64 {
    if !v.is_finite() {
        return v;
    }
    let a = v.abs();
    // Exponent of a's binade; below the smallest normal the quantum is the subnormal one.
    // (f64 subnormals are far below both formats' range, so their exponent field never matters.)
    let e = (((a.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(fmt.min_exp);
    let quantum = 2f64.powi(e - fmt.mant);
    // a / quantum and n * quantum are exact: quantum is a power of two and nothing under- or
    // overflows f64 (quantum ≥ 2⁻¹³³, a ≤ f64::MAX with e − mant ≥ −133).
    let n = (a / quantum).round_ties_even();
    let r = n * quantum;
    // Rounding may carry into the next binade; past the largest finite value,
    // (2 − 2^−mant)·2^max_exp, it overflows.
    let max = (2.0 - 2f64.powi(-fmt.mant)) * 2f64.powi(fmt.max_exp);
    let r = if r > max { f64::INFINITY } else { r };
    r.copysign(v)
}

/// `v` rounded once to the nearest f16, ties to even.
pub fn to_f16(v: f64) -> f16 {
    if v.is_nan() {
        return f16::NAN;
    }
    // The rounded value is exactly representable, so `half`'s conversion is exact.
    f16::from_f64(round_to(v, &F16))
}

/// `v` rounded once to the nearest bf16, ties to even.
pub fn to_bf16(v: f64) -> bf16 {
    if v.is_nan() {
        return bf16::NAN;
    }
    bf16::from_f64(round_to(v, &BF16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn just_above_halfway_rounds_up() {
        // 1 + 2⁻¹¹ is halfway between f16's 1 and 1 + 2⁻¹⁰; 2⁻⁴⁰ above it must round up.
        // Through f32 (or by dropping the low mantissa bits) it becomes a tie and rounds to 1.
        let v = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(to_f16(v).to_f64(), 1.0 + 2f64.powi(-10));
        assert_eq!(to_f16(-v).to_f64(), -(1.0 + 2f64.powi(-10)));
        // Same for bf16 around 1 + 2⁻⁸.
        let v = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(to_bf16(v).to_f64(), 1.0 + 2f64.powi(-7));
        // Just below halfway rounds down.
        let v = 1.0 + 2f64.powi(-11) - 2f64.powi(-40);
        assert_eq!(to_f16(v).to_f64(), 1.0);
    }

    #[test]
    fn exact_ties_go_to_even() {
        // 1 + 2⁻¹¹: tie between 1 (even) and 1 + 2⁻¹⁰ (odd) → 1.
        assert_eq!(to_f16(1.0 + 2f64.powi(-11)).to_f64(), 1.0);
        // 1 + 3·2⁻¹¹: tie between 1 + 2⁻¹⁰ (odd) and 1 + 2·2⁻¹⁰ (even) → up.
        assert_eq!(to_f16(1.0 + 3.0 * 2f64.powi(-11)).to_f64(), 1.0 + 2.0 * 2f64.powi(-10));
        assert_eq!(to_bf16(1.0 + 2f64.powi(-8)).to_f64(), 1.0);
    }

    #[test]
    fn overflow_subnormals_and_specials() {
        assert_eq!(to_f16(65504.0).to_f64(), 65504.0);
        // Halfway between 65504 and 65536 (the next, unrepresentable, step) ties to even: ∞.
        assert_eq!(to_f16(65520.0).to_f64(), f64::INFINITY);
        assert_eq!(to_f16(65519.99).to_f64(), 65504.0);
        assert_eq!(to_f16(-1e10).to_f64(), f64::NEG_INFINITY);
        assert_eq!(to_bf16(1e39).to_f64(), f64::INFINITY);
        // Smallest f16 subnormal 2⁻²⁴; half of it ties to 0, a hair above rounds up.
        assert_eq!(to_f16(2f64.powi(-24)).to_f64(), 2f64.powi(-24));
        assert_eq!(to_f16(2f64.powi(-25)).to_f64(), 0.0);
        assert_eq!(to_f16(2f64.powi(-25) * (1.0 + 2f64.powi(-40))).to_f64(), 2f64.powi(-24));
        assert_eq!(to_bf16(2f64.powi(-133)).to_f64(), 2f64.powi(-133));
        assert_eq!(to_bf16(3.0 * 2f64.powi(-135)).to_f64(), 2f64.powi(-133));
        assert!(to_f16(-0.0).is_sign_negative() && to_f16(-0.0).to_f64() == 0.0);
        assert!(to_f16(f64::NAN).is_nan() && to_bf16(f64::NAN).is_nan());
        assert_eq!(to_bf16(f64::NEG_INFINITY).to_f64(), f64::NEG_INFINITY);
        assert_eq!(to_f16(f64::MIN_POSITIVE / 4.0).to_f64(), 0.0);
    }

    #[test]
    fn every_midpoint_rounds_to_even_and_every_near_midpoint_to_its_side() {
        // Exhaustive over consecutive finite pairs (lo, hi) of both formats: the midpoint is
        // exact in f64; at it the even code wins, a relative 2⁻³⁰ of the gap either side decides.
        fn check(max_bits: u16, decode: impl Fn(u16) -> f64, encode: impl Fn(f64) -> u16) {
            for b in 0..max_bits {
                let (lo, hi) = (decode(b), decode(b + 1));
                let mid = (lo + hi) / 2.0;
                let eps = (hi - lo) * 2f64.powi(-30);
                let even = if b % 2 == 0 { b } else { b + 1 };
                assert_eq!(encode(mid), even, "midpoint of {lo:e} and {hi:e}");
                assert_eq!(encode(mid + eps), b + 1, "just above the midpoint of {lo:e} and {hi:e}");
                assert_eq!(encode(mid - eps), b, "just below the midpoint of {lo:e} and {hi:e}");
                assert_eq!(encode(lo), b);
            }
        }
        check(0x7bff, |b| f16::from_bits(b).to_f64(), |v| to_f16(v).to_bits());
        check(0x7f7f, |b| bf16::from_bits(b).to_f64(), |v| to_bf16(v).to_bits());
    }

    #[test]
    fn agrees_with_f32_rounding_where_f32_is_exact() {
        // For f32 inputs there is no double rounding, so `half::from_f32` is a correct
        // independent check. Sweep a spread of f32 bit patterns, including subnormal ranges.
        let mut bits = 1u32;
        while bits < 0x7f80_0000 {
            let x = f32::from_bits(bits);
            assert_eq!(to_f16(x as f64).to_bits(), f16::from_f32(x).to_bits(), "{x:e}");
            assert_eq!(to_bf16(x as f64).to_bits(), bf16::from_f32(x).to_bits(), "{x:e}");
            assert_eq!(to_f16(-x as f64).to_bits(), f16::from_f32(-x).to_bits(), "{x:e}");
            bits += 0x3_3333 + (bits & 0xfff);
        }
    }
}
