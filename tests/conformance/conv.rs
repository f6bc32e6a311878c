//! Convolution conformance: conv1d, conv2d (NCHW and NHWC) and transposed conv2d, one case
//! table run for f32, f16, bf16, i8×i8 and u8×i8 (with zero points) on every device.
//!
//! Shapes are in the user's layout: `x` is `[N, C, (H,) W]` (NCHW) or `[N, (H,) W, C]` (NHWC);
//! `w` is `[O, C/g, (kH,) kW]`, or `[C, O/g, kH, kW]` when transposed. For 1-D cases only the
//! W entries of stride/dilation and the left/right padding apply. A case with `out` calls the
//! `*_into` form on a pre-filled output seen through `out`'s views and compares its storage.

use crate::spec;
use accel::ops::{self, Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions};
use accel::{DType, DataLayout, Device, OpKind, Tensor};
use accel_tests::ViewStep::{Broadcast, Permute};
use accel_tests::{
    CheckError, Domain, FLOAT_DTYPES, INT8_DTYPES, In, Rng, Suite, Tolerance, check_against_reference,
    int8_zero_points, mac_label, slice,
};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Conv1d,
    Conv2d,
    ConvT2d,
}

struct Case {
    name: &'static str,
    kind: Kind,
    layout: DataLayout,
    x: In,
    w: In,
    stride: [usize; 2],
    /// [top, bottom, left, right].
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
    output_padding: [usize; 2],
    out: Option<In>,
}

const fn case(name: &'static str, kind: Kind, layout: DataLayout, x: In, w: In) -> Case {
    Case {
        name,
        kind,
        layout,
        x,
        w,
        stride: [1, 1],
        padding: [0; 4],
        dilation: [1, 1],
        groups: 1,
        output_padding: [0, 0],
        out: None,
    }
}
const fn c2(name: &'static str, x: In, w: In) -> Case {
    case(name, Kind::Conv2d, DataLayout::Nchw, x, w)
}
const fn c2_nhwc(name: &'static str, x: In, w: In) -> Case {
    case(name, Kind::Conv2d, DataLayout::Nhwc, x, w)
}
const fn c1(name: &'static str, x: In, w: In) -> Case {
    case(name, Kind::Conv1d, DataLayout::Nchw, x, w)
}
const fn c1_nlc(name: &'static str, x: In, w: In) -> Case {
    case(name, Kind::Conv1d, DataLayout::Nhwc, x, w)
}
const fn t2(name: &'static str, x: In, w: In) -> Case {
    case(name, Kind::ConvT2d, DataLayout::Nchw, x, w)
}

impl Case {
    const fn stride(mut self, s: [usize; 2]) -> Case {
        self.stride = s;
        self
    }
    const fn pad(mut self, p: [usize; 4]) -> Case {
        self.padding = p;
        self
    }
    const fn dilation(mut self, d: [usize; 2]) -> Case {
        self.dilation = d;
        self
    }
    const fn groups(mut self, g: usize) -> Case {
        self.groups = g;
        self
    }
    const fn output_padding(mut self, p: [usize; 2]) -> Case {
        self.output_padding = p;
        self
    }
    const fn layout(mut self, l: DataLayout) -> Case {
        self.layout = l;
        self
    }
    const fn into(mut self, out: In) -> Case {
        self.out = Some(out);
        self
    }
}

const NHWC: DataLayout = DataLayout::Nhwc;

const CASES: &[Case] = &[
    // conv2d, NCHW.
    c2("one_pixel", In::c(&[1, 1, 1, 1]), In::c(&[1, 1, 1, 1])),
    c2("batch0", In::c(&[0, 3, 5, 5]), In::c(&[4, 3, 3, 3])),
    c2("prime_2x7x13x11_k3", In::c(&[2, 7, 13, 11]), In::c(&[5, 7, 3, 3])),
    c2("pad1_k3", In::c(&[2, 3, 8, 8]), In::c(&[4, 3, 3, 3])).pad([1; 4]),
    c2("pad_asym_stride2x1", In::c(&[1, 4, 9, 10]), In::c(&[6, 4, 3, 2])).pad([1, 2, 0, 3]).stride([2, 1]),
    c2("stride2_dilation2", In::c(&[2, 3, 15, 17]), In::c(&[4, 3, 3, 3])).pad([2; 4]).stride([2, 2]).dilation([2, 2]),
    c2("groups2", In::c(&[1, 6, 9, 9]), In::c(&[4, 3, 3, 3])).groups(2).pad([1; 4]),
    c2("groups3_k2x3", In::c(&[2, 9, 7, 5]), In::c(&[6, 3, 2, 3])).groups(3),
    c2("depthwise_k3", In::c(&[2, 8, 10, 10]), In::c(&[8, 1, 3, 3])).groups(8).pad([1; 4]),
    c2("depthwise_multiplier2", In::c(&[1, 4, 6, 6]), In::c(&[8, 1, 3, 3])).groups(4),
    // Whole blocks of 16 channels per image (lane-interleaved kernel, planes transposed
    // straight in and out), and a partial block after them.
    c2("depthwise_32ch_7x7", In::c(&[2, 32, 7, 7]), In::c(&[32, 1, 3, 3])).groups(32).pad([1; 4]),
    c2("depthwise_40ch_14x14_stride2", In::c(&[2, 40, 14, 14]), In::c(&[40, 1, 3, 3]))
        .groups(40)
        .pad([1; 4])
        .stride([2, 2]),
    c2("pointwise_1x1", In::c(&[2, 16, 7, 7]), In::c(&[32, 16, 1, 1])),
    c2("kernel_is_input", In::c(&[1, 3, 5, 5]), In::c(&[2, 3, 5, 5])),
    c2("kernel_1x5", In::c(&[1, 2, 6, 9]), In::c(&[3, 2, 1, 5])).pad([0, 0, 2, 2]),
    c2("kernel_5x1_stride3", In::c(&[1, 2, 11, 4]), In::c(&[3, 2, 5, 1])).stride([3, 1]),
    c2("wide_1x3x4x700", In::c(&[1, 3, 4, 700]), In::c(&[2, 3, 3, 3])),
    c2("input_sliced_step", In::v(&[2, 7, 13, 23], &[slice(3, 0, 22, 2)]), In::c(&[5, 7, 3, 3])),
    c2("input_permuted", In::v(&[2, 13, 11, 7], &[Permute(&[0, 3, 1, 2])]), In::c(&[5, 7, 3, 3])),
    c2("weight_permuted", In::c(&[2, 7, 13, 11]), In::v(&[5, 3, 3, 7], &[Permute(&[0, 3, 1, 2])])),
    c2("input_broadcast_batch", In::v(&[1, 3, 6, 6], &[Broadcast(&[3, 3, 6, 6])]), In::c(&[4, 3, 3, 3])),
    c2("into_strided", In::c(&[2, 3, 6, 6]), In::c(&[4, 3, 3, 3]))
        .pad([1; 4])
        .into(In::v(&[2, 8, 6, 12], &[slice(1, 0, 8, 2), slice(3, 0, 12, 2)])),
    c2("large_1x32x56x56_k3", In::c(&[1, 32, 56, 56]), In::c(&[32, 32, 3, 3])).pad([1; 4]),
    // conv2d, NHWC.
    c2_nhwc("nhwc_prime_k3", In::c(&[2, 13, 11, 7]), In::c(&[5, 7, 3, 3])),
    c2_nhwc("nhwc_pad_asym_stride2x1", In::c(&[1, 9, 10, 4]), In::c(&[6, 4, 3, 2])).pad([1, 2, 0, 3]).stride([2, 1]),
    c2_nhwc("nhwc_groups2", In::c(&[1, 9, 9, 6]), In::c(&[4, 3, 3, 3])).groups(2).pad([1; 4]),
    c2_nhwc("nhwc_depthwise_k3", In::c(&[2, 10, 10, 8]), In::c(&[8, 1, 3, 3])).groups(8).pad([1; 4]),
    c2_nhwc("nhwc_depthwise_32ch_7x7", In::c(&[2, 7, 7, 32]), In::c(&[32, 1, 3, 3])).groups(32).pad([1; 4]),
    c2_nhwc("nhwc_dilation2", In::c(&[1, 12, 9, 5]), In::c(&[3, 5, 3, 3])).dilation([2, 2]).pad([1, 1, 2, 2]),
    c2_nhwc("nhwc_input_sliced", In::v(&[2, 13, 22, 7], &[slice(2, 0, 22, 2)]), In::c(&[5, 7, 3, 3])),
    c2_nhwc("nhwc_into_strided", In::c(&[1, 6, 6, 3]), In::c(&[4, 3, 3, 3]))
        .pad([1; 4])
        .into(In::v(&[1, 6, 6, 8], &[slice(3, 1, 8, 2)])),
    c2_nhwc("nhwc_large_1x28x28x32_k3", In::c(&[1, 28, 28, 32]), In::c(&[32, 32, 3, 3])).pad([1; 4]),
    // conv1d ([N, C, L] / [N, L, C]).
    c1("c1_one", In::c(&[1, 1, 1]), In::c(&[1, 1, 1])),
    c1("c1_batch0", In::c(&[0, 3, 10]), In::c(&[2, 3, 3])),
    c1("c1_prime_2x7x29_k3", In::c(&[2, 7, 29]), In::c(&[5, 7, 3])),
    c1("c1_pad_stride_dilation", In::c(&[2, 4, 31]), In::c(&[6, 4, 3]))
        .pad([0, 0, 2, 1])
        .stride([1, 2])
        .dilation([1, 3]),
    c1("c1_depthwise_k5", In::c(&[1, 6, 20]), In::c(&[6, 1, 5])).groups(6).pad([0, 0, 2, 2]),
    c1("c1_long_1x3x700_k7", In::c(&[1, 3, 700]), In::c(&[4, 3, 7])),
    c1("c1_input_sliced", In::v(&[2, 7, 60], &[slice(2, 1, 59, 2)]), In::c(&[5, 7, 3])),
    c1_nlc("c1_nlc_prime_k3", In::c(&[2, 29, 7]), In::c(&[5, 7, 3])),
    c1_nlc("c1_nlc_groups3", In::c(&[1, 20, 6]), In::c(&[6, 2, 3])).groups(3).pad([0, 0, 1, 1]),
    c1_nlc("c1_nlc_into_strided", In::c(&[1, 12, 4]), In::c(&[3, 4, 3])).into(In::v(&[1, 10, 6], &[slice(2, 0, 6, 2)])),
    c1("c1_large_2x32x512_k5", In::c(&[2, 32, 512]), In::c(&[32, 32, 5])).pad([0, 0, 2, 2]),
    // Transposed conv2d (weight [C, O/g, kH, kW]).
    t2("t_one_pixel", In::c(&[1, 1, 1, 1]), In::c(&[1, 1, 1, 1])),
    t2("t_batch0", In::c(&[0, 3, 4, 4]), In::c(&[3, 2, 3, 3])),
    t2("t_prime_2x7x5x6_k3", In::c(&[2, 7, 5, 6]), In::c(&[7, 3, 3, 3])),
    t2("t_stride2_pad1_outpad1", In::c(&[1, 4, 5, 5]), In::c(&[4, 6, 3, 3]))
        .stride([2, 2])
        .pad([1; 4])
        .output_padding([1, 1]),
    t2("t_stride3x2_dilation2", In::c(&[1, 3, 4, 3]), In::c(&[3, 2, 3, 2]))
        .stride([3, 2])
        .dilation([2, 2])
        .pad([1, 0, 2, 1])
        .output_padding([2, 1]),
    t2("t_groups2", In::c(&[2, 6, 4, 4]), In::c(&[6, 2, 3, 3])).groups(2),
    t2("t_depthwise_stride2", In::c(&[1, 5, 6, 6]), In::c(&[5, 1, 3, 3])).groups(5).stride([2, 2]).pad([1; 4]),
    t2("t_nhwc_stride2", In::c(&[1, 5, 5, 4]), In::c(&[4, 6, 3, 3]))
        .layout(NHWC)
        .stride([2, 2])
        .pad([1; 4])
        .output_padding([1, 1]),
    t2("t_input_sliced", In::v(&[1, 4, 10, 5], &[slice(2, 0, 10, 2)]), In::c(&[4, 6, 3, 3])).stride([2, 2]),
    t2("t_into_strided", In::c(&[1, 3, 4, 4]), In::c(&[3, 2, 3, 3])).into(In::v(&[1, 2, 12, 6], &[slice(2, 0, 12, 2)])),
    t2("t_large_1x32x28x28_k4s2", In::c(&[1, 32, 28, 28]), In::c(&[32, 16, 4, 4])).stride([2, 2]).pad([1; 4]),
];

/// Adds every case × dtype for `device`.
pub(crate) fn add(suite: &mut Suite, device: &Device) {
    for case in CASES {
        let (op, kind) = match case.kind {
            Kind::Conv1d => ("conv1d", OpKind::Conv),
            Kind::Conv2d => ("conv2d", OpKind::Conv),
            Kind::ConvT2d => ("conv_transpose2d", OpKind::ConvTranspose),
        };
        for dtype in FLOAT_DTYPES.into_iter().chain(INT8_DTYPES) {
            let s = spec("conv", op, mac_label(dtype), case.name, kind, dtype);
            suite.add(device, s, move |dev, seed| run(case, dtype, dev, seed));
        }
    }
}

/// Terms summed into one output element: C/groups × kernel taps.
fn reduction_len(case: &Case) -> usize {
    let x = case.x.logical_shape();
    let w = case.w.logical_shape();
    let channels = if case.layout == DataLayout::Nhwc { x[x.len() - 1] } else { x[1] };
    channels / case.groups.max(1) * w[2..].iter().product::<usize>()
}

fn run(case: &'static Case, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let int8 = dtype.is_int8();
    let domain = if int8 { Domain::Full } else { Domain::Standard };
    let x = case.x.generate(&mut rng, dtype, domain);
    let w = case.w.generate(&mut rng, if int8 { DType::I8 } else { dtype }, domain);
    let out_dtype = if int8 { DType::I32 } else { dtype };
    let prev = case.out.map(|o| o.generate(&mut rng, out_dtype, Domain::Standard));
    let zp = if int8 { int8_zero_points(dtype) } else { (0, 0) };
    let k = reduction_len(case);
    let kind = if matches!(case.kind, Kind::ConvT2d) { OpKind::ConvTranspose } else { OpKind::Conv };
    let tol = Tolerance::reduction(out_dtype, k).with_device_bound(device, kind, dtype, k, domain.max_product(dtype));
    check_against_reference(device, tol, |dev| {
        let (_, x) = case.x.realize(dev, &x)?;
        let (_, w) = case.w.realize(dev, &w)?;
        let out = match (&case.out, &prev) {
            (Some(spec), Some(prev)) => Some(spec.realize(dev, prev)?),
            _ => None,
        };
        convolve(case, zp, &x, &w, out)
    })
}

/// Calls the case's op: into `out = (storage, view)` when given, returning the storage, else
/// into a new tensor.
fn convolve(
    case: &Case,
    zp: (i32, i32),
    x: &Tensor,
    w: &Tensor,
    out: Option<(Tensor, Tensor)>,
) -> accel::Result<Tensor> {
    let c2 = Conv2dOptions {
        stride: case.stride,
        padding: case.padding,
        dilation: case.dilation,
        groups: case.groups,
        layout: case.layout,
        zero_points: zp,
        ..Default::default()
    };
    let c1 = Conv1dOptions {
        stride: case.stride[1],
        padding: [case.padding[2], case.padding[3]],
        dilation: case.dilation[1],
        groups: case.groups,
        layout: case.layout,
        zero_points: zp,
        ..Default::default()
    };
    let t2 = ConvTranspose2dOptions { conv: c2.clone(), output_padding: case.output_padding };
    match (case.kind, out) {
        (Kind::Conv2d, None) => ops::conv2d(x, w, &c2),
        (Kind::Conv1d, None) => ops::conv1d(x, w, &c1),
        (Kind::ConvT2d, None) => ops::conv_transpose2d(x, w, &t2),
        (kind, Some((storage, mut view))) => {
            match kind {
                Kind::Conv2d => ops::conv2d_into(x, w, &c2, &mut view)?,
                Kind::Conv1d => ops::conv1d_into(x, w, &c1, &mut view)?,
                Kind::ConvT2d => ops::conv_transpose2d_into(x, w, &t2, &mut view)?,
            }
            Ok(storage)
        }
    }
}
