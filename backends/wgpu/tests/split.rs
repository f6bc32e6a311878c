//! Work split for tensors past the storage binding limit, on whatever adapter this machine has
//! (lavapipe in CI). Most cases lower the limit ops are split by to a few KiB
//! (`set_split_binding_limit`), so every op kind runs as many pieces with odd boundaries, and
//! compare bit for bit with the same op on a device that does not split (each output element
//! is computed the same way either way). One case runs tensors past the adapter's real limit
//! against host results. Without an adapter each test prints a skip line; with
//! `ACCEL_REQUIRE_GPU=1` a missing adapter fails.

use accel_core::op::{Activation, BinaryOp, DataLayout, Epilogue, ReduceOp, UnaryOp};
use accel_core::ops::{self, Conv2dOptions, ConvTranspose2dOptions, MatmulOptions};
use accel_core::{DType, Device, Error, Tensor};
use half::{bf16, f16};
use std::sync::atomic::Ordering;
mod common;

use common::{backend, values};

const SUITE: &str = "accel-wgpu split tests";

/// A tensor's elements as bits, whatever its dtype, so results compare exactly (NaN included).
fn bits(t: &Tensor) -> Vec<u32> {
    match t.dtype() {
        DType::F32 => t.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect(),
        DType::F16 => t.to_vec::<f16>().unwrap().iter().map(|v| u32::from(v.to_bits())).collect(),
        DType::BF16 => t.to_vec::<bf16>().unwrap().iter().map(|v| u32::from(v.to_bits())).collect(),
        DType::I8 => t.to_vec::<i8>().unwrap().iter().map(|&v| v as u32).collect(),
        DType::U8 => t.to_vec::<u8>().unwrap().iter().map(|&v| u32::from(v)).collect(),
        DType::I32 => t.to_vec::<i32>().unwrap().iter().map(|&v| v as u32).collect(),
    }
}

/// Runs `case` on a device splitting by `limit` bytes and on one that does not split, and
/// asserts that every output agrees bit for bit and that the first device ran more pieces.
fn split_matches_whole(limit: u64, case: impl Fn(&Device) -> Vec<(&'static str, Tensor)>) {
    let (Some(split), Some(whole)) = (backend(SUITE), backend(SUITE)) else { return };
    split.set_split_binding_limit(limit);
    let (ns, nw) = (split.dispatch_counter(), whole.dispatch_counter());
    let (split, whole) = (Device::new(split), Device::new(whole));
    let (a, b) = (case(&split), case(&whole));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x.shape(), y.shape(), "{name}");
        let (x, y) = (bits(x), bits(y));
        if let Some(i) = x.iter().zip(&y).position(|(p, q)| p != q) {
            panic!("{name}: element {i} of {}: split {:#x}, whole {:#x}", x.len(), x[i], y[i]);
        }
    }
    let (ns, nw) = (ns.load(Ordering::Relaxed), nw.load(Ordering::Relaxed));
    assert!(ns > nw, "the split device ran {ns} dispatches, the other {nw}: nothing was split");
}

/// `n` values spread over about ±300 (so casts to 8-bit types saturate some).
fn wide(n: usize) -> Vec<f32> {
    values(n, 7).iter().map(|v| v * 300.0).collect()
}

#[test]
fn elementwise_ops_split_into_pieces() {
    split_matches_whole(1000, |dev| {
        let x = Tensor::from_slice(dev, &[37, 53], &values(37 * 53, 1)).unwrap();
        // A transposed input: one output row spans the whole buffer, so rows split further.
        let xt = Tensor::from_slice(dev, &[53, 37], &values(37 * 53, 2)).unwrap().transpose(0, 1).unwrap();
        let row = Tensor::from_slice(dev, &[1, 53], &values(53, 3)).unwrap();
        let xi: Vec<i32> = wide(37 * 53).iter().map(|&v| v as i32).collect();
        let xi = Tensor::from_slice(dev, &[37, 53], &xi).unwrap();
        let col = Tensor::from_slice(dev, &[37, 1], &(0..37).map(|i| i * 5 - 90).collect::<Vec<i32>>()).unwrap();
        let w = Tensor::from_slice(dev, &[1001], &wide(1001)).unwrap();
        let b8: Vec<i8> = wide(3 * 555).iter().map(|&v| v.clamp(-128.0, 127.0) as i8).collect();
        let b8 = Tensor::from_slice(dev, &[3, 555], &b8).unwrap();
        vec![
            ("exp", ops::unary(&x, UnaryOp::Exp).unwrap()),
            ("tanh of a transposed view", ops::unary(&xt, UnaryOp::Tanh).unwrap()),
            ("add with a broadcast row", ops::binary(&x, &row, BinaryOp::Add).unwrap()),
            ("i32 max with a broadcast column", ops::binary(&xi, &col, BinaryOp::Max).unwrap()),
            ("f32 to f16", ops::cast(&w, DType::F16).unwrap()),
            ("f32 to bf16 (transposed)", ops::cast(&xt, DType::BF16).unwrap()),
            ("f32 to i8", ops::cast(&w, DType::I8).unwrap()),
            ("f32 to u8", ops::cast(&w, DType::U8).unwrap()),
            ("i8 abs", ops::unary(&b8, UnaryOp::Abs).unwrap()),
            ("i8 to f16", ops::cast(&b8, DType::F16).unwrap()),
        ]
    });
}

#[test]
fn reductions_and_softmax_split_into_pieces() {
    split_matches_whole(4000, |dev| {
        let x = Tensor::from_slice(dev, &[50, 300], &values(50 * 300, 4)).unwrap();
        let b: Vec<i8> = wide(4 * 60 * 70).iter().map(|&v| v.clamp(-128.0, 127.0) as i8).collect();
        let b = Tensor::from_slice(dev, &[4, 60, 70], &b).unwrap();
        let c: Vec<i8> = wide(4 * 30 * 70).iter().map(|&v| v.clamp(-128.0, 127.0) as i8).collect();
        let c = Tensor::from_slice(dev, &[4, 30, 70], &c).unwrap();
        let h: Vec<bf16> = values(3 * 20 * 100, 5).iter().map(|&v| bf16::from_f32(v * 4.0)).collect();
        let h = Tensor::from_slice(dev, &[3, 20, 100], &h).unwrap();
        vec![
            ("sum over rows", ops::reduce(&x, ReduceOp::Sum, &[1], false).unwrap()),
            ("i8 mean, keepdim", ops::reduce(&b, ReduceOp::Mean, &[2], true).unwrap()),
            ("i8 max over the middle axis", ops::reduce(&c, ReduceOp::Max, &[1], false).unwrap()),
            ("softmax", ops::softmax(&x, 1, false).unwrap()),
            // Softmax over a middle axis: the rows are strided, each spanning most of a plane.
            ("bf16 log-softmax over axis 1", ops::softmax(&h, 1, true).unwrap()),
        ]
    });
}

#[test]
fn matmul_splits_a_along_batch_and_m() {
    // Per batch: a 5600 bytes, the output 8400, b 2400: a 3000-byte limit splits along m (24
    // rows a piece: 24, 24, 22) with each piece binding its batch of b.
    split_matches_whole(3000, |dev| {
        let a = Tensor::from_slice(dev, &[3, 70, 20], &values(3 * 70 * 20, 6)).unwrap();
        let bt = Tensor::from_slice(dev, &[3, 30, 20], &values(3 * 30 * 20, 7)).unwrap();
        let b = bt.transpose(1, 2).unwrap();
        let bias = Tensor::from_slice(dev, &[30], &values(30, 8)).unwrap();
        let res = Tensor::from_slice(dev, &[3, 70, 30], &values(3 * 70 * 30, 9)).unwrap();
        let epi = Epilogue::new().bias(&bias).residual(&res).activation(Activation::Relu);
        let fused = ops::matmul_with(&a, &b, &MatmulOptions::new().alpha(0.5).epilogue(epi)).unwrap();
        let mut acc = Tensor::from_slice(dev, &[3, 70, 30], &values(3 * 70 * 30, 10)).unwrap();
        ops::matmul_into(&a, &b, &MatmulOptions::new().beta(0.5), &mut acc).unwrap();
        // b broadcast over a batch of 4 (stride 0), m = 33 rows of 8.
        let a4 = Tensor::from_slice(dev, &[4, 330, 8], &values(4 * 330 * 8, 11)).unwrap();
        let b2 = Tensor::from_slice(dev, &[8, 16], &values(8 * 16, 12)).unwrap();
        let bcast = ops::matmul(&a4, &b2).unwrap();
        let u: Vec<u8> = (0..2 * 150 * 16).map(|i| (i * 37 % 251) as u8).collect();
        let s: Vec<i8> = (0..2 * 16 * 24).map(|i| (i * 53 % 255) as i8).collect();
        let u = Tensor::from_slice(dev, &[2, 150, 16], &u).unwrap();
        let s = Tensor::from_slice(dev, &[2, 16, 24], &s).unwrap();
        let int8 = ops::matmul_with(&u, &s, &MatmulOptions::new().zero_points(3, -1)).unwrap();
        vec![("fused epilogue", fused), ("beta", acc), ("broadcast b", bcast), ("u8 x i8", int8)]
    });
    // The generic kernel splits the same way.
    let (Some(split), Some(whole)) = (backend(SUITE), backend(SUITE)) else { return };
    split.set_split_binding_limit(2000);
    split.set_tiled_matmul(false);
    whole.set_tiled_matmul(false);
    let outs: Vec<Vec<u32>> = [split, whole]
        .into_iter()
        .map(|b| {
            let dev = Device::new(b);
            let a = Tensor::from_slice(&dev, &[2, 99, 13], &values(2 * 99 * 13, 13)).unwrap();
            let b = Tensor::from_slice(&dev, &[2, 13, 11], &values(2 * 13 * 11, 14)).unwrap();
            bits(&ops::matmul(&a, &b).unwrap())
        })
        .collect();
    assert_eq!(outs[0], outs[1]);
}

#[test]
fn convolutions_split_along_n() {
    // One image: input 1728 bytes, output 2304: a 5000-byte limit runs 2, 2 and 1 images.
    for fast in [true, false] {
        let (Some(split), Some(whole)) = (backend(SUITE), backend(SUITE)) else { return };
        split.set_fast_conv(fast);
        whole.set_fast_conv(fast);
        split.set_split_binding_limit(5000);
        let (ns, nw) = (split.dispatch_counter(), whole.dispatch_counter());
        let outs: Vec<Vec<Vec<u32>>> = [Device::new(split), Device::new(whole)]
            .iter()
            .map(|dev| {
                let x = Tensor::from_slice(dev, &[5, 3, 12, 12], &values(5 * 3 * 144, 15)).unwrap();
                let w = Tensor::from_slice(dev, &[4, 3, 3, 3], &values(4 * 27, 16)).unwrap();
                let bias = Tensor::from_slice(dev, &[4], &values(4, 17)).unwrap();
                let res = Tensor::from_slice(dev, &[5, 4, 12, 12], &values(5 * 4 * 144, 18)).unwrap();
                let epi = Epilogue::new().bias(&bias).residual(&res);
                let conv = ops::conv2d(&x, &w, &Conv2dOptions::new().padding(1).epilogue(epi)).unwrap();
                let xn = Tensor::from_slice(dev, &[5, 12, 12, 3], &values(5 * 3 * 144, 19)).unwrap();
                let nhwc = ops::conv2d(&xn, &w, &Conv2dOptions::new().stride(2).layout(DataLayout::Nhwc)).unwrap();
                let xt = Tensor::from_slice(dev, &[5, 4, 6, 6], &values(5 * 4 * 36, 20)).unwrap();
                let wt = Tensor::from_slice(dev, &[4, 2, 3, 3], &values(4 * 2 * 9, 21)).unwrap();
                let t = ConvTranspose2dOptions { conv: Conv2dOptions::new().stride(2), output_padding: [1, 1] };
                let tr = ops::conv_transpose2d(&xt, &wt, &t).unwrap();
                [conv, nhwc, tr].iter().map(bits).collect()
            })
            .collect();
        for (i, name) in ["conv2d + bias + residual", "nhwc stride 2", "conv_transpose2d"].iter().enumerate() {
            assert_eq!(outs[0][i], outs[1][i], "{name} (fast kernels {fast})");
        }
        assert!(ns.load(Ordering::Relaxed) > nw.load(Ordering::Relaxed), "nothing was split");
    }
}

#[test]
fn unsplittable_operands_are_clear_errors() {
    let Some(b) = backend(SUITE) else { return };
    b.set_split_binding_limit(4000);
    let dev = Device::new(b);
    let expect = |r: accel_core::Result<Tensor>, op: &str, arg: &str| {
        let err = r.expect_err("an op past the binding limit that cannot split ran");
        match &err {
            Error::InvalidArgument { op: o, arg: a, .. } => assert_eq!((*o, a.as_str()), (op, arg), "{err}"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("at most 4000 bytes per storage binding"), "{msg}");
    };
    let x = Tensor::from_slice(&dev, &[100, 100], &values(10_000, 22)).unwrap();
    // A reduction over every axis has no kept dim to split along.
    expect(ops::reduce(&x, ReduceOp::Sum, &[], false), "reduce", "x");
    // Reducing axis 0: each output reads a strided column spanning the whole input.
    expect(ops::reduce(&x, ReduceOp::Max, &[0], false), "reduce", "x");
    // A rank-1 softmax is one row.
    let v = Tensor::from_slice(&dev, &[2000], &values(2000, 23)).unwrap();
    expect(ops::softmax(&v, 0, false), "softmax", "x");
    // Matmul: b is never cut along k or n; one row of a is never cut along k.
    let small = Tensor::from_slice(&dev, &[2, 100], &values(200, 24)).unwrap();
    expect(ops::matmul(&small, &x), "matmul", "b");
    let long = Tensor::from_slice(&dev, &[4, 2000], &values(8000, 25)).unwrap();
    let b = Tensor::from_slice(&dev, &[2000, 1], &values(2000, 26)).unwrap();
    expect(ops::matmul(&long, &b), "matmul", "a");
    // The device still works afterwards, and the same ops split where they can.
    let rows = ops::reduce(&x, ReduceOp::Sum, &[1], false).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(rows.len(), 100);
}

/// The adapter's backend and its binding limit, if that limit is small enough for a test
/// past it to be quick (128 MiB on lavapipe).
fn real_limit() -> Option<(accel_wgpu::WgpuBackend, usize)> {
    let b = backend(SUITE)?;
    let limit = b.max_binding_bytes();
    if limit > 256 << 20 || b.max_buffer_bytes() < limit * 2 {
        eprintln!("{SUITE}: binding limit {limit}, buffer limit {}: skipping the large case", b.max_buffer_bytes());
        return None;
    }
    Some((b, limit as usize))
}

#[test]
fn elementwise_and_reduce_past_the_adapter_binding_limit() {
    // The real limit: a [rows, 1024] f32 tensor 5 % past it, written, read back, added to a
    // broadcast row, cast to f16 and summed over rows, each checked on every element against
    // the host. (Softmax and the other kinds split the same way; the tests above cover them.)
    let Some((b, limit)) = real_limit() else { return };
    let counter = b.dispatch_counter();
    let dev = Device::new(b);
    let cols = 1024;
    let rows = (limit * 21 / 20).div_ceil(4 * cols);
    let data = values(rows * cols, 27);
    let x = Tensor::from_slice(&dev, &[rows, cols], &data).unwrap();
    assert!(x.to_vec::<f32>().unwrap() == data, "read back differs from what was written");
    let bias = values(cols, 28);
    let row = Tensor::from_slice(&dev, &[1, cols], &bias).unwrap();
    let before = counter.load(Ordering::Relaxed);
    let sum = ops::binary(&x, &row, BinaryOp::Add).unwrap().to_vec::<f32>().unwrap();
    assert!(counter.load(Ordering::Relaxed) - before >= 2, "the add was not split");
    for (i, (&got, &v)) in sum.iter().zip(&data).enumerate() {
        assert_eq!(got, v + bias[i % cols], "add: element {i}");
    }
    drop(sum);
    let h = ops::cast(&x, DType::F16).unwrap().to_vec::<f16>().unwrap();
    for (i, (&got, &v)) in h.iter().zip(&data).enumerate() {
        assert_eq!(got, f16::from_f32(v), "cast: element {i}");
    }
    drop(h);
    let s = ops::reduce(&x, ReduceOp::Sum, &[1], false).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(s.len(), rows);
    for (r, &got) in s.iter().enumerate() {
        let want: f64 = data[r * cols..(r + 1) * cols].iter().map(|&v| f64::from(v)).sum();
        assert!((f64::from(got) - want).abs() < 1e-3, "sum: row {r}: {got} vs {want}");
    }
}

#[test]
fn matmul_past_the_adapter_binding_limit() {
    // a [m, 16] and the output [m, 16] 5 % past the real limit, b [16, 16]: two pieces along
    // m (each within the tiled kernel's grid), every output checked against the host.
    let Some((b, limit)) = real_limit() else { return };
    let counter = b.dispatch_counter();
    let dev = Device::new(b);
    let (k, n) = (16, 16);
    let m = (limit * 21 / 20).div_ceil(4 * k);
    let a_data = values(m * k, 29);
    let b_data = values(k * n, 30);
    let a = Tensor::from_slice(&dev, &[m, k], &a_data).unwrap();
    let bm = Tensor::from_slice(&dev, &[k, n], &b_data).unwrap();
    let c = ops::matmul(&a, &bm).unwrap().to_vec::<f32>().unwrap();
    assert!(counter.load(Ordering::Relaxed) >= 2, "the matmul was not split");
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k).map(|q| f64::from(a_data[i * k + q]) * f64::from(b_data[q * n + j])).sum();
            let got = f64::from(c[i * n + j]);
            assert!((got - want).abs() < 1e-5, "matmul: ({i}, {j}): {got} vs {want}");
        }
    }
}
