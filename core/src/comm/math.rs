//! The reduction arithmetic of the in-process transport: decode a block of each rank's
//! elements into an accumulator (f32 for floats, i64 for integers), combine in a fixed order,
//! round once. Blocks are small (L1/L2-sized), so the extra decode pass stays in cache; f32
//! blocks are read straight into the accumulator.

use super::call::ReduceOp;
use crate::dtype::DType;
use crate::error::Result;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

/// An accumulator block.
#[derive(Debug)]
pub(crate) enum Acc {
    F(Vec<f32>),
    I(Vec<i64>),
}

impl Acc {
    fn new(dtype: DType, len: usize) -> Acc {
        if dtype.is_float() { Acc::F(vec![0.0; len]) } else { Acc::I(vec![0; len]) }
    }
}

/// How the ranks' values of one element are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// `((x[o₀] ⊕ x[o₁]) ⊕ x[o₂]) ⊕ …` over ranks `start, start+1, …` (mod n).
    Sequential { start: usize },
    /// A balanced pairwise tree over ranks `0..n` (binary-counter shape).
    Tree,
}

/// Reusable buffers of one rank's fold.
#[derive(Debug)]
pub(crate) struct Scratch {
    dtype: DType,
    block: usize,
    raw: Vec<u64>,
    out: Vec<u64>,
    pool: Vec<Acc>,
    /// The last f32 result, handed out as is (it is already encoded).
    last: Option<Acc>,
}

impl Scratch {
    /// Buffers for blocks of at most `block` elements of `dtype`.
    pub(crate) fn new(dtype: DType, block: usize) -> Scratch {
        let words = (block * dtype.size()).div_ceil(8);
        Scratch { dtype, block, raw: vec![0; words], out: vec![0; words], pool: Vec::new(), last: None }
    }

    fn take(&mut self) -> Acc {
        self.pool.pop().unwrap_or_else(|| Acc::new(self.dtype, self.block))
    }

    /// Loads `len` elements through `load` (which fills the bytes of one rank's block) into
    /// an accumulator.
    fn load(&mut self, len: usize, rank: usize, load: &mut dyn FnMut(usize, &mut [u8]) -> Result<()>) -> Result<Acc> {
        let mut acc = self.take();
        let es = self.dtype.size();
        match (&mut acc, self.dtype) {
            (Acc::F(a), DType::F32) => load(rank, bytemuck::cast_slice_mut(&mut a[..len]))?,
            (acc, dtype) => {
                let raw = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.raw)[..len * es];
                load(rank, raw)?;
                decode(dtype, raw, acc, len);
            }
        }
        Ok(acc)
    }

    /// Folds one block of `len` elements over `n` ranks in `order`, applies `op`'s final step
    /// and returns the encoded result bytes.
    pub(crate) fn fold(
        &mut self,
        op: ReduceOp,
        n: usize,
        len: usize,
        order: Order,
        load: &mut dyn FnMut(usize, &mut [u8]) -> Result<()>,
    ) -> Result<&[u8]> {
        let mut acc = match order {
            Order::Sequential { start } => {
                let mut acc = self.load(len, start % n, load)?;
                for k in 1..n {
                    let next = self.load(len, (start + k) % n, load)?;
                    combine(op, &mut acc, &next, len);
                    self.pool.push(next);
                }
                acc
            }
            Order::Tree => {
                let mut stack: Vec<(u32, Acc)> = Vec::new();
                for r in 0..n {
                    let mut cur = (0u32, self.load(len, r, load)?);
                    while stack.last().is_some_and(|(l, _)| *l == cur.0) {
                        let (level, mut left) = stack.pop().expect("checked non-empty");
                        combine(op, &mut left, &cur.1, len);
                        self.pool.push(cur.1);
                        cur = (level + 1, left);
                    }
                    stack.push(cur);
                }
                let (_, mut right) = stack.pop().expect("n >= 1");
                while let Some((_, mut left)) = stack.pop() {
                    combine(op, &mut left, &right, len);
                    self.pool.push(right);
                    right = left;
                }
                right
            }
        };
        finish(op, n, &mut acc, len);
        if self.dtype == DType::F32 && matches!(acc, Acc::F(_)) {
            // An f32 accumulator already holds the encoded result: hand it out instead of
            // copying it into `out` (one pass less per block of a large all-reduce).
            if let Some(prev) = self.last.replace(acc) {
                self.pool.push(prev);
            }
            return match &self.last {
                Some(Acc::F(a)) => Ok(bytemuck::cast_slice(&a[..len])),
                _ => unreachable!("an f32 accumulator was stored just above"),
            };
        }
        let es = self.dtype.size();
        let out = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.out)[..len * es];
        encode(self.dtype, &acc, out, len);
        self.pool.push(acc);
        Ok(out)
    }
}

fn decode(dtype: DType, raw: &[u8], acc: &mut Acc, len: usize) {
    match (acc, dtype) {
        (Acc::F(a), DType::F32) => a[..len].copy_from_slice(bytemuck::cast_slice(raw)),
        (Acc::F(a), DType::F16) => bytemuck::cast_slice::<u8, f16>(raw).convert_to_f32_slice(&mut a[..len]),
        (Acc::F(a), DType::BF16) => bytemuck::cast_slice::<u8, bf16>(raw).convert_to_f32_slice(&mut a[..len]),
        (Acc::I(a), DType::I8) => a[..len].iter_mut().zip(raw).for_each(|(a, &b)| *a = b as i8 as i64),
        (Acc::I(a), DType::U8) => a[..len].iter_mut().zip(raw).for_each(|(a, &b)| *a = b as i64),
        (Acc::I(a), DType::I32) => {
            a[..len].iter_mut().zip(bytemuck::cast_slice::<u8, i32>(raw)).for_each(|(a, &b)| *a = b as i64)
        }
        _ => unreachable!("accumulator kind follows the dtype"),
    }
}

fn encode(dtype: DType, acc: &Acc, out: &mut [u8], len: usize) {
    match (acc, dtype) {
        (Acc::F(a), DType::F32) => out.copy_from_slice(bytemuck::cast_slice(&a[..len])),
        (Acc::F(a), DType::F16) => bytemuck::cast_slice_mut::<u8, f16>(out).convert_from_f32_slice(&a[..len]),
        (Acc::F(a), DType::BF16) => bytemuck::cast_slice_mut::<u8, bf16>(out).convert_from_f32_slice(&a[..len]),
        // `as` keeps the low bits: Sum and Prod wrap to the dtype's width.
        (Acc::I(a), DType::I8) => out.iter_mut().zip(&a[..len]).for_each(|(o, &v)| *o = v as i8 as u8),
        (Acc::I(a), DType::U8) => out.iter_mut().zip(&a[..len]).for_each(|(o, &v)| *o = v as u8),
        (Acc::I(a), DType::I32) => {
            bytemuck::cast_slice_mut::<u8, i32>(out).iter_mut().zip(&a[..len]).for_each(|(o, &v)| *o = v as i32)
        }
        _ => unreachable!("accumulator kind follows the dtype"),
    }
}

/// `a = a ⊕ b`, elementwise.
fn combine(op: ReduceOp, a: &mut Acc, b: &Acc, len: usize) {
    match (a, b) {
        (Acc::F(a), Acc::F(b)) => {
            let (a, b) = (&mut a[..len], &b[..len]);
            match op {
                ReduceOp::Sum | ReduceOp::Avg => a.iter_mut().zip(b).for_each(|(a, b)| *a += *b),
                ReduceOp::Prod => a.iter_mut().zip(b).for_each(|(a, b)| *a *= *b),
                ReduceOp::Max => a.iter_mut().zip(b).for_each(|(a, &b)| *a = fmax(*a, b)),
                ReduceOp::Min => a.iter_mut().zip(b).for_each(|(a, &b)| *a = fmin(*a, b)),
            }
        }
        (Acc::I(a), Acc::I(b)) => {
            let (a, b) = (&mut a[..len], &b[..len]);
            match op {
                ReduceOp::Sum | ReduceOp::Avg => a.iter_mut().zip(b).for_each(|(a, b)| *a = a.wrapping_add(*b)),
                ReduceOp::Prod => a.iter_mut().zip(b).for_each(|(a, b)| *a = a.wrapping_mul(*b)),
                ReduceOp::Max => a.iter_mut().zip(b).for_each(|(a, b)| *a = (*a).max(*b)),
                ReduceOp::Min => a.iter_mut().zip(b).for_each(|(a, b)| *a = (*a).min(*b)),
            }
        }
        _ => unreachable!("both accumulators follow the dtype"),
    }
}

fn finish(op: ReduceOp, n: usize, acc: &mut Acc, len: usize) {
    if op != ReduceOp::Avg {
        return;
    }
    match acc {
        Acc::F(a) => a[..len].iter_mut().for_each(|v| *v /= n as f32),
        Acc::I(a) => a[..len].iter_mut().for_each(|v| *v /= n as i64),
    }
}

/// Maximum that ignores NaN (unless both are) and puts +0 above −0, so the result never
/// depends on the order of the operands.
pub(crate) fn fmax(a: f32, b: f32) -> f32 {
    if b.is_nan() || a > b || (a == b && a.is_sign_positive()) { a } else { b }
}

/// Minimum with the same rules as [`fmax`] (−0 below +0).
pub(crate) fn fmin(a: f32, b: f32) -> f32 {
    if b.is_nan() || a < b || (a == b && a.is_sign_negative()) { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_min_do_not_depend_on_operand_order() {
        let vals = [0.0f32, -0.0, 1.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for &a in &vals {
            for &b in &vals {
                assert_eq!(fmax(a, b).to_bits(), fmax(b, a).to_bits(), "max({a}, {b})");
                assert_eq!(fmin(a, b).to_bits(), fmin(b, a).to_bits(), "min({a}, {b})");
            }
        }
        assert_eq!(fmax(0.0, -0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(fmin(0.0, -0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(fmax(f32::NAN, 2.0), 2.0);
    }

    fn fold_f32(values: &[f32], order: Order, op: ReduceOp) -> f32 {
        let mut s = Scratch::new(DType::F32, 4);
        let out = s
            .fold(op, values.len(), 1, order, &mut |r, b: &mut [u8]| {
                b.copy_from_slice(&values[r].to_le_bytes());
                Ok(())
            })
            .unwrap();
        f32::from_le_bytes([out[0], out[1], out[2], out[3]])
    }

    #[test]
    fn orders_are_the_documented_ones() {
        let v = [1e8f32, 1.0, -1e8, 1.0, 3.0];
        let seq = ((((v[0] + v[1]) + v[2]) + v[3]) + v[4]).to_bits();
        assert_eq!(fold_f32(&v, Order::Sequential { start: 0 }, ReduceOp::Sum).to_bits(), seq);
        let rot = ((((v[2] + v[3]) + v[4]) + v[0]) + v[1]).to_bits();
        assert_eq!(fold_f32(&v, Order::Sequential { start: 2 }, ReduceOp::Sum).to_bits(), rot);
        let tree = (((v[0] + v[1]) + (v[2] + v[3])) + v[4]).to_bits();
        assert_eq!(fold_f32(&v, Order::Tree, ReduceOp::Sum).to_bits(), tree);
        assert_eq!(fold_f32(&[3.0, 5.0], Order::Tree, ReduceOp::Avg), 4.0);
    }
}
