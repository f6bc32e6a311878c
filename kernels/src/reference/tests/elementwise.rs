//! Unary, binary and cast oracle tests.

use super::{Buf, assert_close, out, run};
use accel_core::op::{BinaryDesc, BinaryOp, CastDesc, UnaryDesc, UnaryOp};
use accel_core::{DType, Error, Op};

fn unary(op: UnaryOp, dtype: DType, vals: &[f64]) -> Vec<f64> {
    let x = Buf::new(dtype, &[vals.len()], vals);
    let mut o = out(dtype, &[vals.len()]);
    run(&Op::Unary(UnaryDesc { op, dtype }), &[&x], &mut o).unwrap();
    o.values()
}

fn binary(op: BinaryOp, dtype: DType, a: &[f64], b: &[f64]) -> Vec<f64> {
    let (a, b) = (Buf::new(dtype, &[a.len()], a), Buf::new(dtype, &[b.len()], b));
    let mut o = out(dtype, &[a.view.numel()]);
    run(&Op::Binary(BinaryDesc { op, dtype }), &[&a, &b], &mut o).unwrap();
    o.values()
}

fn cast(from: DType, to: DType, vals: &[f64]) -> Vec<f64> {
    let x = Buf::new(from, &[vals.len()], vals);
    let mut o = out(to, &[vals.len()]);
    run(&Op::Cast(CastDesc { from, to }), &[&x], &mut o).unwrap();
    o.values()
}

#[test]
fn integer_arithmetic_wraps_in_the_dtype_width() {
    assert_eq!(binary(BinaryOp::Add, DType::I8, &[127., -128., 100.], &[1., -1., 27.]), [-128., 127., 127.]);
    assert_eq!(binary(BinaryOp::Mul, DType::I8, &[16., -128.], &[8., -1.]), [-128., -128.]);
    assert_eq!(binary(BinaryOp::Sub, DType::U8, &[0., 5.], &[1., 3.]), [255., 2.]);
    assert_eq!(binary(BinaryOp::Add, DType::I32, &[i32::MAX as f64], &[1.]), [i32::MIN as f64]);
    assert_eq!(binary(BinaryOp::Max, DType::I8, &[-5., 3.], &[-7., 4.]), [-5., 4.]);
    assert_eq!(unary(UnaryOp::Abs, DType::I8, &[-128., -3.]), [-128., 3.]);
    assert_eq!(unary(UnaryOp::Neg, DType::I8, &[-128., 5.]), [-128., -5.]);
    assert_eq!(unary(UnaryOp::Square, DType::U8, &[16., 15.]), [0., 225.]);
    assert_eq!(unary(UnaryOp::Square, DType::I32, &[65536.]), [0.]);
    assert_eq!(unary(UnaryOp::Relu, DType::I32, &[-4., 4.]), [0., 4.]);
}

#[test]
fn float_unary_ops_round_once() {
    let got = unary(UnaryOp::Sqrt, DType::F32, &[2.0]);
    assert_eq!(got, [(2f64.sqrt() as f32) as f64]);
    let got = unary(UnaryOp::Exp, DType::BF16, &[1.0]);
    // e = 2.71828..; bf16 neighbours are 2.703125 and 2.71875: nearest is 2.71875.
    assert_eq!(got, [2.71875]);
    let got = unary(UnaryOp::Clamp { min: -0.5, max: 0.5 }, DType::F16, &[-2., 0.25, 3., f64::NAN]);
    assert_close(&got, &[-0.5, 0.25, 0.5, f64::NAN], 0.0);
    let got = unary(UnaryOp::Relu, DType::F32, &[-1., 2., f64::NAN]);
    assert_close(&got, &[0., 2., f64::NAN], 0.0);
    let got = unary(UnaryOp::Rsqrt, DType::F32, &[4.]);
    assert_eq!(got, [0.5]);
    let got = unary(UnaryOp::Sigmoid, DType::F32, &[0.]);
    assert_eq!(got, [0.5]);
}

#[test]
fn float_binary_ops_and_nan_propagation() {
    assert_eq!(binary(BinaryOp::Div, DType::F32, &[1.], &[3.]), [(1f32 / 3f32) as f64]);
    assert_eq!(binary(BinaryOp::Pow, DType::F32, &[2.], &[10.]), [1024.]);
    let got = binary(BinaryOp::Max, DType::F32, &[1., f64::NAN, -0.], &[f64::NAN, 2., 0.]);
    assert!(got[0].is_nan() && got[1].is_nan());
    assert!(got[2] == 0. && got[2].is_sign_positive());
    // f16: 2048 + 1 is a tie between 2048 and 2050: to even, 2048.
    assert_eq!(binary(BinaryOp::Add, DType::F16, &[2048.], &[1.]), [2048.]);
    assert_eq!(binary(BinaryOp::Add, DType::F16, &[2048.], &[3.]), [2052.]);
}

#[test]
fn binary_reads_broadcast_views() {
    // a [2, 3] + b [3] broadcast: b has stride 0 along the first axis.
    let a = Buf::new(DType::F32, &[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = Buf::new(DType::F32, &[3], &[10., 20., 30.]).with_view(|v| v.broadcast_to("t", "b", &[2, 3]).unwrap());
    let mut o = out(DType::F32, &[2, 3]);
    run(&Op::Binary(BinaryDesc { op: BinaryOp::Sub, dtype: DType::F32 }), &[&a, &b], &mut o).unwrap();
    assert_eq!(o.values(), [-9., -18., -27., -6., -15., -24.]);
}

#[test]
fn casts_saturate_truncate_and_map_nan_to_zero() {
    let vals = [1e10, -1e10, 2.9, -2.9, f64::NAN, f64::INFINITY, -0.5];
    assert_eq!(cast(DType::F32, DType::I8, &vals), [127., -128., 2., -2., 0., 127., 0.]);
    assert_eq!(cast(DType::F32, DType::U8, &vals), [255., 0., 2., 0., 0., 255., 0.]);
    assert_eq!(cast(DType::F32, DType::I32, &vals[2..]), [2., -2., 0., i32::MAX as f64, 0.]);
    assert_eq!(cast(DType::I32, DType::I8, &[300., -300., -5.]), [127., -128., -5.]);
    assert_eq!(cast(DType::I8, DType::U8, &[-1., 7.]), [0., 7.]);
    assert_eq!(cast(DType::U8, DType::I8, &[200., 7.]), [127., 7.]);
    // f32 → f16: overflow to ∞, ties to even, NaN stays NaN.
    let got = cast(DType::F32, DType::F16, &[70000., 1.0 + 2f64.powi(-11), f64::NAN]);
    assert_close(&got, &[f64::INFINITY, 1.0, f64::NAN], 0.0);
    // i32 → bf16 rounds to nearest even: 257 is a tie between 256 and 258 → 256; 259 → 260.
    assert_eq!(cast(DType::I32, DType::BF16, &[257., 259.]), [256., 260.]);
    // bf16 → f32 is exact.
    let big = -1.5 * 2f64.powi(127);
    assert_eq!(cast(DType::BF16, DType::F32, &[1.5, big, 2f64.powi(-133)]), [1.5, big, 2f64.powi(-133)]);
}

#[test]
fn same_dtype_cast_copies_bits_through_views() {
    let nan_payload = f32::from_bits(0x7fc0_1234);
    let mut x = Buf::new(DType::F32, &[2, 2], &[1., 2., 3., 4.]).with_view(|v| v.transpose("t", 0, 1).unwrap());
    x.bytes[4..8].copy_from_slice(&nan_payload.to_le_bytes());
    let mut o = out(DType::F32, &[2, 2]);
    run(&Op::Cast(CastDesc { from: DType::F32, to: DType::F32 }), &[&x], &mut o).unwrap();
    // Transposed read: [x00, x10, x01, x11] = [1, 3, NaN(payload), 4].
    assert_eq!(&o.bytes[8..12], &nan_payload.to_le_bytes());
    assert_close(&o.values(), &[1., 3., f64::NAN, 4.], 0.0);
}

#[test]
fn ops_outside_their_dtypes_are_errors() {
    let x = Buf::new(DType::I8, &[1], &[1.]);
    let mut o = out(DType::I8, &[1]);
    let err = run(&Op::Unary(UnaryDesc { op: UnaryOp::Exp, dtype: DType::I8 }), &[&x], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }));
    let err = run(&Op::Binary(BinaryDesc { op: BinaryOp::Div, dtype: DType::I8 }), &[&x, &x], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }));
    let err = run(&Op::Unary(UnaryDesc { op: UnaryOp::Neg, dtype: DType::U8 }), &[&x], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }));
}
