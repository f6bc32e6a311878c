//! # accel-wgpu: GPUs (and Mesa's lavapipe) as accel devices, through wgpu compute shaders
//!
//! [`devices()`] opens every adapter wgpu finds (see [`adapter`]); each is a [`WgpuBackend`].
//!
//! Contract and internals:
//! - **Buffers** ([`WgpuBuffer`]) hold the host byte image of a tensor in `u32` words; f16,
//!   bf16, i8 and u8 elements are sub-word fields that kernels unpack (f16/bf16 computed in
//!   f32, rounded once to nearest even on store). Buffers go up to the adapter's
//!   `max_buffer_size` ([`WgpuBackend::max_buffer_bytes`]; 2 GiB - 1 on lavapipe); a larger
//!   tensor is refused with `Error::OutOfMemory` naming the op, the request and the limit.
//!   Host writes and reads are queue writes and buffer copies, which no binding limit bounds.
//! - **Work split**: a kernel binding spans at most `max_storage_buffer_binding_size`
//!   ([`WgpuBackend::max_binding_bytes`]; 128 MiB on lavapipe), so an op on larger buffers
//!   runs as several dispatches in order in one compute pass, each binding only the byte range
//!   its piece touches (offsets aligned to `min_storage_buffer_offset_alignment`, view offsets
//!   rebased to it) and each lowered for its piece's shape. Pieces cut the output's outer
//!   dims: elementwise ops cut every input with the output, reduce and softmax their input's
//!   outer dims, matmul `a` along batch and m and `b` along batch only, convolutions input and
//!   output along N (see `split.rs`).
//!   An operand whose smallest piece still exceeds a binding (one row of a matmul's `a`, a
//!   whole `b` or weight, the input of a reduction over every axis) is an
//!   `Error::InvalidArgument` naming the op, the operand and the limit.
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
//!   Int8 matmul (i8 x i8, u8 x i8, zero points) runs a fixed 64x64 tiling on WGSL's packed
//!   4x8-bit dot products (`dot4I8Packed`, where the WGSL front end offers them),
//!   bit-identical to the generic kernel.
//! - Forward int8 convolution (not depthwise) runs as an implicit GEMM on the same packed dot
//!   products (`conv_int8.wgsl`), a padding tap packed as the input's zero point.
//! - Forward float convolution runs as an implicit GEMM (the tiled matmul's scheme, the input
//!   gathered straight into workgroup memory, no im2col buffer) or, for depthwise layers, a
//!   kernel staging each output tile's input region in workgroup memory; transposed
//!   convolutions, and shapes the fast kernels cannot take, run the generic kernel (see
//!   `conv.rs`; [`WgpuBackend::set_fast_conv`] switches the fast paths off for A/B runs).
//! - Elementwise, reduce and softmax kernels walk any strided view, and index linearly when
//!   every operand is dense (no per-dimension division).
//! - On Mesa's llvmpipe, which stops a shader's loops after 65,535 trips in total, a kernel
//!   whose loops would run longer for the shape (the generic matmul over k past about 60,000
//!   terms, a generic convolution over many input channels, a softmax row of millions) is
//!   refused with `Error::InvalidArgument` naming the op, instead of returning a result cut
//!   short.
//! - Reductions with few outputs (under 64) over long runs take two passes in one compute
//!   pass: up to 1,024 workgroups per output each reduce a segment into a scratch buffer, then
//!   one per output merges the segments, so a full reduction spreads over the device.

#![forbid(unsafe_code)]

pub mod adapter;
mod backend;
mod buffer;
mod conv;
mod ops;
mod prelude;
mod split;
pub mod tune;

pub use accel_kernels::wgsl::{TiledConfig, WorkgroupLimits};
pub use adapter::{ADAPTER_ENV, devices, discovery, open_all};
pub use backend::{FaultInjector, TIMESTAMPS_ENV, WgpuBackend};
pub use buffer::WgpuBuffer;
pub use tune::{TUNE_CACHE_ENV, TUNE_ENV, TuneReport};
