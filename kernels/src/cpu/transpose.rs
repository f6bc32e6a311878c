//! Transposes of 32-bit accumulator matrices: the layout changes around lane-interleaved
//! kernels (planes ↔ pixels with channels across the lanes).

use super::isa::Isa;
use super::kernel::Acc;

/// `dst[c·rd + r] = src[r·rs + c]` for every `r < rows`, `c < cols`: square blocks in
/// registers (16×16 with AVX-512, 8×8 with AVX2), the rest element by element.
pub(crate) fn transpose<V: Acc>(isa: Isa, src: &[V], rs: usize, dst: &mut [V], rd: usize, rows: usize, cols: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        (rows - 1) * rs + cols <= src.len() && (cols - 1) * rd + rows <= dst.len(),
        "transpose: a {rows}×{cols} matrix does not fit its operands"
    );
    let (mut rb, mut cb) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if size_of::<V>() == 4 && isa.has_avx2() {
        use super::arch::x86_64::transpose::{transpose8, transpose16};
        let block = if isa.has_avx512() { 16 } else { 8 };
        (rb, cb) = (rows / block * block, cols / block * block);
        for r in (0..rb).step_by(block) {
            for c in (0..cb).step_by(block) {
                let (s, d) = (src[r * rs + c..].as_ptr().cast(), dst[c * rd + r..].as_mut_ptr().cast());
                // SAFETY: the CPU has `isa` (AVX-512F, or AVX2 which implies AVX); `V` is a
                // 32-bit accumulator (f32 or i32) whose bits are moved, never read as f32
                // arithmetic; rows r..r+block and columns c..c+block lie inside both operands
                // (the check above, r + block ≤ rows, c + block ≤ cols), and `src` and `dst`
                // are distinct borrows.
                unsafe { if block == 16 { transpose16(s, rs, d, rd) } else { transpose8(s, rs, d, rd) } }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    // What the blocks left: columns cb.. of rows ..rb, and every column of rows rb..
    for r in 0..rows {
        for c in if r < rb { cb } else { 0 }..cols {
            dst[c * rd + r] = src[r * rs + c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_isa_transposes_like_the_definition() {
        let features = crate::cpu::isa::features();
        for isa in crate::cpu::isa::Isa::ALL.into_iter().filter(|&i| features.supports(i)) {
            for (rows, cols) in [(1, 1), (8, 8), (16, 16), (16, 49), (49, 16), (35, 70), (7, 3), (9, 17)] {
                let (rs, rd) = (cols + 3, rows + 5);
                let src: Vec<i32> = (0..rows * rs).map(|i| i as i32 * 7 - 3).collect();
                let mut dst = vec![-1i32; cols * rd];
                transpose(isa, &src, rs, &mut dst, rd, rows, cols);
                for r in 0..rows {
                    for c in 0..cols {
                        assert_eq!(dst[c * rd + r], src[r * rs + c], "{isa:?} {rows}×{cols} at ({r}, {c})");
                    }
                }
                for c in 0..cols {
                    assert!(dst[c * rd + rows..(c + 1) * rd].iter().all(|&v| v == -1), "{isa:?} wrote padding");
                }
            }
        }
    }
}
