//! The PIM units' float datapaths (emulation.md §2.1, §2.2, §6.5), per output element
//! `Σ_p a[p]·w[p]` of a GEMV:
//!
//! - **LaneSimd** (HBM-PIM PCU, PIMSimulator `PIMBlock.cpp`): lane `l` holds the products of
//!   `p ≡ l (mod lanes)` in order; each MAC is unfused, `acc = fmt(fmt(a·w) + acc)`, two
//!   roundings to the accumulator format. The host then reduces the lanes sequentially in
//!   the same format (`fp16ReduceSum`): `s = lane0; s = fmt(s + lane_l)`.
//! - **DotProduct** (AiM PU): each column access brings `lanes` consecutive products; they
//!   are exact (f16/bf16 products fit in f64), summed by a pairwise adder tree with one
//!   rounding per adder, and the tree's result is added into the accumulator.
//!
//! Every rounding is to nearest even. Additions of two f16 or bf16 values are exact in f64
//! (or round to the same result), so each `fmt(x + y)` here is one correct rounding.

use super::config::AccFormat;
use accel_core::round::{to_bf16, to_f16};

/// Rounds `v` to the accumulator format.
#[inline]
fn round(fmt: AccFormat, v: f64) -> f64 {
    match fmt {
        AccFormat::F16 => to_f16(v).to_f64(),
        AccFormat::Bf16 => to_bf16(v).to_f64(),
        AccFormat::F32 | AccFormat::I32 => v as f32 as f64,
    }
}

/// `fmt(x + y)` for values already in the format.
#[inline]
fn add(fmt: AccFormat, x: f64, y: f64) -> f64 {
    match fmt {
        // f32 + f32 is not always exact in f64: add in f32 (one correct rounding).
        AccFormat::F32 | AccFormat::I32 => (x as f32 + y as f32) as f64,
        _ => round(fmt, x + y),
    }
}

/// Lane-SIMD GEMM (one GEMV per row of `a`): `[m × k] @ [k × n]`.
pub(crate) fn lane_simd(fmt: AccFormat, lanes: usize, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let lanes = lanes.max(1);
    let mut out = vec![0f64; m * n];
    let mut acc = vec![0f64; lanes];
    for i in 0..m {
        for j in 0..n {
            acc.fill(0.0);
            for p in 0..k {
                let prod = round(fmt, a[i * k + p] as f64 * b[p * n + j] as f64);
                let l = p % lanes;
                acc[l] = add(fmt, acc[l], prod);
            }
            let mut s = acc[0];
            for &v in &acc[1..] {
                s = add(fmt, s, v);
            }
            out[i * n + j] = s;
        }
    }
    out
}

/// Pairwise adder tree over `v` (length a power of two or not: odd leftovers pass up).
fn tree(fmt: AccFormat, v: &mut Vec<f64>) -> f64 {
    while v.len() > 1 {
        let mut next = Vec::with_capacity(v.len().div_ceil(2));
        for pair in v.chunks(2) {
            next.push(if pair.len() == 2 { add(fmt, pair[0], pair[1]) } else { pair[0] });
        }
        *v = next;
    }
    v.first().copied().unwrap_or(0.0)
}

/// Dot-product GEMM: per column of `lanes` reduction indices, an adder tree, then the
/// accumulator.
pub(crate) fn dot_product(
    fmt: AccFormat,
    lanes: usize,
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Vec<f64> {
    let lanes = lanes.max(1);
    let mut out = vec![0f64; m * n];
    let mut level = Vec::with_capacity(lanes);
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0;
            for start in (0..k).step_by(lanes) {
                level.clear();
                // Products of f16/bf16 inputs are exact in f64; the first adder rounds.
                level.extend((start..(start + lanes).min(k)).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64));
                let t = if level.len() == 1 { round(fmt, level[0]) } else { tree(fmt, &mut level) };
                acc = add(fmt, acc, t);
            }
            out[i * n + j] = acc;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp16_lanes_round_every_step() {
        // 2048 + 1 is not representable in f16 (spacing 2 above 2048): a single lane
        // accumulating 2048, 1, 1 stays at 2048 while an f32 accumulator reaches 2050.
        let a = [1.0f32; 3];
        let b = [2048.0f32, 1.0, 1.0];
        assert_eq!(lane_simd(AccFormat::F16, 1, &a, &b, 1, 3, 1)[0], 2048.0);
        assert_eq!(lane_simd(AccFormat::F32, 1, &a, &b, 1, 3, 1)[0], 2050.0);
        // With 2 lanes, lane 1 holds 1 alone and lane 0 holds 2048 + 1 = 2048; the host
        // reduction 2048 + 1 rounds to 2048 again.
        assert_eq!(lane_simd(AccFormat::F16, 2, &a, &b, 1, 3, 1)[0], 2048.0);
    }

    #[test]
    fn dot_product_sums_a_tree_then_accumulates() {
        // Tree over [2048, 1, 1, 0] in f16: (2048 + 1) + (1 + 0) = 2048 + 1 = 2048.
        let a = [1.0f32; 4];
        let b = [2048.0f32, 1.0, 1.0, 0.0];
        assert_eq!(dot_product(AccFormat::F16, 4, &a, &b, 1, 4, 1)[0], 2048.0);
        // Tree over [1, 1, 2048, 0]: (1 + 1) + 2048 = 2050 (exact in f16).
        let b = [1.0f32, 1.0, 2048.0, 0.0];
        assert_eq!(dot_product(AccFormat::F16, 4, &a, &b, 1, 4, 1)[0], 2050.0);
    }
}
