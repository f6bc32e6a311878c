//! x86-64 peak loops: 12 independent accumulators (zmm0–11 or ymm0–11) fed by two constant
//! registers (12, 13), written in `asm!` so the compiler can neither fold the chain nor spill.
//!
//! Each safe wrapper re-checks its CPU feature (a cached atomic load) before entering the
//! `#[target_feature]` loop, so it is sound on its own, not only behind `runner`.

use super::PeakKind;
use std::arch::asm;

/// The loop for `kind`, if this CPU has the instruction.
pub(super) fn runner(kind: PeakKind) -> Option<super::Runner> {
    let avx512 = || is_x86_feature_detected!("avx512f");
    let run: super::Runner = match kind {
        PeakKind::F32Zmm if avx512() => f32_zmm,
        PeakKind::F32Ymm if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") => f32_ymm,
        PeakKind::VnniZmm if avx512() && is_x86_feature_detected!("avx512vnni") => vnni_zmm,
        PeakKind::VnniYmm if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni") => vnni_ymm,
        PeakKind::Bf16Zmm if avx512() && is_x86_feature_detected!("avx512bf16") => bf16_zmm,
        PeakKind::MaddYmm if is_x86_feature_detected!("avx2") => madd_ymm,
        PeakKind::AmxBf16 if crate::cpu::isa::features().amx => amx_bf16,
        PeakKind::AmxInt8 if crate::cpu::isa::features().amx => amx_int8,
        _ => return None,
    };
    Some(run)
}

/// `iters` (at least 1) iterations of 12 `$insn acc_i, r12, r13` on zmm or ymm registers,
/// with `acc_0..11` zeroed and every 32-bit lane of `r12`, `r13` set to `$bits`. Written
/// wholly in asm (no SIMD intrinsics or vector types), so it needs nothing newer than the
/// `#[target_feature]` attributes themselves.
macro_rules! mac12 {
    ($insn:literal, zmm, $iters:expr, $bits:expr) => {
        asm!(
            "vpbroadcastd zmm12, {c:e}",
            "vmovdqa64 zmm13, zmm12",
            "vpxord zmm0, zmm0, zmm0",
            "vpxord zmm1, zmm1, zmm1",
            "vpxord zmm2, zmm2, zmm2",
            "vpxord zmm3, zmm3, zmm3",
            "vpxord zmm4, zmm4, zmm4",
            "vpxord zmm5, zmm5, zmm5",
            "vpxord zmm6, zmm6, zmm6",
            "vpxord zmm7, zmm7, zmm7",
            "vpxord zmm8, zmm8, zmm8",
            "vpxord zmm9, zmm9, zmm9",
            "vpxord zmm10, zmm10, zmm10",
            "vpxord zmm11, zmm11, zmm11",
            "2:",
            concat!($insn, " zmm0, zmm12, zmm13"),
            concat!($insn, " zmm1, zmm12, zmm13"),
            concat!($insn, " zmm2, zmm12, zmm13"),
            concat!($insn, " zmm3, zmm12, zmm13"),
            concat!($insn, " zmm4, zmm12, zmm13"),
            concat!($insn, " zmm5, zmm12, zmm13"),
            concat!($insn, " zmm6, zmm12, zmm13"),
            concat!($insn, " zmm7, zmm12, zmm13"),
            concat!($insn, " zmm8, zmm12, zmm13"),
            concat!($insn, " zmm9, zmm12, zmm13"),
            concat!($insn, " zmm10, zmm12, zmm13"),
            concat!($insn, " zmm11, zmm12, zmm13"),
            "dec {n}",
            "jnz 2b",
            n = inout(reg) $iters.max(1) => _,
            c = in(reg) $bits,
            out("zmm0") _,
            out("zmm1") _,
            out("zmm2") _,
            out("zmm3") _,
            out("zmm4") _,
            out("zmm5") _,
            out("zmm6") _,
            out("zmm7") _,
            out("zmm8") _,
            out("zmm9") _,
            out("zmm10") _,
            out("zmm11") _,
            out("zmm12") _,
            out("zmm13") _,
            options(nomem, nostack),
        )
    };
    ($insn:literal, ymm, $iters:expr, $bits:expr) => {
        asm!(
            "vmovd xmm12, {c:e}",
            "vpbroadcastd ymm12, xmm12",
            "vmovdqa ymm13, ymm12",
            "vxorps ymm0, ymm0, ymm0",
            "vxorps ymm1, ymm1, ymm1",
            "vxorps ymm2, ymm2, ymm2",
            "vxorps ymm3, ymm3, ymm3",
            "vxorps ymm4, ymm4, ymm4",
            "vxorps ymm5, ymm5, ymm5",
            "vxorps ymm6, ymm6, ymm6",
            "vxorps ymm7, ymm7, ymm7",
            "vxorps ymm8, ymm8, ymm8",
            "vxorps ymm9, ymm9, ymm9",
            "vxorps ymm10, ymm10, ymm10",
            "vxorps ymm11, ymm11, ymm11",
            "2:",
            concat!($insn, " ymm0, ymm12, ymm13"),
            concat!($insn, " ymm1, ymm12, ymm13"),
            concat!($insn, " ymm2, ymm12, ymm13"),
            concat!($insn, " ymm3, ymm12, ymm13"),
            concat!($insn, " ymm4, ymm12, ymm13"),
            concat!($insn, " ymm5, ymm12, ymm13"),
            concat!($insn, " ymm6, ymm12, ymm13"),
            concat!($insn, " ymm7, ymm12, ymm13"),
            concat!($insn, " ymm8, ymm12, ymm13"),
            concat!($insn, " ymm9, ymm12, ymm13"),
            concat!($insn, " ymm10, ymm12, ymm13"),
            concat!($insn, " ymm11, ymm12, ymm13"),
            "dec {n}",
            "jnz 2b",
            n = inout(reg) $iters.max(1) => _,
            c = in(reg) $bits,
            out("ymm0") _,
            out("ymm1") _,
            out("ymm2") _,
            out("ymm3") _,
            out("ymm4") _,
            out("ymm5") _,
            out("ymm6") _,
            out("ymm7") _,
            out("ymm8") _,
            out("ymm9") _,
            out("ymm10") _,
            out("ymm11") _,
            out("ymm12") _,
            out("ymm13") _,
            options(nomem, nostack),
        )
    };
}

// Operands are ones, so the accumulators grow by whole numbers: floats never reach inf or a
// subnormal, and i32 sums wrap harmlessly.
/// f32 1.0.
const ONE_F32: u32 = 0x3F80_0000;
/// Four u8 (or i8) ones.
const ONE_U8X4: u32 = 0x0101_0101;
/// Two bf16 1.0.
const ONE_BF16X2: u32 = 0x3F80_3F80;
/// Two i16 ones.
const ONE_I16X2: u32 = 0x0001_0001;

fn f32_zmm(iters: u64) {
    #[target_feature(enable = "avx512f")]
    unsafe fn body(iters: u64) {
        // SAFETY: registers only (nomem, nostack); every vector register written is declared
        // as a clobber; the loop counter starts at >= 1 so `dec`/`jnz` terminates.
        unsafe { mac12!("vfmadd231ps", zmm, iters, ONE_F32) }
    }
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: avx512f was detected just above.
        unsafe { body(iters) }
    }
}

fn f32_ymm(iters: u64) {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn body(iters: u64) {
        // SAFETY: as in `f32_zmm`: registers only, declared clobbers, counter >= 1.
        unsafe { mac12!("vfmadd231ps", ymm, iters, ONE_F32) }
    }
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: avx2 and fma were detected just above.
        unsafe { body(iters) }
    }
}

fn vnni_zmm(iters: u64) {
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn body(iters: u64) {
        // SAFETY: as in `f32_zmm`: registers only, declared clobbers, counter >= 1.
        unsafe { mac12!("vpdpbusd", zmm, iters, ONE_U8X4) }
    }
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni") {
        // SAFETY: avx512f and avx512vnni were detected just above.
        unsafe { body(iters) }
    }
}

fn vnni_ymm(iters: u64) {
    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn body(iters: u64) {
        // SAFETY: as in `f32_zmm`. `{vex}` forces the AVX-VNNI encoding (not the EVEX
        // AVX512-VNNI form), which is the instruction this probe is about.
        unsafe { mac12!("{{vex}} vpdpbusd", ymm, iters, ONE_U8X4) }
    }
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni") {
        // SAFETY: avx2 and avxvnni were detected just above.
        unsafe { body(iters) }
    }
}

fn bf16_zmm(iters: u64) {
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn body(iters: u64) {
        // SAFETY: as in `f32_zmm`: registers only, declared clobbers, counter >= 1.
        unsafe { mac12!("vdpbf16ps", zmm, iters, ONE_BF16X2) }
    }
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16") {
        // SAFETY: avx512f and avx512bf16 were detected just above.
        unsafe { body(iters) }
    }
}

fn madd_ymm(iters: u64) {
    #[target_feature(enable = "avx2")]
    unsafe fn body(iters: u64) {
        // SAFETY: as in `f32_zmm`: registers only, declared clobbers, counter >= 1.
        // `vpmaddwd` overwrites its destination, so the twelve are independent throughput.
        unsafe { mac12!("vpmaddwd", ymm, iters, ONE_I16X2) }
    }
    if is_x86_feature_detected!("avx2") {
        // SAFETY: avx2 was detected just above.
        unsafe { body(iters) }
    }
}

/// `iters` (at least 1) iterations of 12 `$insn` tile products, three on each of the four
/// accumulator tiles `tmm4`–`tmm7` (enough in flight to cover the latency), from zeroed
/// source tiles; the tiles are configured (all 16 rows × 64 bytes) first and released after.
macro_rules! amx12 {
    ($insn:literal, $iters:expr) => {
        asm!(
            "ldtilecfg [{cfg}]",
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "tilezero tmm4",
            "tilezero tmm5",
            "tilezero tmm6",
            "tilezero tmm7",
            "2:",
            concat!($insn, " tmm4, tmm0, tmm2"),
            concat!($insn, " tmm5, tmm0, tmm3"),
            concat!($insn, " tmm6, tmm1, tmm2"),
            concat!($insn, " tmm7, tmm1, tmm3"),
            concat!($insn, " tmm4, tmm0, tmm2"),
            concat!($insn, " tmm5, tmm0, tmm3"),
            concat!($insn, " tmm6, tmm1, tmm2"),
            concat!($insn, " tmm7, tmm1, tmm3"),
            concat!($insn, " tmm4, tmm0, tmm2"),
            concat!($insn, " tmm5, tmm0, tmm3"),
            concat!($insn, " tmm6, tmm1, tmm2"),
            concat!($insn, " tmm7, tmm1, tmm3"),
            "dec {n}",
            "jnz 2b",
            "tilerelease",
            cfg = in(reg) crate::cpu::arch::x86_64::amx::config(),
            n = inout(reg) $iters.max(1) => _,
            options(nostack),
        )
    };
}

fn amx_bf16(iters: u64) {
    if crate::cpu::isa::features().amx {
        // SAFETY: AMX is present and its tile state granted (`features().amx`); the loop uses
        // tile registers only (configured here, released at the end) and reads 64 bytes of
        // configuration; the counter starts at >= 1.
        unsafe { amx12!("tdpbf16ps", iters) }
    }
}

fn amx_int8(iters: u64) {
    if crate::cpu::isa::features().amx {
        // SAFETY: as in `amx_bf16`.
        unsafe { amx12!("tdpbusd", iters) }
    }
}
