//! Runs a suite's items on devices and builds the [`Report`].
//!
//! Per item, the CPU runs first: its output is checked against the f64 oracle (a sample of
//! rows or images, [`Options::check_budget`] operations at most) and becomes the reference
//! every other device is compared with, once, over the whole output. The tolerance is twice
//! the conformance suite's reduction tolerance for the dtype (both sides round), widened by
//! the error bound the device states for the op (lossy emulated datapaths). Then:
//! - a measured device (CPU, GPU) is timed: warm-up, then at least [`Options::min_reps`]
//!   runs and [`Options::min_secs`] seconds, each followed by `synchronize`; best and median;
//! - an emulated device reports its modeled cost from the profiling record of the checked
//!   run (the model is shape-only, so one run is the figure).
//!
//! An item whose op and dtype a device's capabilities exclude is an unsupported row; one the
//! device refuses (modeled capacity, out of memory) a skipped row with the device's message;
//! only a wrong answer is a failed row.

use super::devices::kind_name;
use super::suites::Item;
use crate::measure;
use crate::report::{DeviceEntry, Figure, Peak, Report, Row, Started, Status};
use crate::workload::{BenchDType, BenchResult, Case, Prepared, Workload, err};
use accel::{Device, DeviceKind, OpKind, Support};
use accel_kernels::probe;
use accel_tests::{Domain, Tolerance};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// How a run measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Least timed seconds per item on a measured device.
    pub min_secs: f64,
    /// Fewest timed runs per item on a measured device.
    pub min_reps: usize,
    /// Most oracle operations spent checking the CPU's output of one item.
    pub check_budget: u64,
    /// Bytes per array of the CPU bandwidth probe (the roofline's slope).
    pub bandwidth_bytes: usize,
    /// Draw a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { min_secs: 0.1, min_reps: 3, check_budget: 50_000_000, bandwidth_bytes: 64 << 20, progress: true }
    }
}

/// The op kind a case exercises (for capabilities and error bounds).
pub fn op_kind(case: &Case) -> OpKind {
    match case.workload {
        Workload::Matmul(_) => OpKind::Matmul,
        Workload::Conv2d(_) => OpKind::Conv,
        Workload::Add { .. } => OpKind::Binary,
    }
}

/// True for the host CPU backend (whose peaks this process can probe).
fn is_host_cpu(device: &Device) -> bool {
    let info = device.info();
    info.kind == DeviceKind::Cpu && !info.emulated && info.backend == "cpu"
}

/// Threads the default CPU device runs on (`ACCEL_NUM_THREADS`, else one per core).
pub fn cpu_threads() -> usize {
    accel_cpu::CpuBackend::new().num_threads()
}

/// The [`DeviceEntry`] of `device` with the peaks of `dtypes`: probed in this process for
/// the host CPU, the device's own figures otherwise.
pub fn device_entry(device: &Device, dtypes: &[BenchDType], opts: &Options) -> BenchResult<DeviceEntry> {
    let info = device.info();
    let figure = if info.emulated { Figure::Modeled } else { Figure::Measured };
    let mut entry = DeviceEntry {
        name: info.name.clone(),
        kind: kind_name(info.kind).to_string(),
        backend: info.backend.clone(),
        figure,
        peaks: Vec::new(),
        bandwidth_gbs: info.peak_bandwidth_gbs,
        bandwidth_source: info.peak_bandwidth_gbs.map(|_| "device info".to_string()),
    };
    if is_host_cpu(device) {
        let pool = measure::pool(cpu_threads())?;
        for &d in dtypes {
            if let Some(p) = measure::peak(d, &pool) {
                entry.peaks.push(Peak {
                    dtype: d.name().into(),
                    gflops: p.gflops,
                    source: format!("probe: {}", p.probe),
                });
            }
        }
        let bw = pool.install(|| probe::bandwidth(opts.bandwidth_bytes, 3));
        entry.bandwidth_gbs = Some(bw.triad_gbs);
        entry.bandwidth_source = Some(format!("probe: triad, {} MiB arrays", bw.bytes_per_array >> 20));
    } else if let Some(g) = info.peak_gflops {
        let source = if info.emulated { "model" } else { "device info" };
        entry.peaks =
            dtypes.iter().map(|d| Peak { dtype: d.name().into(), gflops: g, source: source.into() }).collect();
    }
    Ok(entry)
}

/// A row with the item's fields filled in and no figures yet (checked against the CPU).
pub(crate) fn blank(item: &Item, device: &Device, figure: Figure) -> Row {
    let case = &item.case;
    Row {
        group: item.group.clone(),
        label: item.label.clone(),
        op: case.workload.op().to_string(),
        shape: case.workload.shape(),
        dtype: case.dtype.name().to_string(),
        count: item.count,
        flops: case.workload.flops(),
        bytes: case.bytes(),
        ..Row::empty(device.name(), figure, "cpu")
    }
}

fn with_status(mut row: Row, status: Status, message: String) -> Row {
    row.status = status;
    row.message = Some(message);
    row
}

fn set_time(row: &mut Row, seconds: f64, entry: &DeviceEntry) {
    let gflops = row.flops as f64 / seconds.max(1e-15) / 1e9;
    row.time_ms = Some(seconds * 1e3);
    row.gflops = Some(gflops);
    row.peak_fraction = entry.peak(&row.dtype).filter(|p| *p > 0.0).map(|p| gflops / p);
}

/// The CPU's output for an item, checked against the oracle, and the prepared case (timed
/// next when the CPU is one of the run's devices).
fn reference(item: &Item, cpu: &Device, budget: u64) -> BenchResult<(Vec<f64>, Prepared)> {
    let case = &item.case;
    let mut p = case.prepare(cpu)?;
    case.run(&mut p)?;
    cpu.synchronize().map_err(err("synchronizing"))?;
    let out = p.out.to_f64_vec().map_err(err("reading the output"))?;
    case.check_sampled(&p.host, &out, budget)?;
    Ok((out, p))
}

/// Compares a device's output with the CPU's (see the module docs for the tolerance).
fn agrees(item: &Item, device: &Device, got: &[f64], want: &[f64]) -> Result<(), String> {
    let case = &item.case;
    let (dtype, k) = (case.dtype.input(), case.workload.reduction_len());
    let base = Tolerance::reduction(dtype, k);
    let doubled = Tolerance { abs: 2.0 * base.abs, rel: 2.0 * base.rel };
    let tol = doubled.with_device_bound(device, op_kind(case), dtype, k, Domain::Standard.max_product(dtype));
    match accel_tests::compare(got, want, &[want.len()], tol, accel_tests::check::MAX_REPORTED) {
        None => Ok(()),
        Some(report) => Err(format!("differs from the CPU: {report}")),
    }
}

fn timed(item: &Item, device: &Device, entry: &DeviceEntry, p: &mut Prepared, opts: &Options) -> Row {
    let mut row = blank(item, device, Figure::Measured);
    let t = measure::time(opts.min_reps, opts.min_secs, || {
        item.case.run(p)?;
        device.synchronize().map_err(err("synchronizing"))
    });
    match t {
        Ok(t) => {
            set_time(&mut row, t.best_s, entry);
            row.median_ms = Some(t.median_s * 1e3);
            row.reps = t.reps;
            row
        }
        Err(e) => with_status(row, Status::Failed, e),
    }
}

/// Runs, checks and times (or costs) one item on a device other than the reference CPU.
fn on_device(item: &Item, device: &Device, entry: &DeviceEntry, want: &[f64], opts: &Options) -> Row {
    let case = &item.case;
    let figure = entry.figure;
    let row = blank(item, device, figure);
    let kind = op_kind(case);
    if device.supports(kind, case.dtype.input()) == Support::Unsupported {
        let msg = format!("{} does not run {} on {}", device.name(), item.case.workload.op(), case.dtype.input());
        return with_status(row, Status::Unsupported, msg);
    }
    let mut p = match case.prepare(device) {
        Ok(p) => p,
        Err(e) => return with_status(row, Status::Skipped, e),
    };
    if figure == Figure::Modeled {
        device.set_profiling(true);
        device.take_records();
    }
    let start = Instant::now();
    let ran = case.run(&mut p).and_then(|()| device.synchronize().map_err(err("synchronizing")));
    let host_ms = start.elapsed().as_secs_f64() * 1e3;
    let records = if figure == Figure::Modeled { device.take_records() } else { Vec::new() };
    device.set_profiling(false);
    if let Err(e) = ran {
        return with_status(row, Status::Skipped, e);
    }
    let got = match p.out.to_f64_vec() {
        Ok(v) => v,
        Err(e) => return with_status(row, Status::Failed, format!("reading the output: {e}")),
    };
    if let Err(e) = agrees(item, device, &got, want) {
        return with_status(row, Status::Failed, e);
    }
    if figure == Figure::Measured {
        return timed(item, device, entry, &mut p, opts);
    }
    let mut row = row;
    row.host_ms = Some(host_ms);
    let Some(cost) = records.iter().rev().find_map(|r| r.modeled.clone()) else {
        return with_status(row, Status::Failed, "the emulated device reported no modeled cost".into());
    };
    set_time(&mut row, cost.seconds, entry);
    row.energy_mj = Some(cost.energy_pj() * 1e-9);
    row.utilization = Some(cost.utilization);
    row.unit = Some(cost.unit.clone()).filter(|u| !u.is_empty());
    row
}

/// The dtypes the items use, in first-seen order.
pub fn dtypes_of(items: &[Item]) -> Vec<BenchDType> {
    let mut v: Vec<BenchDType> = Vec::new();
    for it in items {
        if !v.contains(&it.case.dtype) {
            v.push(it.case.dtype);
        }
    }
    v
}

/// Runs `items` on `devices` (see the module docs) and returns the report.
pub fn run(
    suite: &str,
    dtype: Option<BenchDType>,
    items: &[Item],
    devices: &[Device],
    opts: &Options,
) -> BenchResult<Report> {
    let started = Started::now();
    let dtypes = dtypes_of(items);
    let entries = devices.iter().map(|d| device_entry(d, &dtypes, opts)).collect::<BenchResult<Vec<_>>>()?;
    let cpu = devices.iter().find(|d| is_host_cpu(d)).cloned().unwrap_or_else(accel::cpu);
    let bar =
        if opts.progress { ProgressBar::new((items.len() * devices.len()) as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:32}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut rows = Vec::new();
    for item in items {
        bar.set_message(format!("{} on {}", item.key(), cpu.name()));
        let mut reference = reference(item, &cpu, opts.check_budget);
        for (device, entry) in devices.iter().zip(&entries) {
            bar.set_message(format!("{} on {}", item.key(), device.name()));
            let row = match &mut reference {
                Err(e) => with_status(blank(item, device, entry.figure), Status::Failed, format!("cpu reference: {e}")),
                Ok((_, p)) if device.same(&cpu) => {
                    let mut row = timed(item, device, entry, p, opts);
                    row.checked_against = "oracle".into();
                    row
                }
                Ok((want, _)) => on_device(item, device, entry, want, opts),
            };
            rows.push(row);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(started.report("run", suite, dtype.map(|d| d.name().to_string()), entries, rows))
}
