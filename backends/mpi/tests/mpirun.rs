//! Launches the multi-rank programs (examples/) under `mpirun -n 4` (the conformance also
//! on 3 ranks: an odd count, where Avg's division by n is inexact), bounded twice
//! (`timeout -k` around `mpirun --timeout`), and checks their exit status and output.
//! Needs `mpirun` on PATH; as root in a container also the OMPI_* variables of the README.

use std::path::PathBuf;
use std::process::{Command, Output};

/// mpirun's own limit; `timeout` kills it 30 s later if it does not stop.
const MPIRUN_TIMEOUT_S: u32 = 120;
/// OpenMPI's exit status when `--timeout` fires.
const MPIRUN_TIMED_OUT: i32 = 110;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/mpirun-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|d| d.parent()).expect("target dir").join("examples").join(name)
}

fn mpirun(name: &str, ranks: usize, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .args(["-k", "10", &(MPIRUN_TIMEOUT_S + 30).to_string(), "mpirun", "--timeout"])
        .arg(MPIRUN_TIMEOUT_S.to_string())
        .args(["-n", &ranks.to_string()])
        .arg(example(name))
        .args(args)
        .output()
        .expect("run timeout/mpirun");
    eprintln!("--- {name} {args:?} on {ranks} ranks: {:?}", out.status);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn conformance(ranks: usize) {
    let out = mpirun("conformance", ranks, &[]);
    assert!(out.status.success(), "conformance job on {ranks} ranks failed: {:?}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!(" passed, 0 failed ({ranks} ranks)")), "no summary line: {stdout}");
}

#[test]
fn every_collective_on_four_ranks() {
    conformance(4);
}

#[test]
fn every_collective_on_three_ranks() {
    conformance(3);
}

#[test]
fn data_parallel_training_matches_one_device() {
    let out = mpirun("dp_training", 4, &[]);
    assert!(out.status.success(), "dp_training job failed: {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("loss curves match"));
}

fn fails_fast(mode: &str, code: i32, message: &str) {
    let out = mpirun("rank_fails", 4, &[mode]);
    let status = out.status.code();
    assert!(!out.status.success(), "{mode}: the job succeeded");
    assert_ne!(status, Some(MPIRUN_TIMED_OUT), "{mode}: ended only by mpirun's timeout (hung)");
    assert_ne!(status, Some(124), "{mode}: ended only by coreutils timeout (hung)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(message), "{mode}: no '{message}' in stderr");
    assert!(stderr.contains(&format!("code {code}")), "{mode}: not aborted with code {code}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("finished"), "{mode}: a rank went on");
}

#[test]
fn a_panicking_rank_aborts_the_job() {
    fails_fast("panic", 101, "rank 1 panicked; aborting the job");
}

#[test]
fn a_failing_rank_aborts_the_job() {
    fails_fast("error", 1, "rank 1 failed: test: rank 1 fails on purpose; aborting the job");
}

#[test]
fn a_missing_rank_trips_the_deadline() {
    fails_fast("stall", 62, "all_reduce_in_place (seq 2) did not complete within 2.0 s");
}
