//! Bad input: every invalid call returns its own [`Error`] variant, and the message names the
//! op, the argument, what was expected and what was given.
//!
//! Each test makes invalid calls on the CPU device and checks the variant with `matches!` and
//! the message with substrings. Validation happens in core before any kernel runs, so these
//! tests say nothing about the kernels; the conformance suite covers those. Requantization,
//! zero points, activation bounds, transposed geometry and overlapping outputs are in
//! `errors/params.rs`; `no_panic.rs` checks random calls of every kind.

mod common;

use DType::{BF16, F16, F32, I8, I32, U8};
use accel::ops::{self, *};
use accel::{Activation, DType, DataLayout, Device, Error, Tensor};
use common::{dev, other_device};

/// Asserts that `$res` is `Err` of a variant matching the pattern (and guard) and that its
/// message contains every string of `$parts`.
macro_rules! assert_err {
    ($res:expr, $pat:pat $(if $guard:expr)?, $parts:expr) => {{
        match $res {
            Ok(v) => panic!("expected an error, got Ok({v:?})"),
            Err(e) => {
                assert!(matches!(&e, $pat $(if $guard)?), "wrong variant or fields: {e:?}");
                let msg = e.to_string();
                for part in $parts {
                    assert!(msg.contains(part), "message {msg:?} does not contain {part:?}");
                }
            }
        }
    }};
}

#[path = "errors/params.rs"]
mod params;

/// A zero-filled tensor.
fn t(d: &Device, shape: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(d, shape, dtype).expect("valid tensor")
}

/// Matmul options with an epilogue.
fn mm(epi: Epilogue<'_>) -> MatmulOptions<'_> {
    MatmulOptions::new().epilogue(epi)
}

// ---------------------------------------------------------------- shape mismatch

#[test]
fn matmul_inner_dims_differ() {
    let d = dev();
    assert_err!(
        ops::matmul(&t(&d, &[2, 3], F32), &t(&d, &[4, 5], F32)),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "b",
        ["matmul: b has shape [4, 5]", "expected [.., 3, n]", "k = 3 from a [2, 3]"]
    );
}

#[test]
fn matmul_rank_and_batch() {
    let d = dev();
    assert_err!(
        ops::matmul(&t(&d, &[3], F32), &t(&d, &[3, 2], F32)),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "a",
        ["matmul: a has shape [3]", "rank >= 2"]
    );
    assert_err!(
        ops::matmul(&t(&d, &[2, 3, 4], F32), &t(&d, &[3, 4, 5], F32)),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "b",
        ["matmul: b has shape [3, 4, 5]", "batch dims broadcastable with a [2, 3, 4]"]
    );
}

#[test]
fn binary_not_broadcastable() {
    let d = dev();
    assert_err!(
        ops::binary(&t(&d, &[2, 3], F32), &t(&d, &[4], F32), BinaryOp::Add),
        Error::ShapeMismatch { op: "binary", arg, .. } if arg == "b",
        ["binary: b has shape [4]", "broadcastable with [2, 3]"]
    );
}

#[test]
fn from_slice_wrong_length() {
    let d = dev();
    assert_err!(
        Tensor::from_slice(&d, &[2, 3], &[1.0f32; 5]),
        Error::ShapeMismatch { op: "from_slice", arg, .. } if arg == "data",
        ["from_slice: data", "5 elements", "expected 6 elements for shape [2, 3]"]
    );
}

#[test]
fn into_out_of_the_wrong_shape() {
    let d = dev();
    let x = t(&d, &[2, 3], F32);
    let w = t(&d, &[1, 2, 1, 1], F32);
    let img = t(&d, &[1, 2, 3, 3], F32);
    let mut out = t(&d, &[3, 2], F32);
    let check = |r: accel::Result<()>, op: &str, expected: &str| {
        assert_err!(
            r,
            Error::ShapeMismatch { arg, .. } if arg == "out",
            [&format!("{op}: out has shape [3, 2]"), &format!("expected {expected}")]
        );
    };
    check(unary_into(&x, UnaryOp::Relu, &mut out), "unary", "[2, 3]");
    check(binary_into(&x, &x, BinaryOp::Mul, &mut out), "binary", "[2, 3]");
    check(cast_into(&x, &mut out), "cast", "[2, 3]");
    check(softmax_into(&x, 1, false, &mut out), "softmax", "[2, 3]");
    check(reduce_into(&x, ReduceOp::Sum, &[1], false, &mut out), "reduce", "[2]");
    check(matmul_into(&x, &t(&d, &[3, 3], F32), &MatmulOptions::new(), &mut out), "matmul", "[2, 3]");
    check(conv2d_into(&img, &w, &Conv2dOptions::new(), &mut out), "conv2d", "[1, 1, 3, 3]");
    let mut o1 = t(&d, &[1, 1, 4], F32);
    assert_err!(
        conv1d_into(&t(&d, &[1, 2, 3], F32), &t(&d, &[1, 2, 1], F32), &Conv1dOptions::default(), &mut o1),
        Error::ShapeMismatch { op: "conv1d", arg, .. } if arg == "out",
        ["conv1d: out has shape [1, 1, 4]", "expected [1, 1, 3]"]
    );
}

#[test]
fn conv_operand_ranks_and_kernel_shape() {
    let d = dev();
    assert_err!(
        conv2d(&t(&d, &[1, 1, 4], F32), &t(&d, &[1, 1, 1, 1], F32), &Conv2dOptions::new()),
        Error::ShapeMismatch { op: "conv2d", arg, .. } if arg == "input",
        ["conv2d: input has shape [1, 1, 4]", "rank 4 [N, C, H, W]"]
    );
    assert_err!(
        conv1d(&t(&d, &[1, 1, 4], F32), &t(&d, &[1, 1, 1, 1], F32), &Conv1dOptions::default()),
        Error::ShapeMismatch { op: "conv1d", arg, .. } if arg == "weight",
        ["conv1d: weight has shape [1, 1, 1, 1]", "rank 3 [O, C/groups, K]"]
    );
    assert_err!(
        conv2d(&t(&d, &[1, 1, 4, 4], F32), &t(&d, &[1, 1, 0, 1], F32), &Conv2dOptions::new()),
        Error::ShapeMismatch { op: "conv2d", arg, .. } if arg == "weight",
        ["conv2d: weight has shape [1, 1, 0, 1]", "kernel size >= 1 along H"]
    );
    let opts = ConvTranspose2dOptions::default();
    assert_err!(
        conv_transpose2d(&t(&d, &[1, 2, 4, 4], F32), &t(&d, &[3, 1, 1, 1], F32), &opts),
        Error::ShapeMismatch { op: "conv_transpose2d", arg, .. } if arg == "weight",
        ["conv_transpose2d: weight has shape [3, 1, 1, 1]", "C = 2"]
    );
}

#[test]
fn bias_and_residual_of_the_wrong_shape() {
    let d = dev();
    let (a, b) = (t(&d, &[2, 3], F32), t(&d, &[3, 4], F32));
    let bias = t(&d, &[3], F32);
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().bias(&bias))),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "bias",
        ["matmul: bias has shape [3], expected [4]"]
    );
    let bias2 = t(&d, &[2, 1], F32);
    let opts = Conv2dOptions::new().epilogue(Epilogue::new().bias(&bias2));
    assert_err!(
        conv2d(&t(&d, &[1, 1, 3, 3], F32), &t(&d, &[2, 1, 1, 1], F32), &opts),
        Error::ShapeMismatch { op: "conv2d", arg, .. } if arg == "bias",
        ["conv2d: bias has shape [2, 1], expected [2]"]
    );
    let res = t(&d, &[3], F32);
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().residual(&res))),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "residual",
        ["matmul: residual has shape [3]", "broadcastable to [2, 4]"]
    );
}

#[test]
fn reshape_and_empty_max() {
    let d = dev();
    assert_err!(
        t(&d, &[2, 3], F32).reshape(&[4]),
        Error::ShapeMismatch { op: "reshape", .. },
        ["reshape: shape has shape [4]", "6 elements like [2, 3]"]
    );
    assert_err!(
        t(&d, &[0, 3], F32).max(&[0], false),
        Error::ShapeMismatch { op: "reduce", .. },
        ["reduce: x (op max) has shape [0, 3]", "non-empty reduced axes"]
    );
}

// ---------------------------------------------------------------- dtype mismatch

#[test]
fn matmul_f32_times_f16() {
    let d = dev();
    assert_err!(
        ops::matmul(&t(&d, &[2, 3], F32), &t(&d, &[3, 2], F16)),
        Error::DTypeMismatch { op: "matmul", arg, got: F16, .. } if arg == "b",
        ["matmul: b has dtype f16, expected f32"]
    );
    assert_err!(
        ops::matmul(&t(&d, &[2, 3], I32), &t(&d, &[3, 2], I32)),
        Error::DTypeMismatch { op: "matmul", arg, got: I32, .. } if arg == "a",
        ["matmul: a has dtype i32", "f32, f16, bf16, i8 or u8"]
    );
}

#[test]
fn int8_weight_not_i8() {
    let d = dev();
    for (a, b) in [(U8, U8), (I8, F32), (U8, I32)] {
        assert_err!(
            ops::matmul(&t(&d, &[2, 3], a), &t(&d, &[3, 2], b)),
            Error::DTypeMismatch { op: "matmul", arg, got, .. } if arg == "b" && *got == b,
            [&format!("matmul: b has dtype {b}, expected i8")]
        );
    }
    assert_err!(
        conv2d(&t(&d, &[1, 1, 3, 3], U8), &t(&d, &[1, 1, 1, 1], U8), &Conv2dOptions::new()),
        Error::DTypeMismatch { op: "conv2d", arg, got: U8, .. } if arg == "weight",
        ["conv2d: weight has dtype u8, expected i8"]
    );
    assert_err!(
        conv1d(&t(&d, &[1, 1, 3], F16), &t(&d, &[1, 1, 1], BF16), &Conv1dOptions::default()),
        Error::DTypeMismatch { op: "conv1d", arg, got: BF16, .. } if arg == "weight",
        ["conv1d: weight has dtype bf16, expected f16"]
    );
}

#[test]
fn elementwise_dtypes() {
    let d = dev();
    assert_err!(
        ops::unary(&t(&d, &[2], I32), UnaryOp::Exp),
        Error::DTypeMismatch { op: "unary", got: I32, .. },
        ["unary: x (op exp) has dtype i32", "expected f32, f16 or bf16"]
    );
    assert_err!(
        ops::unary(&t(&d, &[2], U8), UnaryOp::Neg),
        Error::DTypeMismatch { op: "unary", got: U8, .. },
        ["unary: x (op neg) has dtype u8", "expected a signed dtype"]
    );
    assert_err!(
        ops::binary(&t(&d, &[2], F32), &t(&d, &[2], I32), BinaryOp::Add),
        Error::DTypeMismatch { op: "binary", arg, got: I32, .. } if arg == "b",
        ["binary: b has dtype i32, expected f32"]
    );
    assert_err!(
        ops::binary(&t(&d, &[2], I8), &t(&d, &[2], I8), BinaryOp::Div),
        Error::DTypeMismatch { op: "binary", got: I8, .. },
        ["binary: a (op div) has dtype i8", "expected f32, f16 or bf16"]
    );
    assert_err!(
        ops::softmax(&t(&d, &[2], I32), 0, false),
        Error::DTypeMismatch { op: "softmax", got: I32, .. },
        ["softmax: x has dtype i32", "expected f32, f16 or bf16"]
    );
}

#[test]
fn out_of_the_wrong_dtype() {
    let d = dev();
    let x = t(&d, &[2, 3], F32);
    let mut out = t(&d, &[2, 3], F16);
    assert_err!(
        unary_into(&x, UnaryOp::Relu, &mut out),
        Error::DTypeMismatch { op: "unary", arg, got: F16, .. } if arg == "out",
        ["unary: out has dtype f16, expected f32"]
    );
    // Integer sums produce i32, whatever the input dtype.
    let mut out8 = t(&d, &[2], I8);
    assert_err!(
        reduce_into(&t(&d, &[2, 3], I8), ReduceOp::Sum, &[1], false, &mut out8),
        Error::DTypeMismatch { op: "reduce", arg, got: I8, .. } if arg == "out",
        ["reduce: out has dtype i8, expected i32"]
    );
    // The int8 matmul accumulates into i32.
    let mut outf = t(&d, &[2, 2], F32);
    assert_err!(
        matmul_into(&t(&d, &[2, 3], I8), &t(&d, &[3, 2], I8), &MatmulOptions::new(), &mut outf),
        Error::DTypeMismatch { op: "matmul", arg, got: F32, .. } if arg == "out",
        ["matmul: out has dtype f32, expected i32"]
    );
}

#[test]
fn to_vec_with_the_wrong_type() {
    let d = dev();
    assert_err!(
        t(&d, &[2], I32).to_vec::<f32>(),
        Error::DTypeMismatch { op: "to_vec", arg, got: F32, .. } if arg == "T",
        ["to_vec: T has dtype f32, expected i32"]
    );
}

#[test]
fn epilogue_dtypes() {
    let d = dev();
    let (a, b) = (t(&d, &[2, 3], F32), t(&d, &[3, 4], F32));
    let bias = t(&d, &[4], F16);
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().bias(&bias))),
        Error::DTypeMismatch { op: "matmul", arg, got: F16, .. } if arg == "bias",
        ["matmul: bias has dtype f16, expected f32"]
    );
    // On the int8 path bias and residual are i32.
    let (a8, b8, res8) = (t(&d, &[2, 3], I8), t(&d, &[3, 4], I8), t(&d, &[2, 4], I8));
    assert_err!(
        matmul_with(&a8, &b8, &mm(Epilogue::new().residual(&res8))),
        Error::DTypeMismatch { op: "matmul", arg, got: I8, .. } if arg == "residual",
        ["matmul: residual has dtype i8, expected i32"]
    );
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().requantize(vec![1.0], 0, F32))),
        Error::DTypeMismatch { op: "matmul", arg, got: F32, .. } if arg == "requantize.dtype",
        ["matmul: requantize.dtype has dtype f32, expected i8 or u8"]
    );
}

// ---------------------------------------------------------------- different devices

#[test]
fn tensors_on_different_devices() {
    let (d, o) = (dev(), other_device());
    let here = format!("expected device {}", d.name());
    let parts = |op: &str, arg: &str| [format!("{op}: {arg} is on device other"), here.clone()];
    let (a, b_other) = (t(&d, &[2, 3], F32), t(&o, &[3, 2], F32));
    assert_err!(
        ops::matmul(&a, &b_other),
        Error::DeviceMismatch { op: "matmul", arg, .. } if arg == "b",
        &parts("matmul", "b")
    );
    assert_err!(
        ops::binary(&a, &t(&o, &[2, 3], F32), BinaryOp::Add),
        Error::DeviceMismatch { op: "binary", arg, .. } if arg == "b",
        &parts("binary", "b")
    );
    assert_err!(
        conv2d(&t(&d, &[1, 1, 3, 3], F32), &t(&o, &[1, 1, 1, 1], F32), &Conv2dOptions::new()),
        Error::DeviceMismatch { op: "conv2d", arg, .. } if arg == "weight",
        &parts("conv2d", "weight")
    );
    let b = t(&d, &[3, 2], F32);
    let bias = t(&o, &[2], F32);
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().bias(&bias))),
        Error::DeviceMismatch { op: "matmul", arg, .. } if arg == "bias",
        &parts("matmul", "bias")
    );
    let res = t(&o, &[2, 2], F32);
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().residual(&res))),
        Error::DeviceMismatch { op: "matmul", arg, .. } if arg == "residual",
        &parts("matmul", "residual")
    );
    let mut out = t(&o, &[2, 3], F32);
    assert_err!(
        unary_into(&a, UnaryOp::Relu, &mut out),
        Error::DeviceMismatch { op: "unary", arg, .. } if arg == "out",
        &parts("unary", "out")
    );
    assert_err!(
        cast_into(&a, &mut out),
        Error::DeviceMismatch { op: "cast", arg, .. } if arg == "out",
        &parts("cast", "out")
    );
}

// ---------------------------------------------------------------- kernel larger than the padded input

#[test]
fn kernel_larger_than_padded_input() {
    let d = dev();
    let x1 = t(&d, &[1, 1, 4], F32);
    assert_err!(
        conv1d(&x1, &t(&d, &[1, 1, 6], F32), &Conv1dOptions { padding: [1, 0], ..Default::default() }),
        Error::KernelTooLarge { op: "conv1d", dim: "L", kernel_extent: 6, padded_input: 5 },
        ["conv1d: kernel extent 6 along L exceeds the padded input size 5"]
    );
    // Dilation widens the window: 3 taps at dilation 3 span 7 elements.
    assert_err!(
        conv1d(&x1, &t(&d, &[1, 1, 3], F32), &Conv1dOptions { dilation: 3, ..Default::default() }),
        Error::KernelTooLarge { op: "conv1d", dim: "L", kernel_extent: 7, padded_input: 4 },
        ["conv1d: kernel extent 7 along L exceeds the padded input size 4"]
    );
    assert_err!(
        conv2d(&t(&d, &[1, 1, 3, 8], F32), &t(&d, &[1, 1, 4, 1], F32), &Conv2dOptions::new()),
        Error::KernelTooLarge { op: "conv2d", dim: "H", kernel_extent: 4, padded_input: 3 },
        ["conv2d: kernel extent 4 along H exceeds the padded input size 3"]
    );
    let opts = Conv2dOptions { padding: [0, 0, 1, 1], dilation: [1, 4], ..Default::default() };
    assert_err!(
        conv2d(&t(&d, &[1, 8, 2, 1], F32), &t(&d, &[1, 1, 1, 2], F32), &opts.layout(DataLayout::Nhwc)),
        Error::KernelTooLarge { op: "conv2d", dim: "W", kernel_extent: 5, padded_input: 4 },
        ["conv2d: kernel extent 5 along W exceeds the padded input size 4"]
    );
}

// ---------------------------------------------------------------- groups

#[test]
fn groups_that_do_not_divide_the_channels() {
    let d = dev();
    let x = t(&d, &[1, 4, 3, 3], F32);
    assert_err!(
        conv2d(&x, &t(&d, &[3, 1, 1, 1], F32), &Conv2dOptions::new().groups(3)),
        Error::InvalidGroups { op: "conv2d", arg, .. } if arg == "groups",
        ["conv2d: groups: 3 groups do not divide the input's 4 channels"]
    );
    assert_err!(
        conv1d(&t(&d, &[1, 4, 3], F32), &t(&d, &[4, 1, 1], F32), &Conv1dOptions { groups: 3, ..Default::default() }),
        Error::InvalidGroups { op: "conv1d", arg, .. } if arg == "groups",
        ["conv1d: groups: 3 groups do not divide the input's 4 channels"]
    );
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new().groups(3), ..Default::default() };
    assert_err!(
        conv_transpose2d(&x, &t(&d, &[4, 1, 1, 1], F32), &opts),
        Error::InvalidGroups { op: "conv_transpose2d", arg, .. } if arg == "groups",
        ["conv_transpose2d: groups: 3 groups do not divide the input's 4 channels"]
    );
    assert_err!(
        conv2d(&x, &t(&d, &[4, 4, 1, 1], F32), &Conv2dOptions::new().groups(0)),
        Error::InvalidGroups { op: "conv2d", arg, .. } if arg == "groups",
        ["conv2d: groups: must be at least 1, got 0"]
    );
    assert_err!(
        conv2d(&x, &t(&d, &[2, 3, 1, 1], F32), &Conv2dOptions::new().groups(2)),
        Error::InvalidGroups { op: "conv2d", arg, .. } if arg == "weight",
        ["conv2d: weight: weight has 3 input channels per group", "4 channels with groups=2 (expected 2)"]
    );
    assert_err!(
        conv2d(&x, &t(&d, &[3, 2, 1, 1], F32), &Conv2dOptions::new().groups(2)),
        Error::InvalidGroups { op: "conv2d", arg, .. } if arg == "weight",
        ["conv2d: weight: 2 groups do not divide the weight's 3 output channels"]
    );
}

// ---------------------------------------------------------------- zero stride or dilation

#[test]
fn zero_stride_or_dilation() {
    let d = dev();
    let (x1, w1) = (t(&d, &[1, 1, 4], F32), t(&d, &[1, 1, 2], F32));
    for (opts, arg) in [
        (Conv1dOptions { stride: 0, ..Default::default() }, "stride"),
        (Conv1dOptions { dilation: 0, ..Default::default() }, "dilation"),
    ] {
        assert_err!(
            conv1d(&x1, &w1, &opts),
            Error::ZeroStep { op: "conv1d", arg: a } if a == arg,
            [&format!("conv1d: {arg} must be at least 1, got 0")]
        );
    }
    let (x2, w2) = (t(&d, &[1, 1, 4, 4], F32), t(&d, &[1, 1, 2, 2], F32));
    for (stride, dilation, arg) in [
        ([0, 1], [1, 1], "stride[0]"),
        ([1, 0], [1, 1], "stride[1]"),
        ([1, 1], [0, 1], "dilation[0]"),
        ([1, 1], [1, 0], "dilation[1]"),
    ] {
        let conv = Conv2dOptions { stride, dilation, ..Default::default() };
        assert_err!(
            conv2d(&x2, &w2, &conv),
            Error::ZeroStep { op: "conv2d", arg: a } if a == arg,
            [&format!("conv2d: {arg} must be at least 1, got 0")]
        );
        let opts = ConvTranspose2dOptions { conv, output_padding: [0, 0] };
        assert_err!(
            conv_transpose2d(&x2, &w2, &opts),
            Error::ZeroStep { op: "conv_transpose2d", arg: a } if a == arg,
            [&format!("conv_transpose2d: {arg} must be at least 1, got 0")]
        );
    }
    assert_err!(
        t(&d, &[4], F32).slice_step(0, 0..4, 0),
        Error::ZeroStep { op: "slice", arg } if arg == "step",
        ["slice: step must be at least 1, got 0"]
    );
}

// ---------------------------------------------------------------- axis out of range

#[test]
fn axis_out_of_range() {
    let d = dev();
    let x = t(&d, &[2, 3], F32);
    assert_err!(
        x.sum(&[0, 2], false),
        Error::AxisOutOfRange { op: "reduce", axis: 2, rank: 2, .. },
        ["reduce: axes is 2, expected an axis in 0..2 for a rank-2 tensor"]
    );
    assert_err!(
        ops::softmax(&x, 3, true),
        Error::AxisOutOfRange { op: "softmax", axis: 3, rank: 2, .. },
        ["softmax: axis is 3, expected an axis in 0..2 for a rank-2 tensor"]
    );
    assert_err!(
        x.transpose(0, 5),
        Error::AxisOutOfRange { op: "transpose", axis: 5, rank: 2, .. },
        ["transpose: axis1 is 5, expected an axis in 0..2"]
    );
    assert_err!(
        x.permute(&[0, 2]),
        Error::AxisOutOfRange { op: "permute", axis: 2, rank: 2, .. },
        ["permute: perm is 2, expected an axis in 0..2"]
    );
    assert_err!(
        x.slice(2, 0..1),
        Error::AxisOutOfRange { op: "slice", axis: 2, rank: 2, .. },
        ["slice: axis is 2, expected an axis in 0..2"]
    );
    assert_err!(
        t(&d, &[], F32).softmax(0),
        Error::AxisOutOfRange { op: "softmax", axis: 0, rank: 0, .. },
        ["softmax: axis is 0, expected an axis in 0..0 for a rank-0 tensor"]
    );
    // Not out of range, but not an axis list either.
    assert_err!(
        x.sum(&[1, 1], false),
        Error::InvalidArgument { op: "reduce", .. },
        ["reduce: axes is [1, 1], expected distinct axes"]
    );
    assert_err!(x.permute(&[1, 1]), Error::InvalidArgument { op: "permute", .. }, ["permute: perm is [1, 1]"]);
    assert_err!(
        x.permute(&[0]),
        Error::ShapeMismatch { op: "permute", .. },
        ["permute: perm has shape [0]", "permutation of 0..2"]
    );
}

// ---------------------------------------------------------------- shape product overflow

#[test]
fn shape_product_overflow() {
    let d = dev();
    let max = usize::MAX;
    assert_err!(
        Tensor::zeros(&d, &[max, 2], F32),
        Error::ShapeOverflow { op: "zeros", shape, .. } if shape == &[max, 2],
        [&format!("zeros: shape has shape [{max}, 2] whose size overflows usize")]
    );
    // The element count fits but the byte count does not.
    assert_err!(Tensor::zeros(&d, &[1 << 62], I8), Error::ShapeOverflow { op: "zeros", .. }, ["overflows usize"]);
    assert_err!(
        Tensor::full(&d, &[1 << 40, 1 << 40], F32, 1.0),
        Error::ShapeOverflow { op: "full", .. },
        ["full: shape"]
    );
    assert_err!(
        Tensor::from_slice::<f32>(&d, &[max, max], &[]),
        Error::ShapeOverflow { op: "from_slice", .. },
        ["from_slice: shape"]
    );
    let one = t(&d, &[1, 1], F32);
    assert_err!(
        one.broadcast_to(&[max, 3, 1]),
        Error::ShapeOverflow { op: "broadcast_to", arg, .. } if arg == "self",
        [&format!("broadcast_to: self has shape [{max}, 3, 1] whose size overflows usize")]
    );
    assert_err!(
        one.reshape(&[max, 2]),
        Error::ShapeOverflow { op: "reshape", .. },
        [&format!("reshape: shape has shape [{max}, 2] whose size overflows usize")]
    );
    // A broadcast view of usize::MAX elements is fine; results built from it are not.
    let tall = one.broadcast_to(&[max, 1]).expect("usize::MAX elements fit");
    assert_err!(
        ops::binary(&tall, &t(&d, &[1, 2], F32), BinaryOp::Add),
        Error::ShapeOverflow { op: "binary", arg, .. } if arg == "out",
        [&format!("binary: out has shape [{max}, 2]")]
    );
    assert_err!(
        ops::matmul(&tall, &t(&d, &[1, 2], F32)),
        Error::ShapeOverflow { op: "matmul", arg, .. } if arg == "out",
        [&format!("matmul: out has shape [{max}, 2]")]
    );
    assert_err!(ops::unary(&tall, UnaryOp::Relu), Error::ShapeOverflow { op: "unary", .. }, ["unary: shape"]);
    // Dims that multiply past usize are rejected even next to a 0, so that every product of
    // any subset of a valid view's dims fits.
    assert_err!(
        Tensor::zeros(&d, &[0, 1 << 40, 1 << 40], F32),
        Error::ShapeOverflow { op: "zeros", .. },
        ["zeros: shape has shape [0, 1099511627776, 1099511627776] whose size overflows usize"]
    );
    assert_eq!(Tensor::zeros(&d, &[1 << 40, 0, 1 << 20], F32).expect("empty tensor").numel(), 0);
}

#[test]
fn conv_geometry_overflow() {
    let d = dev();
    let x = t(&d, &[1, 1, 2, 2], F32);
    let w = t(&d, &[1, 1, 3, 1], F32);
    let huge = usize::MAX / 2 + 1;
    // Padding so large that the padded size overflows names the padding, not the weight.
    let opts = Conv2dOptions { padding: [huge, huge, 0, 0], ..Default::default() };
    assert_err!(
        conv2d(&x, &w, &opts),
        Error::InvalidArgument { op: "conv2d", arg, .. } if arg == "padding along H",
        ["conv2d: padding along H is 2 + ", "fits in usize"]
    );
    let opts = Conv2dOptions { dilation: [huge, 1], padding: [huge, huge, 0, 0], ..Default::default() };
    assert_err!(
        conv2d(&x, &w, &opts),
        Error::InvalidArgument { op: "conv2d", arg, .. } if arg == "dilation[0]",
        [&format!("conv2d: dilation[0] is {huge} with kernel size 3"), "fits in usize"]
    );
    // The output of a zero-batch convolution may have large spatial dims; it is empty, so valid.
    let empty = t(&d, &[0, 1, 1 << 20, 1 << 20], F32);
    let out = conv2d(&empty, &t(&d, &[1, 1, 1, 1], F32), &Conv2dOptions::new()).expect("empty output");
    assert_eq!(out.shape(), &[0, 1, 1 << 20, 1 << 20]);
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new().stride(huge), output_padding: [0, 0] };
    assert_err!(
        conv_transpose2d(&x, &t(&d, &[1, 1, 1, 1], F32), &opts),
        Error::ShapeOverflow { op: "conv_transpose2d", arg, .. } if arg == "out",
        ["conv_transpose2d: out has shape [1, 1, 9223372036854775809, 9223372036854775809] whose size overflows"]
    );
}
