//! Host-side test data: seeded generators per dtype and value domain, and [`HostTensor`], a
//! row-major array of exactly representable values that uploads to any device.
//!
//! Every generated value is already rounded to its dtype (through the same conversion a cast
//! uses), so `data` is exactly what the device holds and the reference and the device under
//! test see bit-identical inputs.

use crate::rng::Rng;
use accel::dtype::{read_f64, write_f64};
use accel::{DType, Device, Result, Tensor};

/// Which values a generator draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Domain {
    /// Modest values: floats in `[-2, 2)`; i8 in `-64..=63`, u8 in `0..=127`, i32 in
    /// `-1000..=1000` (sums of many stay far from overflow).
    Standard,
    /// Strictly positive (sqrt, log, rsqrt, recip, pow bases): floats in `[0.25, 4)`; integers
    /// from 1 to their standard maximum.
    Positive,
    /// Integers over the dtype's whole range (wrapping ops); floats in `[-100, 100)`.
    Full,
    /// Floats in `[lo, hi)`; integers in `lo..=hi` clipped to the dtype's range.
    Uniform(f64, f64),
    /// Half special values (NaN, ±inf, ±0, rounding ties, values just inside and outside every
    /// integer range, f16 overflow and subnormals), half uniform in `[-300, 300)`; integers:
    /// their extremes mixed with full-range values.
    Special,
    /// Standard values with about a quarter replaced by `-inf` (attention masks); integers as
    /// [`Domain::Standard`].
    Masked,
}

impl Domain {
    /// The largest magnitude of a product of two values drawn from this domain for a MAC op
    /// with `dtype` inputs, zero points included (int8 operands shifted by a zero point stay
    /// within 255); infinite for domains with special values. Used to scale the error bound a
    /// device states ([`crate::Tolerance::with_device_bound`]).
    pub fn max_product(self, dtype: DType) -> f64 {
        if dtype.is_int8() {
            return 255.0 * 255.0;
        }
        let m: f64 = match self {
            Domain::Standard | Domain::Masked => 2.0,
            Domain::Positive => 4.0,
            Domain::Full => 100.0,
            Domain::Uniform(lo, hi) => lo.abs().max(hi.abs()),
            Domain::Special => f64::INFINITY,
        };
        m * m
    }
}

/// Float values that exercise rounding, saturation and IEEE special cases.
pub const FLOAT_SPECIALS: &[f64] = &[
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    127.5,
    128.0,
    -128.5,
    -129.0,
    255.5,
    256.0,
    300.7,
    -300.7,
    65504.0,
    65519.0,
    65520.0,
    1.0e5,
    -1.0e5,
    3.0e38,
    -3.0e38,
    2147483520.0,
    3.0e9,
    -3.0e9,
    1.0e-8,
    -1.0e-8,
    6.0e-8,
    1.000_488_281_25, // 1 + 2^-11: an f16 tie (rounds to 1)
    1.001_464_843_75, // 1 + 3·2^-11: an f16 tie (rounds up to even)
    1.003_906_25,     // 1 + 2^-8: a bf16 tie
    1.011_718_75,     // 1 + 3·2^-8: a bf16 tie
    100.0,
    -100.0,
];

/// Rounds `v` to the nearest value of `dtype` exactly as a cast does (RNE for floats; toward
/// zero and saturating for integers, NaN to 0).
pub fn quantize(v: f64, dtype: DType) -> f64 {
    let mut buf = [0u8; 4];
    write_f64(&mut buf, dtype, 0, v);
    read_f64(&buf, dtype, 0)
}

fn standard_int_range(dtype: DType) -> (i64, i64) {
    match dtype {
        DType::I8 => (-64, 63),
        DType::U8 => (0, 127),
        _ => (-1000, 1000),
    }
}

fn full_int_range(dtype: DType) -> (i64, i64) {
    let (lo, hi) = dtype.int_range().unwrap_or((-1000.0, 1000.0));
    (lo as i64, hi as i64)
}

/// One value of `dtype` from `domain` (already rounded to the dtype).
pub fn gen_value(rng: &mut Rng, dtype: DType, domain: Domain) -> f64 {
    let raw = if dtype.is_float() {
        match domain {
            Domain::Standard => rng.uniform(-2.0, 2.0),
            Domain::Positive => rng.uniform(0.25, 4.0),
            Domain::Full => rng.uniform(-100.0, 100.0),
            Domain::Uniform(lo, hi) => rng.uniform(lo, hi),
            Domain::Special => {
                if rng.chance(0.5) {
                    FLOAT_SPECIALS[rng.below(FLOAT_SPECIALS.len())]
                } else {
                    rng.uniform(-300.0, 300.0)
                }
            }
            Domain::Masked => {
                if rng.chance(0.25) {
                    f64::NEG_INFINITY
                } else {
                    rng.uniform(-2.0, 2.0)
                }
            }
        }
    } else {
        let (lo, hi) = match domain {
            Domain::Standard | Domain::Masked => standard_int_range(dtype),
            Domain::Positive => (1, standard_int_range(dtype).1),
            Domain::Full => full_int_range(dtype),
            Domain::Uniform(lo, hi) => {
                let (flo, fhi) = full_int_range(dtype);
                ((lo.ceil() as i64).clamp(flo, fhi), (hi.floor() as i64).clamp(flo, fhi))
            }
            Domain::Special => {
                let (lo, hi) = full_int_range(dtype);
                if rng.chance(0.4) {
                    let picks = [lo, lo + 1, hi, hi - 1, 0, 1, -1];
                    let v = picks[rng.below(picks.len())];
                    return v.clamp(lo, hi) as f64;
                }
                (lo, hi)
            }
        };
        rng.int(lo, hi.max(lo)) as f64
    };
    quantize(raw, dtype)
}

/// `n` values of `dtype` from `domain`.
pub fn gen_values(rng: &mut Rng, dtype: DType, domain: Domain, n: usize) -> Vec<f64> {
    (0..n).map(|_| gen_value(rng, dtype, domain)).collect()
}

/// A row-major host array whose values are exactly representable in `dtype`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dims.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Values, row-major, each exactly representable in `dtype`.
    pub data: Vec<f64>,
}

impl HostTensor {
    /// Random values of `dtype` from `domain`.
    pub fn random(rng: &mut Rng, shape: &[usize], dtype: DType, domain: Domain) -> HostTensor {
        let n = shape.iter().product();
        HostTensor { shape: shape.to_vec(), dtype, data: gen_values(rng, dtype, domain, n) }
    }

    /// Given values, each rounded to `dtype` (`values.len()` must be the element count).
    pub fn from_values(shape: &[usize], dtype: DType, values: &[f64]) -> HostTensor {
        assert_eq!(values.len(), shape.iter().product::<usize>(), "HostTensor::from_values: length");
        HostTensor { shape: shape.to_vec(), dtype, data: values.iter().map(|&v| quantize(v, dtype)).collect() }
    }

    /// Little-endian element bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; self.data.len() * self.dtype.size()];
        for (i, &v) in self.data.iter().enumerate() {
            write_f64(&mut bytes, self.dtype, i, v);
        }
        bytes
    }

    /// A contiguous tensor on `device` holding these values.
    pub fn upload(&self, device: &Device) -> Result<Tensor> {
        Tensor::from_bytes(device, &self.shape, self.dtype, &self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_representable() {
        let mut rng = Rng::new(1);
        for dtype in DType::ALL {
            for domain in [Domain::Standard, Domain::Positive, Domain::Full, Domain::Special, Domain::Masked] {
                for v in gen_values(&mut rng, dtype, domain, 200) {
                    assert!(v.is_nan() || quantize(v, dtype) == v, "{dtype} {domain:?} {v}");
                    if domain == Domain::Positive {
                        assert!(v > 0.0);
                    }
                }
            }
        }
    }
}
