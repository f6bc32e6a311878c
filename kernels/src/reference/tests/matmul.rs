//! Matmul oracle tests.

use super::{Buf, assert_close, out, run};
use accel_core::op::{Activation, EpilogueDesc, MatmulDesc, Requant};
use accel_core::{DType, Error, Op, View};

fn desc(batch: &[usize], m: usize, k: usize, n: usize, dtype: DType) -> MatmulDesc {
    MatmulDesc {
        batch: batch.to_vec(),
        m,
        n,
        k,
        dtype,
        b_dtype: dtype,
        out_dtype: dtype,
        alpha: 1.0,
        beta: 0.0,
        zero_points: (0, 0),
        epilogue: EpilogueDesc::default(),
    }
}

#[test]
fn two_by_three_times_three_by_two() {
    let a = Buf::new(DType::F32, &[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = Buf::new(DType::F32, &[3, 2], &[7., 8., 9., 10., 11., 12.]);
    let mut o = out(DType::F32, &[2, 2]);
    run(&Op::Matmul(desc(&[], 2, 3, 2, DType::F32)), &[&a, &b], &mut o).unwrap();
    assert_eq!(o.values(), [58., 64., 139., 154.]);
}

#[test]
fn batched_with_broadcast_and_transposed_b() {
    let a = Buf::new(DType::BF16, &[2, 2, 3], &[1., 2., 3., 4., 5., 6., 1., 0., 0., 0., 1., 0.]);
    // b stored as its transpose [[7, 9, 11], [8, 10, 12]], viewed as [3, 2], repeated over the batch.
    let b = Buf::new(DType::BF16, &[2, 3], &[7., 9., 11., 8., 10., 12.])
        .with_view(|v| v.transpose("t", 0, 1).unwrap().broadcast_to("t", "b", &[2, 3, 2]).unwrap());
    let mut o = out(DType::BF16, &[2, 2, 2]);
    run(&Op::Matmul(desc(&[2], 2, 3, 2, DType::BF16)), &[&a, &b], &mut o).unwrap();
    assert_eq!(o.values(), [58., 64., 139., 154., 7., 8., 9., 10.]);
}

#[test]
fn alpha_beta_read_and_write_through_a_strided_view() {
    let a = Buf::new(DType::F32, &[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = Buf::new(DType::F32, &[3, 2], &[7., 8., 9., 10., 11., 12.]);
    // Output: every other column of a 2x4 buffer full of 1s.
    let view = View::from_parts("t", vec![2, 2], vec![4, 2], 0, 8).unwrap();
    let mut o = Buf::filled(DType::F32, 8, 1.0, view);
    let d = MatmulDesc { alpha: 0.5, beta: 2.0, ..desc(&[], 2, 3, 2, DType::F32) };
    run(&Op::Matmul(d), &[&a, &b], &mut o).unwrap();
    // 0.5·[[58, 64], [139, 154]] + 2·1, the untouched elements still 1.
    assert_eq!(o.storage(), [31., 1., 34., 1., 71.5, 1., 79., 1.]);
}

#[test]
fn beta_zero_does_not_read_the_output() {
    let a = Buf::new(DType::F32, &[1, 1], &[3.]);
    let b = Buf::new(DType::F32, &[1, 1], &[4.]);
    let mut o = Buf::filled(DType::F32, 1, f64::NAN, View::contiguous("t", &[1, 1]).unwrap());
    run(&Op::Matmul(desc(&[], 1, 1, 1, DType::F32)), &[&a, &b], &mut o).unwrap();
    assert_eq!(o.values(), [12.]);
}

#[test]
fn float_epilogue_bias_residual_relu() {
    let a = Buf::new(DType::F16, &[1, 2], &[1., 2.]);
    let b = Buf::new(DType::F16, &[2, 3], &[1., 0., -1., 1., 1., -1.]);
    let bias = Buf::new(DType::F16, &[3], &[0.5, -3., 1.]);
    let res = Buf::new(DType::F16, &[3], &[0.25, 0.5, 10.]).with_view(|v| v.broadcast_to("t", "r", &[1, 3]).unwrap());
    let mut o = out(DType::F16, &[1, 3]);
    let mut d = desc(&[], 1, 2, 3, DType::F16);
    d.epilogue = EpilogueDesc { bias: true, residual: true, activation: Activation::Relu, requant: None };
    run(&Op::Matmul(d.clone()), &[&a, &b, &bias, &res], &mut o).unwrap();
    // acc [3, 2, -3] + bias → [3.5, -1, -2] + residual → [3.75, -0.5, 8] → relu.
    assert_eq!(o.values(), [3.75, 0., 8.]);

    d.epilogue.activation = Activation::Clamp { min: -1.0, max: 3.0 };
    run(&Op::Matmul(d.clone()), &[&a, &b, &bias, &res], &mut o).unwrap();
    assert_eq!(o.values(), [3., -0.5, 3.]);

    d.epilogue.activation = Activation::Gelu;
    run(&Op::Matmul(d), &[&a, &b, &bias, &res], &mut o).unwrap();
    let want: Vec<f64> =
        [3.75, -0.5, 8.].iter().map(|&v| accel_core::round::to_f16(crate::math::gelu(v)).to_f64()).collect();
    assert_eq!(o.values(), want);
}

#[test]
fn int8_zero_points_bias_relu_per_channel_requant() {
    let a = Buf::new(DType::U8, &[2, 2], &[130., 128., 120., 140.]);
    let b = Buf::new(DType::I8, &[2, 2], &[1., -2., 3., 4.]);
    let bias = Buf::new(DType::I32, &[2], &[10., -1.]);
    let mut o = out(DType::I8, &[2, 2]);
    let mut d = desc(&[], 2, 2, 2, DType::U8);
    d.b_dtype = DType::I8;
    d.out_dtype = DType::I8;
    d.zero_points = (128, 1);
    d.epilogue = EpilogueDesc {
        bias: true,
        residual: false,
        activation: Activation::Relu,
        requant: Some(Requant { scales: vec![0.25, 0.5], zero_point: -3 }),
    };
    run(&Op::Matmul(d), &[&a, &b, &bias], &mut o).unwrap();
    // (a − 128) = [[2, 0], [−8, 12]], (b − 1) = [[0, −3], [2, 3]]: acc [[0, −6], [24, 60]];
    // + bias [[10, −7], [34, 59]]; relu [[10, 0], [34, 59]];
    // ·[0.25, 0.5] = [[2.5, 0], [8.5, 29.5]] → half-even [[2, 0], [8, 30]]; −3.
    assert_eq!(o.values(), [-1., -3., 5., 27.]);
}

#[test]
fn int8_i32_output_wraps_and_clamp_requant_saturates() {
    let a = Buf::new(DType::I8, &[1, 1], &[1.]);
    let b = Buf::new(DType::I8, &[1, 1], &[1.]);
    let bias = Buf::new(DType::I32, &[1], &[i32::MAX as f64]);
    let mut o = out(DType::I32, &[1, 1]);
    let mut d = desc(&[], 1, 1, 1, DType::I8);
    d.out_dtype = DType::I32;
    d.epilogue.bias = true;
    run(&Op::Matmul(d), &[&a, &b, &bias], &mut o).unwrap();
    assert_eq!(o.values(), [i32::MIN as f64]);

    // 300·127 = 38100 clamps to 1000 → 1010 saturates to 255; −38100 clamps to −5 → 5.
    let a = Buf::new(DType::U8, &[1, 2], &[200., 100.]);
    let b = Buf::new(DType::I8, &[2, 2], &[127., -127., 127., -127.]);
    let mut o = out(DType::U8, &[1, 2]);
    let mut d = desc(&[], 1, 2, 2, DType::U8);
    d.b_dtype = DType::I8;
    d.out_dtype = DType::U8;
    d.epilogue.activation = Activation::Clamp { min: -5.0, max: 1000.0 };
    d.epilogue.requant = Some(Requant { scales: vec![1.0], zero_point: 10 });
    run(&Op::Matmul(d), &[&a, &b], &mut o).unwrap();
    assert_eq!(o.values(), [255., 5.]);
}

#[test]
fn empty_k_gives_zero_plus_epilogue() {
    let a = Buf::new(DType::F32, &[2, 0], &[]);
    let b = Buf::new(DType::F32, &[0, 2], &[]);
    let bias = Buf::new(DType::F32, &[2], &[1., -2.]);
    let mut o = out(DType::F32, &[2, 2]);
    let mut d = desc(&[], 2, 0, 2, DType::F32);
    d.epilogue.bias = true;
    run(&Op::Matmul(d), &[&a, &b, &bias], &mut o).unwrap();
    assert_close(&o.values(), &[1., -2., 1., -2.], 0.0);
}

#[test]
fn inconsistent_operands_are_errors_not_panics() {
    let a = Buf::new(DType::F32, &[2, 3], &[0.; 6]);
    let b = Buf::new(DType::F32, &[3, 2], &[0.; 6]);
    let mut o = out(DType::F32, &[2, 2]);
    let d = desc(&[], 2, 3, 2, DType::F32);
    let err = run(&Op::Matmul(d.clone()), &[&a], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
    // Shapes that contradict the descriptor.
    let err = run(&Op::Matmul(desc(&[], 2, 4, 2, DType::F32)), &[&a, &b], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
    // A view reaching outside its buffer.
    let short = Buf { bytes: vec![0; 8], view: b.view.clone(), dtype: DType::F32 };
    let err = run(&Op::Matmul(d.clone()), &[&a, &short], &mut o).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
    // Wrong per-channel scale count.
    let mut q = d;
    q.out_dtype = DType::I8;
    q.epilogue.requant = Some(Requant { scales: vec![1.0; 3], zero_point: 0 });
    let mut o8 = out(DType::I8, &[2, 2]);
    let err = run(&Op::Matmul(q), &[&a, &b], &mut o8).unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
}
