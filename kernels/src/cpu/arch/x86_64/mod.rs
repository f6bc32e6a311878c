//! x86-64 families: AVX-512 (F/BW/VL, with VNNI and BF16) and AVX2 + FMA (with AVX-VNNI).
//! Each is used only after [`crate::cpu::isa`] has confirmed the CPU has its features.

pub(crate) mod avx2;
pub(crate) mod avx512;

/// The AVX-512 lane mask covering the first `n` of 16 lanes.
#[inline(always)]
pub(crate) fn mask16(n: usize) -> u16 {
    if n >= 16 { u16::MAX } else { ((1u32 << n) - 1) as u16 }
}

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
