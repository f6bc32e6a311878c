//! GEMM operands and packing.
//!
//! A [`MatSrc`] is a logical matrix the GEMM reads while packing: `get(r, c)` returns the
//! element already converted to the accumulator type (f32 for floats; i32 minus the zero point
//! for int8). Sources cover any strided view ([`StridedMat`]), convolution weights with a
//! per-column offset table ([`TableMat`]) and the implicit im2col matrix of a convolution input
//! ([`Patches`]), so no operand is ever materialised beyond one packed block.
//!
//! Packed layouts: A blocks are `MR`-row panels stored `[kc][MR]`; B blocks are `NR`-column
//! panels stored `[kc][NR]`; edges are zero-filled so the microkernel always sees full panels.

use super::dtype::Elem;
use super::kernel::{Acc, MR, NR};
use half::{bf16, f16};

/// Conversion of a storage element into the accumulator domain.
pub(crate) trait ToAcc<V>: Elem {
    /// The value as an accumulator operand (`zp` is subtracted on the int8 path).
    fn to_acc(self, zp: i32) -> V;
}

macro_rules! float_to_acc {
    ($($t:ty),*) => {$(
        impl ToAcc<f32> for $t {
            #[inline(always)]
            fn to_acc(self, _zp: i32) -> f32 {
                Elem::to_f32(self)
            }
        }
    )*};
}
float_to_acc!(f32, f16, bf16);

macro_rules! int_to_acc {
    ($($t:ty),*) => {$(
        impl ToAcc<i32> for $t {
            #[inline(always)]
            fn to_acc(self, zp: i32) -> i32 {
                // |self - zp| <= 255: never overflows.
                self as i32 - zp
            }
        }
    )*};
}
int_to_acc!(i8, u8);

/// A logical matrix read element by element while packing.
pub(crate) trait MatSrc: Sync {
    /// Accumulator type.
    type V: Acc;
    /// Element `(r, c)`, converted.
    fn get(&self, r: usize, c: usize) -> Self::V;
}

/// Element `(r, c)` at `base + r·rs + c·cs` (any strided view, read as accumulator `V`).
pub(crate) struct StridedMat<'a, T, V> {
    pub(crate) data: &'a [T],
    pub(crate) base: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
    pub(crate) zp: i32,
    pub(crate) _acc: std::marker::PhantomData<V>,
}

impl<T: ToAcc<V>, V: Acc> MatSrc for StridedMat<'_, T, V> {
    type V = V;
    #[inline(always)]
    fn get(&self, r: usize, c: usize) -> V {
        self.data[self.base + r * self.rs + c * self.cs].to_acc(self.zp)
    }
}

/// Element `(r, c)` at `base + r·rs + coff[c]` (convolution weights: `c` is a flattened
/// `(channel, ky, kx)` tap).
pub(crate) struct TableMat<'a, T, V> {
    pub(crate) data: &'a [T],
    pub(crate) base: usize,
    pub(crate) rs: usize,
    pub(crate) coff: &'a [usize],
    pub(crate) zp: i32,
    pub(crate) _acc: std::marker::PhantomData<V>,
}

impl<T: ToAcc<V>, V: Acc> MatSrc for TableMat<'_, T, V> {
    type V = V;
    #[inline(always)]
    fn get(&self, r: usize, c: usize) -> V {
        self.data[self.base + r * self.rs + self.coff[c]].to_acc(self.zp)
    }
}

/// Per-tap and per-pixel tables of a forward convolution's implicit im2col matrix, shared by
/// every (image, group).
#[derive(Debug, Default)]
pub(crate) struct PatchTables {
    /// Channel offset of tap `t` (`ci · stride_C`).
    pub(crate) chan: Vec<usize>,
    /// Row displacement of tap `t` (`ky · dH`).
    pub(crate) dy: Vec<isize>,
    /// Column displacement of tap `t` (`kx · dW`).
    pub(crate) dx: Vec<isize>,
    /// Top input row of output pixel `p` (`y · sH − pad_top`).
    pub(crate) py: Vec<isize>,
    /// Left input column of output pixel `p` (`x · sW − pad_left`).
    pub(crate) px: Vec<isize>,
}

/// The implicit im2col matrix `[taps × pixels]` of one (image, group): element `(t, p)` is the
/// input value under tap `t` of output pixel `p`, or zero where the tap falls in the padding.
pub(crate) struct Patches<'a, T, V> {
    pub(crate) data: &'a [T],
    pub(crate) base: usize,
    pub(crate) tables: &'a PatchTables,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) hs: usize,
    pub(crate) ws: usize,
    pub(crate) zp: i32,
    pub(crate) _acc: std::marker::PhantomData<V>,
}

impl<T: ToAcc<V>, V: Acc> MatSrc for Patches<'_, T, V> {
    type V = V;
    #[inline(always)]
    fn get(&self, t: usize, p: usize) -> V {
        let tb = self.tables;
        let iy = tb.py[p] + tb.dy[t];
        let ix = tb.px[p] + tb.dx[t];
        // Negative values wrap to huge usizes and fail the bound checks.
        if (iy as usize) < self.h && (ix as usize) < self.w {
            self.data[self.base + tb.chan[t] + iy as usize * self.hs + ix as usize * self.ws].to_acc(self.zp)
        } else {
            V::default()
        }
    }
}

/// Packs rows `r0..r0 + rows`, columns `c0..c0 + kc` of `src` into `MR`-row panels.
pub(crate) fn pack_a<S: MatSrc>(src: &S, r0: usize, rows: usize, c0: usize, kc: usize, dst: &mut Vec<S::V>) {
    dst.clear();
    if kc == 0 {
        return;
    }
    dst.resize(rows.div_ceil(MR) * kc * MR, S::V::default());
    for (pi, panel) in dst.chunks_exact_mut(kc * MR).enumerate() {
        let i0 = pi * MR;
        for i in 0..MR.min(rows - i0) {
            let r = r0 + i0 + i;
            for (p, slot) in panel.iter_mut().skip(i).step_by(MR).enumerate() {
                *slot = src.get(r, c0 + p);
            }
        }
    }
}

/// Packs rows `r0..r0 + kc`, columns `c0..c0 + cols` of `src` into `NR`-column panels.
pub(crate) fn pack_b<S: MatSrc>(src: &S, r0: usize, kc: usize, c0: usize, cols: usize, dst: &mut Vec<S::V>) {
    dst.clear();
    if kc == 0 {
        return;
    }
    dst.resize(cols.div_ceil(NR) * kc * NR, S::V::default());
    for (pj, panel) in dst.chunks_exact_mut(kc * NR).enumerate() {
        let j0 = c0 + pj * NR;
        let w = NR.min(c0 + cols - j0);
        for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
            for (j, slot) in row[..w].iter_mut().enumerate() {
                *slot = src.get(r0 + p, j0 + j);
            }
        }
    }
}
