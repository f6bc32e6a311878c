//! The int8 kernels on packed 4x8-bit dot products (tiled matmul, implicit-GEMM convolution)
//! against the generic kernels and a host sum: i8 x i8 and u8 x i8, zero points (including
//! those that cancel the u8 flip), ragged and aligned shapes, a batch, strided and unaligned
//! views, padding, stride, dilation, groups, NHWC, and the int epilogues. Integer results
//! must agree bit for bit (i32 sums wrap alike in both).

use accel_core::op::Activation;
use accel_core::op::{DataLayout, Epilogue};
use accel_core::ops::{Conv2dOptions, MatmulOptions};
use accel_core::{DType, Device, Tensor, ops};
use accel_wgpu::WgpuBackend;
mod common;

use common::{backend, values};

/// Deterministic bytes covering the whole range of the dtype.
fn bytes(n: usize, seed: u64, u8s: bool) -> Vec<u8> {
    values(n, seed).iter().map(|v| ((v * 128.0).floor() as i32 + if u8s { 128 } else { 0 }) as u8).collect()
}

struct Case {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a_u8: bool,
    zero_points: (i32, i32),
    /// `a` is a column slice starting at column 1 (odd element offset, unaligned rows).
    a_offset: bool,
    /// `b` is the transpose of an [n, k] tensor (column stride 1 along k, not along n).
    b_transposed: bool,
    epilogue: u8,
}

/// Runs `c` on `backend`, returning the i32 output (or the requantized bytes widened).
fn run(backend: WgpuBackend, c: &Case, a_bytes: &[u8], b_bytes: &[u8], bias: &[i32]) -> Vec<i32> {
    let dev = Device::new(backend);
    let a_dtype = if c.a_u8 { DType::U8 } else { DType::I8 };
    let kk = c.k + usize::from(c.a_offset);
    let a_full = if c.a_u8 {
        Tensor::from_slice(&dev, &[c.batch, c.m, kk], a_bytes).unwrap()
    } else {
        let s: Vec<i8> = a_bytes.iter().map(|&v| v as i8).collect();
        Tensor::from_slice(&dev, &[c.batch, c.m, kk], &s).unwrap()
    };
    assert_eq!(a_full.dtype(), a_dtype);
    let a = if c.a_offset { a_full.slice(2, 1..kk).unwrap() } else { a_full };
    let b_i8: Vec<i8> = b_bytes.iter().map(|&v| v as i8).collect();
    let b = if c.b_transposed {
        Tensor::from_slice(&dev, &[c.batch, c.n, c.k], &b_i8).unwrap().transpose(1, 2).unwrap()
    } else {
        Tensor::from_slice(&dev, &[c.batch, c.k, c.n], &b_i8).unwrap()
    };
    let bias_t = Tensor::from_slice(&dev, &[c.n], bias).unwrap();
    let mut opts = MatmulOptions::new().zero_points(c.zero_points.0, c.zero_points.1);
    match c.epilogue {
        1 => opts = opts.epilogue(accel_core::op::Epilogue::new().bias(&bias_t).activation(Activation::Relu)),
        2 => opts = opts.epilogue(accel_core::op::Epilogue::new().bias(&bias_t).requantize(vec![0.002], -3, DType::I8)),
        _ => {}
    }
    let out = ops::matmul_with(&a, &b, &opts).unwrap();
    match out.dtype() {
        DType::I32 => out.to_vec::<i32>().unwrap(),
        DType::I8 => out.to_vec::<i8>().unwrap().into_iter().map(i32::from).collect(),
        other => panic!("unexpected output dtype {other:?}"),
    }
}

#[test]
fn tiled_int8_matmul_matches_the_generic_kernel_bit_for_bit() {
    let cases = [
        // Ragged everywhere (k not a multiple of 4: byte staging), no zero points.
        Case {
            batch: 2,
            m: 67,
            k: 45,
            n: 130,
            a_u8: false,
            zero_points: (0, 0),
            a_offset: false,
            b_transposed: false,
            epilogue: 0,
        },
        // u8 x i8 (a flipped into i8 range) with both zero points, aligned rows (word loads).
        Case {
            batch: 1,
            m: 70,
            k: 200,
            n: 68,
            a_u8: true,
            zero_points: (7, -5),
            a_offset: false,
            b_transposed: false,
            epilogue: 0,
        },
        // u8 x i8 whose a zero point cancels the flip (no column sums), bias + ReLU.
        Case {
            batch: 1,
            m: 33,
            k: 130,
            n: 64,
            a_u8: true,
            zero_points: (128, 0),
            a_offset: false,
            b_transposed: false,
            epilogue: 1,
        },
        // Unaligned a rows, transposed b, i8 zero points, requantized to i8.
        Case {
            batch: 2,
            m: 65,
            k: 67,
            n: 66,
            a_u8: false,
            zero_points: (-3, 9),
            a_offset: true,
            b_transposed: true,
            epilogue: 2,
        },
        // Extreme zero points over a long k (many stages; large sums).
        Case {
            batch: 1,
            m: 5,
            k: 64 * 40 + 3,
            n: 7,
            a_u8: true,
            zero_points: (255, -128),
            a_offset: false,
            b_transposed: false,
            epilogue: 0,
        },
    ];
    for (ci, c) in cases.iter().enumerate() {
        let (Some(tiled), Some(generic)) = (backend("accel-wgpu int8"), backend("accel-wgpu int8")) else { return };
        generic.set_tiled_matmul(false);
        let kk = c.k + usize::from(c.a_offset);
        let a_bytes = bytes(c.batch * c.m * kk, 11 + ci as u64, c.a_u8);
        let b_bytes = bytes(c.batch * c.k * c.n, 21 + ci as u64, false);
        let bias: Vec<i32> = (0..c.n as i32).map(|j| j * 37 - 1000).collect();
        let got = run(tiled, c, &a_bytes, &b_bytes, &bias);
        let want = run(generic, c, &a_bytes, &b_bytes, &bias);
        assert_eq!(got.len(), c.batch * c.m * c.n, "case {ci}");
        if let Some(e) = got.iter().zip(&want).position(|(x, y)| x != y) {
            panic!("case {ci}, element {e}: tiled {}, generic {}", got[e], want[e]);
        }
        // One corner against a host sum, so both kernels cannot be wrong the same way.
        if c.epilogue == 0 {
            let (bi, i, j) = (c.batch - 1, c.m - 1, c.n - 1);
            let a_at = |q: usize| {
                let v = a_bytes[(bi * c.m + i) * kk + q + usize::from(c.a_offset)];
                if c.a_u8 { i32::from(v) } else { i32::from(v as i8) }
            };
            let b_at = |q: usize| {
                let at = if c.b_transposed { (bi * c.n + j) * c.k + q } else { (bi * c.k + q) * c.n + j };
                i32::from(b_bytes[at] as i8)
            };
            let (za, zb) = c.zero_points;
            let host = (0..c.k).fold(0i32, |s, q| s.wrapping_add((a_at(q) - za).wrapping_mul(b_at(q) - zb)));
            assert_eq!(got[(bi * c.m + i) * c.n + j], host, "case {ci}: corner against the host");
        }
    }
}

/// One int8 convolution: input `[N, C, H, W]` (NCHW data; NHWC through a permuted view),
/// weight `[O, C/g, kH, kW]`.
struct ConvCase {
    x: [usize; 4],
    w: [usize; 4],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: [usize; 4],
    groups: usize,
    x_u8: bool,
    zero_points: (i32, i32),
    nhwc: bool,
    requant: bool,
}

fn conv_run(backend: WgpuBackend, c: &ConvCase, xb: &[u8], wb: &[u8], bias: &[i32]) -> Vec<i32> {
    let dev = Device::new(backend);
    let x = if c.x_u8 {
        Tensor::from_slice(&dev, &c.x, xb).unwrap()
    } else {
        Tensor::from_slice(&dev, &c.x, &xb.iter().map(|&v| v as i8).collect::<Vec<_>>()).unwrap()
    };
    let (x, layout) =
        if c.nhwc { (x.permute(&[0, 2, 3, 1]).unwrap(), DataLayout::Nhwc) } else { (x, DataLayout::Nchw) };
    let w = Tensor::from_slice(&dev, &c.w, &wb.iter().map(|&v| v as i8).collect::<Vec<_>>()).unwrap();
    let b = Tensor::from_slice(&dev, &[c.w[0]], bias).unwrap();
    let epilogue =
        if c.requant { Epilogue::new().bias(&b).requantize(vec![0.01], 5, DType::U8) } else { Epilogue::new() };
    let opts = Conv2dOptions {
        stride: c.stride,
        padding: c.padding,
        dilation: c.dilation,
        groups: c.groups,
        layout,
        zero_points: c.zero_points,
        epilogue,
    };
    let out = ops::conv2d(&x, &w, &opts).unwrap();
    match out.dtype() {
        DType::I32 => out.to_vec::<i32>().unwrap(),
        DType::U8 => out.to_vec::<u8>().unwrap().into_iter().map(i32::from).collect(),
        other => panic!("unexpected output dtype {other:?}"),
    }
}

#[test]
fn int8_convolution_on_packed_dots_matches_the_generic_kernel_bit_for_bit() {
    let base = ConvCase {
        x: [2, 16, 13, 11],
        w: [24, 16, 3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        padding: [1; 4],
        groups: 1,
        x_u8: true,
        zero_points: (0, 0),
        nhwc: false,
        requant: false,
    };
    let cases = [
        // u8 input with its zero point: padding taps count as the zero point.
        ConvCase { zero_points: (9, 0), ..base },
        // i8 x i8 with both zero points, stride 2, dilation 2, asymmetric padding.
        ConvCase {
            x: [1, 5, 17, 19],
            w: [6, 5, 3, 3],
            stride: [2, 2],
            dilation: [2, 2],
            padding: [2, 1, 0, 3],
            x_u8: false,
            zero_points: (-7, 4),
            ..base
        },
        // Groups, a 1x1 with K = 200 (aligned weight words), requantized to u8.
        ConvCase {
            x: [1, 200, 9, 10],
            w: [70, 100, 1, 1],
            groups: 2,
            padding: [0; 4],
            zero_points: (128, -3),
            requant: true,
            ..base
        },
        // NHWC through a permuted view, a 7x7 stem-like window.
        ConvCase {
            x: [1, 3, 23, 21],
            w: [8, 3, 7, 7],
            stride: [2, 1],
            padding: [3; 4],
            nhwc: true,
            zero_points: (255, 127),
            ..base
        },
    ];
    for (ci, c) in cases.iter().enumerate() {
        let (Some(fast), Some(generic)) = (backend("accel-wgpu int8"), backend("accel-wgpu int8")) else { return };
        generic.set_fast_conv(false);
        let xb = bytes(c.x.iter().product(), 31 + ci as u64, c.x_u8);
        let wb = bytes(c.w.iter().product(), 41 + ci as u64, false);
        let bias: Vec<i32> = (0..c.w[0] as i32).map(|o| o * 101 - 2000).collect();
        let got = conv_run(fast, c, &xb, &wb, &bias);
        let want = conv_run(generic, c, &xb, &wb, &bias);
        assert!(!got.is_empty(), "case {ci}");
        if let Some(e) = got.iter().zip(&want).position(|(x, y)| x != y) {
            panic!("case {ci}, element {e}: fast {}, generic {}", got[e], want[e]);
        }
        // The first output (top-left, in the padding for padded cases) against a host sum.
        if !c.requant && !c.nhwc {
            let (za, zb) = c.zero_points;
            let x_at = |ch: usize, y: isize, xx: isize| -> i32 {
                if y < 0 || xx < 0 || y >= c.x[2] as isize || xx >= c.x[3] as isize {
                    return za;
                }
                let v = xb[(ch * c.x[2] + y as usize) * c.x[3] + xx as usize];
                if c.x_u8 { i32::from(v) } else { i32::from(v as i8) }
            };
            let mut host = 0i32;
            for ch in 0..c.w[1] {
                for i in 0..c.w[2] {
                    for j in 0..c.w[3] {
                        let y = (i * c.dilation[0]) as isize - c.padding[0] as isize;
                        let xx = (j * c.dilation[1]) as isize - c.padding[2] as isize;
                        let w = i32::from(wb[(ch * c.w[2] + i) * c.w[3] + j] as i8);
                        host += (x_at(ch, y, xx) - za) * (w - zb);
                    }
                }
            }
            assert_eq!(got[0], host, "case {ci}: first output against the host");
        }
    }
}
