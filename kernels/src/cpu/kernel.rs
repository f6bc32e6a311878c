//! The accumulator types of the CPU kernels: f32 for float products, i32 with two's-complement
//! wrapping for int8 products (the exact result modulo 2³², as the oracle defines it).

/// An accumulator type (f32 for float GEMM, i32 with wrapping for int8 GEMM).
pub(crate) trait Acc: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    /// `self + other` (wrapping for integers).
    fn add(self, other: Self) -> Self;
    /// `self · other` (wrapping for integers).
    fn mul(self, other: Self) -> Self;
    /// An integer correction term as an accumulator value.
    fn from_i32(v: i32) -> Self;
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

    #[inline(always)]
    fn from_i32(v: i32) -> f32 {
        v as f32
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

    #[inline(always)]
    fn from_i32(v: i32) -> i32 {
        v
    }
}
