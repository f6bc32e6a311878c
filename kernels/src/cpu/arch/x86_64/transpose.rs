//! Transposes of 32-bit elements in registers: 16×16 in AVX-512 (unpack, then two rounds of
//! 128-bit block shuffles: 16 loads, 64 shuffles and 16 stores per 256 elements) and 8×8 in
//! AVX (unpack, 64-bit shuffle, 128-bit lane swap: 24 shuffles per 64 elements), where a
//! scalar transpose is one strided store per element.

use std::arch::x86_64::*;

/// Transposes the 16×16 block at `src` (row `r` at `src + r·rs`) into `dst` (row `c` at
/// `dst + c·rd`): `dst[c·rd + r] = src[r·rs + c]`.
///
/// # Safety
/// The CPU has AVX-512F; the 16 source rows of 16 elements are readable and the 16
/// destination rows of 16 elements writable, and the two do not overlap.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose16(src: *const f32, rs: usize, dst: *mut f32, rd: usize) {
    let mut r = [_mm512_setzero_ps(); 16];
    for (i, v) in r.iter_mut().enumerate() {
        // SAFETY: row `i` of the source is readable (the caller's contract).
        *v = unsafe { _mm512_loadu_ps(src.add(i * rs)) };
    }
    // Pairs of rows interleaved: per 128-bit block, t[2i] = (a0 b0 a1 b1), t[2i+1] = (a2 b2 a3 b3).
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // Quads of rows: u[4g + k] holds, in 128-bit block b, column k + 4b of rows 4g..4g+3.
    let mut u = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        u[4 * g] = _mm512_shuffle_ps::<0x44>(a, c);
        u[4 * g + 1] = _mm512_shuffle_ps::<0xEE>(a, c);
        u[4 * g + 2] = _mm512_shuffle_ps::<0x44>(b, d);
        u[4 * g + 3] = _mm512_shuffle_ps::<0xEE>(b, d);
    }
    // Gather the four quads' blocks of each column.
    for k in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x88>(u[k], u[4 + k]);
        let v1 = _mm512_shuffle_f32x4::<0xDD>(u[k], u[4 + k]);
        let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + k], u[12 + k]);
        let v3 = _mm512_shuffle_f32x4::<0xDD>(u[8 + k], u[12 + k]);
        let cols = [
            (k, _mm512_shuffle_f32x4::<0x88>(v0, v2)),
            (k + 8, _mm512_shuffle_f32x4::<0xDD>(v0, v2)),
            (k + 4, _mm512_shuffle_f32x4::<0x88>(v1, v3)),
            (k + 12, _mm512_shuffle_f32x4::<0xDD>(v1, v3)),
        ];
        for (c, v) in cols {
            // SAFETY: row `c` of the destination is writable (the caller's contract).
            unsafe { _mm512_storeu_ps(dst.add(c * rd), v) };
        }
    }
}

/// Transposes the 8×8 block at `src` (row `r` at `src + r·rs`) into `dst` (row `c` at
/// `dst + c·rd`): `dst[c·rd + r] = src[r·rs + c]`.
///
/// # Safety
/// The CPU has AVX; the 8 source rows of 8 elements are readable and the 8 destination rows
/// of 8 elements writable, and the two do not overlap.
#[target_feature(enable = "avx")]
pub(crate) unsafe fn transpose8(src: *const f32, rs: usize, dst: *mut f32, rd: usize) {
    let mut r = [_mm256_setzero_ps(); 8];
    for (i, v) in r.iter_mut().enumerate() {
        // SAFETY: row `i` of the source is readable (the caller's contract).
        *v = unsafe { _mm256_loadu_ps(src.add(i * rs)) };
    }
    // Per 128-bit half: t[2i] = (a0 b0 a1 b1), t[2i+1] = (a2 b2 a3 b3) of rows 2i, 2i+1.
    let mut t = [_mm256_setzero_ps(); 8];
    for i in 0..4 {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + k] holds column k (low half) and column k + 4 (high half) of rows 4g..4g+3.
    let mut u = [_mm256_setzero_ps(); 8];
    for g in 0..2 {
        let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        u[4 * g] = _mm256_shuffle_ps::<0x44>(a, c);
        u[4 * g + 1] = _mm256_shuffle_ps::<0xEE>(a, c);
        u[4 * g + 2] = _mm256_shuffle_ps::<0x44>(b, d);
        u[4 * g + 3] = _mm256_shuffle_ps::<0xEE>(b, d);
    }
    for k in 0..4 {
        let cols = [
            (k, _mm256_permute2f128_ps::<0x20>(u[k], u[4 + k])),
            (k + 4, _mm256_permute2f128_ps::<0x31>(u[k], u[4 + k])),
        ];
        for (c, v) in cols {
            // SAFETY: row `c` of the destination is writable (the caller's contract).
            unsafe { _mm256_storeu_ps(dst.add(c * rd), v) };
        }
    }
}
