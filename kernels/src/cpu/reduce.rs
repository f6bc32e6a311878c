//! Reductions over trailing dims, and softmax / log-softmax over the last dim.
//!
//! Reduce: the input view is `[kept.., reduced..]`. Each output element reduces one sub-view;
//! contiguous runs of it are summed in eight f64 lanes (floats; exact i64 for integers), other
//! runs element by element. When the reduced dims are strided but the kept dims are contiguous
//! (a column sum), up to [`LANES`] neighbouring outputs advance together so every load is
//! contiguous. Work is parallel over outputs; when there are too few outputs to occupy the
//! threads, each output's reduction is split into blocks reduced in parallel and merged in
//! order (so results do not depend on the thread count). Max/min propagate NaN; the mean of
//! nothing is NaN; integer sums wrap into i32, integer means are f32.
//!
//! Softmax: per row, `m = max(x)`, `s = Σ exp(x − m)` and the outputs in f64, rounded once.

use super::dtype::{Data, Elem, typed, with_data};
use super::elementwise::{max_f32, min_f32};
use super::layout::Layout;
use super::par;
use super::{DenseFn, input, unsupported, with_dense_out};
use crate::{HostIn, HostOut};
use accel_core::op::{ReduceDesc, ReduceOp, SoftmaxDesc};
use accel_core::{Op, Result};

/// Outputs advanced together in the column-reduction path.
const LANES: usize = 64;
/// Elements a parallel task should read, at least.
const TASK: usize = 1 << 15;

/// One reduction: an accumulator, how to fold elements in, and the final value (as an exact
/// f64 that the store rounds once into the output dtype).
trait Red<T: Elem>: Sync {
    type A: Copy + Send + Sync;
    fn init(&self) -> Self::A;
    fn step(&self, a: Self::A, x: T) -> Self::A;
    fn merge(&self, a: Self::A, b: Self::A) -> Self::A;
    fn finish(&self, a: Self::A, count: usize) -> f64;
    fn feed(&self, a: Self::A, xs: &[T]) -> Self::A {
        xs.iter().fold(a, |a, &x| self.step(a, x))
    }
}

/// Float sum or mean, accumulated in f64.
struct FSum {
    mean: bool,
}

impl<T: Elem> Red<T> for FSum {
    type A = f64;
    fn init(&self) -> f64 {
        0.0
    }
    #[inline(always)]
    fn step(&self, a: f64, x: T) -> f64 {
        a + x.to_f64()
    }
    fn merge(&self, a: f64, b: f64) -> f64 {
        a + b
    }
    fn finish(&self, a: f64, count: usize) -> f64 {
        if self.mean { a / count as f64 } else { a }
    }
    fn feed(&self, a: f64, xs: &[T]) -> f64 {
        let mut lanes = [0f64; 8];
        let mut it = xs.chunks_exact(8);
        for c in &mut it {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l += x.to_f32() as f64;
            }
        }
        let tail: f64 = it.remainder().iter().map(|&x| x.to_f32() as f64).sum();
        a + lanes.iter().sum::<f64>() + tail
    }
}

/// Float max (`max: true`) or min, NaN-propagating.
struct FExt {
    max: bool,
}

impl<T: Elem> Red<T> for FExt {
    type A = f32;
    fn init(&self) -> f32 {
        if self.max { f32::NEG_INFINITY } else { f32::INFINITY }
    }
    #[inline(always)]
    fn step(&self, a: f32, x: T) -> f32 {
        if self.max { max_f32(a, x.to_f32()) } else { min_f32(a, x.to_f32()) }
    }
    fn merge(&self, a: f32, b: f32) -> f32 {
        if self.max { max_f32(a, b) } else { min_f32(a, b) }
    }
    fn finish(&self, a: f32, _: usize) -> f64 {
        a as f64
    }
}

/// Integer sum (wrapped into i32) or mean (f32), exact in i64.
struct ISum {
    mean: bool,
}

impl<T: Elem> Red<T> for ISum {
    type A = i64;
    fn init(&self) -> i64 {
        0
    }
    #[inline(always)]
    fn step(&self, a: i64, x: T) -> i64 {
        a.wrapping_add(x.to_i32() as i64)
    }
    fn merge(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    fn finish(&self, a: i64, count: usize) -> f64 {
        if self.mean { a as f64 / count as f64 } else { a as i32 as f64 }
    }
}

/// Integer max or min.
struct IExt {
    max: bool,
}

impl<T: Elem> Red<T> for IExt {
    type A = i32;
    fn init(&self) -> i32 {
        if self.max { i32::MIN } else { i32::MAX }
    }
    #[inline(always)]
    fn step(&self, a: i32, x: T) -> i32 {
        if self.max { a.max(x.to_i32()) } else { a.min(x.to_i32()) }
    }
    fn merge(&self, a: i32, b: i32) -> i32 {
        if self.max { a.max(b) } else { a.min(b) }
    }
    fn finish(&self, a: i32, _: usize) -> f64 {
        a as f64
    }
}

/// Runs a validated [`ReduceDesc`].
pub(crate) fn reduce(d: &ReduceDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let x = input("reduce", inputs, 0)?;
    let (shape, st) = (x.view.shape(), x.view.strides());
    if x.dtype != d.dtype || out.dtype != d.out_dtype || d.reduced_rank > shape.len() {
        return Err(unsupported(&Op::Reduce(d.clone())));
    }
    let kr = shape.len() - d.reduced_rank;
    let job = ReduceJob {
        op: d.op,
        data: Data::new(x.bytes, x.dtype),
        kept: Layout::from_parts(&shape[..kr], &st[..kr], x.view.offset()),
        red: Layout::from_parts(&shape[kr..], &st[kr..], 0),
    };
    with_dense_out(out, false, &job)
}

struct ReduceJob<'a> {
    op: ReduceOp,
    data: Data<'a>,
    kept: Layout,
    red: Layout,
}

impl DenseFn for &ReduceJob<'_> {
    fn call<O: Elem>(self, dst: &mut [O]) -> Result<()> {
        let float = self.data.dtype().is_float();
        with_data!(&self.data, |s| match (self.op, float) {
            (ReduceOp::Sum, true) => self.run(&FSum { mean: false }, s, dst),
            (ReduceOp::Mean, true) => self.run(&FSum { mean: true }, s, dst),
            (ReduceOp::Max, true) => self.run(&FExt { max: true }, s, dst),
            (ReduceOp::Min, true) => self.run(&FExt { max: false }, s, dst),
            (ReduceOp::Sum, false) => self.run(&ISum { mean: false }, s, dst),
            (ReduceOp::Mean, false) => self.run(&ISum { mean: true }, s, dst),
            (ReduceOp::Max, false) => self.run(&IExt { max: true }, s, dst),
            (ReduceOp::Min, false) => self.run(&IExt { max: false }, s, dst),
        });
        Ok(())
    }
}

impl ReduceJob<'_> {
    fn run<T: Elem, O: Elem, R: Red<T>>(&self, r: &R, s: &[T], dst: &mut [O]) {
        let count = self.red.numel();
        let threads = par::threads();
        if dst.len() < 2 * threads && count >= 2 * TASK && threads > 1 {
            // Few outputs, long reductions: split each reduction.
            let blocks = count.div_ceil(TASK);
            for (q, d) in dst.iter_mut().enumerate() {
                let base = self.kept.offset_of(q);
                let mut parts: Vec<Option<R::A>> = (0..blocks).map(|_| None).collect();
                par::chunks(&mut parts, 1, |b, part| {
                    let start = b * TASK;
                    part[0] = Some(self.one(r, s, base, start, TASK.min(count - start), r.init()));
                });
                // Merged in block order, whichever thread computed each.
                let a = parts.into_iter().flatten().fold(r.init(), |a, p| r.merge(a, p));
                *d = O::from_f64(r.finish(a, count));
            }
            return;
        }
        let per_task = (TASK / count.max(1)).max(1);
        let (ki, ks) = self.kept.inner();
        let columns = self.red.inner().1 != 1 && ks == 1 && ki >= 8 && count > 0;
        let body = |q0: usize, chunk: &mut [O]| {
            let mut vals = [0f64; LANES];
            for (bi, block) in chunk.chunks_mut(LANES).enumerate() {
                let start = q0 + bi * LANES;
                let vals = &mut vals[..block.len()];
                if columns {
                    self.columns(r, s, start, vals, count);
                } else {
                    for (i, v) in vals.iter_mut().enumerate() {
                        let a = self.one(r, s, self.kept.offset_of(start + i), 0, count, r.init());
                        *v = r.finish(a, count);
                    }
                }
                block.iter_mut().zip(vals.iter()).for_each(|(d, &v)| *d = O::from_f64(v));
            }
        };
        if dst.len() <= per_task || threads == 1 {
            body(0, dst);
        } else {
            par::chunks(dst, per_task, |i, c| body(i * per_task, c));
        }
    }

    /// Folds reduced elements `start..start + len` at `base` into `a`.
    fn one<T: Elem, R: Red<T>>(&self, r: &R, s: &[T], base: usize, start: usize, len: usize, mut a: R::A) -> R::A {
        self.red.runs(start, len, |off, st, cnt| {
            let o = base + off;
            a = if st == 1 { r.feed(a, &s[o..o + cnt]) } else { (0..cnt).fold(a, |a, i| r.step(a, s[o + i * st])) };
        });
        a
    }

    /// Outputs `start..start + vals.len()` reduced together, lane by lane.
    fn columns<T: Elem, R: Red<T>>(&self, r: &R, s: &[T], start: usize, vals: &mut [f64], count: usize) {
        let mut pos = 0;
        self.kept.runs(start, vals.len(), |koff, kst, kcnt| {
            let mut acc = [r.init(); LANES];
            let acc = &mut acc[..kcnt];
            self.red.runs(0, count, |roff, rst, rcnt| {
                for i in 0..rcnt {
                    let o = koff + roff + i * rst;
                    if kst == 1 {
                        for (a, &x) in acc.iter_mut().zip(&s[o..o + kcnt]) {
                            *a = r.step(*a, x);
                        }
                    } else {
                        for (t, a) in acc.iter_mut().enumerate() {
                            *a = r.step(*a, s[o + t * kst]);
                        }
                    }
                }
            });
            for (v, &a) in vals[pos..pos + kcnt].iter_mut().zip(acc.iter()) {
                *v = r.finish(a, count);
            }
            pos += kcnt;
        });
    }
}

/// Runs a validated [`SoftmaxDesc`].
pub(crate) fn softmax(d: &SoftmaxDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let x = input("softmax", inputs, 0)?;
    if x.dtype != d.dtype || out.dtype != d.dtype || !d.dtype.is_float() || x.view.rank() == 0 {
        return Err(unsupported(&Op::Softmax(d.clone())));
    }
    with_dense_out(out, false, Softmax { log: d.log, x })
}

struct Softmax<'a> {
    log: bool,
    x: HostIn<'a>,
}

impl DenseFn for Softmax<'_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        // Same dtype in and out: read the input as `T`.
        let src = typed::<T>(self.x.bytes);
        let (shape, st) = (self.x.view.shape(), self.x.view.strides());
        let r = shape.len();
        let rows = Layout::from_parts(&shape[..r - 1], &st[..r - 1], self.x.view.offset());
        let (len, ls) = (shape[r - 1], st[r - 1]);
        let per_task = (TASK / len).max(1);
        let log = self.log;
        let body = |row0: usize, chunk: &mut [T], buf: &mut Vec<f64>| {
            for (i, out) in chunk.chunks_mut(len).enumerate() {
                let base = rows.offset_of(row0 + i);
                buf.clear();
                buf.extend((0..len).map(|t| src[base + t * ls].to_f64()));
                let m = buf.iter().fold(f32::NEG_INFINITY, |a, &x| max_f32(a, x as f32)) as f64;
                if log {
                    let s: f64 = buf.iter().map(|&x| (x - m).exp()).sum();
                    let ln = s.ln();
                    out.iter_mut().zip(buf.iter()).for_each(|(o, &x)| *o = T::from_f64((x - m) - ln));
                } else {
                    buf.iter_mut().for_each(|x| *x = (*x - m).exp());
                    let s: f64 = buf.iter().sum();
                    out.iter_mut().zip(buf.iter()).for_each(|(o, &e)| *o = T::from_f64(e / s));
                }
            }
        };
        par::chunks_init(dst, per_task * len, Vec::new, |buf, i, c| body(i * per_task, c, buf));
        Ok(())
    }
}
