//! The array's float datapath: f32 products (exact for f16 and bf16 inputs, rounded to
//! nearest even for f32 inputs) accumulated in f32 in the order the dataflow imposes
//! (emulation.md §1.4, "accumulation order is part of the device model"):
//!
//! - **OS**: each PE owns one output and adds the products in reduction order `p = 0, 1, ..`.
//! - **WS / IS**: the reduction is spread over the array rows. Within one row fold
//!   (`R` consecutive reduction indices) the partial sum flows down a column, starting from
//!   the first product, adding in array-row order; the column's result is then added to the
//!   output's partial sum in the accumulator buffer (`acc += column_sum`, `acc` starting at
//!   0), fold after fold.
//!
//! Every addition is one f32 rounding; nothing is fused. The loops vectorise across the
//! independent outputs of a row, never across the reduction, so the order above is exactly
//! the order computed.

use super::config::Dataflow;

/// `[m × k] @ [k × n]` accumulated as the array does; `rows` is the array's row count.
pub(crate) fn gemm(dataflow: Dataflow, rows: usize, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let chunk = match dataflow {
        Dataflow::Os => k.max(1),
        Dataflow::Ws | Dataflow::Is => rows.max(1),
    };
    let mut out = vec![0f64; m * n];
    let mut acc = vec![0f32; n];
    let mut column = vec![0f32; n];
    for i in 0..m {
        acc.fill(0.0);
        for start in (0..k).step_by(chunk) {
            column.fill(0.0);
            for p in start..(start + chunk).min(k) {
                let av = a[i * k + p];
                for (s, &bv) in column.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                    *s += av * bv;
                }
            }
            if chunk >= k {
                // One fold: the column sum is the result (adding it to a zero accumulator
                // changes nothing but the sign of a zero).
                acc.copy_from_slice(&column);
            } else {
                for (a, s) in acc.iter_mut().zip(&column) {
                    *a += *s;
                }
            }
        }
        for (o, &v) in out[i * n..(i + 1) * n].iter_mut().zip(&acc) {
            *o = v as f64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_adds_row_folds_in_the_accumulator() {
        // With R = 2 the sum 1e8 + 1 - 1e8 + 1 is (1e8 + 1) + (-1e8 + 1) = 1e8 + (-1e8 + 1)
        // in f32: 1e8 + 1 rounds to 1e8, so WS gives 0 + ... while sequential order differs.
        let a = [1.0f32, 1.0, 1.0, 1.0];
        let b = [1e8f32, 1.0, -1e8, 1.0];
        let ws = gemm(Dataflow::Ws, 2, &a, &b, 1, 4, 1)[0];
        let os = gemm(Dataflow::Os, 2, &a, &b, 1, 4, 1)[0];
        // WS: column sums 1e8 (1e8 + 1 rounds) and -1e8 + 1 = -99999999 -> -1e8 in f32; total 0.
        assert_eq!(ws, (1e8f32 + 1.0 + (-1e8f32 + 1.0)) as f64);
        // OS: ((1e8 + 1) - 1e8) + 1 = 0 + 1 = 1.
        assert_eq!(os, (((0f32 + 1e8) + 1.0) - 1e8 + 1.0) as f64);
        assert_ne!(ws, os);
    }

    #[test]
    fn exact_products_of_half_inputs() {
        // f16 values widen exactly; their products are exact in f32.
        let x = half::f16::from_f32(0.1).to_f32();
        let got = gemm(Dataflow::Os, 4, &[x], &[x], 1, 1, 1)[0];
        assert_eq!(got, (x as f64) * (x as f64));
    }
}
