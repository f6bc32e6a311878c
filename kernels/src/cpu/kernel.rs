//! Register-blocked GEMM microkernels in safe Rust: an `MR × NR` tile of C accumulated over a
//! packed A panel (`kc × MR`) and a packed B panel (`kc × NR`). The fixed trip counts let LLVM
//! keep the tile in registers and vectorise the `NR` loop for the baseline ISA; hand-written
//! SIMD versions per ISA replace these with the CPU-speed issue.

/// Rows of the register tile.
pub(crate) const MR: usize = 4;
/// Columns of the register tile.
pub(crate) const NR: usize = 8;

/// An accumulator type (f32 for float GEMM, i32 with wrapping for int8 GEMM).
pub(crate) trait Acc: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    /// `self + other` (wrapping for integers).
    fn add(self, other: Self) -> Self;
    /// `self · other` (wrapping for integers).
    fn mul(self, other: Self) -> Self;
    /// `c = Σ_p a[p][i] · b[p][j]` over `kc` packed steps.
    fn kernel(kc: usize, a: &[Self], b: &[Self], c: &mut [[Self; NR]; MR]);
}

impl Acc for f32 {
    #[inline(always)]
    fn add(self, other: f32) -> f32 {
        self + other
    }

    #[inline(always)]
    fn mul(self, other: f32) -> f32 {
        self * other
    }

    #[inline]
    fn kernel(kc: usize, a: &[f32], b: &[f32], c: &mut [[f32; NR]; MR]) {
        let mut acc = [[0f32; NR]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
            for (row, &ai) in acc.iter_mut().zip(ap) {
                for (cij, &bj) in row.iter_mut().zip(bp) {
                    *cij += ai * bj;
                }
            }
        }
        *c = acc;
    }
}

impl Acc for i32 {
    #[inline(always)]
    fn add(self, other: i32) -> i32 {
        self.wrapping_add(other)
    }

    #[inline(always)]
    fn mul(self, other: i32) -> i32 {
        self.wrapping_mul(other)
    }

    #[inline]
    fn kernel(kc: usize, a: &[i32], b: &[i32], c: &mut [[i32; NR]; MR]) {
        let mut acc = [[0i32; NR]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
            for (row, &ai) in acc.iter_mut().zip(ap) {
                for (cij, &bj) in row.iter_mut().zip(bp) {
                    *cij = cij.wrapping_add(ai.wrapping_mul(bj));
                }
            }
        }
        *c = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_matches_naive() {
        let kc = 5;
        let a: Vec<f32> = (0..kc * MR).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..kc * NR).map(|i| (i % 7) as f32 - 2.0).collect();
        let mut c = [[0f32; NR]; MR];
        f32::kernel(kc, &a, &b, &mut c);
        for i in 0..MR {
            for j in 0..NR {
                let want: f32 = (0..kc).map(|p| a[p * MR + i] * b[p * NR + j]).sum();
                assert_eq!(c[i][j], want);
            }
        }
    }
}
