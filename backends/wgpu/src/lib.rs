//! # accel-wgpu: GPUs (and Mesa's lavapipe) as accel devices, through wgpu compute shaders
//!
//! [`devices()`] opens every adapter wgpu finds (see [`adapter`]); each is a [`WgpuBackend`].
//!
//! Contract and internals:
//! - **Buffers** ([`WgpuBuffer`]) hold the host byte image of a tensor in `u32` words; f16,
//!   bf16, i8 and u8 elements are sub-word fields that kernels unpack (f16/bf16 computed in
//!   f32, rounded once to nearest even on store). A buffer larger than the adapter's storage
//!   binding limit cannot be bound by a kernel, so allocation refuses it with
//!   `Error::OutOfMemory` naming the limit (no split across bindings yet).
//! - **Kernels** are WGSL from `accel_kernels::wgsl` behind a generated prelude (dtype loads
//!   and stores, op constants); pipelines are cached per device by their full source.
//!   Dispatches wider than the adapter's workgroups per dimension (65,535 on most) fold into
//!   the y dimension; the tiled matmul hands a grid it cannot dispatch to the generic kernel.
//! - **Submission is asynchronous**: `execute` encodes and submits; `read` and `synchronize`
//!   wait. Validation errors, out-of-memory and device loss come back as errors from the next
//!   call that notices them; nothing panics.
//! - **Capabilities** match the CPU backend: f32 native; f16/bf16 emulated (f32 math); i8/u8
//!   for matmul, convolution, elementwise, cast and reduce; i32 for elementwise, cast, reduce.
//! - Float matmul (f32, and f16/bf16 computed in f32) runs a tiled kernel: output tiles per
//!   workgroup staged through workgroup memory, a register tile per invocation, operand rows
//!   loaded as 4 adjacent words where they are f32, contiguous and 16-byte aligned (element
//!   by element otherwise), the fused epilogue on store. Its shape (workgroup, outputs per
//!   invocation, k step: a [`TiledConfig`], k up to [`TiledConfig::max_k`]) is chosen per
//!   adapter at the device's first tiled matmul by the autotuner in [`tune`]: `ACCEL_WGPU_TUNE=0`
//!   keeps [`TiledConfig::DEFAULT`]; otherwise a choice stored in the tuning cache
//!   (`ACCEL_WGPU_TUNE_CACHE`, else `$XDG_CACHE_HOME/accel/wgpu-tune.toml` or
//!   `~/.cache/accel/wgpu-tune.toml`, keyed by adapter, driver and accel version) is reused,
//!   or each candidate is timed on a few probe shapes (a few seconds on lavapipe, once per
//!   adapter) and the fastest stored. A cache that is missing, corrupt or unwritable never
//!   fails an op. [`WgpuBackend::autotune`] re-measures on demand;
//!   [`WgpuBackend::set_tiled_matmul`] switches the tiled kernel off for A/B runs.
//! - Forward float convolution runs as an implicit GEMM (the tiled matmul's scheme, the input
//!   gathered straight into workgroup memory, no im2col buffer) or, for depthwise layers, a
//!   kernel staging each output tile's input region in workgroup memory; transposed and int8
//!   convolutions, and shapes the fast kernels cannot take, run the generic kernel (see
//!   `conv.rs`; [`WgpuBackend::set_fast_conv`] switches the fast paths off for A/B runs).
//!   The other kernels are generic (one invocation per output element): correct on any view,
//!   not yet tuned.

#![forbid(unsafe_code)]

pub mod adapter;
mod backend;
mod buffer;
mod conv;
mod ops;
mod prelude;
pub mod tune;

pub use accel_kernels::wgsl::{TiledConfig, WorkgroupLimits};
pub use adapter::{ADAPTER_ENV, devices, discovery, open_all};
pub use backend::{FaultInjector, TIMESTAMPS_ENV, WgpuBackend};
pub use buffer::WgpuBuffer;
pub use tune::{TUNE_CACHE_ENV, TUNE_ENV, TuneReport};
