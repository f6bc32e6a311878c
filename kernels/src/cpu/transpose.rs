//! Transposes of 32-bit accumulator matrices: the layout changes around lane-interleaved
//! kernels (planes ↔ pixels with channels across the lanes).

use super::isa::Isa;
use super::kernel::Acc;

/// `dst[c·rd + r] = src[r·rs + c]` for every `r < rows`, `c < cols`: 16×16 blocks in AVX-512
/// registers when `isa` has it, the rest element by element.
pub(crate) fn transpose<V: Acc>(isa: Isa, src: &[V], rs: usize, dst: &mut [V], rd: usize, rows: usize, cols: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        (rows - 1) * rs + cols <= src.len() && (cols - 1) * rd + rows <= dst.len(),
        "transpose: a {rows}×{cols} matrix does not fit its operands"
    );
    let (mut r16, mut c16) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && size_of::<V>() == 4 {
        (r16, c16) = (rows / 16 * 16, cols / 16 * 16);
        for r in (0..r16).step_by(16) {
            for c in (0..c16).step_by(16) {
                // SAFETY: the CPU has AVX-512F (`isa`); `V` is a 32-bit accumulator (f32 or
                // i32) whose bits are moved, never read as f32 arithmetic; rows r..r+16 and
                // columns c..c+16 lie inside both operands (the check above, r + 16 ≤ rows,
                // c + 16 ≤ cols), and `src` and `dst` are distinct borrows.
                unsafe {
                    super::arch::x86_64::transpose::transpose16(
                        src.as_ptr().add(r * rs + c).cast(),
                        rs,
                        dst.as_mut_ptr().add(c * rd + r).cast(),
                        rd,
                    )
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    // What the blocks left: columns c16.. of rows ..r16, and every column of rows r16..
    for r in 0..rows {
        for c in if r < r16 { c16 } else { 0 }..cols {
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
            for (rows, cols) in [(1, 1), (16, 16), (16, 49), (49, 16), (35, 70), (7, 3)] {
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
