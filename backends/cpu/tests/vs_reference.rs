//! The CPU kernels against the oracle on the same host bytes: random medium cases of every op,
//! with hand-built descriptors and non-contiguous views, run by `accel_kernels::cpu::execute`
//! in pools of several sizes (so every parallel path runs even on a small machine) and by
//! `accel_kernels::reference::execute`. The whole output buffer is compared, so elements a
//! strided output skips must keep their contents.

use accel_core::dtype::{read_f64, write_f64};
use accel_core::op::{
    Activation, BinaryDesc, BinaryOp, CastDesc, ConvDesc, DataLayout, EpilogueDesc, MatmulDesc, ReduceDesc, ReduceOp,
    Requant, SoftmaxDesc, UnaryDesc, UnaryOp,
};
use accel_core::{DType, Op, View};
use accel_kernels::{HostIn, HostOut, cpu, reference};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A host buffer and the view an op sees it through.
struct Buf {
    bytes: Vec<u8>,
    view: View,
    dtype: DType,
}

impl Buf {
    /// `len` random elements (the dtype's range for integers, [-2, 2) for floats).
    fn random(rng: &mut Rng, dtype: DType, len: usize, view: View) -> Buf {
        let (lo, hi) = dtype.int_range().map_or((-2.0, 2.0), |(lo, hi)| (lo, hi + 1.0));
        let mut bytes = vec![0u8; len * dtype.size()];
        for i in 0..len {
            let v = rng.uniform(lo, hi);
            write_f64(&mut bytes, dtype, i, if dtype.is_float() { v } else { v.floor() });
        }
        Buf { bytes, view, dtype }
    }

    /// Random storage for `shape` (contiguous), seen through `f(contiguous view)`.
    fn shaped(rng: &mut Rng, dtype: DType, shape: &[usize], f: impl FnOnce(View) -> View) -> Buf {
        let v = View::contiguous("t", shape).unwrap();
        let n = v.numel();
        Buf::random(rng, dtype, n, f(v))
    }

    fn input(&self) -> HostIn<'_> {
        HostIn { bytes: &self.bytes, view: &self.view, dtype: self.dtype }
    }
}

/// How close the CPU result must be: for floats, relative to the dtype's precision plus an
/// absolute part that grows with the reduction length `k` of a product (f32 accumulation
/// error); integers may differ by `int_slack` (float-path requantization); `exact` demands
/// equal values (casts).
#[derive(Debug, Clone, Copy)]
struct Tol {
    k: usize,
    int_slack: f64,
    exact: bool,
}

const ELEMENTWISE: Tol = Tol { k: 0, int_slack: 0.0, exact: false };
const EXACT: Tol = Tol { k: 0, int_slack: 0.0, exact: true };

fn product(k: usize) -> Tol {
    Tol { k, ..ELEMENTWISE }
}

/// Runs `op` on both implementations (CPU under 1, 3 and 8 threads) and compares the whole
/// output storage within `tol`.
fn check(name: &str, op: &Op, inputs: &[&Buf], out: &Buf, tol: Tol) {
    let ins: Vec<HostIn<'_>> = inputs.iter().map(|b| b.input()).collect();
    let mut want = out.bytes.clone();
    reference::execute(op, &ins, HostOut { bytes: &mut want, view: &out.view, dtype: out.dtype })
        .unwrap_or_else(|e| panic!("{name}: reference failed: {e}"));
    for threads in [1, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut got = out.bytes.clone();
        pool.install(|| cpu::execute(op, &ins, HostOut { bytes: &mut got, view: &out.view, dtype: out.dtype }))
            .unwrap_or_else(|e| panic!("{name}: cpu failed: {e}"));
        compare(&format!("{name} ({threads} threads)"), &got, &want, out.dtype, tol);
    }
}

fn compare(name: &str, got: &[u8], want: &[u8], dtype: DType, tol: Tol) {
    let n = want.len() / dtype.size();
    let w: Vec<f64> = (0..n).map(|i| read_f64(want, dtype, i)).collect();
    let g: Vec<f64> = (0..n).map(|i| read_f64(got, dtype, i)).collect();
    let scale = w.iter().filter(|v| v.is_finite()).fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    let rtol = match dtype {
        DType::F32 => 2e-5,
        DType::F16 => 2e-3,
        DType::BF16 => 1.6e-2,
        _ => 0.0,
    };
    for i in 0..n {
        let (g, w) = (g[i], w[i]);
        let ok = if tol.exact {
            (g.is_nan() && w.is_nan()) || g == w
        } else if dtype.is_float() {
            let atol = rtol * (1e-2 * scale).max(0.05 * tol.k as f64);
            (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= rtol * w.abs() + atol
        } else {
            (g - w).abs() <= tol.int_slack
        };
        assert!(ok, "{name}: element {i} of {n}: got {g}, want {w} (dtype {dtype})");
    }
}

fn contiguous(shape: &[usize]) -> View {
    View::contiguous("t", shape).unwrap()
}

#[test]
fn matmul_float_batched_broadcast_strided_with_epilogue() {
    let mut rng = Rng(0x1234_5678);
    let (m, n, k) = (37, 45, 70);
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        // a: [3, m, k] broadcast to [2, 3, m, k]; b stored [2, 1, n, k], transposed, broadcast.
        let a = Buf::shaped(&mut rng, dtype, &[3, m, k], |v| v.broadcast_to("t", "a", &[2, 3, m, k]).unwrap());
        let b = Buf::shaped(&mut rng, dtype, &[2, 1, n, k], |v| {
            v.transpose("t", 2, 3).unwrap().broadcast_to("t", "b", &[2, 3, k, n]).unwrap()
        });
        let bias = Buf::shaped(&mut rng, dtype, &[n], |v| v);
        let res = Buf::shaped(&mut rng, dtype, &[m, 1], |v| v.broadcast_to("t", "r", &[2, 3, m, n]).unwrap());
        // Output stored [2, 3, n, m] and transposed: non-contiguous, pre-filled (beta reads it).
        let out = Buf::shaped(&mut rng, dtype, &[2, 3, n, m], |v| v.transpose("t", 2, 3).unwrap());
        for act in [Activation::Gelu, Activation::Silu, Activation::Clamp { min: -0.5, max: 1.0 }] {
            let desc = MatmulDesc {
                batch: vec![2, 3],
                m,
                n,
                k,
                dtype,
                b_dtype: dtype,
                out_dtype: dtype,
                alpha: 0.5,
                beta: 1.5,
                zero_points: (0, 0),
                epilogue: EpilogueDesc { bias: true, residual: true, activation: act, requant: None },
            };
            check(&format!("matmul {dtype} {act:?}"), &Op::Matmul(desc), &[&a, &b, &bias, &res], &out, product(k));
        }
    }
}

#[test]
fn matmul_float_shapes_for_every_parallel_path() {
    let mut rng = Rng(99);
    for &(m, n, k) in &[(1, 700, 300), (130, 300, 90), (300, 20, 513), (5, 3, 0), (70, 1, 40)] {
        let a = Buf::shaped(&mut rng, DType::F32, &[m, k], |v| v);
        let b = Buf::shaped(&mut rng, DType::F32, &[k, n], |v| v);
        let out = Buf::shaped(&mut rng, DType::F32, &[m, n], |v| v);
        let desc = MatmulDesc {
            batch: vec![],
            m,
            n,
            k,
            dtype: DType::F32,
            b_dtype: DType::F32,
            out_dtype: DType::F32,
            alpha: 1.0,
            beta: 0.0,
            zero_points: (0, 0),
            epilogue: EpilogueDesc::default(),
        };
        check(&format!("matmul {m}x{n}x{k}"), &Op::Matmul(desc), &[&a, &b], &out, product(k));
    }
}

#[test]
fn matmul_int8_exact_and_float_requant() {
    let mut rng = Rng(7);
    let (m, n, k) = (33, 70, 301);
    for a_dtype in [DType::I8, DType::U8] {
        let za = if a_dtype == DType::U8 { 131 } else { -7 };
        let a = Buf::shaped(&mut rng, a_dtype, &[k, m], |v| v.transpose("t", 0, 1).unwrap());
        let b = Buf::shaped(&mut rng, DType::I8, &[k, n], |v| v);
        let bias = Buf::shaped(&mut rng, DType::I32, &[n], |v| v);
        let res = Buf::shaped(&mut rng, DType::I32, &[m, n], |v| v);
        for (act, requant, out_dtype) in [
            (Activation::None, None, DType::I32),
            (Activation::Clamp { min: -3e6, max: 5e9 }, None, DType::I32),
            (Activation::Relu, Some(Requant { scales: vec![3e-5], zero_point: 10 }), DType::U8),
            (
                Activation::None,
                Some(Requant { scales: (0..n).map(|j| 1e-6 * (j + 1) as f32).collect(), zero_point: -3 }),
                DType::I8,
            ),
        ] {
            let out = Buf::shaped(&mut rng, out_dtype, &[m, n], |v| v);
            let desc = MatmulDesc {
                batch: vec![],
                m,
                n,
                k,
                dtype: a_dtype,
                b_dtype: DType::I8,
                out_dtype,
                alpha: 1.0,
                beta: 0.0,
                zero_points: (za, 5),
                epilogue: EpilogueDesc { bias: true, residual: true, activation: act, requant },
            };
            check(
                &format!("matmul {a_dtype} -> {out_dtype}"),
                &Op::Matmul(desc),
                &[&a, &b, &bias, &res],
                &out,
                product(k),
            );
        }
    }
    // Float path with requantization: one ulp of the f32 accumulator may move a rounding.
    let a = Buf::shaped(&mut rng, DType::F32, &[m, k], |v| v);
    let b = Buf::shaped(&mut rng, DType::F32, &[k, n], |v| v);
    let out = Buf::shaped(&mut rng, DType::I8, &[m, n], |v| v);
    let desc = MatmulDesc {
        batch: vec![],
        m,
        n,
        k,
        dtype: DType::F32,
        b_dtype: DType::F32,
        out_dtype: DType::I8,
        alpha: 1.0,
        beta: 0.0,
        zero_points: (0, 0),
        epilogue: EpilogueDesc {
            requant: Some(Requant { scales: vec![7.0], zero_point: 2 }),
            ..EpilogueDesc::default()
        },
    };
    check("matmul f32 -> i8", &Op::Matmul(desc), &[&a, &b], &out, Tol { int_slack: 1.0, ..product(k) });
}

struct Geo {
    n: usize,
    c: usize,
    o: usize,
    hw: [usize; 2],
    k: [usize; 2],
    groups: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: [[usize; 2]; 2],
    output_padding: [usize; 2],
    nhwc: bool,
}

/// Operands and descriptor of a convolution case (`transposed` picks the weight layout and
/// output size), with bias + residual + `act` and optional requantization.
fn conv_case(
    rng: &mut Rng,
    g: &Geo,
    transposed: bool,
    (dtype, out_dtype): (DType, DType),
    act: Activation,
    requant: Option<Requant>,
) -> (Op, Vec<Buf>, Buf) {
    let output: [usize; 2] = std::array::from_fn(|i| {
        let ext = g.dilation[i] * (g.k[i] - 1) + 1;
        let pads = g.padding[i][0] + g.padding[i][1];
        if transposed {
            (g.hw[i] - 1) * g.stride[i] + ext + g.output_padding[i] - pads
        } else {
            (g.hw[i] + pads - ext) / g.stride[i] + 1
        }
    });
    let nhwc = |shape: [usize; 4]| -> View {
        if g.nhwc {
            contiguous(&[shape[0], shape[2], shape[3], shape[1]]).permute("t", &[0, 3, 1, 2]).unwrap()
        } else {
            contiguous(&shape)
        }
    };
    let int8 = dtype.is_int8();
    let acc = if int8 { DType::I32 } else { dtype };
    let w_dtype = if int8 { DType::I8 } else { dtype };
    let x = Buf::random(rng, dtype, g.n * g.c * g.hw[0] * g.hw[1], nhwc([g.n, g.c, g.hw[0], g.hw[1]]));
    let wshape = if transposed { [g.c, g.o / g.groups, g.k[0], g.k[1]] } else { [g.o, g.c / g.groups, g.k[0], g.k[1]] };
    // Weights stored [kH, kW, A, B] and permuted to the logical order: strided.
    let w = Buf::shaped(rng, w_dtype, &[wshape[2], wshape[3], wshape[0], wshape[1]], |v| {
        v.permute("t", &[2, 3, 0, 1]).unwrap()
    });
    let bias = Buf::shaped(rng, acc, &[g.o], |v| v);
    let oshape = [g.n, g.o, output[0], output[1]];
    let res = Buf::random(rng, acc, oshape.iter().product(), nhwc(oshape));
    let out = Buf::random(rng, out_dtype, oshape.iter().product(), nhwc(oshape));
    let desc = ConvDesc {
        spatial_rank: 2,
        layout: if g.nhwc { DataLayout::Nhwc } else { DataLayout::Nchw },
        batch: g.n,
        in_channels: g.c,
        out_channels: g.o,
        groups: g.groups,
        input: g.hw,
        kernel: g.k,
        output,
        stride: g.stride,
        dilation: g.dilation,
        padding: g.padding,
        output_padding: g.output_padding,
        dtype,
        w_dtype,
        out_dtype,
        zero_points: if int8 { (if dtype == DType::U8 { 120 } else { 3 }, -2) } else { (0, 0) },
        epilogue: EpilogueDesc { bias: true, residual: true, activation: act, requant },
    };
    let op = if transposed { Op::ConvTranspose(desc) } else { Op::Conv(desc) };
    (op, vec![x, w, bias, res], out)
}

#[test]
fn conv_forward_and_transposed() {
    let mut rng = Rng(2024);
    let geos = [
        // Grouped, strided, dilated, asymmetric padding, NHWC.
        Geo {
            n: 2,
            c: 6,
            o: 4,
            hw: [11, 9],
            k: [3, 2],
            groups: 2,
            stride: [2, 1],
            dilation: [1, 2],
            padding: [[1, 2], [0, 3]],
            output_padding: [1, 0],
            nhwc: true,
        },
        // Depthwise, NCHW.
        Geo {
            n: 1,
            c: 8,
            o: 8,
            hw: [13, 10],
            k: [3, 3],
            groups: 8,
            stride: [1, 2],
            dilation: [2, 1],
            padding: [[2, 2], [1, 1]],
            output_padding: [0, 1],
            nhwc: false,
        },
        // One group, many pixels (several GEMM column blocks), 1-D-like H = 1.
        Geo {
            n: 2,
            c: 5,
            o: 7,
            hw: [1, 300],
            k: [1, 4],
            groups: 1,
            stride: [1, 1],
            dilation: [1, 1],
            padding: [[0, 0], [2, 1]],
            output_padding: [0, 0],
            nhwc: false,
        },
    ];
    for (gi, g) in geos.iter().enumerate() {
        let taps = g.c * g.k[0] * g.k[1];
        for transposed in [false, true] {
            for dtype in [DType::F32, DType::F16, DType::BF16] {
                let (op, ins, out) = conv_case(&mut rng, g, transposed, (dtype, dtype), Activation::Silu, None);
                let ins: Vec<&Buf> = ins.iter().collect();
                check(&format!("conv{gi} t={transposed} {dtype}"), &op, &ins, &out, product(taps));
            }
            for dtype in [DType::U8, DType::I8] {
                let rq = Requant { scales: (0..g.o).map(|o| 2e-4 * (o + 1) as f32).collect(), zero_point: 4 };
                for (act, requant, out_dtype) in [
                    (Activation::Relu, None, DType::I32),
                    (Activation::Clamp { min: -900.0, max: 7e4 }, Some(rq), DType::U8),
                ] {
                    let (op, ins, out) = conv_case(&mut rng, g, transposed, (dtype, out_dtype), act, requant);
                    let ins: Vec<&Buf> = ins.iter().collect();
                    check(&format!("conv{gi} t={transposed} {dtype} -> {out_dtype}"), &op, &ins, &out, product(taps));
                }
            }
        }
    }
}

#[test]
fn unary_binary_and_cast_on_strided_views() {
    let mut rng = Rng(31337);
    let shape = [37, 29];
    for dtype in DType::ALL {
        // x is a transposed view; out is a column-sliced view of a wider buffer.
        let x = Buf::shaped(&mut rng, dtype, &[shape[1], shape[0]], |v| v.transpose("t", 0, 1).unwrap());
        let out_view = || contiguous(&[shape[0], shape[1] + 3]).slice("t", 1, 1, shape[1] + 1, 1).unwrap();
        let out = Buf::random(&mut rng, dtype, shape[0] * (shape[1] + 3), out_view());
        for op in UnaryOp::ALL.into_iter().filter(|op| op.accepts(dtype)) {
            let o = Op::Unary(UnaryDesc { op, dtype });
            check(&format!("unary {} {dtype}", op.name()), &o, &[&x], &out, ELEMENTWISE);
        }
        // b broadcast along rows; a sliced with a step.
        let a =
            Buf::shaped(&mut rng, dtype, &[shape[0] * 2, shape[1]], |v| v.slice("t", 0, 0, shape[0] * 2, 2).unwrap());
        let b = Buf::shaped(&mut rng, dtype, &[shape[1]], |v| v.broadcast_to("t", "b", &shape).unwrap());
        for op in BinaryOp::ALL.into_iter().filter(|op| op.accepts(dtype)) {
            let o = Op::Binary(BinaryDesc { op, dtype });
            check(&format!("binary {} {dtype}", op.name()), &o, &[&a, &b], &out, ELEMENTWISE);
        }
        for to in DType::ALL {
            let out = Buf::random(&mut rng, to, shape[0] * (shape[1] + 3), out_view());
            let o = Op::Cast(CastDesc { from: dtype, to });
            check(&format!("cast {dtype} -> {to}"), &o, &[&x], &out, EXACT);
        }
    }
}

#[test]
fn reductions_and_softmax() {
    let mut rng = Rng(555);
    for dtype in DType::ALL {
        // x stored [5, 40, 6, 7], reduced over dims 1 and 3 (permuted to the end).
        let x = Buf::shaped(&mut rng, dtype, &[5, 40, 6, 7], |v| v.permute("t", &[0, 2, 1, 3]).unwrap());
        for op in ReduceOp::ALL {
            let out_dtype = op.out_dtype(dtype);
            let out = Buf::random(&mut rng, out_dtype, 30, contiguous(&[5, 6]));
            let o = Op::Reduce(ReduceDesc { op, dtype, out_dtype, reduced_rank: 2 });
            check(&format!("reduce {} {dtype}", op.name()), &o, &[&x], &out, ELEMENTWISE);
        }
        // Column reduction of a tall matrix (reduced dim strided, kept dim contiguous), and a
        // long full reduction (split across threads).
        let tall = Buf::shaped(&mut rng, dtype, &[3000, 70], |v| v.transpose("t", 0, 1).unwrap());
        let long = Buf::shaped(&mut rng, dtype, &[150_000], |v| v);
        for op in ReduceOp::ALL {
            let out_dtype = op.out_dtype(dtype);
            let out = Buf::random(&mut rng, out_dtype, 70, contiguous(&[70]));
            let o = Op::Reduce(ReduceDesc { op, dtype, out_dtype, reduced_rank: 1 });
            check(&format!("reduce columns {} {dtype}", op.name()), &o, &[&tall], &out, ELEMENTWISE);
            let out = Buf::random(&mut rng, out_dtype, 1, contiguous(&[]));
            check(&format!("reduce all {} {dtype}", op.name()), &o, &[&long], &out, ELEMENTWISE);
        }
        if dtype.is_float() {
            let x = Buf::shaped(&mut rng, dtype, &[33, 17, 4], |v| v.permute("t", &[0, 2, 1]).unwrap());
            let out = Buf::random(&mut rng, dtype, 33 * 17 * 4, contiguous(&[33, 4, 17]));
            for log in [false, true] {
                let o = Op::Softmax(SoftmaxDesc { dtype, log });
                check(&format!("softmax log={log} {dtype}"), &o, &[&x], &out, ELEMENTWISE);
            }
        }
    }
}
