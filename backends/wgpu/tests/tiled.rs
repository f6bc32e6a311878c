//! Every tiled-matmul shape (`TiledConfig::CANDIDATES` that fit the adapter), forced in turn,
//! against a host f64 product: ragged edges, batches, transposed, strided, offset and
//! broadcast views (4-word row loads and element loads), f16/bf16, alpha/beta and epilogues,
//! and k at each shape's `max_k`. No test depends on timing or on the autotuner's choice.
//! Without an adapter each test prints a skip line; `ACCEL_REQUIRE_GPU=1` makes that a failure.

use accel_core::op::Activation;
use accel_core::ops::MatmulOptions;
use accel_core::{DType, Device, Epilogue, Error, Tensor, ops};
use accel_wgpu::TiledConfig;
mod common;

use common::{backend, values};

/// One device per shape the adapter fits, each forced to that shape.
fn devices() -> Vec<(TiledConfig, Device)> {
    let Some(probe) = backend("accel-wgpu tiled tests") else { return Vec::new() };
    let shapes = probe.tiled_candidates();
    assert_eq!(shapes.first(), Some(&TiledConfig::DEFAULT), "lavapipe and real GPUs fit the default");
    shapes
        .into_iter()
        .map(|c| {
            let b = backend("accel-wgpu tiled tests").expect("the adapter was there a moment ago");
            b.set_tiled_config(c).unwrap();
            (c, Device::new(b))
        })
        .collect()
}

/// c[bi][i][j] = Σ_q a(bi, i, q)·b(bi, q, j) in f64, over logical (not physical) indices.
fn host(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: impl Fn(usize, usize, usize) -> f64,
    b: impl Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let mut c = vec![0.0; batch * m * n];
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                c[(bi * m + i) * n + j] = (0..k).map(|q| a(bi, i, q) * b(bi, q, j)).sum();
            }
        }
    }
    c
}

fn gelu(v: f64) -> f64 {
    // erf by its Taylor series (|v| is small here).
    let x = v / std::f64::consts::SQRT_2;
    let (mut term, mut sum) = (x, x);
    for n in 1..80 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    0.5 * v * (1.0 + sum * 2.0 / std::f64::consts::PI.sqrt())
}

/// Compares within f32 accumulation error over k terms, plus `rel` of the value (output
/// rounding of f16/bf16).
fn check(label: &str, tile: TiledConfig, got: &[f64], want: &[f64], k: usize, rel: f64) {
    assert_eq!(got.len(), want.len(), "{label} {}", tile.name());
    for (e, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 4e-6 * k as f64 + 1e-5 + rel * w.abs();
        assert!((g - w).abs() <= tol, "{label} with {}: element {e}: got {g}, expected {w}", tile.name());
    }
}

#[test]
fn ragged_batched_transposed_b_with_alpha_bias_gelu() {
    // Edge tiles in every dimension, k and n not multiples of 4 (element loads), b seen
    // through a transpose.
    let (batch, m, k, n) = (2, 67, 45, 130);
    let (ad, bd, biasd) = (values(batch * m * k, 1), values(batch * n * k, 2), values(n, 3));
    let want =
        host(batch, m, k, n, |bi, i, q| ad[(bi * m + i) * k + q] as f64, |bi, q, j| bd[(bi * n + j) * k + q] as f64);
    let want: Vec<f64> = want.iter().enumerate().map(|(e, v)| gelu(0.5 * v + biasd[e % n] as f64)).collect();
    for (tile, dev) in devices() {
        let a = Tensor::from_slice(&dev, &[batch, m, k], &ad).unwrap();
        let b = Tensor::from_slice(&dev, &[batch, n, k], &bd).unwrap().transpose(1, 2).unwrap();
        let bias = Tensor::from_slice(&dev, &[n], &biasd).unwrap();
        let epi = Epilogue::new().bias(&bias).activation(Activation::Gelu);
        let c = ops::matmul_with(&a, &b, &MatmulOptions::new().alpha(0.5).epilogue(epi)).unwrap();
        check("ragged", tile, &c.to_f64_vec().unwrap(), &want, k, 0.0);
    }
}

#[test]
fn aligned_rows_with_beta_residual_relu_and_broadcast_b() {
    // f32 rows that load as 4 words (k, n multiples of 4, contiguous), b broadcast over the
    // batch (stride 0), beta accumulating into the output, a residual and ReLU.
    let (batch, m, k, n) = (2, 70, 36, 68);
    let (ad, bd, cd, rd) =
        (values(batch * m * k, 4), values(k * n, 5), values(batch * m * n, 6), values(batch * m * n, 7));
    let prod = host(batch, m, k, n, |bi, i, q| ad[(bi * m + i) * k + q] as f64, |_, q, j| bd[q * n + j] as f64);
    let want: Vec<f64> =
        prod.iter().enumerate().map(|(e, v)| (v + 0.75 * cd[e] as f64 + rd[e] as f64).max(0.0)).collect();
    for (tile, dev) in devices() {
        let a = Tensor::from_slice(&dev, &[batch, m, k], &ad).unwrap();
        let b = Tensor::from_slice(&dev, &[k, n], &bd).unwrap();
        let res = Tensor::from_slice(&dev, &[batch, m, n], &rd).unwrap();
        let mut c = Tensor::from_slice(&dev, &[batch, m, n], &cd).unwrap();
        let epi = Epilogue::new().residual(&res).activation(Activation::Relu);
        ops::matmul_into(&a, &b, &MatmulOptions::new().beta(0.75).epilogue(epi), &mut c).unwrap();
        check("aligned", tile, &c.to_f64_vec().unwrap(), &want, k, 0.0);
    }
}

#[test]
fn offset_views_aligned_and_not() {
    // a: rows 1..71 of a 40-wide matrix (offset 40, 16-byte aligned: 4-word loads);
    // b: columns 1..69 of a 69-wide matrix (offset 1: element loads).
    let (m, k, n) = (70, 40, 68);
    let (ad, bd) = (values((m + 2) * k, 8), values(k * (n + 1), 9));
    let want = host(1, m, k, n, |_, i, q| ad[(i + 1) * k + q] as f64, |_, q, j| bd[q * (n + 1) + j + 1] as f64);
    for (tile, dev) in devices() {
        let a = Tensor::from_slice(&dev, &[m + 2, k], &ad).unwrap().slice(0, 1..m + 1).unwrap();
        let b = Tensor::from_slice(&dev, &[k, n + 1], &bd).unwrap().slice(1, 1..n + 1).unwrap();
        let c = ops::matmul(&a, &b).unwrap();
        check("offset", tile, &c.to_f64_vec().unwrap(), &want, k, 0.0);
    }
}

#[test]
fn column_major_a_and_strided_b() {
    // a stored as aᵀ (unit stride down a column), b every second column of a wider matrix.
    let (m, k, n) = (50, 33, 29);
    let (ad, bd) = (values(k * m, 10), values(k * 2 * n, 11));
    let want = host(1, m, k, n, |_, i, q| ad[q * m + i] as f64, |_, q, j| bd[q * 2 * n + 2 * j] as f64);
    for (tile, dev) in devices() {
        let a = Tensor::from_slice(&dev, &[k, m], &ad).unwrap().t().unwrap();
        let b = Tensor::from_slice(&dev, &[k, 2 * n], &bd).unwrap().slice_step(1, 0..2 * n, 2).unwrap();
        let c = ops::matmul(&a, &b).unwrap();
        check("strided", tile, &c.to_f64_vec().unwrap(), &want, k, 0.0);
    }
}

#[test]
fn f16_and_bf16_are_computed_in_f32() {
    let (m, k, n) = (33, 20, 41);
    let (ad, bd) = (values(m * k, 12), values(k * n, 13));
    for (tile, dev) in devices() {
        for dtype in [DType::F16, DType::BF16] {
            let a = Tensor::from_slice(&dev, &[m, k], &ad).unwrap();
            let b = Tensor::from_slice(&dev, &[k, n], &bd).unwrap();
            let (a, b) = (ops::cast(&a, dtype).unwrap(), ops::cast(&b, dtype).unwrap());
            // The reference uses the rounded inputs; the output is rounded once more.
            let (ah, bh) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
            let want: Vec<f64> =
                host(1, m, k, n, |_, i, q| ah[i * k + q], |_, q, j| bh[q * n + j]).iter().map(|v| 2.0 * v).collect();
            let c = ops::matmul_with(&a, &b, &MatmulOptions::new().alpha(2.0)).unwrap();
            assert_eq!(c.dtype(), dtype);
            let rel = if dtype == DType::F16 { 1.0 / 1024.0 } else { 1.0 / 128.0 };
            check(&format!("{dtype:?}"), tile, &c.to_f64_vec().unwrap(), &want, k, rel);
        }
    }
}

#[test]
fn tiny_and_single_tile_shapes() {
    for (tile, dev) in devices() {
        for (m, k, n) in [(1, 1, 1), (5, 3, 200), (130, 4, 1)] {
            let (ad, bd) = (values(m * k, 14), values(k * n, 15));
            let want = host(1, m, k, n, |_, i, q| ad[i * k + q] as f64, |_, q, j| bd[q * n + j] as f64);
            let a = Tensor::from_slice(&dev, &[m, k], &ad).unwrap();
            let b = Tensor::from_slice(&dev, &[k, n], &bd).unwrap();
            let c = ops::matmul(&a, &b).unwrap();
            check(&format!("{m}x{k}x{n}"), tile, &c.to_f64_vec().unwrap(), &want, k, 0.0);
        }
    }
}

#[test]
fn longest_k_each_shape_takes_sums_every_term() {
    // llvmpipe ends a shader's loops after 65,535 trips: at max_k the tiled kernel must
    // still run every k step. Integers keep the f32 sums exact: c[i][j] = k·(j + 1).
    let (m, n) = (3, 5);
    for (tile, dev) in devices() {
        let k = tile.max_k();
        let a = Tensor::full(&dev, &[m, k], DType::F32, 1.0).unwrap();
        let bd: Vec<f32> = (0..k * n).map(|e| (e % n + 1) as f32).collect();
        let b = Tensor::from_slice(&dev, &[k, n], &bd).unwrap();
        let c = ops::matmul(&a, &b).unwrap().to_vec::<f32>().unwrap();
        let want: Vec<f32> = (0..m * n).map(|e| (k * (e % n + 1)) as f32).collect();
        assert_eq!(c, want, "{} at k = {k}", tile.name());
    }
}

#[test]
fn shapes_outside_the_adapters_limits_are_refused() {
    let Some(b) = backend("accel-wgpu tiled tests") else { return };
    let limits = b.workgroup_limits();
    let huge = TiledConfig { wx: 64, wy: 64, rm: 4, rn: 4, tk: 16 };
    assert!(huge.invocations() > limits.invocations);
    match b.set_tiled_config(huge) {
        Err(Error::InvalidArgument { op: "set_tiled_config", arg, .. }) => assert_eq!(arg, "tile"),
        other => panic!("expected InvalidArgument from set_tiled_config, got {other:?}"),
    }
    let candidates = b.tiled_candidates();
    assert!(candidates.iter().all(|c| c.fits(&limits)));
    // Whatever the tuner (or its cache) picks is one of them.
    let chosen = b.tiled_config().expect("the adapter fits a shape");
    assert!(candidates.contains(&chosen), "{}", chosen.name());
}
