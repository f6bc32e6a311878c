//! Host byte copies that avoid a pathology of `rep movsb` on AMD Zen 3: glibc copies 2 KiB to
//! about 512 KiB with `rep movsb`, which drops from 26–55 GB/s to 2–3 GB/s when the destination
//! sits 1–31 bytes past a 4 KiB multiple from the source (measured on the Zen 3 guest, see
//! BENCHMARKS.md). Two buffers allocated one after the other are often exactly that far apart
//! (a malloc header of 16 bytes past a 4 KiB-multiple size), so copying a tensor into the next
//! one hit it. Those copies take a plain AVX loop (30–65 GB/s at the same distances); every
//! other copy is `copy_from_slice`.

use super::isa::{self, Isa};

/// `dst.copy_from_slice(src)`, by way of an AVX loop on [`isa::active`] where `rep movsb`
/// would be slow (see the module docs).
///
/// # Panics
/// When the lengths differ (as [`slice::copy_from_slice`] does).
pub fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    copy_bytes_on(isa::active(), dst, src)
}

/// [`copy_bytes`] on a given ISA path (a plain copy where the CPU lacks it).
pub fn copy_bytes_on(isa: Isa, dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_bytes: destination and source lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        let ahead = (dst.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize) % 4096;
        if (1..64).contains(&ahead) && dst.len() >= 1024 && isa.has_avx2() && isa::features().supports(isa) {
            // SAFETY: the CPU has AVX (every `has_avx2` ISA implies it; checked above); `dst` and `src` are
            // distinct borrows of `len` bytes each.
            unsafe { super::arch::x86_64::stream::copy(dst.as_mut_ptr(), src.as_ptr(), dst.len()) };
            return;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    dst.copy_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_isa_copies_at_every_distance() {
        let features = isa::features();
        for isa in Isa::ALL.into_iter().filter(|&i| features.supports(i)) {
            for len in [0usize, 1, 127, 1024, 1100, 5000] {
                // Destination `ahead` bytes past a 4 KiB multiple from the source.
                for ahead in [0, 1, 16, 31, 63, 64, 2048] {
                    let mut mem: Vec<u8> = (0..3 * 8192).map(|i| (i * 31 % 253) as u8).collect();
                    let (from, to) = (3, 3 + len.next_multiple_of(4096).max(4096) + ahead);
                    let mut want = mem.clone();
                    want.copy_within(from..from + len, to);
                    let (a, b) = mem.split_at_mut(to);
                    copy_bytes_on(isa, &mut b[..len], &a[from..from + len]);
                    assert!(mem == want, "{isa:?} len {len} ahead {ahead}");
                }
            }
        }
    }
}
