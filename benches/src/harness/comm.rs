//! The collectives suite: all-reduce, all-gather and reduce-scatter over a sweep of sizes on
//! an in-process group of two ranks per device, measured by the collectives benchmark
//! ([`crate::collectives::run_local`], nccl-tests conventions: `algbw = S / t`,
//! `busbw = algbw × factor`, GB = 10⁹ B) and reported as harness rows.
//!
//! Each size is checked once against the exact answer of order-independent inputs. Emulated
//! devices take part in the conformance tests of the collectives, but their modeled
//! interconnect cost is not a harness figure yet, so they show as unsupported here rather
//! than as host copy times dressed as device figures.

use super::devices::kind_name;
use crate::collectives::{CollConfig, CollRow, run_local};
use crate::report::{DeviceEntry, Figure, Report, Row, Started, Status};
use crate::workload::BenchResult;
use accel::comm::{Collective, ReduceOp};
use accel::{DType, Device};

/// Ranks of the in-process group on each device.
pub const RANKS: usize = 2;
/// Smallest and largest size `S` of the sweep, bytes (×4 steps).
pub const SIZES: (usize, usize) = (4 << 10, 16 << 20);

/// The collectives swept.
pub fn collectives() -> Vec<Collective> {
    vec![
        Collective::AllReduce { op: ReduceOp::Sum },
        Collective::AllGather,
        Collective::ReduceScatter { op: ReduceOp::Sum },
    ]
}

/// `4 KiB`, `16 MiB`.
fn size_label(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b.is_multiple_of(1 << 20) => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b.is_multiple_of(1 << 10) => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

fn row(device: &Device, dtype: DType, c: &CollRow) -> Row {
    let m = &c.out_of_place;
    let wrong = m.wrong + c.in_place.wrong;
    Row {
        group: c.collective.to_string(),
        label: size_label(c.bytes),
        op: c.collective.to_string(),
        shape: c.bytes.to_string(),
        dtype: dtype.name().to_string(),
        status: if wrong == 0 { Status::Ok } else { Status::Failed },
        message: (wrong > 0).then(|| format!("{wrong} elements differ from the expected result")),
        bytes: c.bytes as u64,
        time_ms: Some(m.seconds * 1e3),
        algbw_gbs: Some(m.algbw),
        busbw_gbs: Some(m.busbw),
        ..Row::empty(device.name(), Figure::Measured, "expected")
    }
}

fn unsupported(device: &Device, dtype: DType, collective: Collective) -> Row {
    Row {
        status: Status::Unsupported,
        message: Some(format!("{}: the harness measures collectives on measured devices only", device.name())),
        figure: Figure::Modeled,
        time_ms: None,
        algbw_gbs: None,
        busbw_gbs: None,
        checked_against: "none".into(),
        label: "–".into(),
        shape: String::new(),
        bytes: 0,
        ..row(
            device,
            dtype,
            &CollRow {
                collective: collective.name(),
                op: None,
                root: None,
                bytes: 0,
                count: 0,
                out_of_place: Default::default(),
                in_place: Default::default(),
                memcpy_gbs: 0.0,
            },
        )
    }
}

/// Runs the sweep on each measured device of `devices` (emulated ones are listed as
/// unsupported); prints nothing.
pub fn run(devices: &[Device], dtype: DType, sizes: (usize, usize)) -> BenchResult<Report> {
    let started = Started::now();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for device in devices {
        let info = device.info();
        entries.push(DeviceEntry {
            name: info.name.clone(),
            kind: kind_name(info.kind).to_string(),
            backend: info.backend.clone(),
            figure: if info.emulated { Figure::Modeled } else { Figure::Measured },
            peaks: Vec::new(),
            bandwidth_gbs: None,
            bandwidth_source: None,
        });
        if info.emulated {
            rows.extend(collectives().into_iter().map(|c| unsupported(device, dtype, c)));
            continue;
        }
        let cfg = CollConfig {
            collectives: collectives(),
            ranks: RANKS,
            min_bytes: sizes.0,
            max_bytes: sizes.1,
            factor: 4,
            dtype,
            iters: 10,
            devices: vec![device.clone(); RANKS],
            ..CollConfig::default()
        };
        let measured = run_local(&cfg).map_err(|e| format!("collectives on {}: {e}", device.name()))?;
        rows.extend(measured.iter().map(|c| row(device, dtype, c)));
    }
    Ok(started.report("run", "collectives", Some(dtype.name().to_string()), entries, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_sweep_is_checked_and_reports_bandwidths() {
        let devices = [accel::cpu(), accel::emu::device("tpu-v1").unwrap()];
        let report = run(&devices, DType::F32, (4 << 10, 16 << 10)).unwrap();
        let cpu: Vec<&Row> = report.rows.iter().filter(|r| r.device == "cpu").collect();
        // Three collectives at 4 KiB and 16 KiB.
        assert_eq!(cpu.len(), 6);
        assert!(cpu.iter().all(|r| r.status == Status::Ok && r.algbw_gbs.unwrap() > 0.0), "{cpu:?}");
        let ar = cpu.iter().find(|r| r.op == "all_reduce").unwrap();
        // all-reduce on 2 ranks: busbw = algbw × 2(n−1)/n = algbw.
        assert!((ar.busbw_gbs.unwrap() - ar.algbw_gbs.unwrap()).abs() < 1e-9);
        assert!(report.rows.iter().filter(|r| r.device == "npu:tpu-v1").all(|r| r.status == Status::Unsupported));
        assert_eq!(size_label(16 << 20), "16 MiB");
    }
}
