//! The two peer entry points that are `unsafe fn`s taking raw pointers (gemm 0.19's `gemm`,
//! matrixmultiply's `sgemm`), wrapped as safe functions over row-major slices whose lengths
//! are checked first. This is the only `unsafe` in accel-bench (the crate denies it
//! elsewhere): the peers' APIs leave no safe way to call them.

use crate::workload::BenchResult;

/// Element types gemm 0.19 accepts (it panics on any other `T`).
pub(super) trait GemmElem: Copy + 'static {
    const ZERO: Self;
    const ONE: Self;
}

impl GemmElem for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
}

impl GemmElem for half::f16 {
    const ZERO: half::f16 = half::f16::ZERO;
    const ONE: half::f16 = half::f16::ONE;
}

fn check_lens(m: usize, n: usize, k: usize, a: usize, b: usize, c: usize) -> BenchResult<()> {
    let want = (m.checked_mul(k), k.checked_mul(n), m.checked_mul(n));
    if want != (Some(a), Some(b), Some(c)) {
        return Err(format!("peer matmul {m}x{n}x{k}: operand lengths {a}, {b}, {c} do not match"));
    }
    if [m, n, k].iter().any(|&d| d > isize::MAX as usize) {
        return Err(format!("peer matmul {m}x{n}x{k}: a dimension exceeds isize::MAX"));
    }
    Ok(())
}

/// `c = a @ b` with gemm 0.19, all row-major and contiguous.
pub(super) fn gemm<T: GemmElem>(
    (m, n, k): (usize, usize, usize),
    a: &[T],
    b: &[T],
    c: &mut [T],
    par: gemm::Parallelism,
) -> BenchResult<()> {
    check_lens(m, n, k, a.len(), b.len(), c.len())?;
    // SAFETY: `T` is f32 or f16 (the `GemmElem` impls), the types gemm supports. With
    // row-major strides (row stride = columns, column stride 1) the largest index gemm
    // touches is rows·cols − 1 of each operand, and the lengths were checked to equal
    // rows·cols. `c` is a unique borrow, so it aliases neither `a` nor `b`. `read_dst` is
    // false, so `c`'s previous contents (and alpha) are not used; beta = 1 gives c = a·b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}

/// `c = a @ b` with matrixmultiply's `sgemm`, all row-major and contiguous.
pub(super) fn sgemm((m, n, k): (usize, usize, usize), a: &[f32], b: &[f32], c: &mut [f32]) -> BenchResult<()> {
    check_lens(m, n, k, a.len(), b.len(), c.len())?;
    // SAFETY: as for `gemm` above: row-major strides over slices whose lengths were checked
    // to be exactly rows·cols, and `c` is a unique borrow. beta = 0 overwrites `c`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_multiply_and_reject_short_slices() {
        // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
        let (a, b) = ([1.0f32, 2.0, 3.0, 4.0], [5.0f32, 6.0, 7.0, 8.0]);
        let mut c = [0.0f32; 4];
        gemm((2, 2, 2), &a, &b, &mut c, gemm::Parallelism::None).unwrap();
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        let mut c = [0.0f32; 4];
        sgemm((2, 2, 2), &a, &b, &mut c).unwrap();
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        assert!(sgemm((2, 2, 3), &a, &b, &mut c).is_err());
        assert!(gemm((2, 2, 2), &a[..3], &b, &mut c, gemm::Parallelism::None).is_err());
        assert!(sgemm((usize::MAX, 2, 2), &a, &b, &mut c).is_err());
    }
}
