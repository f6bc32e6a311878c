//! accel's own kernels through the public API (`accel::ops::*_into` on preallocated
//! tensors, what users call), on a CPU device with its own pool of exactly `threads`
//! threads (`accel_cpu::CpuBackend::with_threads`, so `ACCEL_NUM_THREADS` plays no part).

use crate::measure;
use crate::record::Record;
use crate::workload::{BenchResult, Case, err};
use accel::Device;

/// A CPU device whose ops run on `threads` threads.
pub fn cpu_device(threads: usize) -> BenchResult<Device> {
    let backend = accel_cpu::CpuBackend::with_threads(threads);
    if backend.num_threads() != threads {
        return Err(format!("the CPU backend could not build a pool of {threads} threads"));
    }
    Ok(Device::new(backend))
}

/// Checks `case` once against the oracle, measures the matching peak on `threads` threads,
/// then times it; see [`measure::time`].
pub fn run(case: &Case, threads: usize, min_reps: usize, min_secs: f64) -> BenchResult<Record> {
    let device = cpu_device(threads)?;
    let pool = measure::pool(threads)?;
    let mut p = case.prepare(&device)?;
    case.check(&mut p)?;
    let peak = measure::peak(case.dtype, &pool);
    let timing = measure::time(min_reps, min_secs, || {
        case.run(&mut p)?;
        device.synchronize().map_err(err("synchronizing"))
    })?;
    let mut record = Record::new("accel", case, threads, timing, peak);
    record.device = device.name().to_string();
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::ConvShape;
    use crate::workload::{BenchDType, EpilogueKind, Layout, Workload};

    #[test]
    fn a_conv_run_reports_its_case() {
        let shape = ConvShape::parse("1,16,10,10,8,3,3,1,1,2").unwrap();
        let case = Case {
            workload: Workload::Conv2d(shape),
            dtype: BenchDType::F32,
            layout: Layout::Nhwc,
            epilogue: EpilogueKind::BiasRelu,
        };
        let r = run(&case, 2, 2, 0.0).unwrap();
        assert_eq!((r.op.as_str(), r.layout.as_str(), r.epilogue.as_str()), ("conv2d", "nhwc", "bias-relu"));
        assert_eq!((r.shape.as_str(), r.threads, r.device.as_str()), ("1,16,10,10,8,3,3,1,1,2", 2, "cpu"));
        assert!(r.gflops > 0.0 && r.best_ms <= r.median_ms && r.reps >= 2);
    }
}
