//! Streaming stores for large results nothing reads soon (the in-process collectives'
//! outputs): on x86-64 with AVX the last step of an f32 sum / product / average writes
//! every output with cache-bypassing stores, saving each destination line's
//! read-for-ownership, a third of the memory traffic of a large write. Other paths (and
//! `ACCEL_CPU_ISA=scalar`) decline, and the caller stores the result itself.

use super::isa::{self, Isa};
use accel_core::comm::ReduceOp;

/// [`HostMemory::combine_streaming`](accel_core::comm::host::HostMemory::combine_streaming)
/// for CPU memory on [`isa::active`]: `out = a ⊕ b` (then `/ ranks` for Avg) into every
/// output. False, with nothing written, for Max / Min, mismatched lengths, or an ISA without
/// streaming stores.
pub fn combine_streaming(op: ReduceOp, ranks: usize, a: &[f32], b: &[f32], outs: &mut [&mut [u8]]) -> bool {
    combine_streaming_on(isa::active(), op, ranks, a, b, outs)
}

/// [`combine_streaming`] on a given ISA path (false where the CPU lacks it).
pub fn combine_streaming_on(
    isa: Isa,
    op: ReduceOp,
    ranks: usize,
    a: &[f32],
    b: &[f32],
    outs: &mut [&mut [u8]],
) -> bool {
    let (mul, div) = match op {
        ReduceOp::Sum => (false, None),
        ReduceOp::Avg => (false, Some(ranks as f32)),
        ReduceOp::Prod => (true, None),
        ReduceOp::Max | ReduceOp::Min => return false,
    };
    let bytes = outs.first().map_or(0, |o| o.len());
    let len = bytes / 4;
    if !bytes.is_multiple_of(4) || outs.iter().any(|o| o.len() != bytes) || a.len() != len || b.len() != len {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if isa.has_avx2() && isa::features().supports(isa) {
        let ptrs: Vec<*mut u8> = outs.iter_mut().map(|o| o.as_mut_ptr()).collect();
        // SAFETY: the CPU has AVX (every `has_avx2` ISA implies it; checked above). The operands hold
        // `len` f32 (checked above) and every output is writable for `len · 4` bytes; the
        // outputs are disjoint from each other and from the operands (distinct `&mut` and `&`
        // borrows).
        unsafe { super::arch::x86_64::stream::combine(mul, div, a.as_ptr(), b.as_ptr(), &ptrs, len) };
        return true;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (isa, mul, div);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(bytes: &[u8]) -> Vec<f32> {
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }

    #[test]
    fn every_isa_combines_like_the_definition() {
        let features = isa::features();
        let value = |i: usize| ((i * 37 % 101) as f32 - 50.0) * 0.37;
        for isa in Isa::ALL.into_iter().filter(|&i| features.supports(i)) {
            for op in [ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Prod] {
                for len in [0, 1, 7, 8, 9, 33, 100] {
                    for shift in [0, 4, 12] {
                        // Three outputs at different offsets into one allocation.
                        let av: Vec<f32> = (0..len).map(value).collect();
                        let bv: Vec<f32> = (0..len).map(|i| value(i + 5)).collect();
                        let mut mem = vec![0xAAu8; 3 * (len * 4 + 64) + 64];
                        let stride = len * 4 + 64;
                        let (o0, rest) = mem[shift..].split_at_mut(stride);
                        let (o1, o2) = rest.split_at_mut(stride);
                        let mut outs = [&mut o0[..len * 4], &mut o1[..len * 4], &mut o2[4..4 + len * 4]];
                        let done = combine_streaming_on(isa, op, 3, &av, &bv, &mut outs);
                        let streams = cfg!(target_arch = "x86_64") && isa.has_avx2();
                        assert_eq!(done, streams, "{isa:?} {op:?}");
                        if !done {
                            continue;
                        }
                        let want: Vec<f32> = av
                            .iter()
                            .zip(&bv)
                            .map(|(x, y)| match op {
                                ReduceOp::Prod => x * y,
                                ReduceOp::Avg => (x + y) / 3.0,
                                _ => x + y,
                            })
                            .collect();
                        for out in &outs {
                            let got = f32s(out);
                            assert!(
                                got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()),
                                "{isa:?} {op:?} len {len} shift {shift}"
                            );
                        }
                        assert!(mem[..shift].iter().all(|&x| x == 0xAA), "wrote before the outputs");
                    }
                }
            }
        }
    }

    #[test]
    fn declines_what_it_cannot_do() {
        let isa = isa::active();
        let mut out = [0u8; 16];
        let v = [1.0f32; 4];
        let short = [1.0f32; 3];
        let mut outs = [&mut out[..]];
        for op in [ReduceOp::Max, ReduceOp::Min] {
            assert!(!combine_streaming_on(isa, op, 2, &v, &v, &mut outs));
        }
        assert!(!combine_streaming_on(isa, ReduceOp::Sum, 2, &short, &v, &mut outs));
        assert!(outs[0].iter().all(|&x| x == 0));
    }
}
