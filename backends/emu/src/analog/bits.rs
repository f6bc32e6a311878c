//! A faster, equivalent form of the crossbar datapath for devices whose conductance levels
//! are exact integers (no programming error, drift or IR drop; read noise and any ADC are
//! fine): every column sum `Σ_r d_r·level_r` is computed from bit planes as
//! `Σ_u Σ_v 2^(u+v)·popcount(x_u & w_v)` over the row group, where `x_u` is input bit `u`
//! of the DAC slice and `w_v` bit `v` of the cell level. The conversions, their order, the
//! read-noise keys and the recombination are exactly those of `numerics::gemm`, so the two
//! agree bit for bit (a test checks it).

use super::config::AnalogConfig;
use super::rng::normal;
use rayon::prelude::*;

/// The words and masks of bit positions `start..end`.
fn span(start: usize, end: usize) -> Vec<(usize, u64)> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let w = pos / 64;
        let lo = pos % 64;
        let hi = (end - w * 64).min(64);
        out.push((w, if hi - lo == 64 { u64::MAX } else { ((1u64 << (hi - lo)) - 1) << lo }));
        pos = w * 64 + hi;
    }
    out
}

/// Popcount of `a & b` over a span.
#[inline]
fn and_count(a: &[u64], b: &[u64], span: &[(usize, u64)]) -> u64 {
    span.iter().map(|&(w, mask)| (a[w] & b[w] & mask).count_ones() as u64).sum()
}

/// Bit plane `bit` of `values` (non-negative) as a bitset over their indices.
fn plane(values: impl Iterator<Item = i64>, bit: u32, words: usize) -> Vec<u64> {
    let mut p = vec![0u64; words];
    for (r, v) in values.enumerate() {
        if (v >> bit) & 1 == 1 {
            p[r / 64] |= 1 << (r % 64);
        }
    }
    p
}

/// As `numerics::gemm`, for integer levels (see the module docs).
pub(crate) fn gemm(
    cfg: &AnalogConfig,
    rep: usize,
    zero_points: (i32, i32),
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
) -> Vec<f64> {
    let (cb, dac) = (cfg.cell_bits, cfg.dac_bits);
    let slices = cfg.weight_slices() as usize;
    let sp = 2 * slices;
    let words = k.div_ceil(64);
    let wmax = (1i64 << cfg.weight_bits) - 1;
    let xmax = (1i64 << cfg.input_bits) - 1;
    let cell_mask = (1i64 << cb) - 1;
    // Weight planes, flat: plane (j, q, v) holds bit v of the level of (polarity, slice) q.
    let planes = n * sp * cb as usize;
    let mut wplanes = vec![0u64; planes * words];
    for j in 0..n {
        let w: Vec<i64> = (0..k).map(|r| (b[r * n + j] as i64 - zero_points.1 as i64).clamp(-wmax, wmax)).collect();
        for q in 0..sp {
            let (pol, t) = (q / slices, q % slices);
            let level = |&x: &i64| if (x < 0) == (pol == 1) { (x.abs() >> (cb as usize * t)) & cell_mask } else { 0 };
            for v in 0..cb {
                let at = ((j * sp + q) * cb as usize + v as usize) * words;
                wplanes[at..at + words].copy_from_slice(&plane(w.iter().map(level), v, words));
            }
        }
    }
    let rows = cfg.rows as usize;
    let groups: Vec<Vec<(usize, u64)>> = (0..k).step_by(rows).map(|s| span(s, (s + rows).min(k))).collect();
    let in_slices = cfg.input_slices() as usize;
    let step = cfg.adc_step();
    let top = (cfg.adc_top() / step).floor();
    let noise = &cfg.noise;
    let adc = |v: f64| (v / step).round().clamp(0.0, top) * step;
    // Without read noise a column sum is an integer in 0..=range: convert through a table.
    let table: Vec<f64> = if noise.read_sigma > 0.0 {
        Vec::new()
    } else {
        (0..=cfg.column_range() as u64).map(|s| adc(s as f64)).collect()
    };
    let mut out = vec![0f64; m * n];
    if n == 0 {
        return out;
    }
    // Output rows are independent (noise is keyed by coordinates): any thread order gives
    // the same result.
    out.par_chunks_mut(n).enumerate().for_each(|(i, y)| {
        let xs: Vec<i64> = (0..k)
            .map(|r| {
                let v = a[i * k + r];
                if v.is_nan() { 0 } else { (v as i64 - zero_points.0 as i64).clamp(-xmax, xmax) }
            })
            .collect();
        for sign in 0..2usize {
            let mags: Vec<i64> = xs.iter().map(|&x| if (x < 0) == (sign == 1) { x.abs() } else { 0 }).collect();
            let xplanes: Vec<Vec<u64>> = (0..cfg.input_bits).map(|u| plane(mags.iter().copied(), u, words)).collect();
            for bit in 0..in_slices {
                let xs_bit: Vec<(u32, &[u64])> = (0..dac)
                    .filter_map(|u| xplanes.get(bit * dac as usize + u as usize).map(|p| (u, p.as_slice())))
                    .collect();
                // ± 2^(cell·t + dac·b) per (polarity, slice) plane.
                let scales: Vec<f64> = (0..sp)
                    .map(|q| {
                        let (pol, t) = (q / slices, q % slices);
                        let signed = if (pol == 1) != (sign == 1) { -1.0 } else { 1.0 };
                        signed * 2f64.powi((cb as usize * t + dac as usize * bit) as i32)
                    })
                    .collect();
                for (g, group) in groups.iter().enumerate() {
                    for (j, yj) in y.iter_mut().enumerate() {
                        for (q, scale) in scales.iter().enumerate() {
                            let mut sum = 0u64;
                            for &(u, x) in &xs_bit {
                                for v in 0..cb {
                                    let at = ((j * sp + q) * cb as usize + v as usize) * words;
                                    sum += and_count(x, &wplanes[at..at + words], group) << (u + v);
                                }
                            }
                            let value = if table.is_empty() {
                                let key =
                                    [2, rep as u64, i as u64, j as u64, q as u64, sign as u64, bit as u64, g as u64];
                                adc(sum as f64 + noise.read_sigma * normal(noise.seed, &key))
                            } else {
                                table[sum as usize]
                            };
                            if value != 0.0 {
                                *yj += value * scale;
                            }
                        }
                    }
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_count_respects_the_range() {
        let a = [u64::MAX, u64::MAX];
        let b = [u64::MAX, 0b1011];
        assert_eq!(and_count(&a, &b, &span(0, 128)), 64 + 3);
        assert_eq!(and_count(&a, &b, &span(3, 66)), 61 + 2);
        assert_eq!(and_count(&a, &b, &span(64, 65)), 1);
        assert_eq!(and_count(&a, &b, &span(10, 10)), 0);
    }
}
