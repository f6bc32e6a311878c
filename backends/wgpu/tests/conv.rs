//! The fast convolution kernels (implicit GEMM, depthwise) against the generic wgpu kernel
//! and the CPU backend, on whatever adapter this machine has (lavapipe in CI). Without an
//! adapter each test prints a skip line; with `ACCEL_REQUIRE_GPU=1` a missing adapter fails.

use accel_core::op::{Activation, DataLayout, Epilogue};
use accel_core::ops::Conv2dOptions;
use accel_core::{Device, Tensor, ops};
mod common;

use common::{backend, values};
use half::f16;

/// One convolution: input shape in its layout, weight `[O, C/g, kH, kW]`, options.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    x: [usize; 4],
    w: [usize; 4],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: [usize; 4],
    groups: usize,
    layout: DataLayout,
    bias_relu: bool,
    residual: bool,
}

const fn case(name: &'static str, x: [usize; 4], w: [usize; 4]) -> Case {
    Case {
        name,
        x,
        w,
        stride: [1, 1],
        dilation: [1, 1],
        padding: [0; 4],
        groups: 1,
        layout: DataLayout::Nchw,
        bias_relu: false,
        residual: false,
    }
}

/// Output shape in the case's layout.
fn out_shape(c: &Case) -> [usize; 4] {
    let (n, h, w) = match c.layout {
        DataLayout::Nchw => (c.x[0], c.x[2], c.x[3]),
        DataLayout::Nhwc => (c.x[0], c.x[1], c.x[2]),
    };
    let o = |i: usize, pad: usize, k: usize, s: usize, d: usize| (i + pad - d * (k - 1) - 1) / s + 1;
    let oh = o(h, c.padding[0] + c.padding[1], c.w[2], c.stride[0], c.dilation[0]);
    let ow = o(w, c.padding[2] + c.padding[3], c.w[3], c.stride[1], c.dilation[1]);
    match c.layout {
        DataLayout::Nchw => [n, c.w[0], oh, ow],
        DataLayout::Nhwc => [n, oh, ow, c.w[0]],
    }
}

/// Runs `c` on `dev` with f32 (or f16-stored) data and returns the output as f32.
fn run(c: &Case, dev: &Device, half: bool) -> Vec<f32> {
    let xn: usize = c.x.iter().product();
    let wn: usize = c.w.iter().product();
    let on: usize = out_shape(c).iter().product();
    let (xd, wd, bd, rd) = (values(xn, 1), values(wn, 2), values(c.w[0], 3), values(on, 4));
    let t = |shape: &[usize], d: &[f32]| {
        if half {
            let h: Vec<f16> = d.iter().map(|&v| f16::from_f32(v)).collect();
            Tensor::from_slice(dev, shape, &h).unwrap()
        } else {
            Tensor::from_slice(dev, shape, d).unwrap()
        }
    };
    let (x, w, b, r) = (t(&c.x, &xd), t(&c.w, &wd), t(&[c.w[0]], &bd), t(&out_shape(c), &rd));
    let mut epi = Epilogue::new();
    if c.bias_relu {
        epi = epi.bias(&b).activation(Activation::Relu);
    }
    if c.residual {
        epi = epi.residual(&r);
    }
    let opts = Conv2dOptions {
        stride: c.stride,
        padding: c.padding,
        dilation: c.dilation,
        groups: c.groups,
        layout: c.layout,
        epilogue: epi,
        ..Conv2dOptions::default()
    };
    let out = ops::conv2d(&x, &w, &opts).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    if half { out.to_vec::<f16>().unwrap().iter().map(|v| v.to_f32()).collect() } else { out.to_vec::<f32>().unwrap() }
}

const NHWC: DataLayout = DataLayout::Nhwc;

/// Implicit-GEMM cases (groups < channels) and depthwise ones, across the geometry the
/// generic kernel takes.
const CASES: &[Case] = &[
    Case { padding: [1; 4], bias_relu: true, ..case("resnet_3x3", [2, 16, 13, 11], [24, 16, 3, 3]) },
    case("pointwise_k200", [1, 200, 9, 10], [70, 200, 1, 1]),
    Case {
        stride: [2, 2],
        dilation: [2, 2],
        padding: [2, 1, 0, 3],
        residual: true,
        ..case("stride2_dilation2_asym_pad", [2, 5, 17, 19], [6, 5, 3, 3])
    },
    Case { groups: 3, ..case("groups3_k2x3", [2, 9, 7, 5], [6, 3, 2, 3]) },
    Case {
        groups: 2,
        padding: [1; 4],
        layout: NHWC,
        bias_relu: true,
        residual: true,
        ..case("nhwc_groups2", [2, 9, 10, 6], [4, 3, 3, 3])
    },
    Case { stride: [2, 1], layout: NHWC, ..case("nhwc_7x7_stride", [1, 23, 21, 3], [8, 3, 7, 7]) },
    Case { groups: 4, ..case("depthwise_multiplier2", [1, 4, 6, 6], [8, 1, 3, 3]) },
    Case { groups: 32, padding: [1; 4], bias_relu: true, ..case("dw_3x3_s1", [2, 32, 30, 27], [32, 1, 3, 3]) },
    Case {
        groups: 24,
        stride: [2, 2],
        padding: [0, 1, 0, 1],
        layout: NHWC,
        residual: true,
        ..case("nhwc_dw_s2", [1, 33, 31, 24], [24, 1, 3, 3])
    },
    Case { groups: 6, dilation: [2, 3], padding: [4; 4], ..case("dw_5x5_dilated", [2, 6, 19, 20], [6, 1, 5, 5]) },
    Case { groups: 16, padding: [1; 4], ..case("dw_7x7_plane", [1, 16, 7, 7], [16, 1, 3, 3]) },
    Case { groups: 6, padding: [0, 0, 2, 2], ..case("dw_1d", [1, 6, 1, 40], [6, 1, 1, 5]) },
];

fn check(label: &str, name: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: {label} length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{name}: element {i}: {label} {g}, expected {w}");
    }
}

#[test]
fn fast_conv_matches_generic_and_cpu() {
    let (Some(fast), Some(generic)) = (backend("accel-wgpu conv tests"), backend("accel-wgpu conv tests")) else {
        return;
    };
    generic.set_fast_conv(false);
    let (fast, generic) = (Device::new(fast), Device::new(generic));
    let cpu = Device::new(accel_cpu::CpuBackend::new());
    for c in CASES {
        let f = run(c, &fast, false);
        // Same products summed in the same order: equal up to contraction into FMAs.
        check("fast vs generic", c.name, &f, &run(c, &generic, false), 1e-5);
        check("fast vs cpu", c.name, &f, &run(c, &cpu, false), 1e-4);
    }
}

#[test]
fn fast_conv_on_f16_storage_matches_generic() {
    // f16 stored, computed in f32, rounded once on store: the fast and generic kernels agree
    // exactly but for FMA contraction, which one f16 rounding almost always hides.
    let (Some(fast), Some(generic)) = (backend("accel-wgpu conv tests"), backend("accel-wgpu conv tests")) else {
        return;
    };
    generic.set_fast_conv(false);
    let (fast, generic) = (Device::new(fast), Device::new(generic));
    for c in [&CASES[0], &CASES[4], &CASES[7], &CASES[8]] {
        check("f16 fast vs generic", c.name, &run(c, &fast, true), &run(c, &generic, true), 2e-3);
    }
}

#[test]
fn implicit_gemm_matches_generic_in_every_tile_shape() {
    // The float implicit GEMM stages its tiles in the device's tiled-matmul shape: force each
    // shape the adapter fits and compare the implicit-GEMM cases with the generic kernel.
    let Some(generic) = backend("accel-wgpu conv tests") else { return };
    generic.set_fast_conv(false);
    let generic = Device::new(generic);
    // Depthwise (groups = C = O) runs its own kernel; the rest is the implicit GEMM's.
    let depthwise = |c: &Case| c.groups > 1 && c.w[1] == 1 && c.w[0] == c.groups;
    let gemm_cases: Vec<&Case> = CASES.iter().filter(|c| !depthwise(c)).collect();
    let want: Vec<Vec<f32>> = gemm_cases.iter().map(|c| run(c, &generic, false)).collect();
    let Some(probe) = backend("accel-wgpu conv tests") else { return };
    for tile in probe.tiled_candidates() {
        let fast = backend("accel-wgpu conv tests").expect("the adapter found above");
        fast.set_tiled_config(tile).unwrap();
        let fast = Device::new(fast);
        for (c, w) in gemm_cases.iter().zip(&want) {
            check(&format!("{} vs generic", tile.name()), c.name, &run(c, &fast, false), w, 1e-5);
        }
    }
}
