//! The harness's report: one [`Report`] per `accel-bench run` or `cost`, written to an
//! output folder as `report.json` (the whole report, [`SCHEMA`] versioned) and
//! `results.csv` (one line per item × device), beside the table (`table.txt`) and the
//! pictures ([`crate::plot`]).
//!
//! Measured and modeled figures are never mixed: every [`Row`] says which it holds
//! ([`Figure`]); a measured row's time is the best of repeated wall-clock runs on the device,
//! a modeled row's time and energy come from the emulated device's cost model.

pub mod table;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Version of the report layout; bumped when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Whether a row's figures were measured on hardware or modeled by an emulated device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Figure {
    /// Wall-clock time of real runs.
    Measured,
    /// An emulated device's cost model.
    Modeled,
}

impl Figure {
    /// `measured` / `modeled`.
    pub const fn name(self) -> &'static str {
        match self {
            Figure::Measured => "measured",
            Figure::Modeled => "modeled",
        }
    }
}

/// What became of one item on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran, agreed with the CPU, figures recorded.
    Ok,
    /// Not run: the device does not run this op on this dtype (its capabilities say so).
    Unsupported,
    /// Not run: the device refused it (modeled capacity, out of memory); the message says why.
    Skipped,
    /// Ran and disagreed with the CPU, or failed unexpectedly; the message says how.
    Failed,
}

/// A device of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// `cpu`, `npu:tpu-v1`, ...
    pub name: String,
    /// `cpu`, `gpu`, `npu`, `pim`, `analog`.
    pub kind: String,
    /// Backend crate (`cpu`, `emu`, `wgpu`).
    pub backend: String,
    /// Whether its figures are measured or modeled.
    pub figure: Figure,
    /// Peak throughput used for "% of peak", GFLOP/s (GOP/s for int8), per dtype name.
    pub peaks: Vec<Peak>,
    /// Memory bandwidth for the roofline, GB/s, if known.
    pub bandwidth_gbs: Option<f64>,
    /// Where the bandwidth comes from (`probe: triad 64 MiB`, `model`).
    pub bandwidth_source: Option<String>,
}

impl DeviceEntry {
    /// The peak for `dtype`, if known.
    pub fn peak(&self, dtype: &str) -> Option<f64> {
        self.peaks.iter().find(|p| p.dtype == dtype).map(|p| p.gflops)
    }
}

/// A device's peak for one dtype.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// `f32`, `bf16`, `f16`, `i8`.
    pub dtype: String,
    /// GFLOP/s (GOP/s for int8).
    pub gflops: f64,
    /// `probe: f32_zmm` (measured in this run) or `model` (the emulated device's own).
    pub source: String,
}

/// One item on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Group (`resnet50-b1`, `gemm`, ...).
    pub group: String,
    /// Layer or projection.
    pub label: String,
    /// `matmul` or `conv2d`.
    pub op: String,
    /// `M,N,K` or `N,C,H,W,K,R,S,stride,pad,groups`.
    pub shape: String,
    /// `f32`, `bf16`, `f16`, `i8`.
    pub dtype: String,
    /// Occurrences in one pass of the group's network.
    pub count: usize,
    /// Device name.
    pub device: String,
    /// Measured or modeled.
    pub figure: Figure,
    /// Ok, skipped or failed.
    pub status: Status,
    /// Why a row was skipped or failed.
    pub message: Option<String>,
    /// Operations (a multiply-add counts 2).
    pub flops: u64,
    /// Compulsory traffic: inputs read once, output written once.
    pub bytes: u64,
    /// Best measured time, or the modeled time, ms.
    pub time_ms: Option<f64>,
    /// Median measured time, ms (measured rows only).
    pub median_ms: Option<f64>,
    /// Timed runs (measured rows; 0 for modeled).
    pub reps: usize,
    /// `flops / time`, GFLOP/s (GOP/s for int8).
    pub gflops: Option<f64>,
    /// `gflops / ` the device's peak for the dtype.
    pub peak_fraction: Option<f64>,
    /// Modeled energy, mJ.
    pub energy_mj: Option<f64>,
    /// Modeled utilization of the compute units, 0..=1.
    pub utilization: Option<f64>,
    /// Unit a composite device routed the op to.
    pub unit: Option<String>,
    /// Wall time the emulation (or the cost-only planning) itself took, ms.
    pub host_ms: Option<f64>,
    /// What the result was checked against (`oracle` for the CPU, `cpu` for the others;
    /// `none` on the cost-only path, which computes nothing; `expected` for collectives,
    /// whose order-independent inputs have one exact answer).
    pub checked_against: String,
    /// Collectives: nccl-tests' algorithm bandwidth `S / t`, GB/s (10⁹ B/s).
    #[serde(default)]
    pub algbw_gbs: Option<f64>,
    /// Collectives: bus bandwidth `algbw × factor` (all-reduce `2(n−1)/n`), GB/s.
    #[serde(default)]
    pub busbw_gbs: Option<f64>,
}

impl Row {
    /// A row of `device` with no identity and no figures yet: the runners fill in what they
    /// know with struct-update syntax (`Row { label, .., ..Row::empty(..) }`).
    pub fn empty(device: &str, figure: Figure, checked_against: &str) -> Row {
        Row {
            group: String::new(),
            label: String::new(),
            op: String::new(),
            shape: String::new(),
            dtype: String::new(),
            count: 1,
            device: device.to_string(),
            figure,
            status: Status::Ok,
            message: None,
            flops: 0,
            bytes: 0,
            time_ms: None,
            median_ms: None,
            reps: 0,
            gflops: None,
            peak_fraction: None,
            energy_mj: None,
            utilization: None,
            unit: None,
            host_ms: None,
            checked_against: checked_against.to_string(),
            algbw_gbs: None,
            busbw_gbs: None,
        }
    }

    /// `flops / bytes`: where the item sits on a roofline.
    pub fn intensity(&self) -> f64 {
        self.flops as f64 / self.bytes.max(1) as f64
    }
}

/// Where and with what the report was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model, if known.
    pub cpu: Option<String>,
    /// Hardware threads the OS offers.
    pub threads: usize,
    /// `linux`, `macos`, ...
    pub os: String,
    /// `x86_64`, `aarch64`, ...
    pub arch: String,
}

impl Machine {
    /// This machine.
    pub fn this() -> Machine {
        Machine {
            cpu: crate::record::cpu_model(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: u32,
    /// `run` or `cost`.
    pub command: String,
    /// Suite name.
    pub suite: String,
    /// `--dtype`, if given.
    pub dtype: Option<String>,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// Wall time of the whole run, s.
    pub wall_s: f64,
    /// The machine.
    pub machine: Machine,
    /// Devices, in run order.
    pub devices: Vec<DeviceEntry>,
    /// Item × device results, item-major.
    pub rows: Vec<Row>,
}

/// When a run started, for its report's `started_unix` and `wall_s`.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    at: Instant,
    unix: u64,
}

impl Started {
    /// Now.
    pub fn now() -> Started {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Started { at: Instant::now(), unix }
    }

    /// Seconds since the Unix epoch at the start.
    pub fn unix(&self) -> u64 {
        self.unix
    }

    /// The finished run's report, its wall time taken now.
    pub fn report(
        &self,
        command: &str,
        suite: &str,
        dtype: Option<String>,
        devices: Vec<DeviceEntry>,
        rows: Vec<Row>,
    ) -> Report {
        Report {
            schema: SCHEMA,
            command: command.to_string(),
            suite: suite.to_string(),
            dtype,
            started_unix: self.unix,
            wall_s: self.at.elapsed().as_secs_f64(),
            machine: Machine::this(),
            devices,
            rows,
        }
    }
}

impl Report {
    /// The entry of device `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceEntry> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Rows whose status is ok.
    pub fn ok_rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.status == Status::Ok)
    }

    /// Rows that failed.
    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| r.status == Status::Failed).count()
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| format!("serializing the report: {e}"))
    }

    /// Parses `report.json`.
    pub fn from_json(text: &str) -> Result<Report, String> {
        serde_json::from_str(text).map_err(|e| format!("reading a report: {e}"))
    }

    /// Reads `report.json` from `path`.
    pub fn read(path: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Report::from_json(&text)
    }
}

/// Columns of `results.csv`, in order.
pub const CSV_COLUMNS: [&str; 26] = [
    "group",
    "label",
    "op",
    "shape",
    "dtype",
    "count",
    "device",
    "figure",
    "status",
    "message",
    "flops",
    "bytes",
    "time_ms",
    "median_ms",
    "reps",
    "gflops",
    "peak_fraction",
    "energy_mj",
    "utilization",
    "unit",
    "host_ms",
    "checked_against",
    "intensity",
    "suite",
    "algbw_gbs",
    "busbw_gbs",
];

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or(String::new(), T::to_string)
}

/// `results.csv`: a header line, then one line per row.
pub fn to_csv(report: &Report) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for r in &report.rows {
        let status = match r.status {
            Status::Ok => "ok",
            Status::Unsupported => "unsupported",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        };
        let cells = [
            r.group.clone(),
            r.label.clone(),
            r.op.clone(),
            r.shape.clone(),
            r.dtype.clone(),
            r.count.to_string(),
            r.device.clone(),
            r.figure.name().to_string(),
            status.to_string(),
            opt(&r.message),
            r.flops.to_string(),
            r.bytes.to_string(),
            opt(&r.time_ms),
            opt(&r.median_ms),
            r.reps.to_string(),
            opt(&r.gflops),
            opt(&r.peak_fraction),
            opt(&r.energy_mj),
            opt(&r.utilization),
            opt(&r.unit),
            opt(&r.host_ms),
            r.checked_against.clone(),
            r.intensity().to_string(),
            report.suite.clone(),
            opt(&r.algbw_gbs),
            opt(&r.busbw_gbs),
        ];
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Splits one CSV line into fields (the inverse of what [`to_csv`] writes).
pub fn parse_csv_line(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// Makes sure `dir` exists and takes files, before any work is done: an unwritable output
/// folder is an error up front, not after a long run.
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    let what = |e: std::io::Error| format!("output folder {} is not writable: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(what)?;
    let probe = dir.join(".accel-bench-write-test");
    std::fs::write(&probe, b"").map_err(what)?;
    std::fs::remove_file(&probe).map_err(what)
}

/// Writes `report.json`, `results.csv` and `table.txt` into `dir`; returns their paths.
pub fn write(dir: &Path, report: &Report, table: &str) -> Result<Vec<PathBuf>, String> {
    prepare_dir(dir)?;
    let files = [("report.json", report.to_json()?), ("results.csv", to_csv(report)), ("table.txt", table.to_string())];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small report with a measured, a modeled, a skipped and an awkwardly named row.
    pub(crate) fn sample() -> Report {
        let row = |device: &str, figure, status: Status, time: Option<f64>| Row {
            group: "resnet50-b1".into(),
            label: "res3.3x3".into(),
            op: "conv2d".into(),
            shape: "1,128,28,28,128,3,3,1,1,1".into(),
            dtype: "f32".into(),
            count: 3,
            device: device.into(),
            figure,
            status,
            message: (status != Status::Ok).then(|| "conv2d: \"f16\" unsupported, sorry".into()),
            flops: 231_211_008,
            bytes: 1_204_224,
            time_ms: time,
            median_ms: time.filter(|_| figure == Figure::Measured),
            reps: 5,
            gflops: time.map(|t| 231_211_008.0 / t / 1e6),
            peak_fraction: time.map(|_| 0.5),
            energy_mj: (figure == Figure::Modeled && time.is_some()).then_some(0.25),
            utilization: None,
            unit: None,
            host_ms: None,
            checked_against: "cpu".into(),
            algbw_gbs: None,
            busbw_gbs: None,
        };
        Report {
            schema: SCHEMA,
            command: "run".into(),
            suite: "quick".into(),
            dtype: None,
            started_unix: 1_800_000_000,
            wall_s: 1.5,
            machine: Machine::this(),
            devices: ["cpu", "npu:tpu-v1", "pim:upmem", "xbar:isaac"]
                .iter()
                .map(|&name| DeviceEntry {
                    name: name.into(),
                    kind: name.split(':').next().unwrap_or(name).replace("xbar", "analog"),
                    backend: if name == "cpu" { "cpu" } else { "emu" }.into(),
                    figure: if name == "cpu" { Figure::Measured } else { Figure::Modeled },
                    peaks: vec![Peak { dtype: "f32".into(), gflops: 100.0, source: "probe: f32_ymm".into() }],
                    bandwidth_gbs: Some(12.5),
                    bandwidth_source: Some("probe".into()),
                })
                .collect(),
            rows: vec![
                row("cpu", Figure::Measured, Status::Ok, Some(2.0)),
                row("npu:tpu-v1", Figure::Modeled, Status::Ok, Some(0.1)),
                row("pim:upmem", Figure::Modeled, Status::Skipped, None),
                row("xbar:isaac", Figure::Modeled, Status::Unsupported, None),
            ],
        }
    }

    #[test]
    fn json_round_trips() {
        let r = sample();
        let back = Report::from_json(&r.to_json().unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(r.to_json().unwrap().contains("\"figure\": \"modeled\""));
        assert_eq!(back.device("cpu").unwrap().peak("f32"), Some(100.0));
        assert!(Report::from_json("{\"schema\": 1}").unwrap_err().starts_with("reading a report"));
    }

    #[test]
    fn csv_has_a_header_and_one_quoted_line_per_row() {
        let r = sample();
        let csv = to_csv(&r);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + r.rows.len());
        assert_eq!(parse_csv_line(lines[0]), CSV_COLUMNS);
        for (line, row) in lines[1..].iter().zip(&r.rows) {
            let cells = parse_csv_line(line);
            assert_eq!(cells.len(), CSV_COLUMNS.len(), "{line}");
            let col = |name: &str| cells[CSV_COLUMNS.iter().position(|c| *c == name).unwrap()].clone();
            assert_eq!(col("shape"), row.shape);
            assert_eq!(col("device"), row.device);
            assert_eq!(col("message"), row.message.clone().unwrap_or_default());
            assert_eq!(col("time_ms").parse::<f64>().ok(), row.time_ms);
            assert_eq!(col("figure"), row.figure.name());
        }
    }

    #[test]
    fn files_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/report");
        let r = sample();
        let files = write(&out, &r, "table\n").unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(Report::read(&out.join("report.json")).unwrap(), r);
        assert!(std::fs::read_to_string(out.join("results.csv")).unwrap().starts_with("group,label,"));
    }

    #[test]
    fn an_unwritable_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare_dir(&file.join("sub")).unwrap_err();
        assert!(e.contains("not writable"), "{e}");
    }
}
