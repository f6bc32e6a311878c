//! In-process probes of the machine's physical limits: the peak rate of each SIMD
//! multiply-accumulate instruction the CPU has, and STREAM-like memory bandwidth.
//!
//! Why in-process: the clock of a shared (virtual) machine drifts by ±10 % between runs, so a
//! benchmark reports its kernel as a fraction of a peak measured in the same process, on the
//! same threads, right before the kernel runs (performance.md §5).
//!
//! - [`peak`] runs one [`PeakKind`] on the calling thread; [`peak_parallel`] runs one probe
//!   on every worker of the current rayon pool at once and sums them. Each probe is a loop of
//!   12 independent multiply-accumulates on registers only (inline `asm!`, so the compiler
//!   cannot fold or shorten the chain): 12 ≥ latency (4) × ports (2) keeps every FMA port
//!   busy. Calibrated to about 2 ms a run, best of [`PEAK_RUNS`] (about 0.1 s in all).
//!   Returns `None` when the CPU (or the target architecture) lacks the instruction.
//! - [`bandwidth`] measures a triad `c = a + s·b` and a read-only sum over arrays of the
//!   given size, split across the current pool. Use [`STREAM_BYTES`] (≥ 4× the L3) for DRAM
//!   figures; smaller arrays measure the cache level they fit in.
//!
//! No result is a fixed expectation: tests check only that the figures are positive and
//! finite.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Runs of each peak probe; the best is kept. Many short runs rather than a few long ones:
/// on a shared machine the best short run is one the scheduler did not interrupt.
pub const PEAK_RUNS: usize = 40;

/// Target duration of one timed peak run.
const RUN_TIME: Duration = Duration::from_millis(2);

/// Iterations of the calibration run (12 instructions each).
const CALIBRATION_ITERS: u64 = 200_000;

/// Bytes per array of the DRAM bandwidth probe: 128 MiB, 4× a 32 MiB L3.
pub const STREAM_BYTES: usize = 128 << 20;

/// A SIMD multiply-accumulate instruction whose peak rate can be probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeakKind {
    /// `vfmadd231ps zmm` (AVX-512F): 16 lanes × 2 flop.
    F32Zmm,
    /// `vfmadd231ps ymm` (FMA): 8 lanes × 2 flop.
    F32Ymm,
    /// `fmla v.4s` (NEON, aarch64): 4 lanes × 2 flop.
    F32Neon,
    /// `vpdpbusd zmm` (AVX512-VNNI, u8·i8 → i32): 64 multiply-adds = 128 op.
    VnniZmm,
    /// `vpdpbusd ymm` with VEX encoding (AVX-VNNI): 32 multiply-adds = 64 op.
    VnniYmm,
    /// `vdpbf16ps zmm` (AVX512-BF16, bf16 pairs → f32): 32 multiply-adds = 64 flop.
    Bf16Zmm,
    /// `vpmaddwd ymm` (AVX2, i16 pairs → i32): 16 multiply-adds = 32 op. The int8 bound
    /// without VNNI (the kernel's accumulating `vpaddd` issues on other pipes).
    MaddYmm,
    /// `tdpbf16ps` (AMX-BF16): a 16 × 16 tile over 32 bf16 k values = 16,384 flop.
    AmxBf16,
    /// `tdpbusd` (AMX-INT8): a 16 × 16 tile over 64 byte k values = 32,768 op.
    AmxInt8,
}

impl PeakKind {
    /// Every kind, in a fixed order.
    pub const ALL: [PeakKind; 9] = [
        PeakKind::F32Zmm,
        PeakKind::F32Ymm,
        PeakKind::F32Neon,
        PeakKind::VnniZmm,
        PeakKind::VnniYmm,
        PeakKind::Bf16Zmm,
        PeakKind::MaddYmm,
        PeakKind::AmxBf16,
        PeakKind::AmxInt8,
    ];

    /// Short name for reports (`f32_zmm`, `vnni_ymm`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            PeakKind::F32Zmm => "f32_zmm",
            PeakKind::F32Ymm => "f32_ymm",
            PeakKind::F32Neon => "f32_neon",
            PeakKind::VnniZmm => "vnni_zmm",
            PeakKind::VnniYmm => "vnni_ymm",
            PeakKind::Bf16Zmm => "bf16_zmm",
            PeakKind::MaddYmm => "madd_ymm",
            PeakKind::AmxBf16 => "amx_bf16",
            PeakKind::AmxInt8 => "amx_int8",
        }
    }

    /// Operations per instruction (a multiply-add counts 2).
    pub const fn ops_per_instruction(self) -> u64 {
        match self {
            PeakKind::F32Zmm => 32,
            PeakKind::F32Ymm => 16,
            PeakKind::F32Neon => 8,
            PeakKind::VnniZmm => 128,
            PeakKind::VnniYmm => 64,
            PeakKind::Bf16Zmm => 64,
            PeakKind::MaddYmm => 32,
            PeakKind::AmxBf16 => 16 * 16 * 32 * 2,
            PeakKind::AmxInt8 => 16 * 16 * 64 * 2,
        }
    }

    /// True when this CPU can run the probe.
    pub fn available(self) -> bool {
        runner(self).is_some()
    }
}

/// Runs `iters` iterations of 12 instructions of one kind on the calling thread.
type Runner = fn(u64);

/// Instructions per loop iteration (the independent accumulators).
pub(crate) const ACCUMULATORS: u64 = 12;

fn runner(kind: PeakKind) -> Option<Runner> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::runner(kind)
    }
    #[cfg(target_arch = "aarch64")]
    {
        aarch64::runner(kind)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = kind;
        None
    }
}

/// Seconds one call of `run(iters)` takes.
fn time(run: Runner, iters: u64) -> f64 {
    let t = Instant::now();
    run(black_box(iters));
    t.elapsed().as_secs_f64()
}

/// Iterations for one run of about [`RUN_TIME`].
fn calibrate(run: Runner) -> u64 {
    let secs = time(run, CALIBRATION_ITERS).max(1e-6);
    let scaled = CALIBRATION_ITERS as f64 * RUN_TIME.as_secs_f64() / secs;
    (scaled as u64).clamp(CALIBRATION_ITERS, 1 << 34)
}

/// G-operations per second of `iters` iterations taking `secs`.
fn rate(kind: PeakKind, iters: u64, secs: f64) -> f64 {
    (iters * ACCUMULATORS * kind.ops_per_instruction()) as f64 / secs.max(1e-9) / 1e9
}

/// Peak of `kind` on the calling thread in GFLOP/s (GOP/s for the int8 kinds), best of
/// [`PEAK_RUNS`]; `None` when this CPU lacks the instruction.
pub fn peak(kind: PeakKind) -> Option<f64> {
    let run = runner(kind)?;
    let iters = calibrate(run);
    (0..PEAK_RUNS).map(|_| rate(kind, iters, time(run, iters))).reduce(f64::max)
}

/// Peak of `kind` with one probe on every worker of the current rayon pool running at the
/// same time, summed over the workers (best of [`PEAK_RUNS`] synchronised runs); `None` when
/// this CPU lacks the instruction.
pub fn peak_parallel(kind: PeakKind) -> Option<f64> {
    let run = runner(kind)?;
    let iters = calibrate(run);
    let threads = rayon::current_num_threads();
    let barrier = Barrier::new(threads);
    // One row per worker: that worker's rate in each synchronised run.
    let rows: Vec<Vec<f64>> = rayon::broadcast(|_| {
        (0..PEAK_RUNS)
            .map(|_| {
                barrier.wait();
                rate(kind, iters, time(run, iters))
            })
            .collect()
    });
    (0..PEAK_RUNS).map(|r| rows.iter().map(|row| row[r]).sum::<f64>()).reduce(f64::max)
}

/// The best f32 FMA kind this CPU has (zmm, else ymm, else NEON).
pub fn best_f32() -> Option<PeakKind> {
    [PeakKind::F32Zmm, PeakKind::F32Ymm, PeakKind::F32Neon].into_iter().find(|k| k.available())
}

/// Memory bandwidth figures in GB/s (10⁹ bytes per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bandwidth {
    /// Triad `c = a + s·b`, counting three arrays (the STREAM convention).
    pub triad_gbs: f64,
    /// The same triad counting the write-allocate read of `c` too (four arrays).
    pub triad_write_allocate_gbs: f64,
    /// Read-only sum of one array.
    pub read_gbs: f64,
    /// Bytes per array.
    pub bytes_per_array: usize,
    /// Threads the probe was split across.
    pub threads: usize,
}

/// Triad and read-only bandwidth over arrays of `bytes_per_array` bytes (rounded down to
/// whole f64 chunks, at least one), split across the current rayon pool, best of `runs`
/// (at least one). Allocates three arrays of that size.
pub fn bandwidth(bytes_per_array: usize, runs: usize) -> Bandwidth {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads();
    let len = (bytes_per_array / 8).max(CHUNK);
    let bytes = (len * 8) as f64;
    let (a, b) = (vec![1.0f64; len], vec![2.0f64; len]);
    let mut c = vec![0.0f64; len];
    // Contiguous pieces, one per worker, so each thread streams its own range.
    let piece = len.div_ceil(threads).next_multiple_of(CHUNK);
    let (mut triad, mut read) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..runs.max(1) {
        let s = black_box(3.0f64);
        let t = Instant::now();
        c.par_chunks_mut(piece).zip(a.par_chunks(piece)).zip(b.par_chunks(piece)).for_each(|((c, a), b)| {
            for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
                *c = a + s * b;
            }
        });
        black_box(&mut c);
        triad = triad.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let sum: f64 = c.par_chunks(piece).map(sum_chunks).sum();
        black_box(sum);
        read = read.min(t.elapsed().as_secs_f64());
    }
    Bandwidth {
        triad_gbs: 3.0 * bytes / triad.max(1e-9) / 1e9,
        triad_write_allocate_gbs: 4.0 * bytes / triad.max(1e-9) / 1e9,
        read_gbs: bytes / read.max(1e-9) / 1e9,
        bytes_per_array: len * 8,
        threads,
    }
}

/// Independent partial sums in the read probe, so the loop is bound by loads, not by the
/// latency of one add chain.
const CHUNK: usize = 16;

fn sum_chunks(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; CHUNK];
    let mut chunks = x.chunks_exact(CHUNK);
    for ch in &mut chunks {
        for (a, v) in acc.iter_mut().zip(ch) {
            *a += v;
        }
    }
    acc.iter().sum::<f64>() + chunks.remainder().iter().sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_are_positive_and_finite_where_available() {
        for kind in PeakKind::ALL {
            match peak(kind) {
                Some(g) => assert!(g.is_finite() && g > 0.0, "{}: {g}", kind.name()),
                None => assert!(!kind.available(), "{} is available but gave no figure", kind.name()),
            }
        }
    }

    #[test]
    fn parallel_peak_sums_the_pool() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let Some(kind) = best_f32() else { return };
        let g = pool.install(|| peak_parallel(kind)).unwrap();
        assert!(g.is_finite() && g > 0.0, "{g}");
    }

    #[test]
    fn ops_per_instruction_match_lane_counts() {
        assert_eq!(PeakKind::F32Zmm.ops_per_instruction(), 2 * PeakKind::F32Ymm.ops_per_instruction());
        assert_eq!(PeakKind::VnniZmm.ops_per_instruction(), 4 * PeakKind::F32Zmm.ops_per_instruction());
        assert_eq!(PeakKind::Bf16Zmm.ops_per_instruction(), 2 * PeakKind::F32Zmm.ops_per_instruction());
        assert_eq!(PeakKind::MaddYmm.ops_per_instruction(), 2 * PeakKind::F32Ymm.ops_per_instruction());
        assert_eq!(PeakKind::AmxInt8.ops_per_instruction(), 2 * PeakKind::AmxBf16.ops_per_instruction());
    }

    #[test]
    fn bandwidth_of_a_small_array_is_positive() {
        let bw = bandwidth(1 << 20, 2);
        for g in [bw.triad_gbs, bw.triad_write_allocate_gbs, bw.read_gbs] {
            assert!(g.is_finite() && g > 0.0, "{bw:?}");
        }
        assert_eq!(bw.bytes_per_array, 1 << 20);
        assert!((bw.triad_write_allocate_gbs / bw.triad_gbs - 4.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn read_sum_is_exact_on_small_integers() {
        let x: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(sum_chunks(&x), 999.0 * 1000.0 / 2.0);
    }
}
