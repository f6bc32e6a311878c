//! The one-line JSON result every measurement prints (`accel-bench kernel|peer --json`, the
//! onnxruntime script), read back by `accel-bench table`. Fields other harnesses rely on:
//! `op`, `shape`, `dtype`, `threads`, `gflops` (GOP/s for int8) and `peak_fraction`.

use crate::measure::{Peak, Timing};
use crate::workload::Case;
use serde::{Deserialize, Serialize};

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Who ran it: `accel`, `gemm`, `faer`, `matrixmultiply`, `onnxruntime`.
    pub peer: String,
    /// Implementation variant (onnxruntime's graph optimisation level), if any.
    #[serde(default)]
    pub variant: Option<String>,
    /// `matmul` or `conv2d`.
    pub op: String,
    /// `M,N,K` or `N,C,H,W,K,R,S,stride,pad,groups`.
    pub shape: String,
    /// `f32`, `bf16`, `f16` or `i8` (u8 × i8 → i32).
    pub dtype: String,
    /// Threads the measurement ran on.
    pub threads: usize,
    /// `row-major` for matmul, `nchw` / `nhwc` for conv2d.
    pub layout: String,
    /// `none` or `bias-relu`.
    pub epilogue: String,
    /// GFLOP/s (GOP/s for int8) of the best run; a multiply-add counts 2.
    pub gflops: f64,
    /// Smallest traffic (inputs read once, output written once) / best time, GB/s.
    #[serde(default)]
    pub gbs: Option<f64>,
    /// Fastest run, ms.
    pub best_ms: f64,
    /// Median run, ms.
    pub median_ms: f64,
    /// Runs timed.
    #[serde(default)]
    pub reps: usize,
    /// The in-process peak on the same threads, GFLOP/s (GOP/s for int8).
    #[serde(default)]
    pub peak_gflops: Option<f64>,
    /// `gflops / peak_gflops`.
    #[serde(default)]
    pub peak_fraction: Option<f64>,
    /// Which probe gave the peak (`f32_zmm`, `vnni_zmm`, `bf16_zmm`, ...).
    #[serde(default)]
    pub peak_probe: Option<String>,
    /// Device name (`cpu`).
    pub device: String,
    /// CPU model string.
    #[serde(default)]
    pub cpu: Option<String>,
    /// `ACCEL_CPU_ISA` when set, else `auto`.
    #[serde(default)]
    pub isa: Option<String>,
    /// The result was compared with the oracle before timing.
    #[serde(default)]
    pub checked: bool,
}

impl Record {
    /// A record for `case` run by `peer`.
    pub fn new(peer: &str, case: &Case, threads: usize, timing: Timing, peak: Option<Peak>) -> Record {
        let gflops = case.workload.flops() as f64 / timing.best_s.max(1e-12) / 1e9;
        let layout = match case.workload {
            crate::workload::Workload::Conv2d(_) => case.layout.name(),
            _ => "row-major",
        };
        Record {
            peer: peer.to_string(),
            variant: None,
            op: case.workload.op().to_string(),
            shape: case.workload.shape(),
            dtype: case.dtype.name().to_string(),
            threads,
            layout: layout.to_string(),
            epilogue: case.epilogue.name().to_string(),
            gflops,
            gbs: Some(case.bytes() as f64 / timing.best_s.max(1e-12) / 1e9),
            best_ms: timing.best_s * 1e3,
            median_ms: timing.median_s * 1e3,
            reps: timing.reps,
            peak_gflops: peak.map(|p| p.gflops),
            peak_fraction: peak.map(|p| gflops / p.gflops),
            peak_probe: peak.map(|p| p.probe.to_string()),
            device: "cpu".to_string(),
            cpu: cpu_model(),
            isa: Some(std::env::var("ACCEL_CPU_ISA").unwrap_or_else(|_| "auto".into())),
            checked: true,
        }
    }

    /// The record as one JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A one-line human summary.
    pub fn summary(&self) -> String {
        let peak = self.peak_fraction.map_or(String::new(), |f| format!(", {:.0}% of peak", f * 100.0));
        format!(
            "{} {} {} [{}] {} {}T {}: {:.1} G/s (best {}, median {}, {} reps{peak})",
            self.peer,
            self.op,
            self.dtype,
            self.shape,
            self.layout,
            self.threads,
            self.epilogue,
            self.gflops,
            duration(self.best_ms),
            duration(self.median_ms),
            self.reps
        )
    }
}

/// Milliseconds, or microseconds below one millisecond, with three decimals.
fn duration(ms: f64) -> String {
    if ms >= 1.0 { format!("{ms:.3} ms") } else { format!("{:.3} µs", ms * 1e3) }
}

/// The CPU's model name (`/proc/cpuinfo` on Linux), if known.
pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::MatmulShape;
    use crate::workload::{BenchDType, Workload};

    #[test]
    fn json_round_trips_and_names_the_required_fields() {
        let case = Case::new(Workload::Matmul(MatmulShape::square(64)), BenchDType::I8);
        let timing = Timing { best_s: 1e-3, median_s: 2e-3, reps: 10 };
        let r = Record::new("accel", &case, 2, timing, Some(Peak { gflops: 1048.576, probe: "vnni_zmm" }));
        let line = r.to_json();
        assert!(!line.contains('\n'));
        for key in ["\"op\":", "\"shape\":", "\"dtype\":", "\"threads\":", "\"gflops\":", "\"peak_fraction\":"] {
            assert!(line.contains(key), "{key} missing in {line}");
        }
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
        assert!((r.gflops - 0.524288).abs() < 1e-9);
        assert!((r.peak_fraction.unwrap() - 0.0005).abs() < 1e-12);
    }
}
