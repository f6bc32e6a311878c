//! Timing and the peak each result is reported against.
//!
//! [`time`] warms up, sizes the repetition count from one timed run so the measurement lasts
//! at least the requested time, times each repetition alone and keeps the best and the
//! median. [`peak`] measures the matching `accel_kernels::probe` peak with one probe per
//! thread of the benchmark's pool, right before the kernel is timed (the clock of a shared
//! machine drifts between runs).

use crate::workload::{BenchDType, BenchResult};
use accel_kernels::probe::{self, PeakKind};
use std::time::Instant;

/// Most repetitions of one measurement (tiny shapes run in about a microsecond).
pub const MAX_REPS: usize = 200_000;

/// Best and median time of repeated runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Fastest run, seconds.
    pub best_s: f64,
    /// Median run, seconds.
    pub median_s: f64,
    /// Runs timed.
    pub reps: usize,
}

/// Times `run`: one warm-up, then at least `min_reps` runs and at least `min_secs` seconds
/// in all (capped at [`MAX_REPS`] runs).
pub fn time(min_reps: usize, min_secs: f64, mut run: impl FnMut() -> BenchResult<()>) -> BenchResult<Timing> {
    run()?;
    let t = Instant::now();
    run()?;
    let one = t.elapsed().as_secs_f64().max(1e-9);
    let reps = ((min_secs / one).ceil() as usize).max(min_reps).clamp(1, MAX_REPS);
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    let median_s = if times.len().is_multiple_of(2) { (times[mid - 1] + times[mid]) / 2.0 } else { times[mid] };
    Ok(Timing { best_s: times[0], median_s, reps })
}

/// The probe that bounds a kernel of `dtype` on this CPU: f32 and f16 (computed in f32)
/// use the widest f32 FMA; bf16 and int8 use the AMX tile product when the kernels run on
/// AMX (`Isa::Amx`); otherwise bf16 uses `vdpbf16ps` where present, else f32, and int8
/// `vpdpbusd` (zmm, else ymm), else AVX2's `vpmaddwd` (the kernel the int8 GEMM runs without
/// VNNI), and has no peak without either.
pub fn peak_kind(dtype: BenchDType) -> Option<PeakKind> {
    let first = |kinds: &[PeakKind]| kinds.iter().copied().find(|k| k.available());
    let amx = accel_kernels::cpu::isa::active() == accel_kernels::cpu::isa::Isa::Amx;
    match dtype {
        BenchDType::F32 | BenchDType::F16 => probe::best_f32(),
        BenchDType::Bf16 if amx => first(&[PeakKind::AmxBf16]),
        BenchDType::I8 if amx => first(&[PeakKind::AmxInt8]),
        BenchDType::Bf16 => first(&[PeakKind::Bf16Zmm]).or_else(probe::best_f32),
        BenchDType::I8 => first(&[PeakKind::VnniZmm, PeakKind::VnniYmm, PeakKind::MaddYmm]),
    }
}

/// A measured peak: GFLOP/s (GOP/s for int8) and the probe's name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// Summed over the pool's threads.
    pub gflops: f64,
    /// `PeakKind::name` of the probe.
    pub probe: &'static str,
}

/// The peak for `dtype` with one probe per thread of `pool`, all at once; `None` when the
/// CPU has no matching instruction.
pub fn peak(dtype: BenchDType, pool: &rayon::ThreadPool) -> Option<Peak> {
    let kind = peak_kind(dtype)?;
    let gflops = pool.install(|| probe::peak_parallel(kind))?;
    Some(Peak { gflops, probe: kind.name() })
}

/// A rayon pool of exactly `threads` threads (at least one).
pub fn pool(threads: usize) -> BenchResult<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("accel-bench-{i}"))
        .build()
        .map_err(|e| format!("building a pool of {threads} threads: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_runs_at_least_min_reps_and_orders_best_before_median() {
        let mut calls = 0;
        let t = time(7, 0.0, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert!(t.reps >= 7);
        assert_eq!(calls, t.reps + 2);
        assert!(t.best_s <= t.median_s);
    }

    #[test]
    fn time_stops_at_the_first_error() {
        let mut calls = 0;
        let e = time(5, 0.0, || {
            calls += 1;
            if calls == 3 { Err("boom".to_string()) } else { Ok(()) }
        });
        assert_eq!(e.unwrap_err(), "boom");
        assert_eq!(calls, 3);
    }

    #[test]
    fn int8_peak_is_an_integer_probe_or_none() {
        if let Some(k) = peak_kind(BenchDType::I8) {
            assert!(matches!(k, PeakKind::VnniZmm | PeakKind::VnniYmm | PeakKind::MaddYmm | PeakKind::AmxInt8));
        }
    }
}
