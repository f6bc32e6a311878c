//! Runtime behaviour of the wgpu backend on whatever adapter this machine has (lavapipe in
//! CI): results read back correctly, errors are clear. Without an adapter each test prints a
//! skip line; with `ACCEL_REQUIRE_GPU=1` a missing adapter fails.

use accel_core::op::{Activation, Epilogue, ReduceOp};
use accel_core::ops::MatmulOptions;
use accel_core::{DType, Device, Error, Tensor, ops};
mod common;

use common::{backend, values};

#[test]
fn long_reduction_and_unaligned_writes_read_back() {
    let Some(b) = backend("accel-wgpu tests") else { return };
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
    // Tensors past the storage binding limit are split across bindings; one past the largest
    // buffer the adapter allows cannot exist and is refused by name with both sizes.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let limit = b.max_buffer_bytes();
    assert!(limit >= b.max_binding_bytes(), "buffer limit {limit} below the binding limit");
    let dev = Device::new(b);
    let elems = (limit / 4 + 1) as usize;
    match Tensor::zeros(&dev, &[elems], DType::F32) {
        Err(Error::OutOfMemory { op, requested, limit: l, .. }) => {
            assert_eq!((op, requested as u64, l as u64), ("zeros", elems as u64 * 4, limit));
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
}

#[test]
fn lost_device_is_an_error() {
    let Some(b) = backend("accel-wgpu tests") else { return };
    let faults = b.fault_injector();
    let dev = Device::new(b);
    let x = Tensor::from_slice(&dev, &[4], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
    faults.lose_device();
    let err = ops::unary(&x, accel_core::op::UnaryOp::Exp).unwrap_err();
    assert!(matches!(err, Error::DeviceLost { .. }), "{err}");
    assert!(matches!(x.to_vec::<f32>(), Err(Error::DeviceLost { .. })));
}

#[test]
fn tiled_matmul_matches_the_generic_kernel() {
    // Edge tiles in every dimension, a batch, a transposed b, alpha and a bias + GELU epilogue:
    // the tiled kernel sums in the same order as the generic one, so they agree to rounding of
    // the epilogue only.
    let (Some(tiled), Some(generic)) = (backend("accel-wgpu tests"), backend("accel-wgpu tests")) else { return };
    generic.set_tiled_matmul(false);
    let (batch, m, k, n) = (2, 67, 45, 130);
    let a_data = values(batch * m * k, 1);
    let b_data = values(batch * n * k, 2);
    let bias_data = values(n, 3);
    let mut outs = Vec::new();
    for backend in [tiled, generic] {
        let dev = Device::new(backend);
        let a = Tensor::from_slice(&dev, &[batch, m, k], &a_data).unwrap();
        let bt = Tensor::from_slice(&dev, &[batch, n, k], &b_data).unwrap();
        let b = bt.transpose(1, 2).unwrap();
        let bias = Tensor::from_slice(&dev, &[n], &bias_data).unwrap();
        let epi = Epilogue::new().bias(&bias).activation(Activation::Gelu);
        let out = ops::matmul_with(&a, &b, &MatmulOptions::new().alpha(0.5).epilogue(epi)).unwrap();
        outs.push(out.to_vec::<f32>().unwrap());
    }
    assert_eq!(outs[0].len(), batch * m * n);
    for (i, (x, y)) in outs[0].iter().zip(&outs[1]).enumerate() {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "element {i}: tiled {x}, generic {y}");
    }
    // And one element against a host sum, so both kernels cannot be wrong the same way.
    let (bi, i, j) = (1, 66, 129);
    let dot: f64 =
        (0..k).map(|q| a_data[(bi * m + i) * k + q] as f64 * b_data[(bi * n + j) * k + q] as f64).sum::<f64>();
    let v = 0.5 * dot + bias_data[j] as f64;
    let gelu = 0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2));
    let got = outs[0][(bi * m + i) * n + j] as f64;
    assert!((got - gelu).abs() < 1e-4, "tiled {got}, host {gelu}");
}

/// erf by its Taylor series (|x| small here).
fn erf(x: f64) -> f64 {
    let (mut term, mut sum) = (x, x);
    for n in 1..60 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
fn f16_without_shader_f16_is_stored_f16_computed_f32() {
    // The contract (Capabilities::full_contract): f16 is emulated on every adapter, stored as
    // f16 and computed in f32 with one rounding on store. 2048 + 1 + 1 shows which: summed in
    // f16 each +1 rounds away (the f16 spacing at 2048 is 2), giving 2048; in f32, 2050.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let dev = Device::new(b);
    assert_eq!(dev.supports(accel_core::OpKind::Matmul, DType::F16), accel_core::Support::Emulated);
    let h = |v: f32| half::f16::from_f32(v);
    let a = Tensor::from_slice(&dev, &[1, 3], &[h(2048.0), h(1.0), h(1.0)]).unwrap();
    let b = Tensor::from_slice(&dev, &[3, 1], &[h(1.0); 3]).unwrap();
    let c = ops::matmul(&a, &b).unwrap().to_vec::<half::f16>().unwrap();
    assert_eq!(c[0].to_f32(), 2050.0);
}

#[test]
fn unsupported_dtype_is_a_clear_error() {
    // Every contract dtype runs on every adapter (f16/bf16 stored, computed in f32; int8 with
    // plain integer math), so no adapter lacks a feature the contract needs. A dtype outside
    // the contract for the op (an i32 matmul: integer matmul is the int8 path) is what the
    // capability table marks unsupported, and the call is refused by name, argument and dtype
    // before it reaches the device.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let dev = Device::new(b);
    assert_eq!(dev.supports(accel_core::OpKind::Matmul, DType::I32), accel_core::Support::Unsupported);
    let a = Tensor::from_slice(&dev, &[2, 2], &[1i32, 2, 3, 4]).unwrap();
    let err = ops::matmul(&a, &a).unwrap_err();
    match &err {
        Error::DTypeMismatch { op: "matmul", arg, got: DType::I32, .. } => assert_eq!(arg, "a", "{err}"),
        other => panic!("expected DTypeMismatch naming matmul, got {other:?}"),
    }
}

#[test]
fn destroyed_device_is_an_error_not_a_panic() {
    // A real loss: wgpu's Device::destroy, as a driver reset would leave it. Every later call
    // must return an error (DeviceLost once wgpu reports the loss, a backend error before).
    let Some(b) = backend("accel-wgpu tests") else { return };
    let faults = b.fault_injector();
    let dev = Device::new(b);
    let x = Tensor::from_slice(&dev, &[4], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
    faults.destroy_device();
    let lost_or_backend = |e: &Error| matches!(e, Error::DeviceLost { .. } | Error::Backend { .. });
    let first = ops::unary(&x, accel_core::op::UnaryOp::Exp).and_then(|y| y.to_vec::<f32>());
    let err = first.expect_err("an op on a destroyed device succeeded");
    assert!(lost_or_backend(&err), "{err}");
    let err = x.to_vec::<f32>().expect_err("a read from a destroyed device succeeded");
    assert!(matches!(err, Error::DeviceLost { .. }), "{err}");
    assert!(Tensor::zeros(&dev, &[8], DType::F32).is_err());
}

#[test]
fn gpu_time_fills_op_records_where_timestamps_exist() {
    let Some(b) = backend("accel-wgpu tests") else { return };
    let has = b.has_timestamps();
    b.set_gpu_timing(true);
    let dev = Device::new(b);
    dev.set_profiling(true);
    let x = Tensor::from_slice(&dev, &[256, 256], &values(256 * 256, 4)).unwrap();
    let y = ops::matmul(&x, &x).unwrap();
    let records = dev.take_records();
    assert_eq!(records.len(), 1, "{records:?}");
    if has {
        let t = records[0].device_time.expect("timestamp queries offered but no GPU time recorded");
        assert!(t > std::time::Duration::ZERO && t <= records[0].measured * 2, "{t:?} vs {:?}", records[0].measured);
    } else {
        eprintln!("accel-wgpu tests: {} has no timestamp queries; device_time stays None", dev.name());
        assert!(records[0].device_time.is_none());
    }
    // Timing waits for the op but must not change its result.
    assert_eq!(y.to_vec::<f32>().unwrap().len(), 256 * 256);
}

#[test]
fn dispatch_past_the_per_dimension_limit_folds_into_a_second_dimension() {
    // 64-invocation workgroups: one more workgroup than the limit allows in x needs y = 2.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let groups = b.max_workgroups_per_dimension() as usize;
    let n = groups * 64 + 100;
    if n > 1 << 26 {
        eprintln!("accel-wgpu tests: {groups} workgroups per dimension; skipping the fold test (too large)");
        return;
    }
    let dev = Device::new(b);
    let data: Vec<f32> = (0..n).map(|i| (i % 4093) as f32).collect();
    let x = Tensor::from_slice(&dev, &[n], &data).unwrap();
    let y = ops::unary(&x, accel_core::op::UnaryOp::Neg).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(y.len(), n);
    if let Some(i) = y.iter().zip(&data).position(|(y, x)| *y != -*x) {
        panic!("element {i} of {n}: got {}, expected {}", y[i], -data[i]);
    }
}

#[test]
fn tiled_matmul_with_a_batch_past_the_grid_limit_falls_back() {
    // The tiled kernel's grid is (n/64, m/64, batch): a batch one past the per-dimension limit
    // cannot be dispatched that way, so the generic kernel (whose grid folds) takes it.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let batch = b.max_workgroups_per_dimension() as usize + 1;
    if batch > 1 << 20 {
        eprintln!("accel-wgpu tests: {batch} batches would be too large; skipping");
        return;
    }
    let dev = Device::new(b);
    let a_data: Vec<f32> = (0..batch * 2).map(|i| (i % 7) as f32).collect();
    let b_data: Vec<f32> = (0..batch * 2).map(|i| (i % 5) as f32 - 2.0).collect();
    let a = Tensor::from_slice(&dev, &[batch, 1, 2], &a_data).unwrap();
    let bm = Tensor::from_slice(&dev, &[batch, 2, 1], &b_data).unwrap();
    let c = ops::matmul(&a, &bm).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(c.len(), batch);
    for (bi, got) in c.iter().enumerate() {
        let want = a_data[2 * bi] * b_data[2 * bi] + a_data[2 * bi + 1] * b_data[2 * bi + 1];
        assert_eq!(*got, want, "batch {bi}");
    }
}

#[test]
fn op_output_past_the_buffer_limit_is_a_clear_error() {
    // Small inputs, a broadcast output one row past the largest buffer the adapter allows: the
    // op is refused before anything is allocated, by name and with both sizes.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let limit = b.max_buffer_bytes() as usize;
    let dev = Device::new(b);
    let cols = 4096;
    let rows = limit / 4 / cols + 1;
    let x = Tensor::zeros(&dev, &[rows, 1], DType::F32).unwrap();
    let y = Tensor::zeros(&dev, &[1, cols], DType::F32).unwrap();
    let err = ops::binary(&x, &y, accel_core::op::BinaryOp::Add).unwrap_err();
    match &err {
        Error::OutOfMemory { op, requested, limit: l, .. } => {
            assert_eq!((*op, *requested, *l), ("binary", rows * cols * 4, limit), "{err}");
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("binary:") && msg.contains(&limit.to_string()), "{msg}");
}

#[test]
fn long_reductions_of_few_outputs_run_in_two_passes() {
    // Few outputs over long runs: segments of each run reduce in parallel (first pass), then
    // one workgroup per output merges them (second pass). Values are chosen so every result is
    // exact whatever the grouping, and the dispatch count shows both passes ran.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let launches = b.dispatch_counter();
    let dev = Device::new(b);
    let n = (1 << 22) + 3;
    let ones = Tensor::from_slice(&dev, &[n], &vec![1.0f32; n]).unwrap();
    let before = launches.load(std::sync::atomic::Ordering::Relaxed);
    let s = ops::reduce(&ones, ReduceOp::Sum, &[], false).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(launches.load(std::sync::atomic::Ordering::Relaxed) - before, 2, "a two-pass reduction");
    assert_eq!(s, vec![n as f32]);
    // i32 rows: exact wrapping sums, max, min and the 64-bit mean, two outputs.
    let ints: Vec<i32> =
        (0..2 * n).map(|i| ((i as i64 * 2_654_435_761) % 2_000_000_007 - 1_000_000_003) as i32).collect();
    let x = Tensor::from_slice(&dev, &[2, n], &ints).unwrap();
    for (row, chunk) in ints.chunks(n).enumerate() {
        let sum = chunk.iter().fold(0i32, |a, &v| a.wrapping_add(v));
        let total: i64 = chunk.iter().map(|&v| i64::from(v)).sum();
        let got = |op| ops::reduce(&x, op, &[1], false).unwrap();
        assert_eq!(got(ReduceOp::Sum).to_vec::<i32>().unwrap()[row], sum, "row {row} sum");
        assert_eq!(got(ReduceOp::Max).to_vec::<i32>().unwrap()[row], *chunk.iter().max().unwrap());
        assert_eq!(got(ReduceOp::Min).to_vec::<i32>().unwrap()[row], *chunk.iter().min().unwrap());
        let mean = got(ReduceOp::Mean).to_vec::<f32>().unwrap()[row] as f64;
        let want = total as f64 / n as f64;
        assert!((mean - want).abs() <= 1e-6 * want.abs().max(1.0), "row {row} mean {mean}, expected {want}");
    }
    // Specials in different segments: a late NaN wins max; +inf and -inf sum to NaN; +inf
    // alone stays +inf.
    let mut v = vec![0.5f32; n];
    v[n - 2] = f32::NAN;
    let t = Tensor::from_slice(&dev, &[n], &v).unwrap();
    assert!(ops::reduce(&t, ReduceOp::Max, &[], false).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
    let mut v = vec![0.5f32; n];
    v[10] = f32::INFINITY;
    let t = Tensor::from_slice(&dev, &[n], &v).unwrap();
    assert_eq!(ops::reduce(&t, ReduceOp::Sum, &[], false).unwrap().to_vec::<f32>().unwrap()[0], f32::INFINITY);
    v[n - 1] = f32::NEG_INFINITY;
    let t = Tensor::from_slice(&dev, &[n], &v).unwrap();
    assert!(ops::reduce(&t, ReduceOp::Sum, &[], false).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
}

#[test]
fn long_softmax_rows_share_a_workgroup() {
    // Rows of 128 elements and more run one 64-lane workgroup per row (max and sum combined
    // across lanes); shorter rows one lane each. Both against a host f64 softmax, dense and
    // through a transposed (strided) view, with a NaN that must spread over its row only.
    let Some(b) = backend("accel-wgpu tests") else { return };
    let dev = Device::new(b);
    for (rows, len) in [(3, 127), (5, 128), (2, 5000), (2, 1 << 20)] {
        let mut data: Vec<f32> = values(rows * len, 9).iter().map(|v| v * 20.0).collect();
        data[len + 7] = f32::NAN;
        let x = Tensor::from_slice(&dev, &[rows, len], &data).unwrap();
        let xt = Tensor::from_slice(&dev, &[len, rows], &transpose(&data, rows, len)).unwrap().transpose(0, 1).unwrap();
        for log in [false, true] {
            for (label, t) in [("dense", &x), ("strided", &xt)] {
                let got = ops::softmax(t, 1, log).unwrap().to_vec::<f32>().unwrap();
                for r in 0..rows {
                    let row = &data[r * len..(r + 1) * len];
                    let m = row.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
                    let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                    for (j, &v) in row.iter().enumerate() {
                        let want = if log { v as f64 - m - s.ln() } else { (v as f64 - m).exp() / s };
                        let g = got[r * len + j] as f64;
                        if r == 1 {
                            assert!(g.is_nan(), "{label} {rows}x{len} log={log}: [{r}][{j}] = {g}, expected NaN");
                        } else {
                            assert!(
                                (g - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                "{label} {rows}x{len} log={log}: [{r}][{j}] = {g}, expected {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `data` ([rows, cols], row-major) transposed to [cols, rows].
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows).map(|i| data[(i % rows) * cols + i / rows]).collect()
}

#[test]
fn reductions_past_llvmpipes_loop_cap_are_refused_not_wrong() {
    // llvmpipe stops a shader's loops after 65,535 trips in total: the generic matmul over
    // k = 70,000 summed only 65,505 terms, a generic convolution over 60,000 channels 10,922.
    // On llvmpipe such shapes are refused by name; elsewhere they run. Within the budget the
    // generic kernel still runs (k = 50,000, past every tiled shape's k bound).
    let Some(b) = backend("accel-wgpu tests") else { return };
    let llvmpipe = accel_core::Backend::info(&b).name.contains("llvmpipe");
    let dev = Device::new(b);
    let ones = |shape: &[usize]| Tensor::from_slice(&dev, shape, &vec![1.0f32; shape.iter().product()]).unwrap();
    let k_ok = 50_000;
    let c = ops::matmul(&ones(&[1, k_ok]), &ones(&[k_ok, 1])).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(c, vec![k_ok as f32]);
    let k = 70_000;
    match ops::matmul(&ones(&[1, k]), &ones(&[k, 1])) {
        Err(Error::InvalidArgument { op: "matmul", arg, .. }) if llvmpipe => assert_eq!(arg, "shape"),
        Ok(c) if !llvmpipe => assert_eq!(c.to_vec::<f32>().unwrap(), vec![k as f32]),
        other => panic!("llvmpipe {llvmpipe}: matmul over k = {k} gave {other:?}"),
    }
    let channels = 12_000;
    let conv = ops::conv_transpose2d(&ones(&[1, channels, 1, 1]), &ones(&[channels, 1, 1, 1]), &Default::default());
    match conv {
        Err(Error::InvalidArgument { op, arg, .. }) if llvmpipe => {
            assert_eq!((op, arg.as_str()), ("conv_transpose2d", "shape"))
        }
        Ok(y) if !llvmpipe => assert_eq!(y.to_vec::<f32>().unwrap(), vec![channels as f32]),
        other => panic!("llvmpipe {llvmpipe}: transposed convolution over {channels} channels gave {other:?}"),
    }
}
