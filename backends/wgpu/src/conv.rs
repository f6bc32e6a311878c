//! Lowering of convolutions to one of three kernels:
//! - **depthwise** (`conv_depthwise.wgsl`): forward float math with groups = C = O, when the
//!   input region under one output tile fits the kernel's workgroup memory;
//! - **implicit GEMM** (`conv_gemm.wgsl`, or `conv_int8.wgsl` on packed 4x8-bit dot products
//!   for int8): every other forward convolution whose reduction length K = (C/g)·kH·kW is at
//!   most the shape's bound and whose grid fits (float: the tiled matmul's shape for the
//!   device, see `conv_tile`; int8: 64x64 tiles, K up to `TILED_MAX_K`, not depthwise, where
//!   a 64-row tile would hold one channel, and only where WGSL offers packed dot products);
//! - **generic** (`conv.wgsl`, one invocation per output): transposed convolutions, int8
//!   depthwise, and whatever the fast kernels cannot take (or every case, with the fast paths
//!   switched off by [`crate::WgpuBackend::set_fast_conv`]).
//!
//! All three read core's canonical NCHW views through their strides, so NHWC data (a permuted
//! view) needs no copy, and all three apply the fused epilogue on store.

use crate::ops::{Kernel, Lowering, assemble, epilogue_head, fits, int8_consts};
use crate::prelude::prelude;
use accel_core::DType;
use accel_core::op::ConvDesc;
use accel_kernels::wgsl::{self, TiledConfig};

/// Which kernel a convolution runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvPath {
    /// One invocation per output element.
    Generic,
    /// Implicit GEMM, grid (pixel tiles, channel tiles, groups).
    Gemm([u32; 3]),
    /// Depthwise with `py` x `px` outputs per invocation, grid (tiles, channels, images).
    Depthwise { py: usize, px: usize, grid: [u32; 3] },
}

/// Input rows (or columns) under `tile` outputs with the given stride, kernel and dilation.
fn span(tile: usize, stride: usize, kernel: usize, dilation: usize) -> Option<usize> {
    (tile - 1).checked_mul(stride)?.checked_add(kernel.checked_sub(1)?.checked_mul(dilation)?)?.checked_add(1)
}

/// The kernel `d` runs on under `low`.
pub(crate) fn path(d: &ConvDesc, transposed: bool, low: Lowering) -> ConvPath {
    let int8 = d.is_int8();
    let other = !int8 && !d.dtype.is_float();
    if !low.fast_conv || transposed || other || (int8 && (!low.dot4 || d.is_depthwise())) || d.groups == 0 {
        return ConvPath::Generic;
    }
    let [oh, ow] = d.output;
    let [kh, kw] = d.kernel;
    let pixels = d.batch.saturating_mul(oh).saturating_mul(ow);
    if pixels == 0 || d.out_channels == 0 || kh == 0 || kw == 0 {
        return ConvPath::Generic;
    }
    if d.is_depthwise() && !int8 {
        // Two outputs per invocation along an axis wider than one 8-wide tile, else one; a
        // region too large for workgroup memory tries one output per invocation, then gives up.
        let want = |o: usize| if o > 8 { 2 } else { 1 };
        for (py, px) in [(want(oh), want(ow)), (1, 1)] {
            let rh = span(8 * py, d.stride[0], kh, d.dilation[0]);
            let rw = span(8 * px, d.stride[1], kw, d.dilation[1]);
            let Some(region) = rh.zip(rw).and_then(|(a, b)| a.checked_mul(b)) else { continue };
            if region > wgsl::DEPTHWISE_REGION {
                continue;
            }
            let tiles = oh.div_ceil(8 * py) * ow.div_ceil(8 * px);
            if let Some(grid) = fits([tiles, d.out_channels, d.batch], low) {
                return ConvPath::Depthwise { py, px, grid };
            }
        }
    }
    let k = d.in_per_group().saturating_mul(kh).saturating_mul(kw);
    // int8 runs the fixed 64x64 tile; float the tiled matmul's shape.
    let (max_k, tm, tn) = if int8 {
        (wgsl::TILED_MAX_K, wgsl::TILED_TILE, wgsl::TILED_TILE)
    } else {
        let t = conv_tile(low);
        (t.max_k(), t.tile_m() as usize, t.tile_n() as usize)
    };
    if k == 0 || k > max_k {
        return ConvPath::Generic;
    }
    let grid = [pixels.div_ceil(tn), d.out_per_group().div_ceil(tm), d.groups];
    fits(grid, low).map_or(ConvPath::Generic, ConvPath::Gemm)
}

/// The float implicit GEMM's shape: the device's tiled-matmul shape when each invocation's B
/// pixels stay put across staging steps (WX*WY a multiple of TN/4, see `conv_gemm.wgsl`),
/// else the default shape.
fn conv_tile(low: Lowering) -> TiledConfig {
    low.tile.filter(|t| (t.invocations() * 4).is_multiple_of(t.tile_n())).unwrap_or(TiledConfig::DEFAULT)
}

/// The launch for convolution `d` (forward, or `transposed`).
pub(crate) fn conv(d: &ConvDesc, transposed: bool, low: Lowering) -> Kernel {
    let int = d.dtype.is_int8();
    let mut dtypes = vec![d.dtype, d.w_dtype];
    let acc = if int { DType::I32 } else { d.dtype };
    dtypes.extend(std::iter::repeat_n(acc, d.epilogue.bias as usize + d.epilogue.residual as usize));
    let (mut epi, scales, e) = epilogue_head(&d.epilogue, acc, int, transposed);
    let n = d.batch * d.out_channels * d.output[0] * d.output[1];
    let mut header = [0; wgsl::HEADER_WORDS];
    header[0] = n as u32;
    header[2] = 1f32.to_bits();
    header[4] = d.zero_points.0 as u32;
    header[5] = d.zero_points.1 as u32;
    header[6..10].copy_from_slice(&e);
    header[10] = d.groups as u32;
    header[11] = d.stride[0] as u32;
    header[12] = d.stride[1] as u32;
    header[13] = d.dilation[0] as u32;
    header[14] = d.dilation[1] as u32;
    header[15] = d.padding[0][0] as u32;
    let mut extra = vec![d.padding[1][0] as u32];
    extra.extend(scales);
    let (body, groups) = match path(d, transposed, low) {
        ConvPath::Generic => (wgsl::CONV, None),
        ConvPath::Gemm(grid) if int => {
            header[1] = (d.in_per_group() * d.kernel[0] * d.kernel[1]) as u32;
            // The GEMM's a is the weights (zero point .1), its b the gathered input (.0).
            epi.push_str(&int8_consts(d.w_dtype, d.dtype, d.zero_points.1, d.zero_points.0));
            let head = prelude(&dtypes, d.out_dtype) + &epi;
            let source = assemble(&head, &[wgsl::EPILOGUE, wgsl::INT8, wgsl::CONV_INT8]);
            return Kernel { source, header, extra, invocations: n, groups: Some(grid), then: None };
        }
        ConvPath::Gemm(grid) => {
            header[1] = (d.in_per_group() * d.kernel[0] * d.kernel[1]) as u32;
            epi.push_str(&conv_tile(low).prelude(false, false));
            (wgsl::CONV_GEMM, Some(grid))
        }
        ConvPath::Depthwise { py, px, grid } => {
            epi.push_str(&format!("const PY: u32 = {py}u;\nconst PX: u32 = {px}u;\n"));
            (wgsl::CONV_DEPTHWISE, Some(grid))
        }
    };
    let head = prelude(&dtypes, d.out_dtype) + &epi;
    Kernel { source: assemble(&head, &[wgsl::EPILOGUE, body]), header, extra, invocations: n, groups, then: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_core::op::{DataLayout, EpilogueDesc};

    fn desc(c: usize, o: usize, groups: usize, hw: usize, k: usize, stride: usize, dil: usize) -> ConvDesc {
        let out = (hw + 2 - dil * (k - 1) - 1) / stride + 1;
        ConvDesc {
            spatial_rank: 2,
            layout: DataLayout::Nchw,
            batch: 1,
            in_channels: c,
            out_channels: o,
            groups,
            input: [hw, hw],
            kernel: [k, k],
            output: [out, out],
            stride: [stride; 2],
            dilation: [dil; 2],
            padding: [[1, 1], [1, 1]],
            output_padding: [0, 0],
            dtype: DType::F32,
            w_dtype: DType::F32,
            out_dtype: DType::F32,
            zero_points: (0, 0),
            epilogue: EpilogueDesc::default(),
        }
    }

    const LOW: Lowering = Lowering {
        tiled_matmul: true,
        tile: Some(accel_kernels::wgsl::TiledConfig::DEFAULT),
        vec4: [false; 2],
        fast_conv: true,
        max_groups: 65535,
        dot4: true,
    };

    #[test]
    fn paths_follow_the_shape() {
        assert_eq!(path(&desc(64, 64, 1, 56, 3, 1, 1), false, LOW), ConvPath::Gemm([49, 1, 1]));
        assert_eq!(path(&desc(8, 8, 2, 9, 3, 1, 1), false, LOW), ConvPath::Gemm([2, 1, 2]));
        // Depthwise: 56x56 output, two outputs per invocation each way, 4x4 tiles.
        assert_eq!(
            path(&desc(32, 32, 32, 56, 3, 1, 1), false, LOW),
            ConvPath::Depthwise { py: 2, px: 2, grid: [16, 32, 1] }
        );
        // 7x7 output: one output per invocation.
        assert_eq!(
            path(&desc(960, 960, 960, 7, 3, 1, 1), false, LOW),
            ConvPath::Depthwise { py: 1, px: 1, grid: [1, 960, 1] }
        );
        // A dilation whose region cannot fit workgroup memory: the GEMM kernel (K = 9).
        assert!(matches!(path(&desc(4, 4, 4, 400, 3, 1, 60), false, LOW), ConvPath::Gemm(_)));
        // int8: the GEMM kernel where packed dot products exist, except depthwise.
        let int8 = |mut d: ConvDesc| {
            (d.dtype, d.w_dtype, d.out_dtype) = (DType::U8, DType::I8, DType::I32);
            d
        };
        assert_eq!(path(&int8(desc(64, 64, 1, 56, 3, 1, 1)), false, LOW), ConvPath::Gemm([49, 1, 1]));
        assert_eq!(path(&int8(desc(32, 32, 32, 56, 3, 1, 1)), false, LOW), ConvPath::Generic);
        let no_dot4 = Lowering { dot4: false, ..LOW };
        assert_eq!(path(&int8(desc(64, 64, 1, 56, 3, 1, 1)), false, no_dot4), ConvPath::Generic);
        // Transposed, switched off, or a grid past the limit: generic.
        assert_eq!(path(&desc(64, 64, 1, 56, 3, 1, 1), true, LOW), ConvPath::Generic);
        let off = Lowering { fast_conv: false, ..LOW };
        assert_eq!(path(&desc(64, 64, 1, 56, 3, 1, 1), false, off), ConvPath::Generic);
        let small = Lowering { max_groups: 16, ..LOW };
        assert_eq!(path(&desc(64, 64, 1, 56, 3, 1, 1), false, small), ConvPath::Generic);
    }
}
