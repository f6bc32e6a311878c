//! Correct f64 → f16 / bf16 conversion: round to nearest, ties to even, once (used by every
//! f64 → half conversion in accel: `Element::from_f64`, `write_f64`, the oracle, the CPU
//! kernels).
//!
//! `half` 2.x does not round f64 correctly: its portable path drops the low 32 mantissa bits
//! before rounding (losing the sticky bits), and its F16C path goes through f32 (rounding
//! twice). Either turns a value just above a halfway point into a tie that then rounds to even,
//! i.e. the wrong way. accel rounds to f32 with round-to-odd first: f32 keeps at least two more
//! bits than f16 or bf16 everywhere in their ranges (subnormals included), and a round-to-odd
//! intermediate with two spare bits makes the second, round-to-nearest-even step (`half`'s
//! correct f32 conversion) equal to one correct rounding of the original value.

use half::{bf16, f16};

/// `v` rounded to f32 with round-to-odd: truncate toward zero, then set the last mantissa bit
/// when anything was cut off. Exact values, infinities and NaN pass through.
#[inline]
pub fn f64_to_f32_odd(v: f64) -> f32 {
    let f = v as f32;
    if !f.is_finite() || f as f64 == v {
        return f;
    }
    let mut bits = f.to_bits();
    if (f as f64).abs() > v.abs() {
        // `as` rounded away from zero: step the magnitude back (f is non-zero here).
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// `v` rounded once to the nearest f16, ties to even.
#[inline]
pub fn to_f16(v: f64) -> f16 {
    f16::from_f32(f64_to_f32_odd(v))
}

/// `v` rounded once to the nearest bf16, ties to even.
#[inline]
pub fn to_bf16(v: f64) -> bf16 {
    bf16::from_f32(f64_to_f32_odd(v))
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
