//! x86-64 families: AVX-512 (F/BW/VL, with VNNI and BF16) and AVX2 + FMA (with AVX-VNNI).
//! Each is used only after [`crate::cpu::isa`] has confirmed the CPU has its features.

pub(crate) mod amx;
pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod stream;
pub(crate) mod transpose;

/// The AVX-512 lane mask covering the first `n` of 16 lanes.
#[inline(always)]
pub(crate) fn mask16(n: usize) -> u16 {
    if n >= 16 { u16::MAX } else { ((1u32 << n) - 1) as u16 }
}

/// `x` as bf16 bits (rounded to nearest even); a bf16 input is copied as it is, not through
/// f32, so packing bf16 operands is a plain copy.
#[inline(always)]
pub(crate) fn bf16_bits<T: crate::cpu::dtype::Elem>(x: T) -> u16 {
    match (&x as &dyn std::any::Any).downcast_ref::<half::bf16>() {
        Some(b) => b.to_bits(),
        None => half::bf16::from_f32(x.to_f32()).to_bits(),
    }
}

/// The encoding members of a bf16-pair family (`Family::enc_a`, `enc_b`): [`bf16_bits`].
macro_rules! bf16_encoding {
    () => {
        #[inline(always)]
        fn enc_a<T: $crate::cpu::dtype::Elem>(x: T, _p: i32) -> u16 {
            $crate::cpu::arch::x86_64::bf16_bits(x)
        }
        #[inline(always)]
        fn enc_b<T: $crate::cpu::dtype::Elem>(x: T, _p: i32) -> u16 {
            $crate::cpu::arch::x86_64::bf16_bits(x)
        }
    };
}
pub(crate) use bf16_encoding;

/// The encoding members of a family multiplying unsigned by signed bytes (`vpdpbusd`,
/// `tdpbusd`): `unsigned_a` when A is the unsigned side (shifted by the driver's +128 when
/// it holds i8), `unsigned_b` when B is.
macro_rules! byte_encoding {
    (unsigned_a) => {
        #[inline(always)]
        fn enc_a<T: $crate::cpu::dtype::Elem>(x: T, shift: i32) -> u8 {
            $crate::cpu::arch::x86_64::enc_unsigned(x, shift)
        }
        #[inline(always)]
        fn enc_b<T: $crate::cpu::dtype::Elem>(x: T, _p: i32) -> u8 {
            $crate::cpu::arch::x86_64::enc_signed(x)
        }
        fn pa_i32(x: u8) -> i32 {
            x as i32
        }
        fn pb_i32(x: u8) -> i32 {
            x as i8 as i32
        }
    };
    (unsigned_b) => {
        #[inline(always)]
        fn enc_a<T: $crate::cpu::dtype::Elem>(x: T, _p: i32) -> u8 {
            $crate::cpu::arch::x86_64::enc_signed(x)
        }
        #[inline(always)]
        fn enc_b<T: $crate::cpu::dtype::Elem>(x: T, shift: i32) -> u8 {
            $crate::cpu::arch::x86_64::enc_unsigned(x, shift)
        }
        fn pa_i32(x: u8) -> i32 {
            x as i8 as i32
        }
        fn pb_i32(x: u8) -> i32 {
            x as i32
        }
    };
}
pub(crate) use byte_encoding;

/// `x + shift` as the unsigned byte VNNI multiplies (`shift` = 128 for i8 data).
#[inline(always)]
pub(crate) fn enc_unsigned<T: crate::cpu::dtype::Elem>(x: T, shift: i32) -> u8 {
    (x.to_i32() + shift) as u8
}

/// `x` as the signed byte VNNI multiplies.
#[inline(always)]
pub(crate) fn enc_signed<T: crate::cpu::dtype::Elem>(x: T) -> u8 {
    x.to_i32() as i8 as u8
}

/// Starts loading the C rows a tile will read or write (`V`-sized elements, `NR·size(V)` bytes
/// from each row start), so the store at the end of a long k loop does not wait on memory:
/// C rows are strided, which the hardware prefetchers do not follow.
#[inline(always)]
pub(crate) fn prefetch_c<V>(io: &crate::cpu::arch::TileIo<V>, row_bytes: usize) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    let (base, ld) = match io.prev.is_null() {
        false => (io.prev.cast::<u8>(), io.ldp),
        true => (io.dst.cast_const(), io.ldd),
    };
    let stride = ld * std::mem::size_of::<V>();
    for i in 0..io.mr {
        let row = base.wrapping_add(i * stride);
        for off in (0..row_bytes).step_by(64).chain([row_bytes - 1]) {
            // SAFETY: a prefetch is a hint; it never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(off).cast()) };
        }
    }
}

/// Four 16-byte rows interleaved column by column into 64 bytes, each byte XORed with `flip`:
/// `out[4j + e] = rows[e][j] ^ flip` (the VNNI quad layout of one k group).
#[inline(always)]
pub(crate) fn interleave4(rows: [&[u8; 16]; 4], flip: u8, out: &mut [u8; 64]) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86_64; each load reads one 16-byte row and each store writes
    // 16 of `out`'s 64 bytes.
    unsafe {
        let f = _mm_set1_epi8(flip as i8);
        let r: [__m128i; 4] = rows.map(|row| _mm_xor_si128(_mm_loadu_si128(row.as_ptr().cast()), f));
        let (lo01, hi01) = (_mm_unpacklo_epi8(r[0], r[1]), _mm_unpackhi_epi8(r[0], r[1]));
        let (lo23, hi23) = (_mm_unpacklo_epi8(r[2], r[3]), _mm_unpackhi_epi8(r[2], r[3]));
        let quads = [
            _mm_unpacklo_epi16(lo01, lo23),
            _mm_unpackhi_epi16(lo01, lo23),
            _mm_unpacklo_epi16(hi01, hi23),
            _mm_unpackhi_epi16(hi01, hi23),
        ];
        for (i, q) in quads.into_iter().enumerate() {
            _mm_storeu_si128(out.as_mut_ptr().add(16 * i).cast(), q);
        }
    }
}

/// Adds the column sums of a packed byte-quad panel (`[groups][nr][4]`, `nr` a multiple of
/// 16) into `sums[..w]`: per group and 16 columns one `vpdpbusd` against ones, the bytes
/// read as signed (`signed`) or unsigned.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512 VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn quad_col_sums(panel: &[u8], nr: usize, signed: bool, w: usize, sums: &mut [i32]) {
    use std::arch::x86_64::*;
    const MAX_NR: usize = 64;
    let vectors = nr / 16;
    assert!(nr.is_multiple_of(16) && nr <= MAX_NR && w <= nr && sums.len() >= w, "quad_col_sums: a {nr}-column panel");
    let ones = _mm512_set1_epi8(1);
    let mut acc = [_mm512_setzero_si512(); MAX_NR / 16];
    for group in panel.chunks_exact(4 * nr) {
        for (v, a) in acc.iter_mut().enumerate().take(vectors) {
            // SAFETY: `group` holds 4·nr bytes, 64 from 64·v on.
            let x = unsafe { _mm512_loadu_si512(group.as_ptr().add(64 * v).cast()) };
            *a = if signed { _mm512_dpbusd_epi32(*a, ones, x) } else { _mm512_dpbusd_epi32(*a, x, ones) };
        }
    }
    let mut lanes = [0i32; MAX_NR];
    for (v, a) in acc.iter().enumerate().take(vectors) {
        // SAFETY: `lanes` holds 16 i32 from 16·v on (v < MAX_NR / 16).
        unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().add(16 * v).cast(), *a) };
    }
    for (s, &l) in sums.iter_mut().zip(&lanes).take(w) {
        *s = s.wrapping_add(l);
    }
}
