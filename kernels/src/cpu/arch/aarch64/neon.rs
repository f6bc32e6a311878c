//! NEON f32 family, 8 × 12 register tile (24 q-register accumulators of the 32: 8 rows
//! broadcast from A against three 4-lane vectors of B). f16 / bf16 inputs are widened while
//! packing; int8 uses the portable i32 family. The finished tile goes through the scalar
//! finishing code.

use crate::cpu::arch::scalar::store_tile;
use crate::cpu::arch::{Family, TileIo};
use std::arch::aarch64::*;

const MR: usize = 8;
const NR: usize = 12;

/// f32 FMA family.
pub(crate) struct F32;

impl Family for F32 {
    type V = f32;
    type PA = f32;
    type PB = f32;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 1;

    crate::cpu::arch::f32_encoding!();

    unsafe fn tile(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, NEON present).
        unsafe { f32_tile(kg, a, b, io) }
    }
}

#[target_feature(enable = "neon")]
unsafe fn f32_tile(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
    let mut acc = [[vdupq_n_f32(0.0); 3]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kg {
        // SAFETY: the B panel holds NR floats per k step.
        let bv = unsafe { [vld1q_f32(b), vld1q_f32(b.add(4)), vld1q_f32(b.add(8))] };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: the A panel holds MR floats per k step.
            let ai = unsafe { *a.add(i) };
            for (c, &bx) in row.iter_mut().zip(&bv) {
                *c = vfmaq_n_f32(*c, bx, ai);
            }
        }
        // SAFETY: stays within (or one past) the panels.
        unsafe {
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    let mut tile = [[0f32; NR]; MR];
    for (t, row) in tile.iter_mut().zip(&acc) {
        for (v, &x) in row.iter().enumerate() {
            // SAFETY: lanes 4v..4v+4 of a 12-float row.
            unsafe { vst1q_f32(t.as_mut_ptr().add(4 * v), x) };
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_tile(&tile, io) }
}
