//! AVX2 families, 6 × 16 register tiles (12 ymm accumulators of the 16 registers):
//!
//! - [`F32`]: `vfmadd231ps` on ymm (f16 / bf16 inputs widened while packing).
//! - [`U8I8`] / [`I8U8`]: AVX-VNNI `vpdpbusd` on ymm, byte quads, i32 accumulation, the same
//!   encodings and driver corrections as the AVX-512 VNNI families.
//! - [`Madd16`]: int8 without VNNI. Each side is widened to i16 with its zero point already
//!   subtracted while packing (values in -255..=255), and `vpmaddwd` multiplies k pairs into
//!   i32. Exact, unlike `vpmaddubsw`, whose i16 pair sums saturate for u8 × i8 data.
//!
//! f32 tiles are finished and stored from the registers, edge tiles with masked stores; an
//! edge of 1–4 columns whose A rows are contiguous in k is computed as dot products along k
//! instead (`f32_tile_dots`). f16/bf16 outputs and the integer families' tiles go through
//! the scalar finishing code.

use crate::cpu::arch::scalar::{Finish, store_tile};
use crate::cpu::arch::{Family, FastAct, OutKind, TileIo};
use crate::cpu::dtype::Elem;
use std::arch::x86_64::*;

const MR: usize = 6;
const NR: usize = 16;

/// f32 FMA family.
pub(crate) struct F32;
/// u8 (A) × i8 (B) AVX-VNNI family.
pub(crate) struct U8I8;
/// i8 (A) × u8 (B) AVX-VNNI family.
pub(crate) struct I8U8;
/// Int8 family for AVX2 without VNNI: zero-point-adjusted i16 pairs, `vpmaddwd`.
pub(crate) struct Madd16;

impl Family for F32 {
    type V = f32;
    type PA = f32;
    type PB = f32;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 1;

    crate::cpu::arch::f32_encoding!();

    unsafe fn tile(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, AVX2 + FMA present).
        unsafe { f32_tile(kg, a, b, io) }
    }

    const DIRECT: bool = true;

    // Zen 3 (8-way 32 KiB L1): a B panel read in place at 1 KiB rows (4 offsets) crowds four
    // sets and evicts the tile's A rows, 7–11 % slower than packed at 256³; 768-byte rows
    // (16 offsets) are 4 % faster in place at 192³.
    const IN_PLACE_B_SPREAD: usize = 16;

    // Rows that are not whole cache lines apart put most 16-column loads across two lines:
    // a 7×7 plane's 196-byte rows in place ran 1.16–1.44× slower than packed (Zen 3, the
    // GEMMs of ResNet-50's 1×1 layers at 7×7 and 14×14).
    const IN_PLACE_B_ALIGN: usize = 64;

    unsafe fn tile_direct(
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        b: *const f32,
        rsb: usize,
        io: &TileIo<f32>,
    ) {
        // SAFETY: forwarded from the caller (operands, io pointers, AVX2 + FMA present).
        unsafe {
            // An edge of at most 8 columns computes one vector column, half the FMAs (a
            // 49-pixel plane's fourth panel holds 1 column).
            if io.nr == NR {
                f32_tile_direct::<true, 2>(kc, a, rsa, csa, b, rsb, io)
            } else if io.nr <= DOTS_MAX_COLS && csa == 1 {
                f32_tile_dots(kc, a, rsa, b, rsb, io)
            } else if io.nr <= 8 {
                f32_tile_direct::<false, 1>(kc, a, rsa, csa, b, rsb, io)
            } else {
                f32_tile_direct::<false, 2>(kc, a, rsa, csa, b, rsb, io)
            }
        }
    }
}

impl Family for U8I8 {
    type V = i32;
    type PA = u8;
    type PB = u8;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 4;
    const CORRECTED: bool = true;

    super::byte_encoding!(unsigned_a);

    unsafe fn tile(kg: usize, a: *const u8, b: *const u8, io: &TileIo<i32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, AVX-VNNI present).
        unsafe { vnni_tile::<true>(kg, a, b, io) }
    }
}

impl Family for I8U8 {
    type V = i32;
    type PA = u8;
    type PB = u8;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 4;
    const CORRECTED: bool = true;

    super::byte_encoding!(unsigned_b);

    unsafe fn tile(kg: usize, a: *const u8, b: *const u8, io: &TileIo<i32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, AVX-VNNI present).
        unsafe { vnni_tile::<false>(kg, a, b, io) }
    }
}

impl Family for Madd16 {
    type V = i32;
    type PA = i16;
    type PB = i16;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 2;

    #[inline(always)]
    fn enc_a<T: Elem>(x: T, zp: i32) -> i16 {
        (x.to_i32() - zp) as i16
    }
    #[inline(always)]
    fn enc_b<T: Elem>(x: T, zp: i32) -> i16 {
        (x.to_i32() - zp) as i16
    }

    unsafe fn tile(kg: usize, a: *const i16, b: *const i16, io: &TileIo<i32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, AVX2 present).
        unsafe { madd_tile(kg, a, b, io) }
    }
}

/// One k step of the 6 × 16 tile: two B vectors, six A broadcasts, twelve FMAs.
///
/// # Safety
/// AVX2 + FMA present; `a` holds MR and `b` NR floats.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn f32_step(acc: &mut [[__m256; 2]; MR], a: *const f32, b: *const f32) {
    // SAFETY: the B panel holds NR floats at `b` (the caller).
    let bv = unsafe { [_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8))] };
    for (i, row) in acc.iter_mut().enumerate() {
        // SAFETY: the A panel holds MR floats at `a` (the caller).
        let ai = _mm256_set1_ps(unsafe { *a.add(i) });
        row[0] = _mm256_fmadd_ps(ai, bv[0], row[0]);
        row[1] = _mm256_fmadd_ps(ai, bv[1], row[1]);
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f32_tile(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (mut a, mut b) = (a, b);
    // Four k steps per trip: the loop's own pointer and counter updates otherwise take issue
    // slots from the two FMA pipes (Zen 3, 768³: +3-6 %).
    for _ in 0..kg / 4 {
        // SAFETY: four k steps of MR (A) and NR (B) floats remain in the panels.
        unsafe {
            f32_step(&mut acc, a, b);
            f32_step(&mut acc, a.add(MR), b.add(NR));
            f32_step(&mut acc, a.add(2 * MR), b.add(2 * NR));
            f32_step(&mut acc, a.add(3 * MR), b.add(3 * NR));
            a = a.add(4 * MR);
            b = b.add(4 * NR);
        }
    }
    for _ in 0..kg % 4 {
        // SAFETY: one k step remains; the pointers stay within (or one past) the panels.
        unsafe {
            f32_step(&mut acc, a, b);
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&acc, io) }
}

/// The f32 tile from unpacked operands: rows past `io.mr` repeat the last valid row
/// (computed, never stored) and B columns past `io.nr` are masked off (`FULL`: all NR valid),
/// so nothing outside the operands is read.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f32_tile_direct<const FULL: bool, const V: usize>(
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    io: &TileIo<f32>,
) {
    let rows: [*const f32; MR] = std::array::from_fn(|i| a.wrapping_add(i.min(io.mr.max(1) - 1) * rsa));
    let masks: [__m256i; V] = std::array::from_fn(|v| first_lanes(io.nr.saturating_sub(8 * v)));
    let mut acc = [[_mm256_setzero_ps(); V]; MR];
    for p in 0..kc {
        let bp = b.wrapping_add(p * rsb);
        // SAFETY: B row p holds io.nr readable columns; masked-off lanes are not accessed.
        let bv: [__m256; V] = std::array::from_fn(|v| unsafe {
            if FULL { _mm256_loadu_ps(bp.add(8 * v)) } else { _mm256_maskload_ps(bp.wrapping_add(8 * v), masks[v]) }
        });
        for (row, &ra) in acc.iter_mut().zip(&rows) {
            // SAFETY: element (min(i, mr - 1), p) of A is readable.
            let ai = _mm256_set1_ps(unsafe { *ra.add(p * csa) });
            for (r, &bv) in row.iter_mut().zip(&bv) {
                *r = _mm256_fmadd_ps(ai, bv, *r);
            }
        }
    }
    // Columns past V vectors are not valid (io.nr <= 8·V): zero is never stored.
    let acc: [[__m256; 2]; MR] =
        std::array::from_fn(|i| std::array::from_fn(|v| acc[i].get(v).copied().unwrap_or(_mm256_setzero_ps())));
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&acc, io) }
}

/// Edge tiles this narrow whose A rows are contiguous in k take [`f32_tile_dots`].
const DOTS_MAX_COLS: usize = 4;

/// An edge tile of at most [`DOTS_MAX_COLS`] columns with A rows contiguous in k (`csa` = 1):
/// dot products along k, eight k steps per FMA, instead of a vector across 16 (or 8) columns
/// that are mostly empty. A 7×7 plane has 49 = 3·16 + 1 columns: its one-column tile took a
/// sixth of a ResNet-50 res5 1×1 layer's time, and this form is 4–8 % faster on the layer
/// (Zen 3, in-process A/B medians). B's columns are transposed to k-major order a chunk at
/// a time (8 × 4 register transposes); the sums run in another order than the vector
/// tile's, which is within the contract's tolerance, not bit for bit.
///
/// # Safety
/// As [`Family::tile_direct`] with `csa` = 1 and `io.nr ≤ DOTS_MAX_COLS`; AVX2 + FMA present.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f32_tile_dots(kc: usize, a: *const f32, rsa: usize, b: *const f32, rsb: usize, io: &TileIo<f32>) {
    // Small, so zeroing `bt` per tile costs little (4 KiB of zeroes took 2 % of a 7×7 layer).
    const CHUNK: usize = 64;
    let w = io.nr;
    let rows: [*const f32; MR] = std::array::from_fn(|i| a.wrapping_add(i.min(io.mr.max(1) - 1) * rsa));
    let lanes4 = _mm_setr_epi32(0, 1, 2, 3);
    let col_mask = _mm_cmpgt_epi32(_mm_set1_epi32(w as i32), lanes4);
    let mut acc = [[_mm256_setzero_ps(); DOTS_MAX_COLS]; MR];
    // B's columns for one k chunk, k-major, zero past the chunk's end up to a multiple of 8.
    let mut bt = [[0f32; CHUNK]; DOTS_MAX_COLS];
    for p0 in (0..kc).step_by(CHUNK) {
        let len = CHUNK.min(kc - p0);
        // SAFETY: row p of B holds io.nr = w readable columns; the masked-off lanes are not
        // accessed; `bt` holds CHUNK floats per column and g·8 + 8 ≤ len ≤ CHUNK.
        unsafe {
            let row = |p: usize| _mm_maskload_ps(b.wrapping_add((p0 + p) * rsb), col_mask);
            for g in 0..len / 8 {
                let q = 8 * g;
                let pair = |x: usize| _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(row(q + x)), row(q + x + 4));
                let (y0, y1, y2, y3) = (pair(0), pair(1), pair(2), pair(3));
                let (t0, t1) = (_mm256_unpacklo_ps(y0, y1), _mm256_unpackhi_ps(y0, y1));
                let (t2, t3) = (_mm256_unpacklo_ps(y2, y3), _mm256_unpackhi_ps(y2, y3));
                _mm256_storeu_ps(bt[0][q..].as_mut_ptr(), _mm256_shuffle_ps::<0x44>(t0, t2));
                _mm256_storeu_ps(bt[1][q..].as_mut_ptr(), _mm256_shuffle_ps::<0xEE>(t0, t2));
                _mm256_storeu_ps(bt[2][q..].as_mut_ptr(), _mm256_shuffle_ps::<0x44>(t1, t3));
                _mm256_storeu_ps(bt[3][q..].as_mut_ptr(), _mm256_shuffle_ps::<0xEE>(t1, t3));
            }
            let whole = len / 8 * 8;
            for col in bt.iter_mut() {
                col[whole..len.next_multiple_of(8)].fill(0.0);
            }
            for p in whole..len {
                let mut v = [0f32; 4];
                _mm_storeu_ps(v.as_mut_ptr(), row(p));
                for (col, x) in bt.iter_mut().zip(v) {
                    col[p] = x;
                }
            }
        }
        let tail = first_lanes(len % 8);
        for c in 0..w {
            let mut sums: [__m256; MR] = std::array::from_fn(|i| acc[i][c]);
            for q in (0..len).step_by(8) {
                // SAFETY: `bt[c]` holds q + 8 ≤ CHUNK floats; A row i holds kc ≥ p0 + len
                // readable elements, and the last partial step masks off lanes past len.
                unsafe {
                    let bv = _mm256_loadu_ps(bt[c][q..].as_ptr());
                    for (sum, &ra) in sums.iter_mut().zip(&rows) {
                        let at = ra.wrapping_add(p0 + q);
                        let av = if q + 8 <= len { _mm256_loadu_ps(at) } else { _mm256_maskload_ps(at, tail) };
                        *sum = _mm256_fmadd_ps(av, bv, *sum);
                    }
                }
            }
            for (i, sum) in sums.into_iter().enumerate() {
                acc[i][c] = sum;
            }
        }
    }
    // One row's dot products in lanes 0..w of its first vector, as `store_f32` expects.
    let tile: [[__m256; 2]; MR] = std::array::from_fn(|i| {
        let dots: [f32; DOTS_MAX_COLS] = std::array::from_fn(|c| if c < w { hsum(acc[i][c]) } else { 0.0 });
        [_mm256_setr_ps(dots[0], dots[1], dots[2], dots[3], 0.0, 0.0, 0.0, 0.0), _mm256_setzero_ps()]
    });
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&tile, io) }
}

/// A mask of the first `n` of 8 lanes (all of them from 8 on).
#[target_feature(enable = "avx2,fma,f16c")]
fn first_lanes(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// The sum of a vector's eight lanes.
#[target_feature(enable = "avx2,fma,f16c")]
fn hsum(v: __m256) -> f32 {
    let x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    _mm_cvtss_f32(_mm_add_ss(x, _mm_shuffle_ps::<1>(x, x)))
}

/// Stores an f32 tile finished from the registers: full-width tiles with plain vector
/// stores, edge tiles with masked loads and stores (the scalar finishing code cost 15 % of
/// an 8³ product). Only f16/bf16 outputs take the scalar path.
///
/// # Safety
/// As [`Family::tile`]'s `io` requirements; AVX2 + FMA present.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn store_f32(acc: &[[__m256; 2]; MR], io: &TileIo<f32>) {
    if io.fin.is_some_and(|f| f.out != OutKind::Acc) {
        // SAFETY: forwarded from the caller.
        return unsafe { spill_and_store(acc, io) };
    }
    // Per vector: all 8 lanes valid (plain loads and stores), some (masked, which cost more),
    // or none (skipped).
    let valid: [usize; 2] = std::array::from_fn(|v| io.nr.saturating_sub(8 * v).min(8));
    let masks: [__m256i; 2] = std::array::from_fn(|v| first_lanes(valid[v]));
    // SAFETY: lanes at or past io.nr are masked off and not accessed; the caller guarantees
    // io.nr readable elements from `p`.
    let load = |p: *const f32, v: usize| unsafe {
        if valid[v] == 8 { _mm256_loadu_ps(p) } else { _mm256_maskload_ps(p, masks[v]) }
    };
    // SAFETY: as `load`, for writable elements.
    let store = |p: *mut f32, v: usize, x: __m256| unsafe {
        if valid[v] == 8 { _mm256_storeu_ps(p, x) } else { _mm256_maskstore_ps(p, masks[v], x) }
    };
    for (i, row) in acc.iter().enumerate().take(io.mr) {
        for (v, &x) in row.iter().enumerate().filter(|&(v, _)| valid[v] > 0) {
            let mut x = x;
            // SAFETY: row i, columns 8v.. of the valid tile; the caller guarantees the pointers.
            unsafe {
                if !io.prev.is_null() {
                    x = _mm256_add_ps(x, load(io.prev.wrapping_add(i * io.ldp + 8 * v), v));
                }
                if let Some(f) = &io.fin {
                    if f.alpha != 1.0 {
                        x = _mm256_mul_ps(x, _mm256_set1_ps(f.alpha));
                    }
                    if !f.col.is_null() {
                        x = _mm256_add_ps(x, load(f.col.wrapping_add(8 * v), v));
                    }
                    if !f.row.is_null() {
                        x = _mm256_add_ps(x, _mm256_set1_ps(*f.row.add(i)));
                    }
                    x = match f.act {
                        FastAct::None => x,
                        FastAct::Relu => _mm256_max_ps(_mm256_setzero_ps(), x),
                        FastAct::Clamp(lo, hi) => {
                            _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), x))
                        }
                    };
                }
                store(io.dst.cast::<f32>().wrapping_add(i * io.ldd + 8 * v), v, x);
            }
        }
    }
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn vnni_tile<const A_UNSIGNED: bool>(kg: usize, a: *const u8, b: *const u8, io: &TileIo<i32>) {
    let mut acc = [[_mm256_setzero_si256(); 2]; MR];
    let (mut a, mut b) = (a.cast::<i32>(), b);
    for _ in 0..kg {
        // SAFETY: the B panel holds NR quads (4·NR bytes) per k group.
        let bv = unsafe { [_mm256_loadu_si256(b.cast()), _mm256_loadu_si256(b.add(32).cast())] };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: the A panel holds MR quads per k group.
            let ai = _mm256_set1_epi32(unsafe { a.add(i).read_unaligned() });
            for (c, &bx) in row.iter_mut().zip(&bv) {
                *c = if A_UNSIGNED { _mm256_dpbusd_avx_epi32(*c, ai, bx) } else { _mm256_dpbusd_avx_epi32(*c, bx, ai) };
            }
        }
        // SAFETY: stays within (or one past) the panels.
        unsafe {
            a = a.add(MR);
            b = b.add(4 * NR);
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { spill_and_store(&acc, io) }
}

/// One k pair of the [`Madd16`] tile: two B vectors (16 columns × 2 k), six A pair
/// broadcasts, twelve `vpmaddwd` + `vpaddd`.
///
/// # Safety
/// AVX2 present; `a` holds MR and `b` NR i16 pairs.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn madd_step(acc: &mut [[__m256i; 2]; MR], a: *const i32, b: *const i16) {
    // SAFETY: the B panel holds NR pairs (2·NR i16) at `b` (the caller).
    let bv = unsafe { [_mm256_loadu_si256(b.cast()), _mm256_loadu_si256(b.add(2 * 8).cast())] };
    for (i, row) in acc.iter_mut().enumerate() {
        // SAFETY: the A panel holds MR pairs at `a` (the caller).
        let ai = _mm256_set1_epi32(unsafe { a.add(i).read_unaligned() });
        // A pair sum is at most 2 · 255² in magnitude: no i32 overflow inside `vpmaddwd`.
        row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(ai, bv[0]));
        row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(ai, bv[1]));
    }
}

#[target_feature(enable = "avx2")]
unsafe fn madd_tile(kg: usize, a: *const i16, b: *const i16, io: &TileIo<i32>) {
    let mut acc = [[_mm256_setzero_si256(); 2]; MR];
    let (mut a, mut b) = (a.cast::<i32>(), b);
    for _ in 0..kg / 2 {
        // SAFETY: two k pairs of MR (A) and NR (B) pairs remain in the panels.
        unsafe {
            madd_step(&mut acc, a, b);
            madd_step(&mut acc, a.add(MR), b.add(2 * NR));
            a = a.add(2 * MR);
            b = b.add(4 * NR);
        }
    }
    if kg % 2 == 1 {
        // SAFETY: one k pair remains.
        unsafe { madd_step(&mut acc, a, b) };
    }
    // SAFETY: forwarded from the caller.
    unsafe { spill_and_store(&acc, io) }
}

/// Writes the ymm accumulators to memory and finishes them with the scalar code.
///
/// # Safety
/// As [`Family::tile`]'s `io` requirements; `X` is a vector of 8 `V` lanes.
unsafe fn spill_and_store<X: Copy, V: Finish>(acc: &[[X; 2]; MR], io: &TileIo<V>) {
    const { assert!(std::mem::size_of::<[X; 2]>() == NR * 4) };
    let mut tile = [[V::default(); NR]; MR];
    for (t, row) in tile.iter_mut().zip(acc) {
        // SAFETY: two 8-lane vectors of 4-byte lanes are exactly NR elements of V (4 bytes).
        unsafe { std::ptr::copy_nonoverlapping(row.as_ptr().cast::<V>(), t.as_mut_ptr(), NR) };
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_tile(&tile, io) }
}
