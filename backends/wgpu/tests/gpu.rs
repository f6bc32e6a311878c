//! Runtime behaviour of the wgpu backend on whatever adapter this machine has (lavapipe in
//! CI): results read back correctly, errors are clear. Without an adapter each test prints a
//! skip line; with `ACCEL_REQUIRE_GPU=1` a missing adapter fails.

use accel_core::{DType, Device, Error, Tensor, op::ReduceOp, ops};
use accel_wgpu::WgpuBackend;

fn backend() -> Option<WgpuBackend> {
    let (mut backends, notes) = accel_wgpu::open_all();
    if backends.is_empty() {
        let msg = format!("no wgpu adapter found ({notes:?}); install mesa-vulkan-drivers for lavapipe");
        assert!(std::env::var("ACCEL_REQUIRE_GPU").map_or(true, |v| v != "1"), "ACCEL_REQUIRE_GPU=1 but {msg}");
        eprintln!("accel-wgpu tests: skipping: {msg}");
        return None;
    }
    Some(backends.remove(0))
}

#[test]
fn long_reduction_and_unaligned_writes_read_back() {
    let Some(b) = backend() else { return };
    let dev = Device::new(b);
    let n = 1 << 20;
    let ones = vec![1u8; n];
    let x = Tensor::from_slice(&dev, &[1024, 1024], &ones).unwrap();
    // llvmpipe caps one invocation's loop iterations at 65,535: a 2^20-term sum must be split.
    let s = ops::reduce(&x, ReduceOp::Sum, &[], false).unwrap();
    assert_eq!(s.to_vec::<i32>().unwrap(), vec![n as i32]);
    // Three-byte tensors exercise the partial-word write and read paths.
    let t = Tensor::from_slice(&dev, &[3], &[1i8, -2, 3]).unwrap();
    let u = ops::unary(&t, accel_core::op::UnaryOp::Neg).unwrap();
    assert_eq!(u.to_vec::<i8>().unwrap(), vec![-1, 2, -3]);
}

#[test]
fn over_large_tensor_is_a_clear_error() {
    let Some(b) = backend() else { return };
    let limit = b.max_binding_bytes();
    let dev = Device::new(b);
    let elems = (limit / 4 + 1) as usize;
    match Tensor::zeros(&dev, &[elems], DType::F32) {
        Err(Error::OutOfMemory { limit: l, .. }) => assert_eq!(l as u64, limit),
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
}

#[test]
fn lost_device_is_an_error() {
    let Some(b) = backend() else { return };
    let faults = b.fault_injector();
    let dev = Device::new(b);
    let x = Tensor::from_slice(&dev, &[4], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
    faults.lose_device();
    let err = ops::unary(&x, accel_core::op::UnaryOp::Exp).unwrap_err();
    assert!(matches!(err, Error::DeviceLost { .. }), "{err}");
    assert!(matches!(x.to_vec::<f32>(), Err(Error::DeviceLost { .. })));
}
