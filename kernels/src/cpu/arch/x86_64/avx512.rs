//! AVX-512 families, each with 24 zmm accumulators (enough independent FMAs to cover the
//! 4-cycle latency at two per cycle):
//!
//! - [`F32`]: `vfmadd231ps`, f32 (f16 / bf16 inputs widened while packing), 6 × 64 tiles:
//!   6 rows broadcast from A against four 16-lane vectors of B, so a k step is 4 loads and
//!   6 broadcasts per 24 FMAs. (Measured on Zen 5 against the 12 × 32 shape, 12 broadcasts
//!   per 24 FMAs: 256³ 101.7 → 106.4 GFLOP/s, 1024³ 99.4 → 102.3 on one thread.)
//! - [`Bf16`]: `vdpbf16ps`, bf16 pairs (B packed VNNI-2), f32 accumulation.
//! - [`U8I8`] / [`I8U8`]: `vpdpbusd`, byte quads (VNNI-4) with i32 accumulation; the
//!   unsigned side is A (matmul: u8 activations, i8 shifted by +128) or B (convolution:
//!   activations are the patches). Zero points and the shift are corrected by the driver
//!   from row and column sums.
//!
//! The other families use 12 × 32 tiles (12 rows broadcast against two vectors).
//!
//! Partial tiles use masked loads and stores; the epilogue ([`super::super::Fin`]) runs on
//! the accumulators before the store. An f32 direct tile (A read in place) whose last vector
//! holds 1–4 columns computes those as dot products along k (`f32_tile_dots`).

use super::{mask16, prefetch_c};
use crate::cpu::arch::{Family, FastAct, Fin, OutKind, TileIo};
use std::arch::x86_64::*;

const MR: usize = 12;
const NR: usize = 32;
/// The f32 tile: `F32_MR` rows × `F32_NR` columns.
const F32_MR: usize = 6;
const F32_NR: usize = 64;

/// f32 FMA family.
pub(crate) struct F32;
/// bf16 dot-product family (needs AVX512_BF16).
pub(crate) struct Bf16;
/// u8 (A) × i8 (B) VNNI family (needs AVX512_VNNI).
pub(crate) struct U8I8;
/// i8 (A) × u8 (B) VNNI family (needs AVX512_VNNI).
pub(crate) struct I8U8;

impl Family for F32 {
    type V = f32;
    type PA = f32;
    type PB = f32;
    const MR: usize = F32_MR;
    const NR: usize = F32_NR;
    const KG: usize = 1;

    crate::cpu::arch::f32_encoding!();

    unsafe fn tile(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, AVX-512 present).
        unsafe {
            match io.nr.div_ceil(16) {
                0 | 1 => f32_tile::<1>(kg, a, b, io),
                2 => f32_tile::<2>(kg, a, b, io),
                3 => f32_tile::<3>(kg, a, b, io),
                _ => f32_tile::<4>(kg, a, b, io),
            }
        }
    }

    const DIRECT: bool = true;
    const IN_PLACE_B_SPREAD: usize = 4;

    unsafe fn tile_direct(
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        b: *const f32,
        rsb: usize,
        io: &TileIo<f32>,
    ) {
        // A last vector of 1–4 columns (a 7×7 plane: 49 = 3·16 + 1 pixels) is computed as
        // dot products along k instead of a quarter of a 4-vector tile's FMAs (ResNet-50, one
        // thread, in-process A/B on Sapphire Rapids: res5 1×1 512>2048 1.18×, 3×3 at 14×14
        // 1.03×, 3×3 at 7×7 level: there the second pass over A and the gathers from B's
        // panel cost what the FMAs saved).
        let edge = io.nr % 16;
        if csa == 1 && (1..=DOTS_MAX_COLS).contains(&edge) && rsb <= DOTS_MAX_STRIDE {
            let (main, rest) = (io.nr - edge, io.columns_from(io.nr - edge));
            let b_rest = b.wrapping_add(main);
            // SAFETY: forwarded from the caller; the calls cover columns `..main` and
            // `main..nr` of the same tile, with A rows contiguous in k (csa = 1).
            unsafe {
                if main > 0 {
                    Self::tile_direct(kc, a, rsa, csa, b, rsb, &TileIo { nr: main, ..*io });
                }
                match edge {
                    1 => f32_tile_dots::<1>(kc, a, rsa, b_rest, rsb, &rest),
                    2 => f32_tile_dots::<2>(kc, a, rsa, b_rest, rsb, &rest),
                    3 => f32_tile_dots::<3>(kc, a, rsa, b_rest, rsb, &rest),
                    _ => f32_tile_dots::<4>(kc, a, rsa, b_rest, rsb, &rest),
                }
            }
            return;
        }
        // SAFETY: forwarded from the caller (operands, io pointers, AVX-512 present).
        unsafe {
            match io.nr.div_ceil(16) {
                0 | 1 => f32_tile_direct::<1>(kc, a, rsa, csa, b, rsb, io),
                2 => f32_tile_direct::<2>(kc, a, rsa, csa, b, rsb, io),
                3 => f32_tile_direct::<3>(kc, a, rsa, csa, b, rsb, io),
                _ => f32_tile_direct::<4>(kc, a, rsa, csa, b, rsb, io),
            }
        }
    }
}

impl Family for Bf16 {
    type V = f32;
    type PA = u16;
    type PB = u16;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 2;

    super::bf16_encoding!();

    unsafe fn tile(kg: usize, a: *const u16, b: *const u16, io: &TileIo<f32>) {
        // SAFETY: forwarded from the caller (panels, io pointers, AVX-512 BF16 present).
        unsafe { if io.nr <= 16 { bf16_tile::<1>(kg, a, b, io) } else { bf16_tile::<2>(kg, a, b, io) } }
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
        // SAFETY: forwarded from the caller (panels, io pointers, AVX-512 VNNI present).
        unsafe { if io.nr <= 16 { vnni_tile::<1, true>(kg, a, b, io) } else { vnni_tile::<2, true>(kg, a, b, io) } }
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
        // SAFETY: forwarded from the caller (panels, io pointers, AVX-512 VNNI present).
        unsafe { if io.nr <= 16 { vnni_tile::<1, false>(kg, a, b, io) } else { vnni_tile::<2, false>(kg, a, b, io) } }
    }
}

/// `F32_MR` × 16·NV f32 tile; B panels are `F32_NR` wide whatever `NV` is.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn f32_tile<const NV: usize>(kg: usize, a: *const f32, b: *const f32, io: &TileIo<f32>) {
    prefetch_c(io, 64 * NV);
    let mut acc = [[_mm512_setzero_ps(); NV]; F32_MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kg {
        let mut bv = [_mm512_setzero_ps(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            // SAFETY: the B panel holds NR floats per k step.
            *x = unsafe { _mm512_loadu_ps(b.add(16 * v)) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: the A panel holds MR floats per k step.
            let ai = _mm512_set1_ps(unsafe { *a.add(i) });
            for (c, &bx) in row.iter_mut().zip(&bv) {
                *c = _mm512_fmadd_ps(ai, bx, *c);
            }
        }
        // SAFETY: stays within (or one past) the panels.
        unsafe {
            a = a.add(F32_MR);
            b = b.add(F32_NR);
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&acc, io) }
}

/// `F32_MR` × 16·NV f32 tile from unpacked operands: rows past `io.mr` repeat the last valid row
/// (computed, never stored) and B columns past `io.nr` are masked off, so nothing outside the
/// operands is read.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn f32_tile_direct<const NV: usize>(
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    io: &TileIo<f32>,
) {
    prefetch_c(io, 64 * NV);
    let rows: [*const f32; F32_MR] = std::array::from_fn(|i| a.wrapping_add(i.min(io.mr.max(1) - 1) * rsa));
    let masks: [u16; NV] = std::array::from_fn(|v| mask16(io.nr.saturating_sub(16 * v)));
    // Masked loads cost more than plain ones on Intel cores (Sapphire Rapids, in-process A/B:
    // 256³ and 512³ 7 % faster with plain loads on whole tiles). One test per tile, not
    // `load_ps`'s per vector: that, inside the k loop, measured 5–7 % slower.
    let whole = io.nr >= 16 * NV;
    let mut acc = [[_mm512_setzero_ps(); NV]; F32_MR];
    for p in 0..kc {
        // B rows are strided when read in place, a pattern the L1 prefetcher follows late:
        // fetch the row two k steps ahead (Sapphire Rapids: 256³ +6 %, 512³ +2–4 %).
        for v in 0..NV {
            _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add((p + 2) * rsb + 16 * v).cast());
        }
        let mut bv = [_mm512_setzero_ps(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            let at = b.wrapping_add(p * rsb + 16 * v);
            // SAFETY: B row p holds io.nr readable columns (all 16·NV on a whole tile); masked
            // lanes are not read.
            *x = unsafe { if whole { _mm512_loadu_ps(at) } else { _mm512_maskz_loadu_ps(masks[v], at) } };
        }
        for (row, &ra) in acc.iter_mut().zip(&rows) {
            // SAFETY: element (min(i, mr - 1), p) of A is readable.
            let ai = _mm512_set1_ps(unsafe { *ra.add(p * csa) });
            for (c, &bx) in row.iter_mut().zip(&bv) {
                *c = _mm512_fmadd_ps(ai, bx, *c);
            }
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&acc, io) }
}

/// Edge columns this few, with A rows contiguous in k, take [`f32_tile_dots`].
const DOTS_MAX_COLS: usize = 4;
/// The largest B row stride [`f32_tile_dots`]'s gather offsets (16 rows, i32) can span.
const DOTS_MAX_STRIDE: usize = (i32::MAX / 16) as usize;

/// An edge of `W` ≤ [`DOTS_MAX_COLS`] columns with A rows contiguous in k: dot products along
/// k, 16 k steps per FMA with each B column gathered 16 rows at a time, instead of a vector
/// across 16 columns that are mostly empty. The sums run in another order than the vector
/// tile's, which is within the contract's tolerance, not bit for bit.
///
/// # Safety
/// As [`Family::tile_direct`] with `csa` = 1, `io.nr = W` and `rsb ≤ DOTS_MAX_STRIDE`;
/// AVX-512 present.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma,f16c")]
unsafe fn f32_tile_dots<const W: usize>(
    kc: usize,
    a: *const f32,
    rsa: usize,
    b: *const f32,
    rsb: usize,
    io: &TileIo<f32>,
) {
    let rows: [*const f32; F32_MR] = std::array::from_fn(|i| a.wrapping_add(i.min(io.mr.max(1) - 1) * rsa));
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let offsets = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(rsb as i32));
    let mut acc = [[_mm512_setzero_ps(); W]; F32_MR];
    for p in (0..kc).step_by(16) {
        let m = mask16(kc - p);
        // SAFETY: A rows hold kc readable elements and B rows W columns; masked-off lanes
        // (k steps past kc) are not read.
        unsafe {
            let av: [__m512; F32_MR] = std::array::from_fn(|i| load_ps(m, rows[i].wrapping_add(p)));
            for c in 0..W {
                let col = b.wrapping_add(p * rsb + c);
                let bv = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, offsets, col);
                for (row, &ai) in acc.iter_mut().zip(&av) {
                    row[c] = _mm512_fmadd_ps(ai, bv, row[c]);
                }
            }
        }
    }
    // Row i's W dot products in the first lanes of one vector, as `store_f32` expects.
    let tile: [[__m512; 1]; F32_MR] = std::array::from_fn(|i| {
        let dots: [f32; 16] = std::array::from_fn(|c| if c < W { _mm512_reduce_add_ps(acc[i][c]) } else { 0.0 });
        // SAFETY: `dots` holds 16 floats.
        [unsafe { _mm512_loadu_ps(dots.as_ptr()) }]
    });
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&tile, io) }
}

/// 12 × 16·NV bf16-pair tile (`vdpbf16ps`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")]
unsafe fn bf16_tile<const NV: usize>(kg: usize, a: *const u16, b: *const u16, io: &TileIo<f32>) {
    prefetch_c(io, 64 * NV);
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    let (mut a, mut b) = (a.cast::<i32>(), b);
    for _ in 0..kg {
        let mut bv = [_mm512_setzero_si512(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            // SAFETY: the B panel holds NR pairs (2·NR u16) per k group.
            *x = unsafe { _mm512_loadu_si512(b.add(32 * v).cast()) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: the A panel holds MR pairs (one i32 each) per k group.
            let ai: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(a.add(i).read_unaligned())) };
            for (c, &bx) in row.iter_mut().zip(&bv) {
                // SAFETY: __m512i and __m512bh are both 64 plain bytes.
                let bh: __m512bh = unsafe { std::mem::transmute(bx) };
                *c = _mm512_dpbf16_ps(*c, ai, bh);
            }
        }
        // SAFETY: stays within (or one past) the panels.
        unsafe {
            a = a.add(MR);
            b = b.add(2 * NR);
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_f32(&acc, io) }
}

/// 12 × 16·NV byte-quad tile (`vpdpbusd`); `A_UNSIGNED` says which operand holds the
/// unsigned bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn vnni_tile<const NV: usize, const A_UNSIGNED: bool>(kg: usize, a: *const u8, b: *const u8, io: &TileIo<i32>) {
    prefetch_c(io, 64 * NV);
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    let (mut a, mut b) = (a.cast::<i32>(), b);
    for _ in 0..kg {
        let mut bv = [_mm512_setzero_si512(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            // SAFETY: the B panel holds NR quads (4·NR bytes) per k group.
            *x = unsafe { _mm512_loadu_si512(b.add(64 * v).cast()) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: the A panel holds MR quads (one i32 each) per k group.
            let ai = _mm512_set1_epi32(unsafe { a.add(i).read_unaligned() });
            for (c, &bx) in row.iter_mut().zip(&bv) {
                *c = if A_UNSIGNED { _mm512_dpbusd_epi32(*c, ai, bx) } else { _mm512_dpbusd_epi32(*c, bx, ai) };
            }
        }
        // SAFETY: stays within (or one past) the panels.
        unsafe {
            a = a.add(MR);
            b = b.add(4 * NR);
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store_i32(&acc, io) }
}

/// f32 → bf16 bits, rounded to nearest even, NaN kept quiet (as `half::bf16::from_f32`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn to_bf16(x: __m512) -> __m256i {
    let bits = _mm512_castps_si512(x);
    let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
    let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))));
    let nan = _mm512_or_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(0x40));
    let is_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(is_nan, rounded, nan))
}

/// Loads the lanes of `m` from `p` (a plain load when `m` is whole: masked ones cost more).
///
/// # Safety
/// The lanes of `m` at `p` are readable.
#[inline(always)]
unsafe fn load_ps(m: u16, p: *const f32) -> __m512 {
    // SAFETY: per the contract.
    unsafe { if m == u16::MAX { _mm512_loadu_ps(p) } else { _mm512_maskz_loadu_ps(m, p) } }
}

/// Stores the lanes of `m` of `x` at `p` (plainly when `m` is whole).
///
/// # Safety
/// The lanes of `m` at `p` are writable.
#[inline(always)]
unsafe fn store_ps(p: *mut f32, m: u16, x: __m512) {
    // SAFETY: per the contract.
    unsafe { if m == u16::MAX { _mm512_storeu_ps(p, x) } else { _mm512_mask_storeu_ps(p, m, x) } }
}

/// Adds previous partial sums, finishes (alpha, addends, activation) and stores an f32 tile.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,f16c")]
pub(crate) unsafe fn store_f32<const R: usize, const NV: usize>(acc: &[[__m512; NV]; R], io: &TileIo<f32>) {
    let fin: Option<&Fin<f32>> = io.fin.as_ref();
    for (i, row) in acc.iter().enumerate().take(io.mr) {
        for (v, &x) in row.iter().enumerate() {
            let rem = io.nr.saturating_sub(16 * v);
            if rem == 0 {
                break;
            }
            let m = mask16(rem);
            // SAFETY: the caller guarantees `io`'s pointers for the valid mr × nr tile (and
            // `fin`'s addends for its rows and columns); masked lanes are neither read nor
            // written.
            unsafe {
                let mut x = x;
                if !io.prev.is_null() {
                    x = _mm512_add_ps(x, load_ps(m, io.prev.add(i * io.ldp + 16 * v)));
                }
                let at = i * io.ldd + 16 * v;
                let Some(f) = fin else {
                    store_ps(io.dst.cast::<f32>().add(at), m, x);
                    continue;
                };
                if f.alpha != 1.0 {
                    x = _mm512_mul_ps(x, _mm512_set1_ps(f.alpha));
                }
                if !f.col.is_null() {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, f.col.add(16 * v)));
                }
                if !f.row.is_null() {
                    x = _mm512_add_ps(x, _mm512_set1_ps(*f.row.add(i)));
                }
                x = match f.act {
                    FastAct::None => x,
                    // max/min return their second operand when either is NaN: NaN is kept.
                    FastAct::Relu => _mm512_max_ps(_mm512_setzero_ps(), x),
                    FastAct::Clamp(lo, hi) => _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x)),
                };
                match f.out {
                    OutKind::Acc => store_ps(io.dst.cast::<f32>().add(at), m, x),
                    OutKind::Bf16 => _mm256_mask_storeu_epi16(io.dst.cast::<i16>().add(at), m, to_bf16(x)),
                    OutKind::F16 => {
                        let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x);
                        _mm256_mask_storeu_epi16(io.dst.cast::<i16>().add(at), m, h)
                    }
                }
            }
        }
    }
}

/// Adds previous partial sums, finishes (addends, ReLU/clamp) and stores an i32 tile.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(crate) unsafe fn store_i32<const R: usize, const NV: usize>(acc: &[[__m512i; NV]; R], io: &TileIo<i32>) {
    let fin: Option<&Fin<i32>> = io.fin.as_ref();
    for (i, row) in acc.iter().enumerate().take(io.mr) {
        for (v, &x) in row.iter().enumerate() {
            let rem = io.nr.saturating_sub(16 * v);
            if rem == 0 {
                break;
            }
            let m = mask16(rem);
            // SAFETY: as in `store_f32`.
            unsafe {
                let mut x = x;
                if !io.prev.is_null() {
                    x = _mm512_add_epi32(x, _mm512_maskz_loadu_epi32(m, io.prev.add(i * io.ldp + 16 * v)));
                }
                if let Some(f) = fin {
                    if !f.col.is_null() {
                        x = _mm512_add_epi32(x, _mm512_maskz_loadu_epi32(m, f.col.add(16 * v)));
                    }
                    if !f.row.is_null() {
                        x = _mm512_add_epi32(x, _mm512_set1_epi32(*f.row.add(i)));
                    }
                    x = match f.act {
                        FastAct::None => x,
                        FastAct::Relu => _mm512_max_epi32(x, _mm512_setzero_si512()),
                        FastAct::Clamp(lo, hi) => _mm512_min_epi32(
                            _mm512_max_epi32(x, _mm512_set1_epi32(lo as i32)),
                            _mm512_set1_epi32(hi as i32),
                        ),
                    };
                }
                _mm512_mask_storeu_epi32(io.dst.cast::<i32>().add(i * io.ldd + 16 * v), m, x);
            }
        }
    }
}
