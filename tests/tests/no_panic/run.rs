//! One case of the no-panic property: build the operands, ask the model what the call should
//! return, make the call, compare.

use crate::predict::{self, EpiCall, Product, alloc_ok, fits, work};
use crate::{Arg, Call, Epi, Geo, MAX_BYTES, MAX_WORK, Out, PAIRS, ViewOp, device};
use accel::ops::*;
use accel::{DType, DataLayout, Error, Tensor};
use proptest::prelude::*;

type R<T> = Result<T, TestCaseError>;

fn fail(e: Error) -> TestCaseError {
    TestCaseError::fail(format!("unexpected error: {e}"))
}

/// Deterministic bytes from a seed (xorshift64).
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn too_big(shape: &[usize], dtype: DType) -> bool {
    fits(shape).is_none_or(|n| n.saturating_mul(dtype.size()) > MAX_BYTES)
}

/// A tensor of logical `shape` and `dtype` seen through `view` (the buffer behind it is shaped
/// so that the view lands on `shape`). `None` ends the case: the buffer was rejected, as the
/// model says it must be, or is too large to allocate here.
fn build(shape: &[usize], dtype: DType, view: &ViewOp, seed: u64) -> R<Option<Tensor>> {
    enum Then {
        Nothing,
        Transpose(usize, usize),
        Slice(usize, usize, usize, usize),
        Broadcast,
    }
    let rank = shape.len();
    let small = shape.iter().all(|&d| d <= 64);
    let mut base = shape.to_vec();
    let then = match *view {
        ViewOp::Transpose(i, j) if small && rank >= 2 => {
            base.swap(i % rank, j % rank);
            Then::Transpose(i % rank, j % rank)
        }
        ViewOp::Slice { axis, start, step } if small && rank >= 1 => {
            let (a, d) = (axis % rank, shape[axis % rank]);
            let end = if d == 0 { start } else { start + (d - 1) * step + 1 };
            base[a] = end + 1;
            Then::Slice(a, start, end, step)
        }
        ViewOp::Broadcast { mask, lead } if rank >= 1 => {
            let lead = lead.min(rank);
            base =
                shape[lead..].iter().enumerate().map(|(i, &d)| if mask >> (i % 8) & 1 == 1 { 1 } else { d }).collect();
            Then::Broadcast
        }
        _ => Then::Nothing,
    };
    let Some(n) = fits(&base).filter(|_| alloc_ok(&base)) else {
        let r = Tensor::zeros(device(), &base, dtype);
        prop_assert!(
            matches!(r, Err(Error::ShapeOverflow { .. })),
            "zeros({:?}) = {:?}, expected ShapeOverflow",
            base,
            r
        );
        return Ok(None);
    };
    if n * dtype.size() > MAX_BYTES {
        return Ok(None);
    }
    let t = Tensor::from_bytes(device(), &base, dtype, &bytes(seed, n * dtype.size())).map_err(fail)?;
    let t = match then {
        Then::Nothing => t,
        Then::Transpose(i, j) => t.transpose(i, j).map_err(fail)?,
        Then::Slice(a, start, end, step) => t.slice_step(a, start..end, step).map_err(fail)?,
        Then::Broadcast => match t.broadcast_to(shape) {
            Ok(v) => v,
            Err(e) => {
                let expected = fits(shape).is_none() && matches!(e, Error::ShapeOverflow { .. });
                prop_assert!(expected, "broadcast_to({:?}): {}", shape, e);
                return Ok(None);
            }
        },
    };
    prop_assert_eq!(t.shape(), shape);
    prop_assert!(fits(shape).is_some(), "a view of {:?} was accepted", shape);
    match *view {
        ViewOp::Raw { kind, a, b, c, step } => raw(t, kind, [a, b, c, step]).map(Some),
        _ => Ok(Some(t)),
    }
}

/// A view call with unchecked arguments: the result must be what the model says.
fn raw(t: Tensor, kind: u8, [a, b, c, step]: [usize; 4]) -> R<Tensor> {
    let s = t.shape().to_vec();
    let rank = s.len();
    let (name, got, model) = match kind {
        0 => {
            let mut e = s.clone();
            let ok = a < rank && b < rank;
            if ok {
                e.swap(a, b);
            }
            ("transpose", t.transpose(a, b), ok.then_some(e))
        }
        1 => {
            let ok = a < rank && b <= c && c <= s[a] && step >= 1;
            let e = ok.then(|| {
                let mut e = s.clone();
                e[a] = (c - b).div_ceil(step);
                e
            });
            ("slice", t.slice_step(a, b..c, step), e)
        }
        _ => {
            let mut perm: Vec<usize> = (0..rank).map(|i| (i + a) % rank).collect();
            if b == 0 {
                perm.push(c);
            }
            let e = (b != 0).then(|| perm.iter().map(|&p| s[p]).collect());
            ("permute", t.permute(&perm), e)
        }
    };
    match (got, model) {
        (Ok(v), Some(e)) => {
            prop_assert_eq!(v.shape(), &e[..], "{} on {:?}", name, s);
            Ok(v)
        }
        (Ok(v), None) => Err(TestCaseError::fail(format!("{name} on {s:?} ({a}, {b}, {c}, {step}) accepted: {v:?}"))),
        (Err(e), Some(m)) => Err(TestCaseError::fail(format!("{name} on {s:?}: expected {m:?}, got {e}"))),
        (Err(e), None) => {
            prop_assert!(e.to_string().starts_with(name), "{}: vague error {}", name, e);
            Ok(t)
        }
    }
}

/// The operand `arg` describes, with the op's coherent shape and dtype unless overridden.
fn operand(arg: &Arg, shape: Vec<usize>, dtype: DType) -> R<Option<Tensor>> {
    build(arg.shape.as_ref().unwrap_or(&shape), arg.dtype.unwrap_or(dtype), &arg.view, arg.seed)
}

/// `shape` with `lead` leading dims dropped and the dims in `mask` set to 1.
fn shrink(shape: &[usize], mask: u8, lead: usize) -> Vec<usize> {
    let lead = lead.min(shape.len());
    shape[lead..].iter().enumerate().map(|(i, &d)| if mask >> (i % 8) & 1 == 1 { 1 } else { d }).collect()
}

/// The call, into a new tensor.
type NewFn<'a> = Box<dyn Fn() -> accel::Result<Tensor> + 'a>;
/// The call, into a caller-owned tensor.
type IntoFn<'a> = Box<dyn Fn(&mut Tensor) -> accel::Result<()> + 'a>;

/// A call ready to run both ways, with what the model expects of it.
struct Prep<'a> {
    op: &'static str,
    model: Option<(Vec<usize>, DType)>,
    work: u128,
    /// The `_into` form takes its output dtype from `out` (casts).
    out_dtype_from_out: bool,
    first: Tensor,
    new: NewFn<'a>,
    into: IntoFn<'a>,
}

fn compare(op: &str, model: Option<(Vec<usize>, DType)>, got: accel::Result<Tensor>) -> R<()> {
    match (model, got) {
        (Some((shape, dtype)), Ok(t)) => {
            prop_assert_eq!(t.shape(), &shape[..], "{}: output shape", op);
            prop_assert_eq!(t.dtype(), dtype, "{}: output dtype", op);
            t.to_f64_vec().map_err(fail)?;
        }
        (Some(m), Err(e)) => {
            let ok = matches!(e, Error::Unsupported { .. } | Error::OutOfMemory { .. });
            prop_assert!(ok, "{}: the model expects {:?}, got error: {}", op, m, e);
        }
        (None, Ok(t)) => return Err(TestCaseError::fail(format!("{op}: the model rejects this call; got {t:?}"))),
        (None, Err(e)) => {
            let msg = e.to_string();
            prop_assert!(msg.starts_with(op) && !matches!(e, Error::Backend { .. }), "{}: vague error: {}", op, msg);
        }
    }
    Ok(())
}

fn finish(p: Prep<'_>, out: &Out) -> R<()> {
    match out {
        Out::New => {
            let model = p.model.clone().filter(|(s, _)| alloc_ok(s));
            if model.as_ref().is_some_and(|(s, d)| too_big(s, *d) || p.work > MAX_WORK) {
                return Ok(());
            }
            compare(p.op, model, (p.new)())
        }
        Out::Into { shape, dtype, view, alias } => {
            let (ms, md) = p.model.clone().unwrap_or((vec![1], DType::F32));
            let mut o = if *alias {
                p.first.clone()
            } else {
                match build(shape.as_ref().unwrap_or(&ms), dtype.unwrap_or(md), view, 7)? {
                    Some(t) => t,
                    None => return Ok(()),
                }
            };
            let model = match p.model.clone() {
                Some((s, _)) if p.out_dtype_from_out => Some((s, o.dtype())),
                m => m,
            };
            let model = model.filter(|(s, d)| o.shape() == &s[..] && o.dtype() == *d);
            if model.as_ref().is_some_and(|(s, d)| too_big(s, *d) || p.work > MAX_WORK) {
                return Ok(());
            }
            let model = model.filter(|_| predict::non_overlapping(o.shape(), o.strides()));
            let got = (p.into)(&mut o).map(|()| o.clone());
            compare(p.op, model, got)
        }
    }
}

/// Epilogue operands (`None` ends the case), built against the product `p` (the model's, or
/// the intended one when the model rejects the call).
fn epi_tensors(e: &Epi, p: &Product) -> R<Option<(Option<Tensor>, Option<Tensor>)>> {
    let bias = match &e.bias {
        Some(a) => match operand(a, vec![p.channels], p.acc)? {
            Some(t) => Some(t),
            None => return Ok(None),
        },
        None => None,
    };
    let residual = match &e.residual {
        Some((a, mask, lead)) => match operand(a, shrink(&p.out, *mask, *lead), p.acc)? {
            Some(t) => Some(t),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some((bias, residual)))
}

/// The requantization scales: one, one per channel, one too many, or none.
fn scales(e: &Epi, channels: usize) -> Vec<f32> {
    let Some((mode, values, _, _)) = &e.requant else { return Vec::new() };
    let len = match (mode, channels <= 64) {
        (1, true) => channels,
        (2, true) => channels + 1,
        (3, _) => 0,
        _ => 1,
    };
    (0..len).map(|i| values[i % values.len()]).collect()
}

/// The epilogue to pass, and the model's output dtype for it on `p`.
fn epilogue<'a>(
    e: &Epi,
    t: &'a (Option<Tensor>, Option<Tensor>),
    scales: &[f32],
    p: Option<&Product>,
) -> (Epilogue<'a>, Option<DType>) {
    let mut epi = Epilogue::new().activation(e.activation);
    epi.bias = t.0.as_ref();
    epi.residual = t.1.as_ref();
    if let Some((_, _, zp, dtype)) = &e.requant {
        epi = epi.requantize(scales.to_vec(), *zp, *dtype);
    }
    let call = EpiCall {
        bias: t.0.as_ref().map(|b| (b.shape(), b.dtype())),
        residual: t.1.as_ref().map(|r| (r.shape(), r.dtype())),
        activation: e.activation,
        requant: e.requant.as_ref().map(|(_, _, zp, dtype)| (scales, *zp, *dtype)),
    };
    (epi, p.and_then(|p| predict::epilogue(p, &call)))
}

/// The zero points to pass: small ones are meant for the int8 path (see `zero_points`).
fn zero_points(input: DType, zp: (i32, i32)) -> (i32, i32) {
    let small = |v: i32| (0..=3).contains(&v);
    if input.is_float() && small(zp.0) && small(zp.1) { (0, 0) } else { zp }
}

/// Runs one case.
pub(crate) fn run(call: &Call, out: &Out) -> R<()> {
    macro_rules! get {
        ($e:expr) => {
            match $e? {
                Some(t) => t,
                None => return Ok(()),
            }
        };
    }
    match call {
        Call::Matmul { batch, mkn: [m, k, n], pair, a, b, masks, ab: (alpha, beta), zp, epi } => {
            let (da, db) = PAIRS[*pair];
            let zp = &zero_points(da, *zp);
            let shape = |mask: u8, tail: [usize; 2]| {
                let mut s = shrink(batch, mask, (mask >> 5) as usize);
                s.extend(tail);
                s
            };
            let a = get!(operand(a, shape(masks[0], [*m, *k]), da));
            let b = get!(operand(b, shape(masks[1], [*k, *n]), db));
            let prod = predict::matmul((a.shape(), a.dtype()), (b.shape(), b.dtype()), *alpha, *beta, *zp);
            let mut out_shape = batch.clone();
            out_shape.extend([*m, *n]);
            let acc = if da.is_int8() { DType::I32 } else { da };
            let basis = prod.clone().unwrap_or(Product { out: out_shape, acc, channels: *n, work: 0 });
            let et = get!(epi_tensors(epi, &basis));
            let sc = scales(epi, basis.channels);
            let (e, out_dtype) = epilogue(epi, &et, &sc, prod.as_ref());
            let opts = MatmulOptions { alpha: *alpha, beta: *beta, zero_points: *zp, epilogue: e };
            let model = prod.as_ref().zip(out_dtype).map(|(p, d)| (p.out.clone(), d));
            let work = prod.map_or(0, |p| p.work);
            let new = Box::new(|| matmul_with(&a, &b, &opts));
            let into = Box::new(|o: &mut Tensor| matmul_into(&a, &b, &opts, o));
            finish(Prep { op: "matmul", model, work, out_dtype_from_out: false, first: a.clone(), new, into }, out)
        }
        Call::Conv { kind, ncgo: [n, cg, g, og], hw: [h, w], k: [kh, kw], nhwc, pair, x, w: wt, geo, zp, epi } => {
            let (dx, dw) = PAIRS[*pair];
            let zp = &zero_points(dx, *zp);
            let (c, o) = (cg * g, og * g);
            let x_shape = match (kind, nhwc) {
                (0, false) => vec![*n, c, *w],
                (0, true) => vec![*n, *w, c],
                (_, false) => vec![*n, c, *h, *w],
                (_, true) => vec![*n, *h, *w, c],
            };
            let w_shape = match kind {
                0 => vec![o, *cg, *kw],
                1 => vec![o, *cg, *kh, *kw],
                _ => vec![c, *og, *kh, *kw],
            };
            let x = get!(operand(x, x_shape, dx));
            let w = get!(operand(wt, w_shape, dw));
            run_conv(*kind, *nhwc, geo.groups.unwrap_or(*g), geo, *zp, epi, &x, &w, o, out)
        }
        Call::Unary { x, op } => {
            let x = get!(operand(x, Vec::new(), DType::F32));
            let model = predict::unary(*op, x.dtype()).then(|| (x.shape().to_vec(), x.dtype()));
            let work = work(x.shape());
            let prep = Prep {
                op: "unary",
                model,
                work,
                out_dtype_from_out: false,
                first: x.clone(),
                new: Box::new(|| unary(&x, *op)),
                into: Box::new(|o| unary_into(&x, *op, o)),
            };
            finish(prep, out)
        }
        Call::Binary { a, b, mask, lead, swap, op } => {
            let a = get!(operand(a, Vec::new(), DType::F32));
            let b = get!(operand(b, shrink(a.shape(), *mask, *lead), a.dtype()));
            let (a, b) = if *swap { (b, a) } else { (a, b) };
            let model = predict::binary(*op, (a.shape(), a.dtype()), (b.shape(), b.dtype())).map(|s| (s, a.dtype()));
            let work = model.as_ref().map_or(0, |(s, _)| work(s));
            let prep = Prep {
                op: "binary",
                model,
                work,
                out_dtype_from_out: false,
                first: a.clone(),
                new: Box::new(|| binary(&a, &b, *op)),
                into: Box::new(|o| binary_into(&a, &b, *op, o)),
            };
            finish(prep, out)
        }
        Call::Cast { x, to } => {
            let x = get!(operand(x, Vec::new(), DType::F32));
            let model = Some((x.shape().to_vec(), *to));
            let work = work(x.shape());
            let prep = Prep {
                op: "cast",
                model,
                work,
                out_dtype_from_out: true,
                first: x.clone(),
                new: Box::new(|| cast(&x, *to)),
                into: Box::new(|o| cast_into(&x, o)),
            };
            finish(prep, out)
        }
        Call::Reduce { x, op, axes, wrap, keepdim } => {
            let x = get!(operand(x, Vec::new(), DType::F32));
            let rank = x.rank();
            let mut axes = axes.clone();
            if *wrap && rank > 0 {
                axes.iter_mut().for_each(|a| *a %= rank);
                axes.sort_unstable();
                axes.dedup();
            }
            let model = predict::reduce(*op, (x.shape(), x.dtype()), &axes, *keepdim);
            let work = work(x.shape());
            let prep = Prep {
                op: "reduce",
                model,
                work,
                out_dtype_from_out: false,
                first: x.clone(),
                new: Box::new(|| reduce(&x, *op, &axes, *keepdim)),
                into: Box::new(|o| reduce_into(&x, *op, &axes, *keepdim, o)),
            };
            finish(prep, out)
        }
        Call::Softmax { x, axis, wrap, log } => {
            let x = get!(operand(x, Vec::new(), DType::F32));
            let axis = if *wrap && x.rank() > 0 { axis % x.rank() } else { *axis };
            let model = predict::softmax((x.shape(), x.dtype()), axis).then(|| (x.shape().to_vec(), x.dtype()));
            let work = work(x.shape());
            let prep = Prep {
                op: "softmax",
                model,
                work,
                out_dtype_from_out: false,
                first: x.clone(),
                new: Box::new(|| softmax(&x, axis, *log)),
                into: Box::new(|o| softmax_into(&x, axis, *log, o)),
            };
            finish(prep, out)
        }
        Call::Create { dims, dtype, how, len } => create(dims, *dtype, *how, *len),
    }
}

#[allow(clippy::too_many_arguments, reason = "one convolution call, spelled out")]
fn run_conv(
    kind: u8,
    nhwc: bool,
    groups: usize,
    geo: &Geo,
    zp: (i32, i32),
    epi: &Epi,
    x: &Tensor,
    w: &Tensor,
    o: usize,
    out: &Out,
) -> R<()> {
    let p = geo.padding;
    let call = predict::ConvCall {
        rank: if kind == 0 { 1 } else { 2 },
        transposed: kind == 2,
        nhwc,
        stride: geo.stride,
        dilation: geo.dilation,
        padding: [(p[0], p[1]), (p[2], p[3])],
        output_padding: geo.output_padding,
        groups,
        zp,
    };
    let prod = predict::conv(&call, (x.shape(), x.dtype()), (w.shape(), w.dtype()));
    let n = x.shape().first().copied().unwrap_or(0);
    let acc = if x.dtype().is_int8() { DType::I32 } else { x.dtype() };
    let out_shape = if kind == 0 { vec![n, o, 1] } else { vec![n, o, 1, 1] };
    let basis = prod.clone().unwrap_or(Product { out: out_shape, acc, channels: o, work: 0 });
    let Some(et) = epi_tensors(epi, &basis)? else { return Ok(()) };
    let sc = scales(epi, basis.channels);
    let (e, out_dtype) = epilogue(epi, &et, &sc, prod.as_ref());
    let model = prod.as_ref().zip(out_dtype).map(|(p, d)| (p.out.clone(), d));
    let work = prod.map_or(0, |p| p.work);
    let layout = if nhwc { DataLayout::Nhwc } else { DataLayout::Nchw };
    let c2 = Conv2dOptions {
        stride: geo.stride,
        padding: geo.padding,
        dilation: geo.dilation,
        groups,
        layout,
        zero_points: zp,
        epilogue: e,
    };
    let prep =
        |op, new, into| Prep { op, model: model.clone(), work, out_dtype_from_out: false, first: x.clone(), new, into };
    match kind {
        0 => {
            let c1 = Conv1dOptions {
                stride: geo.stride[1],
                padding: [p[2], p[3]],
                dilation: geo.dilation[1],
                groups,
                layout,
                zero_points: zp,
                epilogue: c2.epilogue.clone(),
            };
            finish(prep("conv1d", Box::new(|| conv1d(x, w, &c1)), Box::new(|o| conv1d_into(x, w, &c1, o))), out)
        }
        1 => finish(prep("conv2d", Box::new(|| conv2d(x, w, &c2)), Box::new(|o| conv2d_into(x, w, &c2, o))), out),
        _ => {
            let ct = ConvTranspose2dOptions { conv: c2.clone(), output_padding: geo.output_padding };
            let new = Box::new(|| conv_transpose2d(x, w, &ct));
            finish(prep("conv_transpose2d", new, Box::new(|o| conv_transpose2d_into(x, w, &ct, o))), out)
        }
    }
}

/// Tensor creation and whole-tensor views with possibly huge dims.
fn create(dims: &[usize], dtype: DType, how: u8, len: usize) -> R<()> {
    let d = device();
    let model = match how {
        0..=2 => alloc_ok(dims) && (how != 2 || fits(dims) == Some(len)),
        3 => fits(dims).is_some(),
        _ => fits(dims) == Some(6),
    };
    if model && how <= 2 && too_big(dims, dtype) {
        return Ok(());
    }
    let (op, got) = match how {
        0 => ("zeros", Tensor::zeros(d, dims, dtype)),
        1 => ("full", Tensor::full(d, dims, dtype, 1.5)),
        2 => ("from_slice", Tensor::from_bytes(d, dims, dtype, &bytes(3, len * dtype.size()))),
        3 => ("broadcast_to", Tensor::zeros(d, &[1], dtype).map_err(fail)?.broadcast_to(dims)),
        _ => ("reshape", Tensor::zeros(d, &[2, 3], dtype).map_err(fail)?.reshape(dims)),
    };
    let got = got.and_then(|t| if t.numel() <= 64 { t.to_f64_vec().map(|_| t) } else { Ok(t) });
    match (model, got) {
        (true, Ok(t)) => prop_assert_eq!(t.shape(), dims),
        (true, Err(e)) => prop_assert!(matches!(e, Error::OutOfMemory { .. }), "{}({:?}): {}", op, dims, e),
        (false, Ok(t)) => prop_assert!(false, "{}({:?}) accepted: {:?}", op, dims, t),
        (false, Err(e)) => prop_assert!(e.to_string().starts_with(op), "{}: vague error {}", op, e),
    }
    Ok(())
}
