//! The tiled int8 matmul (packed 4x8-bit dot products) against the generic kernel and a host
//! sum: i8 x i8 and u8 x i8, zero points (including those that cancel the u8 flip), ragged
//! and aligned shapes, a batch, strided and unaligned views, and the int epilogues. Integer
//! results must agree bit for bit (i32 sums wrap alike in both).

use accel_core::op::Activation;
use accel_core::ops::MatmulOptions;
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
