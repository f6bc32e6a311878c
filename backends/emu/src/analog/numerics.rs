//! The crossbar's datapath (emulation.md §3.1, §6.6), for one GEMM of zero-point-adjusted
//! integers `x' = a − za` (`[m × k]`, gated taps contribute nothing) and `w' = b − zb`
//! (`[k × n]`):
//!
//! 1. **Mapping**: differential, a positive and a negative polarity column per weight;
//!    magnitudes `|w'|` are cut into `⌈weight_bits/cell_bits⌉` slices of `cell_bits`,
//!    slice `t` holding `(|w'| >> cell_bits·t) & (2^cell − 1)` as a conductance level.
//! 2. **Programming error** (once per programming, keyed by cell) and **drift**
//!    (`((t + t0)/t0)^−ν` on every level) perturb the levels.
//! 3. **Inputs**: sign-magnitude in two passes (positive and negative parts), each cut
//!    into `dac_bits` slices driven bit-serially.
//! 4. **Column sums** over each row group of `rows` rows, plus **read noise** (keyed by
//!    conversion) and **IR drop** (aihwkit's closed form: rows far from the output lose
//!    current as `1 − (1 − r/n)²`, scaled by the column's total current).
//! 5. **ADC**: round to the step (1 when lossless), clip to `[0, adc_range × range]`.
//! 6. **Shift-and-add**: exact digital recombination, `± 2^(cell·t + dac·b)` per conversion.
//!
//! With ideal settings every column sum is an integer the ADC resolves, so the result is
//! the exact integer product. Noise is a pure function of the seed and the coordinates.

use super::config::AnalogConfig;
use super::rng::normal;

/// Zero-point-adjusted integer GEMM on the modeled crossbars; `rep` keys the programming
/// noise of this repeat's weights. `a` holds NaN at gated taps.
pub(crate) fn gemm(
    cfg: &AnalogConfig,
    rep: usize,
    zero_points: (i32, i32),
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
) -> Vec<f64> {
    let cb = cfg.cell_bits;
    let slices = cfg.weight_slices() as usize;
    let sp = 2 * slices; // (polarity, slice) planes
    let cell_mask = (1i64 << cb) - 1;
    let wmax = (1i64 << cfg.weight_bits) - 1;
    let xmax = (1i64 << cfg.input_bits) - 1;
    let noise = &cfg.noise;
    let drift = cfg.drift_factor();
    // Levels [k][n][sp], with programming error and drift.
    let mut levels = vec![0f32; k * n * sp];
    for r in 0..k {
        for j in 0..n {
            let w = (b[r * n + j] as i64 - zero_points.1 as i64).clamp(-wmax, wmax);
            let pol = usize::from(w < 0);
            let mag = w.abs();
            for t in 0..slices {
                let level = ((mag >> (cb as usize * t)) & cell_mask) as f64;
                let mut g = level;
                if noise.programming_sigma > 0.0 {
                    let key = [1, rep as u64, r as u64, j as u64, (pol * slices + t) as u64];
                    g = (g + noise.programming_sigma * normal(noise.seed, &key)).max(0.0);
                }
                levels[(r * n + j) * sp + pol * slices + t] = (g * drift) as f32;
            }
            // The other polarity's cells stay at level 0 (programming error still applies).
            if noise.programming_sigma > 0.0 {
                for t in 0..slices {
                    let p = 1 - pol;
                    let key = [1, rep as u64, r as u64, j as u64, (p * slices + t) as u64];
                    let g = (noise.programming_sigma * normal(noise.seed, &key)).max(0.0);
                    levels[(r * n + j) * sp + p * slices + t] = (g * drift) as f32;
                }
            }
        }
    }
    let rows = cfg.rows as usize;
    let dac = cfg.dac_bits;
    let dmask = (1i64 << dac) - 1;
    let in_slices = cfg.input_slices() as usize;
    let step = cfg.adc_step();
    let top = (cfg.adc_top() / step).floor();
    let dmax = dmask as f64;
    let lmax = cell_mask as f64;
    let ir = noise.ir_drop;
    let mut out = vec![0f64; m * n];
    let mut col = vec![0f32; n * sp];
    let mut colw = vec![0f32; if ir > 0.0 { n * sp } else { 0 }];
    let mut xs = vec![0i64; k];
    for i in 0..m {
        for (r, x) in xs.iter_mut().enumerate() {
            let v = a[i * k + r];
            *x = if v.is_nan() { 0 } else { (v as i64 - zero_points.0 as i64).clamp(-xmax, xmax) };
        }
        let y = &mut out[i * n..(i + 1) * n];
        for sign in 0..2usize {
            for bit in 0..in_slices {
                for (g, start) in (0..k).step_by(rows).enumerate() {
                    let end = (start + rows).min(k);
                    col.fill(0.0);
                    colw.fill(0.0);
                    for r in start..end {
                        let x = xs[r];
                        let mag = if (x < 0) == (sign == 1) { x.abs() } else { 0 };
                        let d = (mag >> (dac as usize * bit)) & dmask;
                        if d == 0 {
                            continue;
                        }
                        let d = d as f32;
                        let row = &levels[r * n * sp..(r + 1) * n * sp];
                        for (c, l) in col.iter_mut().zip(row) {
                            *c += d * *l;
                        }
                        if ir > 0.0 {
                            // Row r's share of the current reaching the output end.
                            let rho = 1.0 - (1.0 - (r - start) as f32 / rows as f32).powi(2);
                            for (c, l) in colw.iter_mut().zip(row) {
                                *c += d * rho * *l;
                            }
                        }
                    }
                    for (j, yj) in y.iter_mut().enumerate() {
                        for q in 0..sp {
                            let idx = j * sp + q;
                            let mut v = col[idx] as f64;
                            if ir > 0.0 {
                                let a_ir = rows as f64 / noise.ir_drop_g_ratio * v / (lmax * dmax);
                                let c_ir = a_ir * (a_ir * (0.05 * a_ir - 0.2) + 0.5);
                                v -= ir * c_ir * colw[idx] as f64;
                            }
                            if noise.read_sigma > 0.0 {
                                let key =
                                    [2, rep as u64, i as u64, j as u64, q as u64, sign as u64, bit as u64, g as u64];
                                v += noise.read_sigma * normal(noise.seed, &key);
                            }
                            let code = (v / step).round().clamp(0.0, top);
                            if code == 0.0 {
                                continue;
                            }
                            let (pol, t) = (q / slices, q % slices);
                            let shift = (cb as usize * t + dac as usize * bit) as i32;
                            let signed = if (pol == 1) != (sign == 1) { -1.0 } else { 1.0 };
                            *yj += signed * code * step * 2f64.powi(shift);
                        }
                    }
                }
            }
        }
    }
    out
}
