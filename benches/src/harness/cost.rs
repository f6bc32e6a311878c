//! The cost-only path (`accel-bench cost`): every item planned and costed on emulated
//! devices from its shape alone — no data, no allocation, no arithmetic — so a whole network
//! takes milliseconds. Rows are [`Figure::Modeled`], checked against nothing, and carry the
//! planning time in `host_ms`.

use super::devices::kind_name;
use super::run::{Options, blank, device_entry, dtypes_of, op_kind};
use super::suites::Item;
use crate::report::{DeviceEntry, Figure, Report, Row, Started, Status};
use crate::workload::{BenchDType, BenchResult, Case, Workload};
use accel::emu::{self, Gemm, Preset};
use accel::{Device, Support};
use std::time::Instant;

/// The shape-only emulator workload of a case.
pub fn emu_workload(case: &Case) -> BenchResult<emu::Workload> {
    let dtype = case.dtype.input();
    let gemm = match case.workload {
        Workload::Matmul(s) => Gemm::matmul(1, s.m as u64, s.n as u64, s.k as u64, dtype),
        Workload::Conv2d(s) => {
            let shape = emu::ConvShape {
                batch: s.n as u64,
                in_channels: s.c as u64,
                input: [s.h as u64, s.w as u64],
                out_channels: s.k as u64,
                kernel: [s.r as u64, s.s as u64],
                stride: [s.stride as u64; 2],
                padding: [2 * s.pad as u64; 2],
                groups: s.groups as u64,
            };
            Gemm::conv2d(&shape, dtype).map_err(|e| format!("{}: {e}", case.name()))?
        }
        Workload::Add { .. } => return Err(format!("{}: the cost-only path models MAC ops only", case.name())),
    };
    Ok(emu::Workload::Gemm(gemm))
}

/// An emulated device to cost on: a registered one (costed by name) or a user's preset.
#[derive(Debug, Clone)]
pub struct Target {
    /// The device (for its name, kind, peaks and capabilities).
    pub device: Device,
    /// The user's preset, when the device came from `--preset FILE`.
    pub preset: Option<Preset>,
}

impl Target {
    /// A registered emulated device.
    pub fn registered(device: Device) -> Target {
        Target { device, preset: None }
    }

    /// A device built from a user's preset.
    pub fn from_preset(preset: Preset) -> Target {
        Target { device: emu::from_preset(&preset), preset: Some(preset) }
    }

    fn cost(&self, work: &emu::Workload) -> accel::Result<accel::Cost> {
        match &self.preset {
            Some(p) => emu::cost(p, work),
            None => {
                let name = self.device.name();
                emu::cost_by_name(name.split_once(':').map_or(name, |(_, short)| short), work)
            }
        }
    }
}

fn row(item: &Item, device: &Device, entry: &DeviceEntry, work: &BenchResult<emu::Workload>, target: &Target) -> Row {
    let case = &item.case;
    let mut row = Row { checked_against: "none".into(), ..blank(item, device, Figure::Modeled) };
    let skip = |mut row: Row, msg: String| {
        row.status = Status::Skipped;
        row.message = Some(msg);
        row
    };
    if device.supports(op_kind(case), case.dtype.input()) == Support::Unsupported {
        row.status = Status::Unsupported;
        row.message = Some(format!("{} does not run {} on {}", device.name(), case.workload.op(), case.dtype.input()));
        return row;
    }
    let work = match work {
        Ok(w) => w,
        Err(e) => return skip(row, e.clone()),
    };
    let start = Instant::now();
    let cost = target.cost(work);
    row.host_ms = Some(start.elapsed().as_secs_f64() * 1e3);
    match cost {
        Ok(c) => {
            let gflops = row.flops as f64 / c.seconds.max(1e-15) / 1e9;
            row.time_ms = Some(c.seconds * 1e3);
            row.gflops = Some(gflops);
            row.peak_fraction = entry.peak(&row.dtype).filter(|p| *p > 0.0).map(|p| gflops / p);
            row.energy_mj = Some(c.energy_pj() * 1e-9);
            row.utilization = Some(c.utilization);
            row.unit = Some(c.unit).filter(|u| !u.is_empty());
            row
        }
        Err(e) => skip(row, e.to_string()),
    }
}

/// Costs `items` on `targets` (emulated devices only; the error names a measured one).
pub fn cost(suite: &str, dtype: Option<BenchDType>, items: &[Item], targets: &[Target]) -> BenchResult<Report> {
    let started = Started::now();
    if let Some(t) = targets.iter().find(|t| !t.device.info().emulated) {
        let kind = kind_name(t.device.info().kind);
        return Err(format!(
            "`cost` models emulated devices only; {} is a measured {kind} (use `run`)",
            t.device.name()
        ));
    }
    let dtypes = dtypes_of(items);
    let opts = Options::default();
    let entries = targets.iter().map(|t| device_entry(&t.device, &dtypes, &opts)).collect::<BenchResult<Vec<_>>>()?;
    let works: Vec<BenchResult<emu::Workload>> = items.iter().map(|i| emu_workload(&i.case)).collect();
    let mut rows = Vec::new();
    for (item, work) in items.iter().zip(&works) {
        for (t, entry) in targets.iter().zip(&entries) {
            rows.push(row(item, &t.device, entry, work, t));
        }
    }
    Ok(started.report("cost", suite, dtype.map(|d| d.name().to_string()), entries, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::suites::{suite, with_dtype};

    fn emulated() -> Vec<Target> {
        accel::devices().into_iter().filter(|d| d.info().emulated).map(Target::registered).collect()
    }

    #[test]
    fn resnet50_costs_on_every_emulated_device_without_data() {
        let items = with_dtype(suite("resnet50").unwrap().items, Some(BenchDType::I8));
        let targets = emulated();
        assert!(!targets.is_empty());
        let report = cost("resnet50", None, &items, &targets).unwrap();
        assert_eq!(report.rows.len(), items.len() * targets.len());
        assert!(report.rows.iter().all(|r| r.figure == Figure::Modeled && r.checked_against == "none"));
        // Every systolic array can plan every layer; its modeled time follows the MACs.
        let tpu: Vec<&Row> = report.rows.iter().filter(|r| r.device == "npu:tpu-v1").collect();
        assert_eq!(tpu.len(), items.len());
        assert!(tpu.iter().all(|r| r.status == Status::Ok && r.time_ms.unwrap() > 0.0 && r.energy_mj.unwrap() > 0.0));
        let b1: f64 =
            tpu.iter().filter(|r| r.group == "resnet50-b1").map(|r| r.time_ms.unwrap() * r.count as f64).sum();
        let b8: f64 =
            tpu.iter().filter(|r| r.group == "resnet50-b8").map(|r| r.time_ms.unwrap() * r.count as f64).sum();
        assert!(b8 > 2.0 * b1, "batch 8 ({b8} ms) should cost well over batch 1 ({b1} ms)");
    }

    #[test]
    fn cost_matches_the_emulator_run() {
        // The cost-only figure equals what an executed op's profiling record reports.
        let item = suite("quick")
            .unwrap()
            .items
            .into_iter()
            .find(|i| i.group == "resnet50-b1" && i.case.dtype == BenchDType::I8)
            .unwrap();
        let device = accel::emu::device("tpu-v1").unwrap();
        let report = cost("t", None, std::slice::from_ref(&item), &[Target::registered(device.clone())]).unwrap();
        let mut p = item.case.prepare(&device).unwrap();
        device.set_profiling(true);
        item.case.run(&mut p).unwrap();
        let modeled = device.take_records().pop().unwrap().modeled.unwrap();
        assert_eq!(report.rows[0].time_ms, Some(modeled.seconds * 1e3));
    }

    #[test]
    fn a_users_preset_is_costed_and_a_measured_device_refused() {
        let text = accel::emu::preset::BUILTIN[1].1.replace("rows = 256", "rows = 128");
        let mine = Target::from_preset(Preset::from_toml(&text).unwrap());
        let items = suite("quick").unwrap().items;
        let report = cost("quick", None, &items, &[mine]).unwrap();
        assert!(report.rows.iter().any(|r| r.status == Status::Ok));
        let e = cost("quick", None, &items, &[Target::registered(accel::cpu())]).unwrap_err();
        assert!(e.contains("emulated devices only"), "{e}");
    }
}
