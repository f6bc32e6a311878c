//! The harness's subcommands (`accel-bench run`, `list`, `cost`): their flags and what each
//! does. `run` is also what `accel-bench` does with no subcommand.
//!
//! Every failure is one line naming what to fix (an unknown device, suite or dtype, an
//! unwritable output folder, a bad preset file), returned as `Err` for the binary to print.

use crate::harness::cost::{self, Target};
use crate::harness::run::{self, Options};
use crate::harness::{comm, devices, suites};
use crate::report::{self, Report, table};
use crate::workload::{BenchDType, BenchResult};
use crate::{measure, plot};
use accel::Device;
use accel::emu::Preset;
use clap::Args;
use std::path::{Path, PathBuf};

/// Default output folder of `run` (under `target/`, which git ignores).
pub const DEFAULT_OUT: &str = "target/accel-bench";

/// Flags shared by `run` and `cost`.
#[derive(Debug, Clone, Args)]
pub struct Selection {
    /// Suite to run (`accel-bench list` shows them).
    #[arg(long, short = 's')]
    pub suite: Option<String>,
    /// Devices: a name (`npu:tpu-v1`), a short name (`tpu-v1`), a kind (cpu, gpu, npu, pim,
    /// analog) or a class (emulated, measured, all). Repeat or separate with commas; default:
    /// every device (`run`) or every emulated device (`cost`).
    #[arg(long, short = 'd', value_delimiter = ',')]
    pub device: Vec<String>,
    /// Data type: f32, bf16 or f16 re-types the float items (int8 items are left out); i8
    /// runs every item as u8 × i8 → i32. Default: each item's own.
    #[arg(long, value_enum)]
    pub dtype: Option<BenchDType>,
    /// Your own emulated device: a preset TOML file (see backends/emu/presets/); repeatable.
    #[arg(long, value_name = "FILE")]
    pub preset: Vec<PathBuf>,
    /// Output folder for report.json, results.csv, table.txt and the pictures.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the report but no pictures.
    #[arg(long)]
    pub no_plots: bool,
}

/// `accel-bench run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Suite, devices, dtype, presets and output.
    #[command(flatten)]
    pub select: Selection,
    /// Least timed seconds per item on a measured device.
    #[arg(long, default_value_t = 0.1, value_name = "SECS")]
    pub min_time: f64,
    /// Fewest timed runs per item on a measured device.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub reps: u32,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            select: Selection {
                suite: None,
                device: Vec::new(),
                dtype: None,
                preset: Vec::new(),
                out: None,
                no_plots: false,
            },
            min_time: 0.1,
            reps: 3,
            quiet: false,
        }
    }
}

/// `accel-bench cost`.
#[derive(Debug, Clone, Args)]
pub struct CostArgs {
    /// Suite, devices (default: the emulated ones), dtype, presets and output (default
    /// `target/accel-bench/cost`); with neither --suite nor --dtype, ResNet-50 in int8.
    #[command(flatten)]
    pub select: Selection,
}

/// `accel-bench list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Also list these preset files as devices.
    #[arg(long, value_name = "FILE")]
    pub preset: Vec<PathBuf>,
    /// Skip probing the CPU's peak (faster).
    #[arg(long)]
    pub no_probe: bool,
}

/// Loads `--preset` files.
pub fn load_presets(paths: &[PathBuf]) -> BenchResult<Vec<Preset>> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("reading preset {}: {e}", p.display()))?;
            Preset::from_toml(&text).map_err(|e| format!("preset {}: {e}", p.display()))
        })
        .collect()
}

/// The devices a selection names: `accel::devices()` filtered, then the presets' devices.
pub fn select_devices(filters: &[String], presets: &[Preset]) -> BenchResult<Vec<Device>> {
    let mut chosen = devices::select(&accel::devices(), filters)?;
    chosen.extend(presets.iter().map(accel::emu::from_preset));
    if chosen.is_empty() {
        return Err("no device selected".into());
    }
    Ok(chosen)
}

fn suite_items(select: &Selection, default: &str) -> BenchResult<(String, Vec<suites::Item>)> {
    let name = select.suite.clone().unwrap_or_else(|| default.to_string());
    let suite = suites::suite(&name)?;
    let items = suites::with_dtype(suite.items, select.dtype);
    if items.is_empty() {
        let dtype = select.dtype.map_or("", BenchDType::name);
        return Err(format!("suite `{name}` has no items for --dtype {dtype}"));
    }
    Ok((name, items))
}

/// Writes the report, its table and (unless `no_plots`) the pictures; prints where.
fn finish(report: &Report, dir: &Path, no_plots: bool) -> BenchResult<()> {
    let text = table::render(report);
    print!("{text}");
    let mut files = report::write(dir, report, &text)?;
    if !no_plots {
        files.extend(plot::all(report, dir)?);
    }
    let names: Vec<String> =
        files.iter().filter_map(|f| f.file_name()).map(|f| f.to_string_lossy().into_owned()).collect();
    println!("\nwrote {}: {}", dir.display(), names.join(", "));
    Ok(())
}

/// The collectives' dtype for `--dtype`.
fn comm_dtype(dtype: Option<BenchDType>) -> accel::DType {
    match dtype {
        None | Some(BenchDType::F32) => accel::DType::F32,
        Some(BenchDType::Bf16) => accel::DType::BF16,
        Some(BenchDType::F16) => accel::DType::F16,
        Some(BenchDType::I8) => accel::DType::I8,
    }
}

/// `accel-bench run --suite collectives`.
fn run_collectives(args: &RunArgs) -> BenchResult<usize> {
    let s = &args.select;
    let presets = load_presets(&s.preset)?;
    let devices = select_devices(&s.device, &presets)?;
    let dir = s.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    report::prepare_dir(&dir)?;
    let report = comm::run(&devices, comm_dtype(s.dtype), comm::SIZES)?;
    finish(&report, &dir, s.no_plots)?;
    Ok(report.failures())
}

/// `accel-bench run`: returns the number of failed checks (the binary exits non-zero then).
pub fn run(args: &RunArgs) -> BenchResult<usize> {
    let s = &args.select;
    if s.suite.as_deref() == Some(suites::COLLECTIVES.0) {
        return run_collectives(args);
    }
    let (name, items) = suite_items(s, suites::DEFAULT_SUITE)?;
    let presets = load_presets(&s.preset)?;
    let devices = select_devices(&s.device, &presets)?;
    let dir = s.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    report::prepare_dir(&dir)?;
    if !(args.min_time.is_finite() && args.min_time >= 0.0) {
        return Err(format!("--min-time must be a non-negative number of seconds, got {}", args.min_time));
    }
    let opts =
        Options { min_secs: args.min_time, min_reps: args.reps as usize, progress: !args.quiet, ..Options::default() };
    let report = run::run(&name, s.dtype, &items, &devices, &opts)?;
    finish(&report, &dir, s.no_plots)?;
    Ok(report.failures())
}

/// `accel-bench cost`: the suite costed on emulated devices, no data (default: `resnet50` in
/// int8).
pub fn cost(args: &CostArgs) -> BenchResult<()> {
    let mut s = args.select.clone();
    if s.suite.is_none() && s.dtype.is_none() {
        // The default: ResNet-50 as accelerators run it, in int8.
        s.dtype = Some(BenchDType::I8);
    }
    let s = &s;
    let (name, items) = suite_items(s, "resnet50")?;
    let presets = load_presets(&s.preset)?;
    let filters =
        if s.device.is_empty() && presets.is_empty() { vec!["emulated".to_string()] } else { s.device.clone() };
    let mut targets: Vec<Target> = if filters.is_empty() {
        Vec::new()
    } else {
        devices::select(&accel::devices(), &filters)?.into_iter().map(Target::registered).collect()
    };
    targets.extend(presets.into_iter().map(Target::from_preset));
    let dir = s.out.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_OUT).join("cost"));
    report::prepare_dir(&dir)?;
    let report = cost::cost(&name, s.dtype, &items, &targets)?;
    finish(&report, &dir, s.no_plots)
}

/// `accel-bench list`: devices (kind, backend, measured or modeled, peaks) and suites.
pub fn list(args: &ListArgs) -> BenchResult<String> {
    let presets = load_presets(&args.preset)?;
    let mut devices = accel::devices();
    devices.extend(presets.iter().map(accel::emu::from_preset));
    let mut t = vec![
        ["device", "kind", "backend", "figures", "peak GFLOP/s", "bandwidth GB/s", "source"].map(String::from).to_vec(),
    ];
    for d in &devices {
        let info = d.info();
        let (mut peak, mut bw, mut source) = (info.peak_gflops, info.peak_bandwidth_gbs, "device info".to_string());
        if info.emulated {
            source = "model".into();
        } else if info.kind == accel::DeviceKind::Cpu && info.backend == "cpu" && !args.no_probe {
            let pool = measure::pool(run::cpu_threads())?;
            if let Some(p) = measure::peak(BenchDType::F32, &pool) {
                peak = Some(p.gflops);
                source = format!("probe: {} on {} threads; bandwidth probed by `run`", p.probe, run::cpu_threads());
            }
            bw = None;
        }
        let num = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1}"));
        t.push(vec![
            info.name.clone(),
            devices::kind_name(info.kind).into(),
            info.backend.clone(),
            if info.emulated { "modeled" } else { "measured" }.into(),
            num(peak),
            num(bw),
            source,
        ]);
    }
    let mut out = format!("devices ({}):\n", devices.len());
    out += &table::columns(&t, &[4, 5]);
    out += "\nsuites (--suite):\n";
    let mut s = vec![["suite", "items", "about"].map(String::from).to_vec()];
    for suite in suites::suites() {
        let name = if suite.name == suites::DEFAULT_SUITE {
            format!("{} (default)", suite.name)
        } else {
            suite.name.to_string()
        };
        s.push(vec![name, suite.items.len().to_string(), suite.about.to_string()]);
    }
    s.push(vec![suites::COLLECTIVES.0.to_string(), "–".into(), suites::COLLECTIVES.1.to_string()]);
    for (name, why) in suites::PENDING {
        s.push(vec![name.to_string(), "–".into(), format!("not in this build: {why}")]);
    }
    out += &table::columns(&s, &[1]);
    Ok(out)
}
