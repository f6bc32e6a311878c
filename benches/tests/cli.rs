//! The `accel-bench` binary end to end: bad arguments exit non-zero with one line on stderr
//! and no panic; `--help` documents every flag; `run` and `cost` write a report that reads
//! back; `list` names every device.

use accel_bench::report::{Figure, Report, Status};
use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accel-bench")).args(args).output().expect("accel-bench starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Non-zero exit, one line on stderr containing `needle`, no panic.
fn fails_with(args: &[&str], needle: &str) {
    let out = bench(args);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn bad_arguments_are_one_line_errors() {
    fails_with(&["run", "--device", "tpu-v9"], "unknown device `tpu-v9`");
    fails_with(&["run", "--suite", "nope"], "unknown suite `nope`");
    fails_with(&["cost", "--suite", "collectives"], "`accel-bench run` only");
    fails_with(&["run", "--dtype", "f64"], "f64");
    fails_with(&["cost", "--dtype", "i4"], "i4");
    fails_with(&["run", "--reps", "0"], "--reps");
    fails_with(&["run", "--bogus"], "--bogus");
    fails_with(&["cost", "--device", "cpu"], "emulated devices only");
    fails_with(&["cost", "--preset", "/nonexistent/mine.toml"], "reading preset");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("report");
    fails_with(&["run", "--suite", "smoke", "--out", out.to_str().unwrap()], "not writable");
    fails_with(&["cost", "--out", out.to_str().unwrap()], "not writable");
}

#[test]
fn help_documents_every_flag() {
    let top = text(&bench(&["--help"]).stdout);
    for cmd in ["run", "list", "cost", "kernel", "peer", "probe", "suite", "table"] {
        assert!(top.contains(cmd), "{cmd} missing from --help");
    }
    let run = text(&bench(&["run", "--help"]).stdout);
    for flag in ["--suite", "--device", "--dtype", "--preset", "--out", "--no-plots", "--min-time", "--reps", "--quiet"]
    {
        assert!(run.contains(flag), "run --help lacks {flag}");
    }
    let cost = text(&bench(&["cost", "--help"]).stdout);
    for flag in ["--suite", "--device", "--dtype", "--preset", "--out", "--no-plots"] {
        assert!(cost.contains(flag), "cost --help lacks {flag}");
    }
    let list = text(&bench(&["list", "--help"]).stdout);
    assert!(list.contains("--preset") && list.contains("--no-probe"));
}

#[test]
fn list_names_devices_and_suites() {
    let out = bench(&["list", "--no-probe"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    for d in accel::devices() {
        assert!(s.contains(d.name()), "{} missing:\n{s}", d.name());
    }
    for suite in ["quick (default)", "resnet50", "llm-decode", "int8-gemm", "bert", "collectives"] {
        assert!(s.contains(suite), "{suite} missing:\n{s}");
    }
}

#[test]
fn run_writes_a_report_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&[
        "run",
        "--suite",
        "smoke",
        "--device",
        "cpu,tpu-v1",
        "--min-time",
        "0",
        "--reps",
        "1",
        "-q",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("measured") && table.contains("modeled"), "{table}");
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let devices: Vec<&str> = report.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(devices, ["cpu", "npu:tpu-v1"]);
    assert!(report.rows.iter().all(|r| r.status != Status::Failed), "{table}");
    let tpu_int8 = report.rows.iter().find(|r| r.device == "npu:tpu-v1" && r.dtype == "i8").unwrap();
    assert_eq!((tpu_int8.status, tpu_int8.figure), (Status::Ok, Figure::Modeled));
    assert!(tpu_int8.energy_mj.is_some());
    for f in ["results.csv", "table.txt", "roofline.svg", "roofline.png", "layers-time.png", "speedup.svg"] {
        assert!(dir.path().join(f).is_file(), "{f} not written");
    }
}

#[test]
fn cost_costs_a_network_without_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&["cost", "--dtype", "i8", "--device", "npu", "--no-plots", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("resnet50-b1"));
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    assert_eq!(report.command, "cost");
    assert!(report.rows.iter().all(|r| r.checked_against == "none" && r.figure == Figure::Modeled));
    assert!(report.rows.iter().any(|r| r.device == "npu:tpu-v1" && r.status == Status::Ok));
    assert!(!dir.path().join("roofline.svg").exists());
}

#[test]
fn the_collectives_suite_reports_bus_bandwidth() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["run", "--suite", "collectives", "--device", "cpu,tpu-v1", "-q", "--no-plots", "--out"];
    let out = bench(&[&args[..], &[dir.path().to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let cpu: Vec<_> = report.rows.iter().filter(|r| r.device == "cpu").collect();
    assert!(!cpu.is_empty() && cpu.iter().all(|r| r.status == Status::Ok && r.busbw_gbs.is_some()));
    assert!(report.rows.iter().filter(|r| r.device == "npu:tpu-v1").all(|r| r.status == Status::Unsupported));
}
