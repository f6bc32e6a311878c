//! WGSL sources of the wgpu backend (`accel-wgpu`), embedded with `include_str!`.
//!
//! Contract shared by every kernel (see `common.wgsl`): binding 0 is a `u32` parameter array
//! (a 16-word header, then five 18-word views `[offset, rank, shape[8], strides[8]]` for the
//! inputs 0..3 and the output at slot 4, then kernel extras), bindings 1..4 the inputs and 5
//! the output, all raw `u32` words holding the host byte image of the tensor. A kernel is the
//! host-generated prelude (dtype loads/stores, op constants) + [`COMMON`] (+ [`EPILOGUE`]) +
//! its body; workgroups are 64 invocations folded over x and y, except the tiled matmul
//! ([`MATMUL_TILED`]), whose workgroup shape, register tile and k step are a [`TiledConfig`]
//! written into the prelude (the wgpu backend picks one per adapter), the int8 tiled matmul
//! ([`MATMUL_INT8`]) and the implicit-GEMM convolutions ([`CONV_GEMM`], [`CONV_INT8`]), whose
//! 16x16 workgroups each own a 64x64 output tile, and the depthwise convolution
//! ([`CONV_DEPTHWISE`]), whose 8x8 workgroups each own one tile of one output plane.

mod tiled;

pub use tiled::{TiledConfig, WorkgroupLimits};

/// Bindings, view offsets, dtype conversions, NaN-aware max/min, erf/gelu/tanh/pow helpers.
pub const COMMON: &str = include_str!("common.wgsl");
/// Unary, binary and cast, one invocation per output element.
pub const ELEMENTWISE: &str = include_str!("elementwise.wgsl");
/// Sum/max/min/mean over trailing reduced dims: one 64-lane workgroup per output, or for few
/// outputs over long runs two passes (segments into scratch records, then a merge per output).
pub const REDUCE: &str = include_str!("reduce.wgsl");
/// Softmax and log-softmax over the last axis.
pub const SOFTMAX: &str = include_str!("softmax.wgsl");
/// Softmax and log-softmax over the last axis, one 64-lane workgroup per row (few or long
/// rows: the row's max and sum combined across lanes in workgroup memory).
pub const SOFTMAX_ROWS: &str = include_str!("softmax_rows.wgsl");
/// The fused matmul/conv epilogue.
pub const EPILOGUE: &str = include_str!("epilogue.wgsl");
/// Generic batched matmul (float and int8).
pub const MATMUL: &str = include_str!("matmul.wgsl");
/// Tiled batched matmul for float math: workgroup tiles staged in workgroup memory, a
/// register tile per invocation, vec4 loads where the operands allow; its shape is the
/// prelude of a [`TiledConfig`] ([`TiledConfig::prelude`]), dispatched over
/// [`TiledConfig::grid`] for k up to [`TiledConfig::max_k`].
pub const MATMUL_TILED: &str = include_str!("matmul_tiled.wgsl");
/// Tiled batched int8 matmul (i8 x i8, u8 x u8, u8 x i8 with zero points) on WGSL's packed
/// 4x8-bit dot products: the tiles of [`MATMUL_TILED`], k staged 64 at a time as words of four
/// bytes, zero points and the u8 x i8 flip folded in through row and column sums.
/// Needs [`INT8`] before it.
pub const MATMUL_INT8: &str = include_str!("matmul_int8.wgsl");
/// Packed 4x8-bit dot products and byte sums shared by [`MATMUL_INT8`] and [`CONV_INT8`].
pub const INT8: &str = include_str!("int8.wgsl");
/// Largest K the implicit-GEMM convolutions ([`CONV_GEMM`], [`CONV_INT8`]) and the int8
/// tiled matmul ([`MATMUL_INT8`]) take: their loops run at most about 1.6 trips per unit of K
/// per invocation, and llvmpipe ends a shader's loops after 65,535 trips in total (larger K
/// goes to the generic kernel). The float tiled matmul's own bound is [`TiledConfig::max_k`].
pub const TILED_MAX_K: usize = 32768;
/// Output rows and columns of one implicit-GEMM convolution or int8 tiled-matmul workgroup
/// (the float tiled matmul's are [`TiledConfig::tile_m`] and [`TiledConfig::tile_n`]).
pub const TILED_TILE: usize = 64;
/// Direct convolution, forward and transposed (the generic kernel: one invocation per output).
pub const CONV: &str = include_str!("conv.wgsl");
/// Forward float convolution as an implicit GEMM (the tiles of [`TiledConfig::DEFAULT`], the input
/// gathered into workgroup memory without an im2col buffer), dispatched over
/// (ceil(N*oH*oW / 64), ceil((O/g) / 64), groups); K = (C/g)*kH*kW up to [`TILED_MAX_K`].
pub const CONV_GEMM: &str = include_str!("conv_gemm.wgsl");
/// Forward int8 convolution as an implicit GEMM on packed 4x8-bit dot products (the tiles of
/// [`MATMUL_INT8`], the gather of [`CONV_GEMM`], a padding tap packed as the input's zero
/// point); needs [`INT8`] before it. Dispatch and K limit as [`CONV_GEMM`].
pub const CONV_INT8: &str = include_str!("conv_int8.wgsl");
/// Depthwise forward float convolution: 8x8 workgroups over (tile, channel, image), each
/// tile's input region staged in workgroup memory (at most [`DEPTHWISE_REGION`] elements);
/// the prelude defines `PY`/`PX`, the outputs per invocation along y and x (1 or 2).
pub const CONV_DEPTHWISE: &str = include_str!("conv_depthwise.wgsl");
/// Input elements (f32) one depthwise workgroup can stage: 16 KiB, WebGPU's minimum
/// `max_compute_workgroup_storage_size`.
pub const DEPTHWISE_REGION: usize = 4096;
/// Largest view rank the kernels take.
pub const MAX_RANK: usize = 8;
/// Words in the parameter header.
pub const HEADER_WORDS: usize = 16;
/// Words per view.
pub const VIEW_WORDS: usize = 18;
/// First word after the six views (conv's left padding).
pub const EXTRA_BASE: usize = HEADER_WORDS + 5 * VIEW_WORDS;
/// First requantization scale.
pub const SCALE_BASE: usize = EXTRA_BASE + 1;
