//! accel's conformance suite (DESIGN.md §8): every op × dtype × case on every device of
//! `accel_tests::devices_under_test()` (= `accel::devices()`), compared with the reference
//! oracle run through `accel_tests::reference_device()`.
//!
//! One libtest-mimic trial per device × op × dtype × case, named `[cpu] matmul/f32/prime_7x13x17`;
//! the usual filter arguments work (`cargo test -p accel-tests --test conformance -- matmul/bf16`).
//! Each op family has one file holding one case table (data) and the code that runs a row.
//! Unsupported (op, dtype) pairs are reported as ignored; a summary per family follows.
//!
//! `ACCEL_TEST_REFERENCE=1` also checks the reference device against itself, which shows that
//! the oracle covers every case without errors or panics (useful while no backend is built).

mod conv;
mod elementwise;
mod epilogue;
mod matmul;
mod reduce;

use accel::{DType, OpKind};
use accel_tests::{Suite, TrialSpec, devices_under_test, reference_device};
use libtest_mimic::Arguments;

/// The name parts and capability key of one trial.
pub(crate) fn spec(
    family: &'static str,
    op: &str,
    dtype_label: impl Into<String>,
    case: &str,
    kind: OpKind,
    dtype: DType,
) -> TrialSpec {
    TrialSpec { family, op: op.to_string(), dtype_label: dtype_label.into(), case: case.to_string(), kind, dtype }
}

fn main() {
    let args = Arguments::from_args();
    let mut devices = devices_under_test();
    if std::env::var_os("ACCEL_TEST_REFERENCE").is_some_and(|v| v == "1") {
        devices.push(reference_device());
    }
    if devices.is_empty() {
        eprintln!("conformance: accel::devices() returned no device (no backend feature enabled?)");
    }
    let mut suite = Suite::new();
    for device in &devices {
        matmul::add(&mut suite, device);
        conv::add(&mut suite, device);
        epilogue::add(&mut suite, device);
        elementwise::add(&mut suite, device);
        reduce::add(&mut suite, device);
    }
    suite.run(&args).exit();
}
