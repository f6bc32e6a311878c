//! Per-dtype tolerances and the elementwise comparison of a device's output with the oracle's.
//!
//! A value passes when `|got − expected| ≤ abs + rel·|expected|`; NaN must meet NaN and an
//! infinity must meet the same infinity, whatever the tolerance.
//!
//! | tolerance | f32 | f16 | bf16 | i8 / u8 / i32 |
//! |---|---|---|---|---|
//! | [`Tolerance::elementwise`] (rel, abs) | 1e-5, 1e-6 | 2e-3, 1e-5 | 1.6e-2, 1e-4 | exact |
//! | [`Tolerance::reduction`] (K terms), both rel and abs × √K | 1e-5 | 2e-3 | 1.6e-2 | exact |
//! | [`Tolerance::requantized`] | | | | off by at most 1 |
//!
//! Why these numbers: a backend computes floats in (at least) f32 and rounds once into the
//! output dtype, while the oracle accumulates in f64; so f16/bf16 results may differ by about
//! one unit in the last place (2⁻¹⁰, 2⁻⁷ relative) and f32 results by accumulated rounding,
//! which grows like √K for K-term sums of random-sign data. Integer results are exact by
//! contract (wrapping included). Requantized outputs may differ by one where a float
//! accumulator lands next to a rounding boundary.

use accel::{DType, Device, ErrorBound, OpKind};
use std::fmt::Write;

/// `|got − expected| ≤ abs + rel·|expected|`, with NaN = NaN and ±inf = ±inf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub abs: f64,
    /// Relative part.
    pub rel: f64,
}

impl Tolerance {
    /// Bit-exact (up to the sign of zero).
    pub const EXACT: Tolerance = Tolerance { abs: 0.0, rel: 0.0 };

    /// For one rounding of a scalar function into `dtype` (unary, binary, cast, max/min).
    pub fn elementwise(dtype: DType) -> Tolerance {
        match dtype {
            DType::F32 => Tolerance { abs: 1e-6, rel: 1e-5 },
            DType::F16 => Tolerance { abs: 1e-5, rel: 2e-3 },
            DType::BF16 => Tolerance { abs: 1e-4, rel: 1.6e-2 },
            _ => Tolerance::EXACT,
        }
    }

    /// For a result of `dtype` accumulated over `k` terms (matmul, conv, sum, mean, softmax).
    pub fn reduction(dtype: DType, k: usize) -> Tolerance {
        let s = (k.max(1) as f64).sqrt();
        let base = match dtype {
            DType::F32 => 1e-5,
            DType::F16 => 2e-3,
            DType::BF16 => 1.6e-2,
            _ => return Tolerance::EXACT,
        };
        Tolerance { abs: base * s, rel: base * s }
    }

    /// For requantized i8/u8 outputs: off by at most one.
    pub fn requantized() -> Tolerance {
        Tolerance { abs: 1.0, rel: 0.0 }
    }

    /// This tolerance widened by the error bound `device` states for (`kind`, `dtype`), for
    /// a reduction of `terms` products of magnitude at most `max_product` (unchanged when the
    /// device states none). Emulated devices with narrow accumulators or analog conversion
    /// state such bounds; the suite then checks them against exactly what they promise.
    pub fn with_device_bound(
        self,
        device: &Device,
        kind: OpKind,
        dtype: DType,
        terms: usize,
        max_product: f64,
    ) -> Tolerance {
        self.widened(device.capabilities().error_bound(kind, dtype), terms, max_product, 1.0)
    }

    /// This tolerance widened by `factor ×` a stated bound (a factor above 1 covers what an
    /// epilogue does to the accumulator: an activation's slope, a requantization scale).
    pub fn widened(self, bound: Option<ErrorBound>, terms: usize, max_product: f64, factor: f64) -> Tolerance {
        match bound {
            Some(b) => {
                Tolerance { abs: self.abs + factor * b.abs_at(terms, max_product), rel: self.rel + factor * b.rel }
            }
            None => self,
        }
    }

    /// True when `got` is acceptable for `expected`.
    pub fn accepts(&self, got: f64, expected: f64) -> bool {
        if expected.is_nan() || got.is_nan() {
            return expected.is_nan() && got.is_nan();
        }
        if expected.is_infinite() || got.is_infinite() {
            return got == expected;
        }
        (got - expected).abs() <= self.abs + self.rel * expected.abs()
    }
}

/// Row-major multi-index of flat index `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (slot, &d) in idx.iter_mut().zip(shape).rev() {
        if d > 0 {
            *slot = i % d;
            i /= d;
        }
    }
    idx
}

/// Compares `got` with `expected` (both row-major over `shape`). `None` when every element
/// passes; otherwise a report of the mismatch count, the largest error and the first
/// `max_report` mismatching indices with got/expected.
pub fn compare(got: &[f64], expected: &[f64], shape: &[usize], tol: Tolerance, max_report: usize) -> Option<String> {
    if got.len() != expected.len() {
        return Some(format!("got {} elements, expected {}", got.len(), expected.len()));
    }
    let mut bad = 0usize;
    let mut worst = 0.0f64;
    let mut lines = String::new();
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        if tol.accepts(g, e) {
            continue;
        }
        bad += 1;
        let err = (g - e).abs();
        if err.is_finite() {
            worst = worst.max(err);
        }
        if bad <= max_report {
            let _ = writeln!(
                lines,
                "    at {:?} (flat {i}): got {g:e}, expected {e:e}, |diff| {err:e}, allowed {:e}",
                unravel(i, shape),
                tol.abs + tol.rel * e.abs()
            );
        }
    }
    (bad > 0).then(|| {
        format!(
            "{bad} of {} elements differ (largest finite |diff| {worst:e}; tolerance abs {:e} + rel {:e}):\n{lines}",
            got.len(),
            tol.abs,
            tol.rel
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_must_match() {
        let t = Tolerance { abs: 1.0, rel: 1.0 };
        assert!(t.accepts(f64::NAN, f64::NAN));
        assert!(!t.accepts(0.0, f64::NAN));
        assert!(!t.accepts(f64::NAN, 0.0));
        assert!(t.accepts(f64::INFINITY, f64::INFINITY));
        assert!(!t.accepts(1e300, f64::INFINITY));
        assert!(!t.accepts(f64::NEG_INFINITY, f64::INFINITY));
        assert!(Tolerance::EXACT.accepts(-0.0, 0.0));
    }

    #[test]
    fn report_names_indices() {
        let r = compare(&[1.0, 2.0, 3.0, 5.0], &[1.0, 2.0, 3.0, 4.0], &[2, 2], Tolerance::EXACT, 4).unwrap();
        assert!(r.contains("[1, 1]"), "{r}");
        assert!(compare(&[1.0], &[1.0], &[1], Tolerance::EXACT, 4).is_none());
    }
}
