//! Portable families in plain Rust (auto-vectorised for the compile target's baseline): the
//! oracle-shaped fallback every machine has, and the finishing code the SIMD families share
//! for their edge cases.

use super::{Family, FastAct, Fin, OutKind, TileIo, act_f32};
use crate::cpu::dtype::Elem;
use crate::cpu::kernel::Acc;
use half::{bf16, f16};

/// f32 GEMM, 4 × 16 tile.
pub(crate) struct ScalarF32;
/// Int8 GEMM on zero-point-adjusted i32 values, 4 × 16 tile (wrapping).
pub(crate) struct ScalarI32;

const MR: usize = 4;
const NR: usize = 16;

impl Family for ScalarF32 {
    type V = f32;
    type PA = f32;
    type PB = f32;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 1;

    super::f32_encoding!();

    unsafe fn tile(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
        // SAFETY: the caller guarantees `kg` full packed panels behind `a` and `b`.
        let (a, b) = unsafe { (std::slice::from_raw_parts(a, kg * MR), std::slice::from_raw_parts(b, kg * NR)) };
        let mut acc = [[0f32; NR]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
            for (row, &ai) in acc.iter_mut().zip(ap) {
                for (c, &bj) in row.iter_mut().zip(bp) {
                    *c = ai.mul_add(bj, *c);
                }
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { store_tile(&acc, io) }
    }
}

impl Family for ScalarI32 {
    type V = i32;
    type PA = i32;
    type PB = i32;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 1;

    #[inline(always)]
    fn enc_a<T: Elem>(x: T, zp: i32) -> i32 {
        x.to_i32() - zp
    }
    #[inline(always)]
    fn enc_b<T: Elem>(x: T, zp: i32) -> i32 {
        x.to_i32() - zp
    }

    unsafe fn tile(kg: usize, a: *const i32, b: *const i32, io: &TileIo<i32>) {
        // SAFETY: the caller guarantees `kg` full packed panels behind `a` and `b`.
        let (a, b) = unsafe { (std::slice::from_raw_parts(a, kg * MR), std::slice::from_raw_parts(b, kg * NR)) };
        let mut acc = [[0i32; NR]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
            for (row, &ai) in acc.iter_mut().zip(ap) {
                for (c, &bj) in row.iter_mut().zip(bp) {
                    *c = c.wrapping_add(ai.wrapping_mul(bj));
                }
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { store_tile(&acc, io) }
    }
}

/// An accumulator type the scalar finishing code handles.
pub(crate) trait Finish: Acc {
    /// `alpha·x + col + row`, activated, as f32 bits or i32 (the stored value before
    /// conversion).
    fn finish(self, fin: &Fin<Self>, col: Self, row: Self) -> Self;
    /// Stores `v` at `dst` (element index `i`) as `out`.
    ///
    /// # Safety
    /// `dst` is writable at element `i` of the stored type.
    unsafe fn put(self, out: OutKind, dst: *mut u8, i: usize);
}

impl Finish for f32 {
    #[inline(always)]
    fn finish(self, fin: &Fin<f32>, col: f32, row: f32) -> f32 {
        let v = if fin.alpha == 1.0 { self } else { self * fin.alpha };
        act_f32(fin.act, v + col + row)
    }

    #[inline(always)]
    unsafe fn put(self, out: OutKind, dst: *mut u8, i: usize) {
        // SAFETY: the caller guarantees element `i` of the stored type is writable.
        unsafe {
            match out {
                OutKind::Acc => dst.cast::<f32>().add(i).write_unaligned(self),
                OutKind::Bf16 => dst.cast::<bf16>().add(i).write_unaligned(bf16::from_f32(self)),
                OutKind::F16 => dst.cast::<f16>().add(i).write_unaligned(f16::from_f32(self)),
            }
        }
    }
}

impl Finish for i32 {
    #[inline(always)]
    fn finish(self, fin: &Fin<i32>, col: i32, row: i32) -> i32 {
        let v = self.wrapping_add(col).wrapping_add(row);
        match fin.act {
            FastAct::None => v,
            FastAct::Relu => v.max(0),
            FastAct::Clamp(lo, hi) => v.max(lo as i32).min(hi as i32),
        }
    }

    #[inline(always)]
    unsafe fn put(self, _out: OutKind, dst: *mut u8, i: usize) {
        // SAFETY: the caller guarantees element `i` is writable (the int path stores i32).
        unsafe { dst.cast::<i32>().add(i).write_unaligned(self) }
    }
}

/// Adds `io.prev`, finishes and stores a computed tile (valid `io.mr × io.nr`).
///
/// # Safety
/// As [`Family::tile`]'s `io` requirements.
#[inline(always)]
pub(crate) unsafe fn store_tile<V: Finish, const R: usize, const C: usize>(acc: &[[V; C]; R], io: &TileIo<V>) {
    for (i, row) in acc.iter().enumerate().take(io.mr) {
        for (j, &x) in row.iter().enumerate().take(io.nr) {
            // SAFETY: (i, j) lies in the valid tile; the caller guarantees the pointers.
            unsafe {
                let mut v = x;
                if !io.prev.is_null() {
                    v = v.add(*io.prev.add(i * io.ldp + j));
                }
                match &io.fin {
                    None => io.dst.cast::<V>().add(i * io.ldd + j).write_unaligned(v),
                    Some(fin) => {
                        let col = if fin.col.is_null() { V::default() } else { *fin.col.add(j) };
                        let row = if fin.row.is_null() { V::default() } else { *fin.row.add(i) };
                        v.finish(fin, col, row).put(fin.out, io.dst, i * io.ldd + j);
                    }
                }
            }
        }
    }
}
