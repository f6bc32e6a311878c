//! The tensor and device API around the ops: creation, host and ndarray transfer, zero-copy
//! views, moving between devices, `_into` aliasing, and profiling records.

use accel::ops::{self, MatmulOptions};
use accel::{DType, Tensor, bf16, f16};
use accel_tests::reference_device;

#[test]
fn views_copy_nothing_and_read_back_in_view_order() -> accel::Result<()> {
    let cpu = accel::cpu();
    let t = Tensor::from_slice(&cpu, &[2, 3], &[1i32, 2, 3, 4, 5, 6])?;
    let tt = t.t()?;
    assert!(tt.shares_buffer(&t) && !tt.is_contiguous());
    assert_eq!(tt.shape(), &[3, 2]);
    assert_eq!(tt.to_vec::<i32>()?, vec![1, 4, 2, 5, 3, 6]);
    assert_eq!(t.slice_step(1, 0..3, 2)?.to_vec::<i32>()?, vec![1, 3, 4, 6]);
    assert_eq!(t.slice(0, 1..2)?.broadcast_to(&[2, 1, 3])?.to_vec::<i32>()?, vec![4, 5, 6, 4, 5, 6]);
    assert_eq!(t.reshape(&[3, 2])?.permute(&[1, 0])?.to_vec::<i32>()?, vec![1, 3, 5, 2, 4, 6]);
    let c = tt.contiguous()?;
    assert!(c.is_contiguous() && !c.shares_buffer(&t));
    assert_eq!(c.to_vec::<i32>()?, tt.to_vec::<i32>()?);
    Ok(())
}

#[test]
fn ndarray_round_trip_and_half_types() -> accel::Result<()> {
    let cpu = accel::cpu();
    let a = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 100 + j * 10 + k) as f32).into_dyn();
    let t = Tensor::from_ndarray(&cpu, &a.t())?;
    assert_eq!(t.shape(), &[4, 3, 2]);
    assert_eq!(t.to_ndarray::<f32>()?, a.t().to_owned());
    let h = Tensor::from_slice(&cpu, &[2], &[f16::from_f32(1.5), f16::from_f32(-2.0)])?;
    assert_eq!(h.dtype(), DType::F16);
    assert_eq!(h.cast(DType::BF16)?.to_vec::<bf16>()?, vec![bf16::from_f32(1.5), bf16::from_f32(-2.0)]);
    assert_eq!(Tensor::full(&cpu, &[3], DType::I8, 300.0)?.to_vec::<i8>()?, vec![127; 3]);
    Ok(())
}

#[test]
fn to_device_moves_data_between_devices() -> accel::Result<()> {
    let cpu = accel::cpu();
    let reference = reference_device();
    let t = Tensor::from_slice(&cpu, &[2, 2], &[1.0f32, 2.0, 3.0, 4.0])?.t()?;
    let moved = t.to_device(&reference)?;
    assert!(moved.device().same(&reference));
    assert_eq!(moved.to_vec::<f32>()?, vec![1.0, 3.0, 2.0, 4.0]);
    assert!(t.to_device(&cpu)?.shares_buffer(&t));
    Ok(())
}

#[test]
fn into_variants_handle_aliasing_and_strided_outputs() -> accel::Result<()> {
    let cpu = accel::cpu();
    // out is an input: x <- x + x reads x before writing it.
    let mut x = Tensor::from_slice(&cpu, &[3], &[1.0f32, 2.0, 3.0])?;
    let x2 = x.clone();
    ops::binary_into(&x2, &x2, ops::BinaryOp::Add, &mut x)?;
    assert_eq!(x.to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
    // A transposed out view receives the result in its own layout; beta accumulates.
    let a = Tensor::from_slice(&cpu, &[2, 2], &[1.0f32, 2.0, 3.0, 4.0])?;
    let eye = Tensor::from_slice(&cpu, &[2, 2], &[1.0f32, 0.0, 0.0, 1.0])?;
    let store = Tensor::full(&cpu, &[2, 2], DType::F32, 10.0)?;
    let mut out = store.t()?;
    ops::matmul_into(&a, &eye, &MatmulOptions::new().alpha(2.0).beta(1.0), &mut out)?;
    assert_eq!(out.to_vec::<f32>()?, vec![12.0, 14.0, 16.0, 18.0]);
    assert_eq!(store.to_vec::<f32>()?, vec![12.0, 16.0, 14.0, 18.0]);
    Ok(())
}

#[test]
fn profiling_records_every_executed_op() -> accel::Result<()> {
    let cpu = accel::cpu();
    let a = Tensor::full(&cpu, &[4, 8, 16], DType::F32, 1.0)?;
    let b = Tensor::full(&cpu, &[16, 5], DType::F32, 1.0)?;
    cpu.set_profiling(true);
    let c = ops::matmul(&a, &b)?;
    let s = c.sum(&[2], false)?;
    let records = cpu.take_records();
    cpu.set_profiling(false);
    // Other tests may run ops on the shared CPU device concurrently: find ours by shape.
    let mm =
        records.iter().find(|r| r.op == "matmul" && r.shapes.last() == Some(&vec![4, 8, 5])).expect("matmul record");
    assert_eq!(mm.flops, 2 * 4 * 8 * 5 * 16);
    assert_eq!(mm.bytes, ((4 * 8 * 16 + 4 * 16 * 5 + 4 * 8 * 5) * 4) as u64);
    assert_eq!(mm.dtype, DType::F32);
    assert!(mm.modeled.is_none(), "the CPU is measured, not modeled");
    assert!(records.iter().any(|r| r.op == "reduce.sum" && r.shapes.last() == Some(&vec![4, 8])));
    assert_eq!(s.to_vec::<f32>()?, vec![80.0; 32]);
    Ok(())
}
