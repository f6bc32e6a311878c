//! Reduction arithmetic of the MPI transport. Values are widened on the host before they go
//! on the wire: floats (f16 and bf16 included) to f32, integers to i64, so the reduction
//! accumulates exactly as the contract says (f32 for floats, i64 for integers), and each
//! result is rounded once when it is narrowed back.

use accel_core::comm::ReduceOp;
use accel_core::comm::host::combine_f32;
use accel_core::{DType, bf16, f16};
use half::slice::HalfFloatSliceExt;

/// The accumulator type on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wide {
    F32,
    I64,
}

impl Wide {
    pub(crate) fn of(dtype: DType) -> Wide {
        if dtype.is_float() { Wide::F32 } else { Wide::I64 }
    }

    pub(crate) fn size(self) -> usize {
        match self {
            Wide::F32 => 4,
            Wide::I64 => 8,
        }
    }
}

/// Widens `raw` (elements of `dtype`) into `wide` (f32 or i64 words, as bytes).
pub(crate) fn widen(dtype: DType, raw: &[u8], wide: &mut [u8]) {
    match dtype {
        DType::F32 => wide.copy_from_slice(raw),
        DType::F16 => bytemuck::cast_slice::<u8, f16>(raw).convert_to_f32_slice(bytemuck::cast_slice_mut(wide)),
        DType::BF16 => bytemuck::cast_slice::<u8, bf16>(raw).convert_to_f32_slice(bytemuck::cast_slice_mut(wide)),
        DType::I8 => ints(wide).iter_mut().zip(raw).for_each(|(w, &b)| *w = b as i8 as i64),
        DType::U8 => ints(wide).iter_mut().zip(raw).for_each(|(w, &b)| *w = b as i64),
        _ => ints(wide).iter_mut().zip(bytemuck::cast_slice::<u8, i32>(raw)).for_each(|(w, &b)| *w = b as i64),
    }
}

fn ints(wide: &mut [u8]) -> &mut [i64] {
    bytemuck::cast_slice_mut(wide)
}

/// Applies `op`'s last step on widened values: Avg divides by `n` (integers toward zero).
pub(crate) fn finish(dtype: DType, op: ReduceOp, n: usize, wide: &mut [u8]) {
    if op == ReduceOp::Avg {
        match Wide::of(dtype) {
            Wide::F32 => bytemuck::cast_slice_mut::<u8, f32>(wide).iter_mut().for_each(|v| *v /= n as f32),
            Wide::I64 => ints(wide).iter_mut().for_each(|v| *v /= n as i64),
        }
    }
}

/// [`finish`], then narrows `wide` into `raw` (round to nearest even for f16/bf16; integers
/// keep their low bits, so Sum and Prod wrap).
pub(crate) fn finish_narrow(dtype: DType, op: ReduceOp, n: usize, wide: &mut [u8], raw: &mut [u8]) {
    finish(dtype, op, n, wide);
    match dtype {
        DType::F32 => raw.copy_from_slice(wide),
        DType::F16 => bytemuck::cast_slice_mut::<u8, f16>(raw).convert_from_f32_slice(bytemuck::cast_slice(wide)),
        DType::BF16 => bytemuck::cast_slice_mut::<u8, bf16>(raw).convert_from_f32_slice(bytemuck::cast_slice(wide)),
        DType::I8 | DType::U8 => raw.iter_mut().zip(ints(wide).iter()).for_each(|(r, &v)| *r = v as u8),
        _ => {
            bytemuck::cast_slice_mut::<u8, i32>(raw).iter_mut().zip(ints(wide).iter()).for_each(|(r, &v)| *r = v as i32)
        }
    }
}

/// `acc = acc ⊕ other` on widened values.
pub(crate) fn combine(wide: Wide, op: ReduceOp, acc: &mut [u8], other: &[u8]) {
    match wide {
        Wide::F32 => combine_f32(op, bytemuck::cast_slice_mut(acc), bytemuck::cast_slice(other)),
        Wide::I64 => {
            let pairs = ints(acc).iter_mut().zip(bytemuck::cast_slice::<u8, i64>(other));
            match op {
                ReduceOp::Sum | ReduceOp::Avg => pairs.for_each(|(a, b)| *a = a.wrapping_add(*b)),
                ReduceOp::Prod => pairs.for_each(|(a, b)| *a = a.wrapping_mul(*b)),
                ReduceOp::Max => pairs.for_each(|(a, b)| *a = (*a).max(*b)),
                ReduceOp::Min => pairs.for_each(|(a, b)| *a = (*a).min(*b)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_is_rounded_once_after_f32_accumulation() {
        // 1 + 2^-8 + 2^-8 in bf16 steps stays 1 (each step a tie to even); in f32 it is 1 + 2^-7.
        let xs = [bf16::from_f32(1.0), bf16::from_f32(2f32.powi(-8)), bf16::from_f32(2f32.powi(-8))];
        let mut acc = vec![0u8; 4];
        widen(DType::BF16, bytemuck::bytes_of(&xs[0]), &mut acc);
        for x in &xs[1..] {
            let mut w = vec![0u8; 4];
            widen(DType::BF16, bytemuck::bytes_of(x), &mut w);
            combine(Wide::F32, ReduceOp::Sum, &mut acc, &w);
        }
        let mut out = [0u8; 2];
        finish_narrow(DType::BF16, ReduceOp::Sum, 3, &mut acc, &mut out);
        assert_eq!(bytemuck::cast::<[u8; 2], bf16>(out).to_f32(), 1.0 + 2f32.powi(-7));
    }

    #[test]
    fn integer_avg_truncates_and_sum_wraps() {
        let mut acc = bytemuck::cast_slice::<i64, u8>(&[0i64]).to_vec();
        widen(DType::I8, &[(-7i8) as u8], &mut acc);
        let mut out = [0u8];
        finish_narrow(DType::I8, ReduceOp::Avg, 2, &mut acc, &mut out);
        assert_eq!(out[0] as i8, -3);
        let mut acc = bytemuck::cast_slice::<i64, u8>(&[0i64]).to_vec();
        widen(DType::U8, &[200], &mut acc);
        let other = [100i64];
        combine(Wide::I64, ReduceOp::Sum, &mut acc, bytemuck::cast_slice(&other));
        finish_narrow(DType::U8, ReduceOp::Sum, 2, &mut acc, &mut out);
        assert_eq!(out[0], 44);
    }
}
