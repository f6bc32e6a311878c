//! Register-blocked GEMM microkernels, one module per ISA, behind one contract ([`Family`]).
//!
//! A family fixes the packed formats and the register tile: an `MR × NR` tile of C is
//! accumulated over an A panel packed `[kc/KG][MR][KG]` and a B panel packed `[kc/KG][NR][KG]`
//! (`KG` consecutive k values side by side: 1 for f32, 2 for `vdpbf16ps` pairs, 4 for
//! `vpdpbusd` quads). AMX families instead tile k by `KT` ([`Family::KT`]): their A panel is
//! `[kc/KT][MR][KT]`, each block `MR` rows of `KT` contiguous k values, as a tile register
//! loads it. The blocked driver in `gemm.rs` packs, loops and threads; the family
//! only computes tiles. How a tile leaves the registers is described by [`TileIo`]: raw
//! partial sums (plus the previous partial sums of earlier k blocks), or finished through the
//! fused epilogue ([`Fin`]: alpha, per-column and per-row addends, ReLU/clamp, conversion to
//! f32/bf16/f16) straight from the registers, so a fused bias+ReLU costs no extra pass.

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
pub(crate) mod multiversion;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

use super::dtype::Elem;
use super::kernel::Acc;

/// The activation a kernel applies in registers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FastAct {
    None,
    /// `max(x, 0)`, NaN kept.
    Relu,
    /// `min(max(x, lo), hi)`, NaN kept (int path: bounds already clamped into i32).
    Clamp(f32, f32),
}

/// The element type a finished tile is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutKind {
    /// The accumulator type itself (f32 or i32).
    Acc,
    /// bf16, rounded to nearest even.
    Bf16,
    /// f16, rounded to nearest even.
    F16,
}

/// The in-register epilogue: `v = alpha·acc + col[j] + row[i]; act(v)`, stored as `out`.
/// `col` and `row` are null when absent; `alpha` is ignored on the integer path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fin<V> {
    pub(crate) alpha: f32,
    pub(crate) col: *const V,
    pub(crate) row: *const V,
    pub(crate) act: FastAct,
    pub(crate) out: OutKind,
}

/// Where one tile's result goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileIo<V> {
    /// Partial sums of earlier k blocks (row stride `ldp`), added first; null on the first block.
    pub(crate) prev: *const V,
    pub(crate) ldp: usize,
    /// Destination (row stride `ldd` elements of the stored type).
    pub(crate) dst: *mut u8,
    pub(crate) ldd: usize,
    /// Valid rows and columns of the tile (`≤ MR`, `≤ NR`).
    pub(crate) mr: usize,
    pub(crate) nr: usize,
    /// `None`: store the raw sums as `V`. `Some`: finish them.
    pub(crate) fin: Option<Fin<V>>,
}

impl<V: Copy> TileIo<V> {
    /// The same tile from column `c` (`< nr`) on: its pointers and column addends moved right.
    pub(crate) fn columns_from(&self, c: usize) -> TileIo<V> {
        let stored = match self.fin.as_ref().map(|f| f.out) {
            Some(OutKind::Bf16 | OutKind::F16) => 2,
            _ => std::mem::size_of::<V>(),
        };
        TileIo {
            prev: if self.prev.is_null() { self.prev } else { self.prev.wrapping_add(c) },
            ldp: self.ldp,
            dst: self.dst.wrapping_add(c * stored),
            ldd: self.ldd,
            mr: self.mr,
            nr: self.nr - c,
            fin: self.fin.map(|f| Fin { col: if f.col.is_null() { f.col } else { f.col.wrapping_add(c) }, ..f }),
        }
    }
}

/// A microkernel family: packed formats, tile shape and the tile computation.
pub(crate) trait Family: Send + Sync + 'static {
    /// Accumulator (f32 or wrapping i32).
    type V: Acc;
    /// Packed A scalar.
    type PA: bytemuck::Pod + Default + Send + Sync;
    /// Packed B scalar.
    type PB: bytemuck::Pod + Default + Send + Sync;
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile.
    const NR: usize;
    /// Consecutive k values per packed group.
    const KG: usize;
    /// True when the tile is computed on offset-free encodings (VNNI) and the driver must
    /// apply zero-point corrections from row and column sums.
    const CORRECTED: bool = false;
    /// k values per A block when the A panel is k-tiled (`[kc/KT][MR][KT]`, and kc padded with
    /// zeros to a multiple of `KT` in both panels); 0: A is packed `[kc/KG][MR][KG]`.
    const KT: usize = 0;

    /// Encodes an A element (`p`: the zero point on the generic int path, the +128 shift of
    /// an unsigned VNNI side, unused for floats).
    fn enc_a<T: Elem>(x: T, p: i32) -> Self::PA;
    /// Encodes a B element (as [`Family::enc_a`]).
    fn enc_b<T: Elem>(x: T, p: i32) -> Self::PB;
    /// A packed A scalar as an integer (for VNNI sums).
    fn pa_i32(_x: Self::PA) -> i32 {
        0
    }
    /// A packed B scalar as an integer (for VNNI sums).
    fn pb_i32(_x: Self::PB) -> i32 {
        0
    }

    /// Computes one tile over `kg` packed groups and writes it as `io` says.
    ///
    /// # Safety
    /// `a` holds `kg·MR·KG` and `b` `kg·NR·KG` readable scalars; `io.prev` (when not null) is
    /// readable and `io.dst` writable for `io.mr` rows of `io.nr` elements at their strides;
    /// `io.fin`'s `col` / `row` (when not null) hold `io.nr` / `io.mr` elements; the CPU has
    /// the family's ISA.
    unsafe fn tile(kg: usize, a: *const Self::PA, b: *const Self::PB, io: &TileIo<Self::V>);

    /// Readies the calling thread for a run of [`Family::tile`] calls (AMX: loads the tile
    /// configuration once instead of per tile). The driver calls it before a task's tiles and
    /// [`Family::end_tiles`] after them, on the same thread, with only its own code between.
    ///
    /// # Safety
    /// The CPU has the family's ISA.
    unsafe fn begin_tiles() {}

    /// Ends a run begun by [`Family::begin_tiles`] (AMX: releases the tile state).
    ///
    /// # Safety
    /// As [`Family::begin_tiles`].
    unsafe fn end_tiles() {}

    /// True when the family has [`Family::tile_direct`] (small products skip packing).
    const DIRECT: bool = false;

    /// The fewest distinct row offsets modulo 4 KiB that B's row stride must give before a
    /// large product reads B in place (see `gemm`'s `InPlaceB::large`); 0: any stride.
    const IN_PLACE_B_SPREAD: usize = 0;

    /// The byte multiple B's row stride must be before a large product reads B in place; 1:
    /// any stride.
    const IN_PLACE_B_ALIGN: usize = 1;

    /// Computes one tile straight from unpacked operands (KG = 1): A element `(i, p)` at
    /// `a[i·rsa + p·csa]` for `i < io.mr`, B row `p` at `b[p·rsb..]` (`io.nr` contiguous
    /// columns), `kc` steps. Families without it do nothing (see [`Family::DIRECT`]).
    ///
    /// # Safety
    /// Those A and B elements are readable; `io` as in [`Family::tile`].
    unsafe fn tile_direct(
        _kc: usize,
        _a: *const Self::PA,
        _rsa: usize,
        _csa: usize,
        _b: *const Self::PB,
        _rsb: usize,
        _io: &TileIo<Self::V>,
    ) {
    }
}

/// The k extent of family `F`'s packed panels for a block of `kc` k values: `kc` rounded up to
/// whole groups (and whole k tiles when [`Family::KT`] is set).
pub(crate) fn k_padded<F: Family>(kc: usize) -> usize {
    kc.next_multiple_of(if F::KT > 0 { F::KT } else { F::KG })
}

/// The packed k groups of family `F` for a block of `kc` k values.
pub(crate) fn k_groups<F: Family>(kc: usize) -> usize {
    k_padded::<F>(kc) / F::KG
}

/// The `enc_a` / `enc_b` of every f32 family: the element widened to f32.
macro_rules! f32_encoding {
    () => {
        #[inline(always)]
        fn enc_a<T: $crate::cpu::dtype::Elem>(x: T, _p: i32) -> f32 {
            x.to_f32()
        }
        #[inline(always)]
        fn enc_b<T: $crate::cpu::dtype::Elem>(x: T, _p: i32) -> f32 {
            x.to_f32()
        }
    };
}
pub(crate) use f32_encoding;

/// Applies a [`FastAct`] to one f32 (scalar reference for the SIMD versions).
#[inline(always)]
pub(crate) fn act_f32(act: FastAct, x: f32) -> f32 {
    match act {
        FastAct::None => x,
        FastAct::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        FastAct::Clamp(lo, hi) => super::epilogue::clamp_f32(x, lo, hi),
    }
}
