//! nccl-tests-style sweep of the in-process collectives (see `accel_bench::collectives`).
//!
//! `cargo run --release -p accel-bench --example collectives -- [ranks] [min_bytes] [max_bytes] [all|allreduce] [ring|tree|direct|auto]`

use accel::comm::{Algorithm, Collective, ReduceOp};
use accel_bench::collectives::{CollConfig, run_local, table};

fn main() -> accel::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--help" || a == "-h") {
        println!(
            "usage: collectives [ranks=2] [min_bytes=8] [max_bytes=268435456] [allreduce|all] [auto|ring|tree|direct]"
        );
        return Ok(());
    }
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let mut cfg =
        CollConfig { ranks: num(0, 2), min_bytes: num(1, 8), max_bytes: num(2, 256 << 20), ..CollConfig::default() };
    if args.get(3).is_some_and(|a| a == "all") {
        let op = ReduceOp::Sum;
        cfg.collectives = vec![
            Collective::AllReduce { op },
            Collective::AllGather,
            Collective::ReduceScatter { op },
            Collective::Broadcast { root: 0 },
            Collective::Reduce { op, root: 0 },
            Collective::AllToAll,
        ];
    }
    cfg.algorithm = match args.get(4).map(String::as_str) {
        Some("ring") => Algorithm::Ring,
        Some("tree") => Algorithm::Tree,
        Some("direct") => Algorithm::Direct,
        _ => Algorithm::Auto,
    };
    let rows = run_local(&cfg)?;
    print!("{}", table(&rows, cfg.dtype, cfg.ranks));
    let wrong: usize = rows.iter().map(|r| r.out_of_place.wrong + r.in_place.wrong).sum();
    if wrong > 0 {
        eprintln!("{wrong} wrong elements");
        std::process::exit(1);
    }
    Ok(())
}
