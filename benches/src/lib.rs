//! # accel-bench: accel's benchmarks
//!
//! Every measurement checks its result against the oracle once before it is timed (a fast
//! wrong answer is not a result), measures the machine's matching peak in the same process
//! right before, and reports one [`Record`] (a JSON line).
//!
//! - [`workload`]: cases (op, shape, dtype, layout, epilogue), seeded inputs, the timed
//!   public-API call and the oracle check;
//! - [`shape`]: the `M,N,K` and `N,C,H,W,K,R,S,stride,pad[,groups]` syntax;
//! - [`kernel`]: accel's kernels on a CPU device with a given thread count;
//! - [`peers`]: gemm, faer and matrixmultiply on the same matmul cases;
//! - [`measure`]: timing (best and median) and the in-process peak probes;
//! - [`record`], [`table`]: the JSON line and the markdown tables built from them;
//! - [`suites`]: the shape lists and side-by-side sets of the CPU-speed targets;
//! - [`harness`], [`report`], [`plot`], [`cli`]: the comparison harness (`accel-bench run`,
//!   `list`, `cost`): workload suites on every device, measured or modeled, checked against
//!   the CPU, written as JSON, CSV, a table and SVG/PNG pictures.
//!
//! The `accel-bench` binary (`src/main.rs`) exposes them as subcommands; `scripts/` holds
//! the onnxruntime counterpart and the comparison driver (see `scripts/README.md`).

// The peers' raw-pointer APIs (gemm, matrixmultiply) are wrapped in `peers::raw`, the one
// module allowed to use `unsafe`.
#![deny(unsafe_code)]

pub mod cli;
pub mod collectives;
pub mod harness;
pub mod kernel;
pub mod measure;
pub mod peers;
pub mod plot;
pub mod record;
pub mod report;
pub mod shape;
pub mod suites;
pub mod table;
pub mod workload;

pub use record::Record;
pub use shape::{ConvShape, MatmulShape};
pub use workload::{BenchDType, BenchResult, Case, EpilogueKind, Layout, Workload};
