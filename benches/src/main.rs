//! `accel-bench`: measure accel's kernels, the peer crates and the machine's peaks, one JSON
//! line per measurement; list the comparison suites and render their tables.
//!
//! ```text
//! accel-bench kernel --device cpu --op matmul --dtype f32 --shape 1024,1024,1024 --threads 2 --json
//! accel-bench kernel --op conv2d --dtype f32 --shape 1,64,56,56,64,3,3,1,1 --threads 1 --epilogue bias-relu --json
//! accel-bench peer --peer gemm --op matmul --dtype f32 --shape 512,512,512 --threads 1 --json
//! accel-bench probe --threads 2 --json
//! accel-bench suite f32-gemm            # the runs of a suite, one per line
//! accel-bench table --suite f32-gemm results.jsonl
//! accel-bench                           # = accel-bench run: the quick suite on every device
//! accel-bench run --suite resnet50 --device cpu,tpu-v1 --dtype i8 --out report/
//! accel-bench list                      # devices (kinds, peaks) and the harness's suites
//! accel-bench cost --suite resnet50     # cost-only on emulated devices, whole network
//! ```
//!
//! Errors (a bad shape, a failed check, an unwritable output folder) print one line on
//! stderr and exit with status 1; bad arguments print one line and exit with status 2.

#![forbid(unsafe_code)]

use accel_bench::peers::{self, MATMUL_NUM_THREADS, Peer};
use accel_bench::workload::{BenchDType, BenchResult, Case, EpilogueKind, Layout, Workload};
use accel_bench::{ConvShape, MatmulShape, Record, cli, kernel, measure, suites, table};
use accel_kernels::probe::{self, PeakKind};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "accel-bench",
    version,
    about = "Runs workloads on every accel device (measured or modeled) and benchmarks accel's kernels, its peers and the machine's peaks",
    args_conflicts_with_subcommands = true,
    after_help = "Without a subcommand, runs `accel-bench run` with the flags above: by default the quick suite on every device, report in target/accel-bench/."
)]
struct Cli {
    /// `run`'s flags, for `accel-bench` without a subcommand.
    #[command(flatten)]
    run: cli::RunArgs,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a suite on every device (or those --device names): check each result against the
    /// CPU, time it (measured) or cost it (emulated); print a table, write JSON, CSV and pictures.
    Run(cli::RunArgs),
    /// List the devices (kind, backend, measured or modeled, peaks) and the suites.
    List(cli::ListArgs),
    /// Cost a suite on emulated devices from shapes alone (no data): whole networks in milliseconds
    /// (default: ResNet-50 in int8 at batch 1 and 8).
    Cost(cli::CostArgs),
    /// Check, then time one accel kernel through the public API.
    Kernel(KernelArgs),
    /// Check, then time a peer crate's matmul on the same inputs.
    Peer(PeerArgs),
    /// Measure the peak of every SIMD multiply-accumulate the CPU has, and memory bandwidth.
    Probe(ProbeArgs),
    /// Print the runs of a comparison suite (or list the suites).
    Suite(SuiteArgs),
    /// Render a suite's markdown table from JSON records (files, or stdin).
    Table(TableArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    /// The host CPU.
    Cpu,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum OpArg {
    /// `[M, K] @ [K, N]`; shape `M,N,K`.
    Matmul,
    /// 2-D convolution; shape `N,C,H,W,K,R,S,stride,pad[,groups]`.
    Conv2d,
}

#[derive(Args)]
struct Timing {
    /// Threads (the kernel's pool and the peak probe's).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
    /// Fewest timed runs.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    reps: u32,
    /// Least total timed seconds (more runs are added until reached).
    #[arg(long, default_value_t = 0.3)]
    min_time: f64,
    /// Print one JSON line instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct KernelArgs {
    /// Device.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Op.
    #[arg(long, value_enum)]
    op: OpArg,
    /// Data type (i8 = u8 activations × i8 weights → i32).
    #[arg(long, value_enum, default_value_t = BenchDType::F32)]
    dtype: BenchDType,
    /// `M,N,K` (matmul) or `N,C,H,W,K,R,S,stride,pad[,groups]` (conv2d).
    #[arg(long)]
    shape: String,
    /// Activation layout (conv2d only; default nchw).
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// Fused epilogue.
    #[arg(long, value_enum, default_value_t = EpilogueKind::None)]
    epilogue: EpilogueKind,
    #[command(flatten)]
    timing: Timing,
}

#[derive(Args)]
struct PeerArgs {
    /// Peer crate.
    #[arg(long, value_enum)]
    peer: Peer,
    /// Op (peers multiply matrices only).
    #[arg(long, value_enum, default_value_t = OpArg::Matmul)]
    op: OpArg,
    /// Data type (gemm: f32, f16; faer, matrixmultiply: f32).
    #[arg(long, value_enum, default_value_t = BenchDType::F32)]
    dtype: BenchDType,
    /// `M,N,K`.
    #[arg(long)]
    shape: String,
    #[command(flatten)]
    timing: Timing,
}

#[derive(Args)]
struct ProbeArgs {
    /// Threads: one probe per thread, all at once, summed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
    /// Bytes per bandwidth array, in MiB (128 = 4× a 32 MiB L3; smaller measures a cache).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=16384))]
    bw_mib: u32,
    /// Quick mode: 16 MiB arrays (cache-resident on large-L3 machines: not a DRAM figure).
    #[arg(long)]
    quick: bool,
    /// Measure the peaks only, not the bandwidth.
    #[arg(long)]
    peaks_only: bool,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SuiteArgs {
    /// Suite name; without it, list the suites.
    name: Option<String>,
    /// Keep only runs with these thread counts (comma-separated).
    #[arg(long, value_delimiter = ',')]
    threads: Vec<usize>,
    /// Keep only runs whose largest matmul dimension (or conv batch) is at most this.
    #[arg(long)]
    max_size: Option<usize>,
}

#[derive(Args)]
struct TableArgs {
    /// Suite whose layout to use.
    #[arg(long)]
    suite: String,
    /// JSON-lines files (stdin when none).
    files: Vec<PathBuf>,
}

/// Prints a clap error on one line (help and version print as clap formats them).
fn parse() -> Result<Cli, ExitCode> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = e.to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
                .collect();
            eprintln!("accel-bench: {} (see --help)", parts.join(" ").trim_start_matches("error: "));
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.cmd.unwrap_or(Cmd::Run(cli.run)) {
        Cmd::Run(a) => cli::run(&a).map(|failed| if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }),
        Cmd::List(a) => cli::list(&a).map(|text| {
            print!("{text}");
            ExitCode::SUCCESS
        }),
        Cmd::Cost(a) => cli::cost(&a).map(|()| ExitCode::SUCCESS),
        Cmd::Kernel(a) => run_kernel(a),
        Cmd::Peer(a) => run_peer(a),
        Cmd::Probe(a) => run_probe(a),
        Cmd::Suite(a) => run_suite(a),
        Cmd::Table(a) => run_table(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("accel-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print(record: &Record, json: bool) {
    println!("{}", if json { record.to_json() } else { record.summary() });
}

fn run_kernel(a: KernelArgs) -> BenchResult<ExitCode> {
    let DeviceArg::Cpu = a.device;
    let workload = match a.op {
        OpArg::Matmul => {
            if a.layout == Some(Layout::Nhwc) {
                return Err("--layout nhwc applies to conv2d; matmul operands are row-major".into());
            }
            Workload::Matmul(MatmulShape::parse(&a.shape)?)
        }
        OpArg::Conv2d => Workload::Conv2d(ConvShape::parse(&a.shape)?),
    };
    let case = Case { workload, dtype: a.dtype, layout: a.layout.unwrap_or_default(), epilogue: a.epilogue };
    let t = &a.timing;
    let record = kernel::run(&case, t.threads.into(), t.reps as usize, t.min_time.max(0.0))?;
    print(&record, t.json);
    Ok(ExitCode::SUCCESS)
}

fn run_peer(a: PeerArgs) -> BenchResult<ExitCode> {
    if a.op != OpArg::Matmul {
        return Err("peers are measured on matmul only".into());
    }
    let shape = MatmulShape::parse(&a.shape)?;
    let threads = usize::from(a.timing.threads);
    if a.peer == Peer::Matrixmultiply && std::env::var(MATMUL_NUM_THREADS).ok() != Some(threads.to_string()) {
        // matrixmultiply reads its thread count from the environment once per process: run
        // this same command again with the variable set.
        let exe = std::env::current_exe().map_err(|e| format!("locating accel-bench to re-run it: {e}"))?;
        let status = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(MATMUL_NUM_THREADS, threads.to_string())
            .status()
            .map_err(|e| format!("re-running accel-bench with {MATMUL_NUM_THREADS}={threads}: {e}"))?;
        return Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let t = &a.timing;
    let record = peers::run(a.peer, a.dtype, shape, threads, t.reps as usize, t.min_time.max(0.0))?;
    print(&record, t.json);
    Ok(ExitCode::SUCCESS)
}

fn run_probe(a: ProbeArgs) -> BenchResult<ExitCode> {
    let threads = usize::from(a.threads);
    let pool = measure::pool(threads)?;
    let mib = if a.quick { 16 } else { a.bw_mib as usize };
    let (peaks, bw) = pool.install(|| {
        let peaks: Vec<(PeakKind, Option<f64>)> = PeakKind::ALL.iter().map(|&k| (k, probe::peak_parallel(k))).collect();
        (peaks, (!a.peaks_only).then(|| probe::bandwidth(mib << 20, 5)))
    });
    if a.json {
        let peaks: serde_json::Map<String, serde_json::Value> =
            peaks.iter().map(|(k, g)| (k.name().to_string(), serde_json::json!(g))).collect();
        let line = serde_json::json!({
            "probe": "peaks",
            "threads": threads,
            "device": "cpu",
            "cpu": accel_bench::record::cpu_model(),
            "peak_gflops": peaks,
            "bandwidth_bytes_per_array": bw.map(|b| b.bytes_per_array),
            "triad_gbs": bw.map(|b| b.triad_gbs),
            "triad_write_allocate_gbs": bw.map(|b| b.triad_write_allocate_gbs),
            "read_gbs": bw.map(|b| b.read_gbs),
        });
        println!("{line}");
    } else {
        println!("peaks on {threads} thread(s), GFLOP/s (GOP/s for vnni):");
        for (k, g) in &peaks {
            println!("  {:<9} {}", k.name(), g.map_or("not available".into(), |g| format!("{g:.1}")));
        }
        if let Some(bw) = bw {
            println!(
                "bandwidth ({} MiB arrays): triad {:.1} GB/s ({:.1} with write-allocate), read {:.1} GB/s",
                bw.bytes_per_array >> 20,
                bw.triad_gbs,
                bw.triad_write_allocate_gbs,
                bw.read_gbs
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_suite(a: SuiteArgs) -> BenchResult<ExitCode> {
    let Some(name) = a.name else {
        for s in suites::suites() {
            println!("{:<13} {:>4} runs  {}", s.name, s.runs.len(), s.about);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let suite = suites::suite(&name)?;
    for run in suite.runs {
        let threads_ok = a.threads.is_empty() || a.threads.contains(&run.threads);
        if threads_ok && a.max_size.is_none_or(|m| run.size <= m) {
            println!("{run}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_table(a: TableArgs) -> BenchResult<ExitCode> {
    let suite = suites::suite(&a.suite)?;
    let mut text = String::new();
    if a.files.is_empty() {
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading stdin: {e}"))?;
    }
    for f in &a.files {
        text += &std::fs::read_to_string(f).map_err(|e| format!("reading {}: {e}", f.display()))?;
        text.push('\n');
    }
    let (records, errors) = table::parse_records(&text);
    for e in &errors {
        eprintln!("accel-bench table: skipped {e}");
    }
    if records.is_empty() {
        return Err("no records to tabulate".into());
    }
    print!("{}", table::render(&suite, &records));
    Ok(ExitCode::SUCCESS)
}
