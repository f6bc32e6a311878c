//! Stage-3 acceptance (issue 5): the bit-sliced crossbar is exact with a lossless ADC and
//! ideal devices, its error grows as ADC bits drop, stated bounds hold, noise is seeded.

use accel_core::ops::{self, MatmulOptions};
use accel_core::{DType, Device, Tensor};
use accel_emu::analog::{Analog, AnalogConfig};
use accel_emu::{EmuBackend, Gemm, Preset, Workload};

fn isaac() -> AnalogConfig {
    match Preset::builtin("isaac").unwrap() {
        Preset::Analog(c) => c,
        other => panic!("{other:?}"),
    }
}

/// A device running every conversion (no ideal shortcut).
fn bit_sliced(cfg: AnalogConfig) -> Device {
    Device::new(EmuBackend::new(Analog::new(cfg).with_ideal_shortcut(false)))
}

/// Deterministic test data: `n` values in `lo..=hi`.
fn ints(seed: u64, n: usize, lo: i64, hi: i64) -> Vec<i64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (s % (hi - lo + 1) as u64) as i64
        })
        .collect()
}

/// u8 inputs (zero point 0) and i8 weights with zero point −128: unsigned 8-bit operands.
fn run(dev: &Device, x: &[i64], w: &[i64], (m, k, n): (usize, usize, usize)) -> Vec<i32> {
    let xs: Vec<u8> = x.iter().map(|&v| v as u8).collect();
    let ws: Vec<i8> = w.iter().map(|&v| (v - 128) as i8).collect();
    let a = Tensor::from_slice(dev, &[m, k], &xs).unwrap();
    let b = Tensor::from_slice(dev, &[k, n], &ws).unwrap();
    ops::matmul_with(&a, &b, &MatmulOptions::new().zero_points(0, -128)).unwrap().to_vec::<i32>().unwrap()
}

fn exact(x: &[i64], w: &[i64], (m, k, n): (usize, usize, usize)) -> Vec<i64> {
    let mut y = vec![0i64; m * n];
    for i in 0..m {
        for j in 0..n {
            y[i * n + j] = (0..k).map(|p| x[i * k + p] * w[p * n + j]).sum();
        }
    }
    y
}

const SHAPE: (usize, usize, usize) = (16, 300, 24);

/// 128 rows, 2-bit cells, 8-bit unsigned weights and inputs, 1-bit DAC, 9-bit ADC: every
/// column sum (at most 128·3) is resolved, so the bit-sliced crossbar is bit-exact
/// (emulation.md §3.1, lossless invariant). K = 300 spans three row groups.
#[test]
fn lossless_crossbar_is_exact() {
    let cfg = isaac();
    assert_eq!((cfg.rows, cfg.cell_bits, cfg.dac_bits, cfg.adc_bits), (128, 2, 1, 9));
    assert_eq!(cfg.lossless_adc_bits(), 9);
    assert!(cfg.is_ideal());
    let (m, k, n) = SHAPE;
    let x = ints(1, m * k, 0, 255);
    let w = ints(2, k * n, 0, 255);
    let got = run(&bit_sliced(cfg.clone()), &x, &w, SHAPE);
    let want: Vec<i32> = exact(&x, &w, SHAPE).into_iter().map(|v| v as i32).collect();
    assert_eq!(got, want);
    // The shortcut the registered device takes gives the same answer.
    assert_eq!(run(&accel_emu::device("isaac").unwrap(), &x, &w, SHAPE), want);
}

fn rel_rms(got: &[i32], want: &[i64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(&g, &e)| (g as f64 - e as f64).powi(2)).sum();
    let den: f64 = want.iter().map(|&e| (e as f64).powi(2)).sum();
    (num / den).sqrt()
}

/// Truncating the ADC below the lossless width loses information, more with every bit:
/// the relative RMS error grows strictly as ADC bits drop from 9 to 4, and every result
/// stays within the bound the model states.
#[test]
fn error_grows_as_adc_bits_drop() {
    let (m, k, n) = SHAPE;
    let x = ints(3, m * k, 0, 255);
    let w = ints(4, k * n, 0, 255);
    let want = exact(&x, &w, SHAPE);
    let mut last = -1.0;
    for bits in (4..=9).rev() {
        let cfg = AnalogConfig { adc_bits: bits, ..isaac() };
        let model = Analog::new(cfg.clone());
        let got = run(&bit_sliced(cfg), &x, &w, SHAPE);
        let err = rel_rms(&got, &want);
        println!("ADC {bits} bits: relative RMS error {err:.3e}");
        assert!(err > last, "{bits} bits: {err} is not above {last}");
        last = err;
        if let Some(b) = model.error_bound() {
            let limit = b.abs_at(k, 255.0 * 255.0);
            let worst = got.iter().zip(&want).map(|(&g, &e)| (g as f64 - e as f64).abs()).fold(0.0, f64::max);
            assert!(worst <= limit, "{bits} bits: error {worst} above the stated bound {limit}");
        } else {
            assert_eq!(bits, 9);
            assert_eq!(err, 0.0);
        }
    }
}

/// Device noise (programming error, read noise) is a pure function of the seed: the same
/// seed gives the same result, another seed another one, and both stay within the stated
/// (6σ) bound.
#[test]
fn noise_is_seeded_and_bounded() {
    let noisy = |seed| {
        let mut cfg = isaac();
        cfg.noise.seed = seed;
        cfg.noise.programming_sigma = 0.05;
        cfg.noise.read_sigma = 0.5;
        cfg
    };
    let (m, k, n) = SHAPE;
    let x = ints(5, m * k, 0, 255);
    let w = ints(6, k * n, 0, 255);
    let want = exact(&x, &w, SHAPE);
    let a = run(&bit_sliced(noisy(7)), &x, &w, SHAPE);
    let b = run(&bit_sliced(noisy(7)), &x, &w, SHAPE);
    let c = run(&bit_sliced(noisy(8)), &x, &w, SHAPE);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let bound = Analog::new(noisy(7)).error_bound().unwrap().abs_at(k, 255.0 * 255.0);
    for got in [&a, &c] {
        let worst = got.iter().zip(&want).map(|(&g, &e)| (g as f64 - e as f64).abs()).fold(0.0, f64::max);
        assert!(worst > 0.0 && worst <= bound, "error {worst}, bound {bound}");
    }
}

/// Drift lowers every conductance: without compensation the outputs shrink.
#[test]
fn drift_shrinks_outputs() {
    let mut cfg = isaac();
    cfg.noise.drift_nu = 0.05;
    cfg.noise.drift_time_s = 3600.0;
    let f = cfg.drift_factor();
    assert!(f < 0.7 && f > 0.6, "{f}");
    let (m, k, n) = SHAPE;
    let x = ints(9, m * k, 0, 255);
    let w = ints(10, k * n, 0, 255);
    let want = exact(&x, &w, SHAPE);
    let got = run(&bit_sliced(cfg), &x, &w, SHAPE);
    let ratio: f64 = got.iter().map(|&g| g as f64).sum::<f64>() / want.iter().map(|&e| e as f64).sum::<f64>();
    assert!((ratio - f).abs() < 0.05, "ratio {ratio}, drift factor {f}");
}

/// The cost counts ADC conversions per MAC (the crossbar's first-class metric) and puts the
/// ADCs first in the energy breakdown for an ISAAC-like design.
#[test]
fn cost_counts_conversions() {
    let g = Gemm::matmul(1, 64, 256, 512, DType::I8);
    let cost = accel_emu::cost(&Preset::builtin("isaac").unwrap(), &Workload::Gemm(g)).unwrap();
    let conv = cost.energy.iter().find(|e| e.component == "adc").unwrap();
    // Per output: 2 signs × 8 input bits × 2 polarities × 4 slices × 4 row groups.
    assert_eq!(conv.actions, 64 * 256 * 2 * 8 * 2 * 4 * 4);
    let per_mac = conv.actions as f64 / cost.macs as f64;
    assert!((per_mac - 1.0).abs() < 1e-12, "{per_mac}");
    let adc_pj = conv.actions as f64 * conv.pj_per_action;
    assert!(cost.energy.iter().all(|e| e.actions as f64 * e.pj_per_action <= adc_pj));
    // Float MACs are not something a crossbar of integer levels does.
    let f = Gemm::matmul(1, 4, 4, 4, DType::F32);
    assert!(accel_emu::cost(&Preset::builtin("isaac").unwrap(), &Workload::Gemm(f)).unwrap_err().is_unsupported());
}

/// The bit-plane (popcount) form of the datapath performs the same conversions in the same
/// order as the level-by-level form: identical results, lossy ADC and read noise included.
#[test]
fn bit_plane_form_matches_the_level_form() {
    let mut cfg = AnalogConfig { adc_bits: 6, dac_bits: 2, ..isaac() };
    cfg.noise.read_sigma = 0.7;
    let (m, k, n) = (5, 200, 7);
    let x = ints(11, m * k, 0, 255);
    let w = ints(12, k * n, 0, 255);
    let fast = Device::new(EmuBackend::new(Analog::new(cfg.clone())));
    let slow = Device::new(EmuBackend::new(Analog::new(cfg).with_bit_planes(false)));
    assert_eq!(run(&fast, &x, &w, (m, k, n)), run(&slow, &x, &w, (m, k, n)));
    // Signed inputs (i8 with a zero point) take both sign passes.
    let dev = |planes| {
        Device::new(EmuBackend::new(Analog::new(AnalogConfig { adc_bits: 7, ..isaac() }).with_bit_planes(planes)))
    };
    let xs: Vec<i8> = ints(13, m * k, -128, 127).into_iter().map(|v| v as i8).collect();
    let ws: Vec<i8> = ints(14, k * n, -128, 127).into_iter().map(|v| v as i8).collect();
    let go = |d: &Device| {
        let a = Tensor::from_slice(d, &[m, k], &xs).unwrap();
        let b = Tensor::from_slice(d, &[k, n], &ws).unwrap();
        ops::matmul_with(&a, &b, &MatmulOptions::new().zero_points(3, -5)).unwrap().to_vec::<i32>().unwrap()
    };
    assert_eq!(go(&dev(true)), go(&dev(false)));
}
