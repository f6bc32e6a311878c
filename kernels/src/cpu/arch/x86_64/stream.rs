//! Host memory moves: streaming (non-temporal) stores for large results (32-byte `vmovntps`
//! stores go to memory through the write-combining buffers instead of first reading each
//! destination line into the cache, the read-for-ownership a plain store pays, which saves a
//! third of the memory traffic of writing a result nothing reads soon), and a plain AVX copy
//! for where `rep movsb` is slow (`cpu::copy`).

use std::arch::x86_64::*;

/// `out[j] = (a[j] + b[j])` (or `·` with `mul`), then `/ div` when given, for every output
/// pointer in `outs` and `j < len`. Whole 64-byte lines of the outputs that are line-aligned
/// where the first one is get streaming stores; the partial lines at either end, and every
/// other output, plain ones (a line written both ways would be flushed twice). A store fence
/// at the end makes the streaming stores visible to other threads once this returns (they
/// are weakly ordered).
///
/// # Safety
/// The CPU has AVX. `a` and `b` are readable for `len` f32 (any alignment) and each
/// `outs[i]` writable for `len · 4` bytes; the outputs are pairwise disjoint and do not
/// overlap the operands.
#[target_feature(enable = "avx")]
pub(crate) unsafe fn combine(mul: bool, div: Option<f32>, a: *const f32, b: *const f32, outs: &[*mut u8], len: usize) {
    let scalar = |j: usize| {
        // SAFETY: j < len, so element j of both operands is readable (the caller's contract).
        let (x, y) = unsafe { (a.add(j).read_unaligned(), b.add(j).read_unaligned()) };
        let v = if mul { x * y } else { x + y };
        div.map_or(v, |d| v / d)
    };
    let Some(&lead) = outs.first() else { return };
    // Elements before the first output's line boundary (none fit if it is not 4-aligned).
    let off = lead.align_offset(64);
    let head = if off % 4 == 0 { (off / 4).min(len) } else { 0 };
    let aligned: Vec<bool> = outs.iter().map(|&o| (o as usize + head * 4).is_multiple_of(64)).collect();
    let write = |j: usize, v: f32| {
        for &o in outs {
            // SAFETY: j < len, so bytes 4j..4j + 4 of every output are writable.
            unsafe { o.add(j * 4).cast::<f32>().write_unaligned(v) };
        }
    };
    for j in 0..head {
        write(j, scalar(j));
    }
    let vdiv = _mm256_set1_ps(div.unwrap_or(1.0));
    let mut j = head;
    let step = |x: __m256, y: __m256| {
        let v = if mul { _mm256_mul_ps(x, y) } else { _mm256_add_ps(x, y) };
        if div.is_some() { _mm256_div_ps(v, vdiv) } else { v }
    };
    while j + 16 <= len {
        // SAFETY: elements j..j + 16 are in bounds of the operands and the outputs; an
        // aligned output's address at j is 64-byte aligned (it was at `head` and j − head is
        // a multiple of 16 elements), as `vmovntps` requires of both halves.
        unsafe {
            let lo = step(_mm256_loadu_ps(a.add(j)), _mm256_loadu_ps(b.add(j)));
            let hi = step(_mm256_loadu_ps(a.add(j + 8)), _mm256_loadu_ps(b.add(j + 8)));
            for (&o, &al) in outs.iter().zip(&aligned) {
                let p = o.add(j * 4).cast::<f32>();
                if al {
                    _mm256_stream_ps(p, lo);
                    _mm256_stream_ps(p.add(8), hi);
                } else {
                    _mm256_storeu_ps(p, lo);
                    _mm256_storeu_ps(p.add(8), hi);
                }
            }
        }
        j += 16;
    }
    for j in j..len {
        write(j, scalar(j));
    }
    _mm_sfence();
}

/// Copies `len` bytes from `src` to `dst` with 32-byte unaligned loads and stores, 128 bytes
/// a step, the tail byte by byte.
///
/// # Safety
/// The CPU has AVX; `src` is readable and `dst` writable for `len` bytes, and they do not
/// overlap.
#[target_feature(enable = "avx")]
pub(crate) unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) {
    let mut at = 0;
    while at + 128 <= len {
        // SAFETY: bytes at..at + 128 are in bounds of both (the caller's contract).
        unsafe {
            let (s, d) = (src.add(at), dst.add(at));
            let v = [
                _mm256_loadu_si256(s.cast()),
                _mm256_loadu_si256(s.add(32).cast()),
                _mm256_loadu_si256(s.add(64).cast()),
                _mm256_loadu_si256(s.add(96).cast()),
            ];
            for (i, v) in v.into_iter().enumerate() {
                _mm256_storeu_si256(d.add(32 * i).cast(), v);
            }
        }
        at += 128;
    }
    // SAFETY: the remaining `len − at` bytes are in bounds of both and disjoint.
    unsafe { std::ptr::copy_nonoverlapping(src.add(at), dst.add(at), len - at) };
}
