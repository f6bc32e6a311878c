//! Safe loops compiled for a wider ISA than the build target ("multiversioning").
//!
//! The crate is built for the baseline target (SSE2 on x86-64), so a plain Rust loop
//! auto-vectorises to 128-bit vectors without FMA. A [`Block`] kernel written in safe Rust,
//! with its body `#[inline(always)]`, is instantiated here inside `#[target_feature]`
//! functions: the same source then compiles to AVX-512 or AVX2 + FMA code. Each
//! instantiation picks the register block (`B` consecutive 32-bit lanes, four vectors of the
//! ISA) and whether `f32::mul_add` may be used (it is a library call where FMA is not
//! available, a single instruction where it is).

use super::super::isa::Isa;

/// A kernel generic over its register block and FMA availability.
pub(crate) trait Block {
    /// Runs the kernel with `B` lanes per register block; `FMA` says `f32::mul_add` is one
    /// instruction.
    fn run<const FMA: bool, const B: usize>(self);
}

/// Runs `k` compiled for `isa` (which the CPU supports: [`crate::cpu::isa::Features::supports`]).
pub(crate) fn run<K: Block>(isa: Isa, k: K) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's `isa` is supported by this CPU (AVX-512 F/BW/VL and AVX2 + FMA).
        Isa::Avx512 | Isa::Amx => unsafe { x86::avx512(k) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above (AVX2 + FMA).
        Isa::Avx2 => unsafe { x86::avx2(k) },
        // aarch64 always has NEON with fused multiply-add.
        Isa::Neon if cfg!(target_arch = "aarch64") => k.run::<true, 32>(),
        _ => k.run::<false, 16>(),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Block;

    /// `k` compiled with AVX-512.
    ///
    /// # Safety
    /// The CPU has AVX-512 F/BW/VL, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub(super) unsafe fn avx512<K: Block>(k: K) {
        k.run::<true, 64>()
    }

    /// `k` compiled with AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<K: Block>(k: K) {
        k.run::<true, 32>()
    }
}
