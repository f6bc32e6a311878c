//! The comparison harness behind `accel-bench run`, `list` and `cost` (DESIGN.md §7): the
//! same workloads on every device, measured (CPU, GPU) or modeled (emulated devices),
//! checked against the CPU once, collected into a [`crate::report::Report`].
//!
//! - [`suites`]: the workload suites (GEMM sweep, transformer projections, LLM decode GEMVs,
//!   int8 GEMM, ResNet-50, MobileNet-v2 depthwise, BERT-base) and `--dtype`;
//! - [`devices`]: `--device` filters over `accel::devices()`;
//! - [`run`]: check, time or cost each item on each device;
//! - [`cost`]: the cost-only path on emulated devices (no data);
//! - [`comm`]: the collectives suite (the collectives benchmark's sweep as harness rows).
//!
//! Extension points: a new suite is one more entry in [`suites::suites`]; a new kind of
//! workload needs a variant in [`crate::workload::Workload`] and its items (or, like the
//! collectives, a runner of its own that returns a [`crate::report::Report`]); a new backend
//! needs nothing here — it joins through `accel::devices()`.

pub mod comm;
pub mod cost;
pub mod devices;
pub mod run;
pub mod suites;
