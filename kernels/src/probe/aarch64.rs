//! aarch64 peak loop: 12 independent `fmla v.4s` accumulators (v0–v11) fed by two constant
//! registers (v12, v13), in `asm!` so the compiler can neither fold the chain nor spill.
//! NEON is part of the aarch64 baseline, so no run-time detection is needed.

use super::PeakKind;
use std::arch::asm;

/// The loop for `kind`: only the NEON f32 FMA exists here.
pub(super) fn runner(kind: PeakKind) -> Option<super::Runner> {
    match kind {
        PeakKind::F32Neon => Some(f32_neon),
        _ => None,
    }
}

fn f32_neon(iters: u64) {
    // SAFETY: registers only (nomem, nostack); every vector register written is declared as a
    // clobber; the counter starts at >= 1 so `subs`/`b.ne` terminates. NEON is baseline.
    unsafe {
        asm!(
            // Multiplicands 1.0; accumulators start at 0 and grow by whole numbers, so they
            // never reach inf or a subnormal.
            "fmov v12.4s, #1.0",
            "fmov v13.4s, #1.0",
            "movi v0.16b, #0",
            "movi v1.16b, #0",
            "movi v2.16b, #0",
            "movi v3.16b, #0",
            "movi v4.16b, #0",
            "movi v5.16b, #0",
            "movi v6.16b, #0",
            "movi v7.16b, #0",
            "movi v8.16b, #0",
            "movi v9.16b, #0",
            "movi v10.16b, #0",
            "movi v11.16b, #0",
            "2:",
            "fmla v0.4s, v12.4s, v13.4s",
            "fmla v1.4s, v12.4s, v13.4s",
            "fmla v2.4s, v12.4s, v13.4s",
            "fmla v3.4s, v12.4s, v13.4s",
            "fmla v4.4s, v12.4s, v13.4s",
            "fmla v5.4s, v12.4s, v13.4s",
            "fmla v6.4s, v12.4s, v13.4s",
            "fmla v7.4s, v12.4s, v13.4s",
            "fmla v8.4s, v12.4s, v13.4s",
            "fmla v9.4s, v12.4s, v13.4s",
            "fmla v10.4s, v12.4s, v13.4s",
            "fmla v11.4s, v12.4s, v13.4s",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            n = inout(reg) iters.max(1) => _,
            out("v0") _,
            out("v1") _,
            out("v2") _,
            out("v3") _,
            out("v4") _,
            out("v5") _,
            out("v6") _,
            out("v7") _,
            out("v8") _,
            out("v9") _,
            out("v10") _,
            out("v11") _,
            out("v12") _,
            out("v13") _,
            options(nomem, nostack),
        );
    }
}
