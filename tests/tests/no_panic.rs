//! No combination panics: a property test over random ops, shapes, dtypes, views, geometry
//! and epilogues (bad scales, zero points and clamps included) on the CPU device.
//!
//! Every case must return `Ok` or `Err`, never panic. It must also agree with the small
//! independent model in `no_panic/predict.rs`: a call the model accepts succeeds with the
//! predicted shape and dtype (or is `Unsupported` / out of memory), a call it rejects fails
//! with an error naming the op. Shapes are tiny (ranks 0..=5, dims 0..=6) with a few huge dims
//! and parameters mixed in, which must be rejected by overflow checks without allocating;
//! valid calls whose output or work would be large are skipped, never run.
//!
//! 10,000 cases by default; `PROPTEST_CASES` overrides. Regressions: proptest records the seed
//! of a failing case in `tests/tests/proptest-regressions/no_panic.txt` and replays it first on
//! every run; commit that file with the fix.

#[path = "no_panic/predict.rs"]
mod predict;
#[path = "no_panic/run.rs"]
mod run;

use accel::ops::{self, BinaryOp, ReduceOp, UnaryOp};
use accel::{Activation, DType, Device, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use std::sync::OnceLock;

/// Largest tensor a case allocates, in bytes.
const MAX_BYTES: usize = 1 << 18;
/// Largest valid call a case runs, in element operations.
const MAX_WORK: u128 = 1 << 18;
/// Dims and parameters that must trip overflow checks (or be skipped as too large).
const HUGE: [usize; 5] = [1 << 20, 1 << 32, 1 << 62, usize::MAX / 2 + 1, usize::MAX];
/// Valid (input, weight) dtype pairs of matmul and convolution.
const PAIRS: [(DType, DType); 5] = [
    (DType::F32, DType::F32),
    (DType::F16, DType::F16),
    (DType::BF16, DType::BF16),
    (DType::I8, DType::I8),
    (DType::U8, DType::I8),
];

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(accel::cpu)
}

// ------------------------------------------------------------------ case descriptions

/// How an operand's view is made from the buffer behind it.
#[derive(Debug, Clone)]
enum ViewOp {
    /// Contiguous.
    Plain,
    /// A transposed view of a buffer with two axes swapped.
    Transpose(usize, usize),
    /// Every `step`-th element from `start` along `axis`.
    Slice { axis: usize, start: usize, step: usize },
    /// Broadcast from a smaller tensor: `lead` dims added in front, `mask` dims stretched from 1.
    Broadcast { mask: u8, lead: usize },
    /// A raw view call on the finished tensor with unchecked arguments (may be rejected).
    Raw { kind: u8, a: usize, b: usize, c: usize, step: usize },
}

/// An operand: shape and dtype override the op's coherent ones when set.
#[derive(Debug, Clone)]
struct Arg {
    shape: Option<Vec<usize>>,
    dtype: Option<DType>,
    view: ViewOp,
    seed: u64,
}

#[derive(Debug, Clone)]
struct Epi {
    bias: Option<Arg>,
    /// Residual and the (mask, lead) that shrink the output shape into a broadcastable one.
    residual: Option<(Arg, u8, usize)>,
    activation: Activation,
    /// Count mode (1, channels, channels + 1, none), values, zero point and dtype.
    requant: Option<(u8, Vec<f32>, i32, DType)>,
}

#[derive(Debug, Clone)]
enum Call {
    Matmul {
        batch: Vec<usize>,
        mkn: [usize; 3],
        pair: usize,
        a: Arg,
        b: Arg,
        masks: [u8; 2],
        ab: (f32, f32),
        zp: (i32, i32),
        epi: Epi,
    },
    Conv {
        kind: u8,
        ncgo: [usize; 4],
        hw: [usize; 2],
        k: [usize; 2],
        nhwc: bool,
        pair: usize,
        x: Arg,
        w: Arg,
        geo: Geo,
        zp: (i32, i32),
        epi: Epi,
    },
    Unary {
        x: Arg,
        op: UnaryOp,
    },
    Binary {
        a: Arg,
        b: Arg,
        mask: u8,
        lead: usize,
        swap: bool,
        op: BinaryOp,
    },
    Cast {
        x: Arg,
        to: DType,
    },
    Reduce {
        x: Arg,
        op: ReduceOp,
        axes: Vec<usize>,
        wrap: bool,
        keepdim: bool,
    },
    Softmax {
        x: Arg,
        axis: usize,
        wrap: bool,
        log: bool,
    },
    Create {
        dims: Vec<usize>,
        dtype: DType,
        how: u8,
        len: usize,
    },
}

/// Convolution parameters: stride, padding [top, bottom, left, right], dilation, a groups
/// override and output padding.
#[derive(Debug, Clone)]
struct Geo {
    stride: [usize; 2],
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: Option<usize>,
    output_padding: [usize; 2],
}

/// Where the result goes: a new tensor, or a caller-owned one (shape and dtype default to the
/// predicted ones; `alias` writes into the first input).
#[derive(Debug, Clone)]
enum Out {
    New,
    Into { shape: Option<Vec<usize>>, dtype: Option<DType>, view: ViewOp, alias: bool },
}

// ------------------------------------------------------------------ strategies

fn huge() -> impl Strategy<Value = usize> {
    prop::sample::select(HUGE.to_vec())
}
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![60 => 0..=6usize, 1 => huge()]
}
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim(), 0..=5)
}
fn dtype() -> impl Strategy<Value = DType> {
    prop::sample::select(DType::ALL.to_vec())
}
fn step() -> impl Strategy<Value = usize> {
    prop_oneof![24 => 1..=3usize, 1 => Just(0), 1 => huge()]
}
fn pad() -> impl Strategy<Value = usize> {
    prop_oneof![24 => 0..=2usize, 1 => huge()]
}
fn bad_float() -> impl Strategy<Value = f32> {
    prop::sample::select(vec![0.0, -0.0, -1.0, 0.5, 2.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-30])
}
fn zero_point() -> impl Strategy<Value = i32> {
    prop_oneof![6 => 0..=3i32, 1 => -3..=-1i32, 1 => prop::sample::select(vec![-300, -129, -128, 127, 128, 255, 256, i32::MIN, i32::MAX])]
}
fn view_op() -> impl Strategy<Value = ViewOp> {
    prop_oneof![
        6 => Just(ViewOp::Plain),
        2 => (0..6usize, 0..6usize).prop_map(|(i, j)| ViewOp::Transpose(i, j)),
        2 => (0..6usize, 0..3usize, 1..=3usize).prop_map(|(axis, start, step)| ViewOp::Slice { axis, start, step }),
        2 => (any::<u8>(), 0..3usize).prop_map(|(mask, lead)| ViewOp::Broadcast { mask, lead }),
        1 => (0..3u8, 0..7usize, 0..8usize, 0..8usize, step()).prop_map(|(kind, a, b, c, step)| ViewOp::Raw { kind, a, b, c, step }),
    ]
}
fn arg() -> impl Strategy<Value = Arg> {
    let shape = prop_oneof![24 => Just(None), 1 => shape().prop_map(Some)];
    let dt = prop_oneof![24 => Just(None), 1 => dtype().prop_map(Some)];
    (shape, dt, view_op(), any::<u64>()).prop_map(|(shape, dtype, view, seed)| Arg { shape, dtype, view, seed })
}
/// An operand with a random shape and dtype of its own.
fn free_arg() -> impl Strategy<Value = Arg> {
    (shape(), dtype(), view_op(), any::<u64>()).prop_map(|(s, d, view, seed)| Arg {
        shape: Some(s),
        dtype: Some(d),
        view,
        seed,
    })
}
fn activation() -> impl Strategy<Value = Activation> {
    let clamp = prop_oneof![
        4 => prop::sample::select(vec![(-1.0, 1.0), (0.0, 6.0), (-2.0, -2.0), (f32::NEG_INFINITY, f32::INFINITY)]),
        1 => (bad_float(), bad_float()),
    ];
    prop_oneof![
        4 => Just(Activation::None),
        1 => Just(Activation::Relu),
        1 => Just(Activation::Gelu),
        1 => Just(Activation::Silu),
        2 => clamp.prop_map(|(min, max)| Activation::Clamp { min, max }),
    ]
}
fn epi() -> impl Strategy<Value = Epi> {
    let scale = prop_oneof![30 => 0.001f32..4.0, 1 => bad_float()];
    let q_dtype = prop_oneof![4 => prop::sample::select(vec![DType::I8, DType::U8]), 1 => dtype()];
    let requant = (prop_oneof![6 => 0..2u8, 1 => 2..4u8], prop::collection::vec(scale, 1..=8), zero_point(), q_dtype);
    (
        prop::option::weighted(0.25, arg()),
        prop::option::weighted(0.25, (arg(), any::<u8>(), 0..3usize)),
        activation(),
        prop::option::weighted(0.2, requant),
    )
        .prop_map(|(bias, residual, activation, requant)| Epi { bias, residual, activation, requant })
}
/// Zero points; small ones (0..=3) are meant for the int8 path and dropped on the float path.
fn zero_points() -> impl Strategy<Value = (i32, i32)> {
    prop_oneof![8 => Just((0, 0)), 4 => (0..=3i32, 0..=3i32), 1 => (zero_point(), zero_point())]
}
fn matmul() -> impl Strategy<Value = Call> {
    let dims = (prop::collection::vec(0..=3usize, 0..=3), [dim(), dim(), dim()], 0..PAIRS.len());
    let ab = prop_oneof![12 => Just((1.0, 0.0)), 1 => (bad_float(), bad_float())];
    (dims, arg(), arg(), any::<[u8; 2]>(), ab, zero_points(), epi()).prop_map(
        |((batch, mkn, pair), a, b, masks, ab, zp, epi)| Call::Matmul { batch, mkn, pair, a, b, masks, ab, zp, epi },
    )
}
fn conv() -> impl Strategy<Value = Call> {
    let ksize = prop_oneof![16 => 1..=3usize, 1 => Just(0), 1 => 4..=7usize];
    let groups = prop_oneof![16 => Just(None), 1 => prop_oneof![Just(0), 1..=4usize, huge()].prop_map(Some)];
    let out_pad = prop_oneof![20 => Just(0usize), 4 => Just(1), 1 => 2..=3usize, 1 => huge()];
    let dilation = prop_oneof![36 => Just(1usize), 12 => 2..=3usize, 1 => Just(0), 1 => huge()];
    let spatial = prop_oneof![40 => 2..=6usize, 5 => 0..=1usize, 1 => huge()];
    let geo = (
        [step(), step()],
        [pad(), pad(), pad(), pad()],
        [dilation.clone(), dilation],
        groups,
        [out_pad.clone(), out_pad],
    )
        .prop_map(|(stride, padding, dilation, groups, output_padding)| Geo {
            stride,
            padding,
            dilation,
            groups,
            output_padding,
        });
    let sizes = (
        0..3u8,
        [0..=2usize, 0..=3, 1..=3, 0..=3],
        [spatial.clone(), spatial],
        [ksize.clone(), ksize],
        any::<bool>(),
        0..PAIRS.len(),
    );
    (sizes, arg(), arg(), geo, zero_points(), epi()).prop_map(
        |((kind, ncgo, hw, k, nhwc, pair), x, w, geo, zp, epi)| Call::Conv {
            kind,
            ncgo,
            hw,
            k,
            nhwc,
            pair,
            x,
            w,
            geo,
            zp,
            epi,
        },
    )
}
fn unary_op() -> impl Strategy<Value = UnaryOp> {
    prop_oneof![
        8 => prop::sample::select(UnaryOp::ALL.to_vec()),
        1 => (bad_float(), bad_float()).prop_map(|(min, max)| UnaryOp::Clamp { min, max }),
    ]
}
fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        3 => matmul(),
        4 => conv(),
        2 => (free_arg(), unary_op()).prop_map(|(x, op)| Call::Unary { x, op }),
        2 => (free_arg(), arg(), any::<u8>(), 0..3usize, any::<bool>(), prop::sample::select(BinaryOp::ALL.to_vec()))
            .prop_map(|(a, b, mask, lead, swap, op)| Call::Binary { a, b, mask, lead, swap, op }),
        1 => (free_arg(), dtype()).prop_map(|(x, to)| Call::Cast { x, to }),
        2 => (free_arg(), prop::sample::select(ReduceOp::ALL.to_vec()), prop::collection::vec(0..6usize, 0..=3), any::<bool>(), any::<bool>())
            .prop_map(|(x, op, axes, wrap, keepdim)| Call::Reduce { x, op, axes, wrap, keepdim }),
        1 => (free_arg(), 0..6usize, any::<bool>(), any::<bool>()).prop_map(|(x, axis, wrap, log)| Call::Softmax { x, axis, wrap, log }),
        1 => (prop::collection::vec(prop_oneof![3 => 0..=3usize, 2 => huge()], 1..=4), dtype(), 0..5u8, 0..8usize)
            .prop_map(|(dims, dtype, how, len)| Call::Create { dims, dtype, how, len }),
    ]
}
fn out() -> impl Strategy<Value = Out> {
    let shape = prop_oneof![6 => Just(None), 1 => shape().prop_map(Some)];
    let dt = prop_oneof![6 => Just(None), 1 => dtype().prop_map(Some)];
    prop_oneof![
        3 => Just(Out::New),
        2 => (shape, dt, view_op(), prop::bool::weighted(0.15))
            .prop_map(|(shape, dtype, view, alias)| Out::Into { shape, dtype, view, alias }),
    ]
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/proptest-regressions/no_panic.txt"))),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_call_panics_and_results_match_the_model(call in call(), out in out()) {
        run::run(&call, &out)?;
    }
}

/// GELU of 0 used to loop forever inside erf (found by the property).
#[test]
fn gelu_of_zero_terminates() {
    let x = Tensor::zeros(device(), &[3], DType::F32).unwrap();
    assert_eq!(ops::unary(&x, UnaryOp::Gelu).unwrap().to_vec::<f32>().unwrap(), [0.0; 3]);
}

/// A depthwise convolution of an empty input, where only padding reaches the output, used to
/// index past the empty buffer (found by the property).
#[test]
fn conv_of_an_empty_input_with_padding() {
    let x = Tensor::zeros(device(), &[1, 2, 0], DType::F32).unwrap();
    let w = Tensor::zeros(device(), &[2, 1, 1], DType::F32).unwrap();
    let opts = ops::Conv1dOptions { padding: [0, 1], groups: 2, ..Default::default() };
    assert_eq!(ops::conv1d(&x, &w, &opts).unwrap().to_vec::<f32>().unwrap(), [0.0; 2]);
}

/// Slicing with a step far past the end, and slicing an empty tensor, are ordinary views.
#[test]
fn huge_slice_steps() {
    let x = Tensor::from_slice(device(), &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let v = x.slice_step(0, 0..2, usize::MAX).unwrap();
    assert_eq!(v.shape(), &[1, 3]);
    assert_eq!(v.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0]);
    let v = x.slice_step(1, 1..3, usize::MAX / 2).unwrap().transpose(0, 1).unwrap();
    assert_eq!(v.to_vec::<f32>().unwrap(), [2.0, 5.0]);
    let e = Tensor::zeros(device(), &[0, 1 << 20, 4], DType::F32).unwrap();
    let v = e.slice_step(1, 3..(1 << 20), usize::MAX).unwrap().slice(2, 4..4).unwrap();
    assert_eq!(v.shape(), &[0, 1, 0]);
    assert_eq!(ops::unary(&v, UnaryOp::Relu).unwrap().shape(), &[0, 1, 0]);
}
