//! Bad input, continued: requantization parameters, zero points, activation bounds,
//! transposed-convolution geometry and overlapping outputs (see `errors.rs`).

use super::*;

// ---------------------------------------------------------------- requantization

#[test]
fn bad_requantize_scales() {
    let d = dev();
    let (a, b) = (t(&d, &[2, 3], I8), t(&d, &[3, 4], I8));
    for bad in [0.0f32, -0.0, -1.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
        let shown = bad.to_string();
        assert_err!(
            matmul_with(&a, &b, &mm(Epilogue::new().requantize(vec![bad], 0, I8))),
            Error::InvalidScale { op: "matmul", arg, index: 0, got } if arg == "requantize.scales" && got.to_bits() == bad.to_bits(),
            [&format!("matmul: requantize.scales[0] is {shown}, expected a finite scale > 0")]
        );
        // Per channel: the message points at the bad channel.
        let scales = vec![0.5, 1.0, bad, 2.0];
        assert_err!(
            matmul_with(&a, &b, &mm(Epilogue::new().requantize(scales, 0, U8))),
            Error::InvalidScale { op: "matmul", index: 2, .. },
            [&format!("matmul: requantize.scales[2] is {shown}")]
        );
        let opts = Conv2dOptions::new().epilogue(Epilogue::new().requantize(vec![1.0, bad], 0, I8));
        assert_err!(
            conv2d(&t(&d, &[1, 1, 3, 3], F32), &t(&d, &[2, 1, 1, 1], F32), &opts),
            Error::InvalidScale { op: "conv2d", index: 1, .. },
            [&format!("conv2d: requantize.scales[1] is {shown}")]
        );
    }
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().requantize(vec![1.0; 3], 0, I8))),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "requantize.scales",
        ["matmul: requantize.scales has shape 3 scales, expected 1 or 4 (one per channel) scales"]
    );
    assert_err!(
        matmul_with(&a, &b, &mm(Epilogue::new().requantize(vec![], 0, I8))),
        Error::ShapeMismatch { op: "matmul", arg, .. } if arg == "requantize.scales",
        ["0 scales"]
    );
}

#[test]
fn zero_points_out_of_range() {
    let d = dev();
    let (a8, au, b8) = (t(&d, &[2, 3], I8), t(&d, &[2, 3], U8), t(&d, &[3, 4], I8));
    let cases: [(&Tensor, (i32, i32), &str); 4] = [
        (&a8, (128, 0), "zero_points.0 is 128, expected a value in -128..=127 for i8"),
        (&au, (-1, 0), "zero_points.0 is -1, expected a value in 0..=255 for u8"),
        (&au, (0, 200), "zero_points.1 is 200, expected a value in -128..=127 for i8"),
        (&a8, (0, i32::MIN), "zero_points.1 is -2147483648"),
    ];
    for (a, zp, msg) in cases {
        assert_err!(
            matmul_with(a, &b8, &MatmulOptions::new().zero_points(zp.0, zp.1)),
            Error::InvalidArgument { op: "matmul", .. },
            [&format!("matmul: {msg}")]
        );
    }
    let opts = Conv2dOptions::new().zero_points(1, 0);
    assert_err!(
        conv2d(&t(&d, &[1, 1, 3, 3], F32), &t(&d, &[1, 1, 1, 1], F32), &opts),
        Error::InvalidArgument { op: "conv2d", arg, .. } if arg == "zero_points",
        ["conv2d: zero_points is (1, 0), expected (0, 0) on the float path"]
    );
    for (zp, dtype, range) in [(300, U8, "0..=255 for u8"), (-129, I8, "-128..=127 for i8")] {
        assert_err!(
            matmul_with(&a8, &b8, &mm(Epilogue::new().requantize(vec![1.0], zp, dtype))),
            Error::InvalidArgument { op: "matmul", arg, .. } if arg == "requantize.zero_point",
            [&format!("matmul: requantize.zero_point is {zp}, expected a value in {range}")]
        );
    }
    assert_err!(
        matmul_with(&a8, &b8, &MatmulOptions::new().alpha(2.0)),
        Error::InvalidArgument { op: "matmul", arg, .. } if arg == "alpha/beta",
        ["matmul: alpha/beta is alpha=2, beta=0, expected alpha = 1 and beta = 0 on the int8 path"]
    );
}

// ---------------------------------------------------------------- activations

#[test]
fn clamp_with_min_above_max() {
    let d = dev();
    let (a, b) = (t(&d, &[2, 3], F32), t(&d, &[3, 4], F32));
    for (min, max) in [(2.0, 1.0), (f32::NAN, 1.0), (0.0, f32::NAN)] {
        let epi = Epilogue::new().activation(Activation::Clamp { min, max });
        assert_err!(
            matmul_with(&a, &b, &mm(epi)),
            Error::InvalidArgument { op: "matmul", arg, .. } if arg == "activation",
            [&format!("matmul: activation is min={min}, max={max}, expected clamp bounds with min <= max")]
        );
        assert_err!(
            ops::unary(&a, UnaryOp::Clamp { min, max }),
            Error::InvalidArgument { op: "unary", arg, .. } if arg == "clamp",
            [&format!("unary: clamp is min={min}, max={max}, expected bounds with min <= max")]
        );
    }
    let (a8, b8) = (t(&d, &[2, 3], I8), t(&d, &[3, 4], I8));
    let epi = Epilogue::new().activation(Activation::Clamp { min: -0.5, max: 3.0 });
    assert_err!(
        matmul_with(&a8, &b8, &mm(epi)),
        Error::InvalidArgument { op: "matmul", .. },
        ["matmul: activation is min=-0.5, max=3, expected whole-number clamp bounds on the int8 path"]
    );
    assert_err!(
        matmul_with(&a8, &b8, &mm(Epilogue::new().activation(Activation::Gelu))),
        Error::InvalidArgument { op: "matmul", .. },
        ["matmul: activation is gelu, expected none, relu or clamp on the int8 path"]
    );
}

// ---------------------------------------------------------------- transposed convolution geometry

#[test]
fn output_padding_too_large() {
    let d = dev();
    let (x, w) = (t(&d, &[1, 1, 3, 3], F32), t(&d, &[1, 1, 2, 2], F32));
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new().stride(2), output_padding: [2, 0] };
    assert_err!(
        conv_transpose2d(&x, &w, &opts),
        Error::InvalidArgument { op: "conv_transpose2d", arg, .. } if arg == "output_padding[0]",
        ["conv_transpose2d: output_padding[0] is 2, expected a value below max(stride, dilation) = 2"]
    );
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new(), output_padding: [0, 1] };
    assert_err!(
        conv_transpose2d(&x, &w, &opts),
        Error::InvalidArgument { op: "conv_transpose2d", arg, .. } if arg == "output_padding[1]",
        ["output_padding[1] is 1, expected a value below max(stride, dilation) = 1"]
    );
    // Padding that crops away the whole output.
    let opts = ConvTranspose2dOptions { conv: Conv2dOptions::new().padding(2), output_padding: [0, 0] };
    assert_err!(
        conv_transpose2d(&x, &w, &opts),
        Error::InvalidArgument { op: "conv_transpose2d", arg, .. } if arg == "padding along H",
        ["conv_transpose2d: padding along H is 2 + 2, expected a total below the uncropped output size 4"]
    );
}

// ---------------------------------------------------------------- overlapping outputs

#[test]
fn overlapping_out_view() {
    let d = dev();
    let x = t(&d, &[2, 3], F32);
    let mut out = t(&d, &[3], F32).broadcast_to(&[2, 3]).expect("broadcast view");
    let overlap = ["out is strides [0, 1] for shape [2, 3], expected a tensor whose elements do not overlap"];
    assert_err!(unary_into(&x, UnaryOp::Relu, &mut out), Error::InvalidArgument { op: "unary", .. }, overlap);
    assert_err!(binary_into(&x, &x, BinaryOp::Add, &mut out), Error::InvalidArgument { op: "binary", .. }, overlap);
    assert_err!(cast_into(&x, &mut out), Error::InvalidArgument { op: "cast", .. }, overlap);
    assert_err!(
        matmul_into(&x, &t(&d, &[3, 3], F32), &MatmulOptions::new(), &mut out),
        Error::InvalidArgument { op: "matmul", .. },
        overlap
    );
}
