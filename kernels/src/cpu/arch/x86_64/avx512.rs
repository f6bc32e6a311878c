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
//! the accumulators before the store.

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
