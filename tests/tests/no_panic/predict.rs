//! An independent model of which calls are valid and what they return.
//!
//! Written from the op docs (not from core's code) so that the property test in `no_panic.rs`
//! can fail for more than panics: a call the model calls valid must succeed with the predicted
//! shape and dtype, and a call it calls invalid must be rejected. Each function returns `None`
//! for an invalid call, else the output shape, the accumulator dtype and, where an epilogue
//! applies, its channel count.

use accel::ops::{BinaryOp, ReduceOp, UnaryOp};
use accel::{Activation, DType};

/// Element count of `shape` when its non-zero dims multiply within `usize` (core's rule for
/// every shape, even one with a 0 dim).
pub(crate) fn fits(shape: &[usize]) -> Option<usize> {
    let mut p = 1usize;
    for &d in shape.iter().filter(|&&d| d != 0) {
        p = p.checked_mul(d)?;
    }
    Some(if shape.contains(&0) { 0 } else { p })
}

/// True when a new contiguous tensor of `shape` can be described: count and bytes (at most 4
/// per element) fit in `usize`.
pub(crate) fn alloc_ok(shape: &[usize]) -> bool {
    fits(shape).and_then(|n| n.checked_mul(4)).is_some()
}

/// Saturating product, for work estimates.
pub(crate) fn work(dims: &[usize]) -> u128 {
    dims.iter().fold(1u128, |acc, &d| acc.saturating_mul(d as u128))
}

/// Numpy broadcasting of two shapes.
pub(crate) fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i + s.len() >= rank { s[i + s.len() - rank] } else { 1 };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// True when `from` broadcasts to exactly `to`.
pub(crate) fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len() && broadcast(from, to).is_some_and(|s| s == to)
}

fn in_range(dtype: DType, v: i32) -> bool {
    match dtype {
        DType::I8 => (-128..=127).contains(&v),
        DType::U8 => (0..=255).contains(&v),
        _ => false,
    }
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F16 | DType::BF16)
}

/// Input dtypes of a matmul or convolution and their zero points; the accumulator dtype.
fn product_dtypes(x: DType, w: DType, zp: (i32, i32)) -> Option<DType> {
    match x {
        _ if is_float(x) => (w == x && zp == (0, 0)).then_some(x),
        DType::I8 | DType::U8 => (w == DType::I8 && in_range(x, zp.0) && in_range(w, zp.1)).then_some(DType::I32),
        _ => None,
    }
}

/// The main part of a product op (before the epilogue).
#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub(crate) out: Vec<usize>,
    pub(crate) acc: DType,
    pub(crate) channels: usize,
    /// Multiply-adds.
    pub(crate) work: u128,
}

/// `a @ b` with alpha, beta and zero points.
pub(crate) fn matmul(
    a: (&[usize], DType),
    b: (&[usize], DType),
    alpha: f32,
    beta: f32,
    zp: (i32, i32),
) -> Option<Product> {
    let ((sa, da), (sb, db)) = (a, b);
    let (ra, rb) = (sa.len(), sb.len());
    if ra < 2 || rb < 2 || sa[ra - 1] != sb[rb - 2] {
        return None;
    }
    let acc = product_dtypes(da, db, zp)?;
    if acc == DType::I32 && (alpha != 1.0 || beta != 0.0) {
        return None;
    }
    let (m, k, n) = (sa[ra - 2], sa[ra - 1], sb[rb - 1]);
    let batch = broadcast(&sa[..ra - 2], &sb[..rb - 2])?;
    // The output and both operands broadcast over the batch must have sizes that fit.
    let with = |tail: [usize; 2]| batch.iter().copied().chain(tail).collect::<Vec<_>>();
    let out = with([m, n]);
    fits(&out)?;
    fits(&with([m, k]))?;
    fits(&with([k, n]))?;
    let w = work(&out).saturating_mul(k as u128);
    Some(Product { out, acc, channels: n, work: w })
}

/// Geometry of a convolution call, in the caller's terms.
#[derive(Debug, Clone)]
pub(crate) struct ConvCall {
    /// 1 or 2.
    pub(crate) rank: usize,
    pub(crate) transposed: bool,
    pub(crate) nhwc: bool,
    /// Per spatial axis (the last `rank` entries are used): stride, dilation, (before, after)
    /// padding and output padding.
    pub(crate) stride: [usize; 2],
    pub(crate) dilation: [usize; 2],
    pub(crate) padding: [(usize, usize); 2],
    pub(crate) output_padding: [usize; 2],
    pub(crate) groups: usize,
    pub(crate) zp: (i32, i32),
}

/// A convolution: forward 1-D/2-D or transposed 2-D.
pub(crate) fn conv(g: &ConvCall, x: (&[usize], DType), w: (&[usize], DType)) -> Option<Product> {
    let r = g.rank;
    let ((sx, dx), (sw, dw)) = (x, w);
    if sx.len() != r + 2 || sw.len() != r + 2 {
        return None;
    }
    let acc = product_dtypes(dx, dw, g.zp)?;
    // Channels-first view of the input: [N, C, spatial..].
    let (n, c, spatial) = if g.nhwc { (sx[0], sx[r + 1], &sx[1..r + 1]) } else { (sx[0], sx[1], &sx[2..]) };
    let groups = g.groups;
    if groups == 0 || c % groups != 0 {
        return None;
    }
    let o = if g.transposed {
        if sw[0] != c {
            return None;
        }
        sw[1].checked_mul(groups)?
    } else {
        if sw[1] != c / groups || sw[0] % groups != 0 {
            return None;
        }
        sw[0]
    };
    let mut out_sp = Vec::new();
    for (i, &size) in spatial.iter().enumerate() {
        let a = 2 - r + i; // index into the 2-entry parameter arrays
        let (s, d, k, (pa, pb)) = (g.stride[a], g.dilation[a], sw[2 + i], g.padding[a]);
        if s == 0 || d == 0 || k == 0 {
            return None;
        }
        let extent = d.checked_mul(k - 1)?.checked_add(1)?;
        let o_len = if g.transposed {
            let op = g.output_padding[a];
            if op >= s.max(d) || size == 0 {
                return None;
            }
            let full = (size - 1).checked_mul(s)?.checked_add(extent)?.checked_add(op)?;
            let pads = pa.checked_add(pb)?;
            if pads >= full {
                return None;
            }
            full - pads
        } else {
            let padded = size.checked_add(pa)?.checked_add(pb)?;
            if extent > padded {
                return None;
            }
            (padded - extent) / s + 1
        };
        out_sp.push(o_len);
    }
    let out: Vec<usize> = if g.nhwc {
        [n].into_iter().chain(out_sp.iter().copied()).chain([o]).collect()
    } else {
        [n, o].into_iter().chain(out_sp.iter().copied()).collect()
    };
    fits(&out)?;
    let taps = work(&sw[2..]).saturating_mul((c / groups) as u128);
    let w = if g.transposed { work(sx).saturating_mul(work(&sw[1..])) } else { work(&out).saturating_mul(taps) };
    Some(Product { out, acc, channels: o, work: w })
}

/// What an epilogue was given.
#[derive(Debug, Clone)]
pub(crate) struct EpiCall<'a> {
    pub(crate) bias: Option<(&'a [usize], DType)>,
    pub(crate) residual: Option<(&'a [usize], DType)>,
    pub(crate) activation: Activation,
    /// Scales, zero point and dtype of the requantization.
    pub(crate) requant: Option<(&'a [f32], i32, DType)>,
}

/// The output dtype of a valid epilogue on `p`.
pub(crate) fn epilogue(p: &Product, e: &EpiCall<'_>) -> Option<DType> {
    let int = p.acc == DType::I32;
    if e.bias.is_some_and(|(s, d)| d != p.acc || s != [p.channels]) {
        return None;
    }
    if e.residual.is_some_and(|(s, d)| d != p.acc || !broadcasts_to(s, &p.out)) {
        return None;
    }
    match e.activation {
        Activation::Clamp { min, max } => {
            let whole = |v: f32| v.is_finite() && v.trunc() == v;
            if min.is_nan() || max.is_nan() || min > max || (int && !(whole(min) && whole(max))) {
                return None;
            }
        }
        Activation::Gelu | Activation::Silu if int => return None,
        _ => {}
    }
    match e.requant {
        None => Some(p.acc),
        Some((scales, zp, dtype)) => {
            let count_ok = scales.len() == 1 || scales.len() == p.channels;
            let all_ok = scales.iter().all(|s| s.is_finite() && *s > 0.0);
            (count_ok && all_ok && in_range(dtype, zp)).then_some(dtype)
        }
    }
}

/// Whether a unary op is defined on `dtype` (and its bounds, for clamp).
pub(crate) fn unary(op: UnaryOp, dtype: DType) -> bool {
    match op {
        UnaryOp::Abs | UnaryOp::Square | UnaryOp::Relu => true,
        UnaryOp::Neg => dtype != DType::U8,
        UnaryOp::Clamp { min, max } => is_float(dtype) && min <= max,
        _ => is_float(dtype),
    }
}

/// Output shape of a binary op.
pub(crate) fn binary(op: BinaryOp, a: (&[usize], DType), b: (&[usize], DType)) -> Option<Vec<usize>> {
    let float_only = matches!(op, BinaryOp::Div | BinaryOp::Pow);
    if a.1 != b.1 || (float_only && !is_float(a.1)) {
        return None;
    }
    let out = broadcast(a.0, b.0)?;
    fits(&out)?;
    Some(out)
}

/// Output shape and dtype of a reduction (all axes when `axes` is empty).
pub(crate) fn reduce(op: ReduceOp, x: (&[usize], DType), axes: &[usize], keepdim: bool) -> Option<(Vec<usize>, DType)> {
    let (shape, dtype) = x;
    let rank = shape.len();
    let axes: Vec<usize> = if axes.is_empty() { (0..rank).collect() } else { axes.to_vec() };
    let distinct = axes.iter().enumerate().all(|(i, a)| !axes[..i].contains(a));
    if !distinct || axes.iter().any(|&a| a >= rank) {
        return None;
    }
    let empty = axes.iter().any(|&a| shape[a] == 0);
    if empty && matches!(op, ReduceOp::Max | ReduceOp::Min) {
        return None;
    }
    let out = (0..rank)
        .filter_map(|a| match (axes.contains(&a), keepdim) {
            (false, _) => Some(shape[a]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let out_dtype = match (op, is_float(dtype)) {
        (_, true) | (ReduceOp::Max | ReduceOp::Min, false) => dtype,
        (ReduceOp::Sum, false) => DType::I32,
        (ReduceOp::Mean, false) => DType::F32,
    };
    Some((out, out_dtype))
}

/// Whether softmax over `axis` is valid.
pub(crate) fn softmax(x: (&[usize], DType), axis: usize) -> bool {
    is_float(x.1) && axis < x.0.len()
}

/// True when no two elements of a view (shape, strides) share a storage index. Enumerates
/// every index, so callers keep views small.
pub(crate) fn non_overlapping(shape: &[usize], strides: &[usize]) -> bool {
    let n = fits(shape).unwrap_or(usize::MAX);
    if n <= 1 {
        return true;
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let off: usize = idx.iter().zip(strides).map(|(i, s)| i * s).sum();
        if !seen.insert(off) {
            return false;
        }
        for ax in (0..shape.len()).rev() {
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    true
}
