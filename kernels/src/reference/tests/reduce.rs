//! Reduce and softmax oracle tests.

use super::{Buf, assert_close, out, run};
use accel_core::op::{ReduceDesc, ReduceOp, SoftmaxDesc};
use accel_core::{DType, Error, Op, View};

fn rdesc(op: ReduceOp, dtype: DType, reduced_rank: usize) -> ReduceDesc {
    ReduceDesc { op, dtype, out_dtype: op.out_dtype(dtype), reduced_rank }
}

#[test]
fn reduce_over_non_contiguous_axes() {
    // x [2, 3, 2] = 0..12; reduce axes 0 and 2 (core permutes to [kept=1, reduced=0, 2]).
    let x = Buf::new(DType::F32, &[2, 3, 2], &(0..12).map(f64::from).collect::<Vec<_>>())
        .with_view(|v| v.permute("t", &[1, 0, 2]).unwrap());
    // Element (a, b, c) = 6a + 2b + c; for each b: Σ_{a,c} = 4·2b + (0+0+6+6) + (0+1+0+1) = 8b + 14.
    let mut o = out(DType::F32, &[3]);
    run(&Op::Reduce(rdesc(ReduceOp::Sum, DType::F32, 2)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [14., 22., 30.]);
    run(&Op::Reduce(rdesc(ReduceOp::Mean, DType::F32, 2)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [3.5, 5.5, 7.5]);
    run(&Op::Reduce(rdesc(ReduceOp::Max, DType::F32, 2)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [7., 9., 11.]);
    run(&Op::Reduce(rdesc(ReduceOp::Min, DType::F32, 2)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [0., 2., 4.]);
}

#[test]
fn integer_reductions() {
    let x = Buf::new(DType::I8, &[2, 3], &[127., 127., 127., -128., 1., 2.]);
    let mut o = out(DType::I32, &[2]);
    run(&Op::Reduce(rdesc(ReduceOp::Sum, DType::I8, 1)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [381., -125.]);
    let mut o = out(DType::F32, &[2]);
    run(&Op::Reduce(rdesc(ReduceOp::Mean, DType::I8, 1)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [127., (-125f32 / 3.0) as f64]);
    let mut o = out(DType::I8, &[2]);
    run(&Op::Reduce(rdesc(ReduceOp::Min, DType::I8, 1)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [127., -128.]);
    // i32 sums wrap.
    let x = Buf::new(DType::I32, &[2], &[i32::MAX as f64, 2.]);
    let mut o = out(DType::I32, &[]);
    run(&Op::Reduce(rdesc(ReduceOp::Sum, DType::I32, 1)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [i32::MIN as f64 + 1.]);
}

#[test]
fn empty_and_nan_reductions() {
    let x = Buf::new(DType::F16, &[2, 0], &[]);
    let mut o = out(DType::F16, &[2]);
    run(&Op::Reduce(rdesc(ReduceOp::Sum, DType::F16, 1)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [0., 0.]);
    run(&Op::Reduce(rdesc(ReduceOp::Mean, DType::F16, 1)), &[&x], &mut o).unwrap();
    assert!(o.values().iter().all(|v| v.is_nan()));
    let err = run(&Op::Reduce(rdesc(ReduceOp::Max, DType::F16, 1)), &[&x], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }));

    let x = Buf::new(DType::F32, &[3], &[1., f64::NAN, 3.]);
    let mut o = out(DType::F32, &[]);
    run(&Op::Reduce(rdesc(ReduceOp::Max, DType::F32, 1)), &[&x], &mut o).unwrap();
    assert!(o.values()[0].is_nan());
    // An empty input whose dims multiply past usize cannot even be described: core rejects it.
    let huge = 1usize << 40;
    assert!(matches!(View::contiguous("test", &[0, huge, huge]), Err(Error::ShapeOverflow { .. })));
    // Rank 0: reducing nothing keeps the element.
    let x = Buf::new(DType::F32, &[], &[5.]);
    run(&Op::Reduce(rdesc(ReduceOp::Sum, DType::F32, 0)), &[&x], &mut o).unwrap();
    assert_eq!(o.values(), [5.]);
}

#[test]
fn softmax_rows_sum_to_one_and_log_softmax_matches() {
    // Softmax over axis 0 of a [3, 2] tensor: core moves the axis last (a transposed view).
    let vals = [1., -1., 2., 0., 3., 1000.];
    let x = Buf::new(DType::F32, &[3, 2], &vals).with_view(|v| v.transpose("t", 0, 1).unwrap());
    let mut o = out(DType::F32, &[3, 2]).with_view(|v| v.transpose("t", 0, 1).unwrap());
    run(&Op::Softmax(SoftmaxDesc { dtype: DType::F32, log: false }), &[&x], &mut o).unwrap();
    let got = o.values();
    // Column 0 is softmax([1, 2, 3]); column 1 is dominated by 1000 without overflowing.
    let e: Vec<f64> = [1f64, 2., 3.].iter().map(|v| v.exp()).collect();
    let s: f64 = e.iter().sum();
    assert_close(&got[..3], &e.iter().map(|v| v / s).collect::<Vec<_>>(), 1e-7);
    assert_close(&got[3..], &[0., 0., 1.], 0.0);
    assert!((got[..3].iter().sum::<f64>() - 1.0).abs() < 1e-6);

    run(&Op::Softmax(SoftmaxDesc { dtype: DType::F32, log: true }), &[&x], &mut o).unwrap();
    let got = o.values();
    assert_close(&got[..3], &e.iter().map(|v| (v / s).ln()).collect::<Vec<_>>(), 1e-6);
    assert_close(&got[3..], &[-1001., -1000., 0.], 0.0);
}
