//! Small hand-checkable cases through the public API (`accel_core::ops` on `accel_cpu::device()`).

use accel_core::ops::{self, Activation, BinaryOp, Conv2dOptions, ConvTranspose2dOptions, Epilogue, MatmulOptions};
use accel_core::ops::{ReduceOp, UnaryOp};
use accel_core::{DType, DataLayout, Device, OpKind, Result, Support, Tensor, f16};

fn dev() -> Device {
    accel_cpu::device()
}

fn t32(shape: &[usize], data: &[f32]) -> Tensor {
    Tensor::from_slice(&dev(), shape, data).unwrap()
}

/// `n` deterministic values in [-1, 1).
fn vals(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "element {i}: got {g}, want {w}");
    }
}

#[test]
fn device_info_and_capabilities() {
    let d = dev();
    assert_eq!(d.name(), "cpu");
    assert!(d.same(&accel_cpu::device()), "device() is cached");
    assert_eq!(d.supports(OpKind::Matmul, DType::F32), Support::Native);
    assert_eq!(d.supports(OpKind::Conv, DType::BF16), Support::Emulated);
    assert_eq!(d.supports(OpKind::Matmul, DType::U8), Support::Native);
    assert_eq!(d.supports(OpKind::Reduce, DType::I32), Support::Native);
    assert_eq!(d.supports(OpKind::Softmax, DType::I8), Support::Unsupported);
    assert_eq!(d.supports(OpKind::Matmul, DType::I32), Support::Unsupported);
}

#[test]
fn matmul_2x3x2() -> Result<()> {
    let a = t32(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = t32(&[3, 2], &[7., 8., 9., 10., 11., 12.]);
    assert_eq!(ops::matmul(&a, &b)?.to_vec::<f32>()?, vec![58., 64., 139., 154.]);
    Ok(())
}

#[test]
fn batched_broadcast_matmul_and_transposed_view() -> Result<()> {
    // a: [2, 2, 3], b: [3, 2] broadcast over the batch.
    let a = t32(&[2, 2, 3], &[1., 2., 3., 4., 5., 6., -1., 0., 1., 2., 2., 2.]);
    let b = t32(&[3, 2], &[1., 0., 0., 1., 1., 1.]);
    let c = ops::matmul(&a, &b)?;
    assert_eq!(c.shape(), &[2, 2, 2]);
    assert_eq!(c.to_vec::<f32>()?, vec![4., 5., 10., 11., 0., 1., 4., 4.]);
    // b stored as [2, 3] and transposed: same product.
    let bt = t32(&[2, 3], &[1., 0., 1., 0., 1., 1.]).t()?;
    assert_eq!(ops::matmul(&a, &bt)?.to_vec::<f32>()?, c.to_vec::<f32>()?);
    Ok(())
}

/// Naive f64 matmul of row-major [m, k] × [k, n].
fn naive_mm(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum::<f64>() as f32;
        }
    }
    c
}

#[test]
fn larger_matmul_with_epilogue_alpha_and_beta() -> Result<()> {
    let (m, n, k) = (67, 45, 300);
    let (av, bv) = (vals(m * k, 1), vals(k * n, 2));
    let (a, b) = (t32(&[m, k], &av), t32(&[k, n], &bv));
    let bias_v = vals(n, 3);
    let bias = t32(&[n], &bias_v);
    let prev_v = vals(m * n, 4);
    let mut out = t32(&[m, n], &prev_v);
    let opts =
        MatmulOptions::new().alpha(0.5).beta(2.0).epilogue(Epilogue::new().bias(&bias).activation(Activation::Relu));
    ops::matmul_into(&a, &b, &opts, &mut out)?;
    let base = naive_mm(&av, &bv, m, n, k);
    let want: Vec<f32> = (0..m * n).map(|i| (0.5 * base[i] + 2.0 * prev_v[i] + bias_v[i % n]).max(0.0)).collect();
    close(&out.to_vec::<f32>()?, &want, 1e-5);
    Ok(())
}

#[test]
fn matmul_into_strided_output() -> Result<()> {
    // Write the product into the transpose of a [n, m] tensor.
    let (m, n, k) = (5, 7, 4);
    let (av, bv) = (vals(m * k, 5), vals(k * n, 6));
    let store = Tensor::zeros(&dev(), &[n, m], DType::F32)?;
    let mut out = store.t()?;
    ops::matmul_into(&t32(&[m, k], &av), &t32(&[k, n], &bv), &MatmulOptions::new(), &mut out)?;
    close(&out.to_vec::<f32>()?, &naive_mm(&av, &bv, m, n, k), 1e-6);
    Ok(())
}

#[test]
fn int8_matmul_with_zero_points_bias_and_requant() -> Result<()> {
    // a (u8) [2, 3], b (i8) [3, 2], za = 3, zb = -1.
    let a = Tensor::from_slice(&dev(), &[2, 3], &[3u8, 4, 5, 10, 0, 255])?;
    let b = Tensor::from_slice(&dev(), &[3, 2], &[1i8, -1, 2, 0, -128, 127])?;
    let opts = MatmulOptions::new().zero_points(3, -1);
    let c = ops::matmul_with(&a, &b, &opts)?;
    assert_eq!(c.dtype(), DType::I32);
    // (a - 3) = [[0, 1, 2], [7, -3, 252]]; (b + 1) = [[2, 0], [3, 1], [-127, 128]].
    // row 0: [0*2 + 1*3 + 2*-127, 0 + 1 + 256] = [-251, 257]
    // row 1: [14 - 9 - 32004, 0 - 3 + 32256] = [-31999, 32253]
    assert_eq!(c.to_vec::<i32>()?, vec![-251, 257, -31999, 32253]);
    // Bias, then requantize to i8 with per-channel scales and zero point 1.
    let bias = Tensor::from_slice(&dev(), &[2], &[1i32, -1])?;
    let opts = opts.epilogue(Epilogue::new().bias(&bias).requantize(vec![0.01, 0.002], 1, DType::I8));
    let q = ops::matmul_with(&a, &b, &opts)?;
    // [-250*0.01, 256*0.002, -31998*0.01, 32252*0.002] = [-2.5, 0.512, -319.98, 64.504]
    // round half even, + 1, saturate: [-2 + 1, 1 + 1, -128, 65 + 1]
    assert_eq!(q.to_vec::<i8>()?, vec![-1, 2, -128, 66]);
    Ok(())
}

#[test]
fn conv2d_padding_stride_groups() -> Result<()> {
    // 1 image, 2 channels of 3×3, 2 groups (one channel each), 2×2 kernels, stride 2, pad 1.
    let x = t32(&[1, 2, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9., 1., 1., 1., 1., 1., 1., 1., 1., 1.]);
    let w = t32(&[2, 1, 2, 2], &[1., 0., 0., 1., 1., 2., 3., 4.]);
    let opts = Conv2dOptions::new().stride(2).padding(1).groups(2);
    let y = ops::conv2d(&x, &w, &opts)?;
    assert_eq!(y.shape(), &[1, 2, 2, 2]);
    // Channel 0, windows at input rows/cols {-1, 0}, {1, 2}: diag taps w00·x[-1+i][-1+j] + w11·x[i][j].
    // (0,0): x[0][0] = 1; (0,1): x[0][2] = 3 (w00 tap at x[-1][1] = pad); (1,0): x[1][-1]·1 + x[2][0] = 7;
    // (1,1): x[1][1] + x[2][2] = 5 + 9 = 14.
    // Channel 1 (all ones): sums of in-range taps of [[1,2],[3,4]]: (0,0): 4; (0,1): 3+4 = 7;
    // (1,0): 2+4 = 6; (1,1): 10.
    assert_eq!(y.to_vec::<f32>()?, vec![1., 3., 7., 14., 4., 7., 6., 10.]);
    // The same in NHWC gives the permuted result.
    let xh = x.permute(&[0, 2, 3, 1])?.contiguous()?;
    let yh = ops::conv2d(&xh, &w, &opts.clone().layout(DataLayout::Nhwc))?;
    assert_eq!(yh.to_vec::<f32>()?, y.permute(&[0, 2, 3, 1])?.to_vec::<f32>()?);
    Ok(())
}

/// Naive conv of NCHW f32 (forward), for the larger cases below.
#[allow(clippy::too_many_arguments)]
fn naive_conv(
    x: &[f32],
    w: &[f32],
    [n, c, h, wi]: [usize; 4],
    [o, kh, kw]: [usize; 3],
    groups: usize,
    s: usize,
    p: usize,
    d: usize,
) -> (Vec<f32>, [usize; 2]) {
    let (cg, og) = (c / groups, o / groups);
    let oh = (h + 2 * p - d * (kh - 1) - 1) / s + 1;
    let ow = (wi + 2 * p - d * (kw - 1) - 1) / s + 1;
    let mut y = vec![0f32; n * o * oh * ow];
    for ni in 0..n {
        for oi in 0..o {
            let g = oi / og;
            for yy in 0..oh {
                for xx in 0..ow {
                    let mut acc = 0f64;
                    for ci in 0..cg {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (yy * s + i * d) as isize - p as isize;
                                let ix = (xx * s + j * d) as isize - p as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wi as isize {
                                    continue;
                                }
                                let xv = x[((ni * c + g * cg + ci) * h + iy as usize) * wi + ix as usize];
                                acc += xv as f64 * w[((oi * cg + ci) * kh + i) * kw + j] as f64;
                            }
                        }
                    }
                    y[((ni * o + oi) * oh + yy) * ow + xx] = acc as f32;
                }
            }
        }
    }
    (y, [oh, ow])
}

#[test]
fn conv2d_general_and_depthwise_match_naive() -> Result<()> {
    for &(n, c, h, wi, o, k, groups, s, p, d) in &[
        (2, 6, 9, 11, 4, 3, 2, 1, 1, 1),
        (1, 5, 12, 7, 10, 3, 5, 2, 2, 2),
        (2, 8, 10, 10, 8, 3, 8, 1, 1, 1), // depthwise
        (1, 4, 9, 9, 4, 5, 4, 2, 2, 1),   // depthwise, strided
        (1, 3, 20, 20, 16, 1, 1, 1, 0, 1),
    ] {
        let xv = vals(n * c * h * wi, 11);
        let wv = vals(o * (c / groups) * k * k, 12);
        let x = t32(&[n, c, h, wi], &xv);
        let w = t32(&[o, c / groups, k, k], &wv);
        let y = ops::conv2d(&x, &w, &Conv2dOptions::new().stride(s).padding(p).dilation(d).groups(groups))?;
        let (want, [oh, ow]) = naive_conv(&xv, &wv, [n, c, h, wi], [o, k, k], groups, s, p, d);
        assert_eq!(y.shape(), &[n, o, oh, ow]);
        close(&y.to_vec::<f32>()?, &want, 1e-5);
    }
    Ok(())
}

#[test]
fn conv_transpose2d_hand_case() -> Result<()> {
    // 1×1×2×2 input, 1→1 channel, 2×2 kernel of ones, stride 2: each input pixel fills a block.
    let x = t32(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
    let w = t32(&[1, 1, 2, 2], &[1., 1., 1., 1.]);
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new().stride(2), output_padding: [0, 0] };
    let y = ops::conv_transpose2d(&x, &w, &opts)?;
    assert_eq!(y.shape(), &[1, 1, 4, 4]);
    assert_eq!(y.to_vec::<f32>()?, vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]);
    // Stride 1, padding 1 (crops the border): a plain "full" correlation cropped.
    let w = t32(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new().padding(1), output_padding: [0, 0] };
    let y = ops::conv_transpose2d(&x, &w, &opts)?;
    // Full output 3×3: y[a][b] = Σ x[i][j] w[a-i][b-j]; cropped by 1 on each side → the centre.
    // centre = x00·w11 + x01·w10 + x10·w01 + x11·w00 = 4 + 6 + 6 + 4 = 20.
    assert_eq!(y.to_vec::<f32>()?, vec![20.]);
    Ok(())
}

#[test]
fn f16_and_bf16_round_trip_and_matmul() -> Result<()> {
    let v = [1.0f32, -2.5, 0.333_333_34, 65504.0, 1e-8];
    let x = t32(&[5], &v);
    let h = ops::cast(&x, DType::F16)?;
    let want: Vec<f16> = v.iter().map(|&f| f16::from_f32(f)).collect();
    assert_eq!(h.to_vec::<f16>()?, want);
    let back = ops::cast(&h, DType::F32)?.to_vec::<f32>()?;
    assert_eq!(back, want.iter().map(|h| h.to_f32()).collect::<Vec<_>>());
    let a = ops::cast(&t32(&[2, 3], &[1., 2., 3., 4., 5., 6.]), DType::BF16)?;
    let b = ops::cast(&t32(&[3, 2], &[7., 8., 9., 10., 11., 12.]), DType::BF16)?;
    let c = ops::cast(&ops::matmul(&a, &b)?, DType::F32)?;
    assert_eq!(c.to_vec::<f32>()?, vec![58., 64., 139., 154.]);
    Ok(())
}

#[test]
fn elementwise_and_casts() -> Result<()> {
    let x = t32(&[2, 2], &[-1.0, 4.0, 0.25, -0.0]);
    assert_eq!(ops::unary(&x, UnaryOp::Relu)?.to_vec::<f32>()?, vec![0.0, 4.0, 0.25, 0.0]);
    assert_eq!(ops::unary(&x, UnaryOp::Square)?.to_vec::<f32>()?, vec![1.0, 16.0, 0.0625, 0.0]);
    let i = Tensor::from_slice(&dev(), &[3], &[-128i8, 100, 7])?;
    assert_eq!(ops::unary(&i, UnaryOp::Abs)?.to_vec::<i8>()?, vec![-128, 100, 7]);
    assert_eq!(ops::binary(&i, &i, BinaryOp::Add)?.to_vec::<i8>()?, vec![0, -56, 14]);
    // Broadcast: [2, 1] + [3].
    let a = t32(&[2, 1], &[10., 20.]);
    let b = t32(&[3], &[1., 2., 3.]);
    assert_eq!(ops::binary(&a, &b, BinaryOp::Sub)?.to_vec::<f32>()?, vec![9., 8., 7., 19., 18., 17.]);
    let f = t32(&[4], &[300.7, -1e10, f32::NAN, -2.9]);
    assert_eq!(ops::cast(&f, DType::I8)?.to_vec::<i8>()?, vec![127, -128, 0, -2]);
    assert_eq!(ops::cast(&f, DType::I32)?.to_vec::<i32>()?, vec![300, -2147483648, 0, -2]);
    let u = Tensor::from_slice(&dev(), &[2], &[200u8, 5])?;
    assert_eq!(ops::cast(&u, DType::I8)?.to_vec::<i8>()?, vec![127, 5]);
    // Strided input (a transposed view) through a cast to the same dtype: a copy.
    let t = t32(&[2, 3], &[1., 2., 3., 4., 5., 6.]).t()?;
    assert_eq!(t.contiguous()?.to_vec::<f32>()?, vec![1., 4., 2., 5., 3., 6.]);
    Ok(())
}

#[test]
fn reductions_and_softmax() -> Result<()> {
    let x = t32(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    assert_eq!(ops::reduce(&x, ReduceOp::Sum, &[1], false)?.to_vec::<f32>()?, vec![6., 15.]);
    assert_eq!(ops::reduce(&x, ReduceOp::Sum, &[0], false)?.to_vec::<f32>()?, vec![5., 7., 9.]);
    assert_eq!(ops::reduce(&x, ReduceOp::Max, &[], false)?.to_vec::<f32>()?, vec![6.]);
    assert_eq!(ops::reduce(&x, ReduceOp::Mean, &[0], true)?.to_vec::<f32>()?, vec![2.5, 3.5, 4.5]);
    let i = Tensor::from_slice(&dev(), &[4], &[i32::MAX, 1, 5, -3])?;
    assert_eq!(ops::reduce(&i, ReduceOp::Sum, &[], false)?.to_vec::<i32>()?, vec![i32::MIN + 2]);
    let b = Tensor::from_slice(&dev(), &[3], &[250u8, 3, 4])?;
    assert_eq!(ops::reduce(&b, ReduceOp::Mean, &[], false)?.to_vec::<f32>()?, vec![257.0 / 3.0]);
    assert_eq!(ops::reduce(&b, ReduceOp::Min, &[], false)?.to_vec::<u8>()?, vec![3]);
    let nan = t32(&[3], &[1., f32::NAN, 3.]);
    assert!(ops::reduce(&nan, ReduceOp::Max, &[], false)?.to_vec::<f32>()?[0].is_nan());
    let empty = t32(&[0, 2], &[]);
    assert!(ops::reduce(&empty, ReduceOp::Mean, &[0], false)?.to_vec::<f32>()?.iter().all(|v| v.is_nan()));
    // Softmax over axis 0 of [2, 3] (a strided row for the kernel).
    let s = ops::softmax(&x, 0, false)?.to_vec::<f32>()?;
    let e = 1.0 / (1.0 + 3f32.exp());
    close(&s, &[e, e, e, 1.0 - e, 1.0 - e, 1.0 - e], 1e-6);
    let ls = ops::softmax(&x, 1, true)?.to_vec::<f32>()?;
    let lse = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
    close(&ls[..3], &[1.0 - lse, 2.0 - lse, 3.0 - lse], 1e-6);
    Ok(())
}

#[test]
fn large_reductions_split_and_columns() -> Result<()> {
    // One long row (split across threads) and a column reduction of a tall matrix.
    let n = 200_000;
    let v = vals(n, 21);
    let x = t32(&[n], &v);
    let want: f64 = v.iter().map(|&f| f as f64).sum();
    let got = ops::reduce(&x, ReduceOp::Sum, &[], false)?.to_vec::<f32>()?[0];
    assert!((got as f64 - want).abs() < 1e-3, "{got} vs {want}");
    let (r, c) = (1000, 100);
    let m = t32(&[r, c], &vals(r * c, 22));
    let cols = ops::reduce(&m, ReduceOp::Sum, &[0], false)?.to_vec::<f32>()?;
    let mv = m.to_vec::<f32>()?;
    let want: Vec<f32> = (0..c).map(|j| (0..r).map(|i| mv[i * c + j] as f64).sum::<f64>() as f32).collect();
    close(&cols, &want, 1e-5);
    Ok(())
}

#[test]
fn conv_of_an_empty_input_sees_only_padding() -> Result<()> {
    // W = 0 with right padding 1 and a 1×1 kernel: one output column made of padding only.
    for groups in [1, 2] {
        let x = Tensor::zeros(&dev(), &[1, 2, 2, 0], DType::F32)?;
        let w = t32(&[2, 2 / groups, 1, 1], &vec![1.0; 4 / groups]);
        let bias = t32(&[2], &[0.5, -1.5]);
        let opts = Conv2dOptions { padding: [0, 0, 0, 1], groups, ..Conv2dOptions::new() }
            .epilogue(Epilogue::new().bias(&bias));
        let y = ops::conv2d(&x, &w, &opts)?;
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(y.to_vec::<f32>()?, vec![0.5, 0.5, -1.5, -1.5]);
    }
    Ok(())
}

/// Several threads calling ops on one multi-thread device at once: every op's parallel
/// loops share the same pool's helpers, and each result must match a one-thread device.
#[test]
fn concurrent_callers_share_one_pool() -> Result<()> {
    let (pooled, single) =
        (Device::new(accel_cpu::CpuBackend::with_threads(3)), Device::new(accel_cpu::CpuBackend::with_threads(1)));
    // Large enough that the products run in parallel (over a million multiply-adds).
    let (m, k, n) = (200, 170, 180);
    let (a, b) = (vals(m * k, 1), vals(k * n, 2));
    let (ba, bb) = (vals(3 * 96 * 96, 3), vals(96 * 96, 4));
    let long = vals(2 * 300_000, 5);
    let run = |d: &Device| -> Result<Vec<Vec<f32>>> {
        let mm = ops::matmul(&Tensor::from_slice(d, &[m, k], &a)?, &Tensor::from_slice(d, &[k, n], &b)?)?;
        let bm = ops::matmul(&Tensor::from_slice(d, &[3, 96, 96], &ba)?, &Tensor::from_slice(d, &[96, 96], &bb)?)?;
        let sum = ops::reduce(&Tensor::from_slice(d, &[2, 300_000], &long)?, ReduceOp::Sum, &[1], false)?;
        Ok(vec![mm.to_vec::<f32>()?, bm.to_vec::<f32>()?, sum.to_vec::<f32>()?])
    };
    let want = run(&single)?;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    for _ in 0..5 {
                        for (got, want) in run(&pooled)?.iter().zip(&want) {
                            close(got, want, 1e-4);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("a caller thread panicked"))
    })
}
