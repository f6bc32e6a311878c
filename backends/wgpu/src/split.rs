//! Work split for operands larger than one storage binding.
//!
//! A kernel sees each operand through one storage binding, and an adapter caps a binding at
//! `max_storage_buffer_binding_size` (128 MiB on lavapipe and many GPUs) while its buffers may
//! be larger (`max_buffer_size`, 2 GiB - 1 on lavapipe). [`plan`] turns an op whose operands
//! live in buffers past that limit into pieces: each piece binds only the byte range its views
//! touch in each such buffer (offset aligned down to `min_storage_buffer_offset_alignment`,
//! size rounded up to whole words, so sub-word dtypes keep their word layout), its views'
//! element offsets rebased to that range, and its op rebuilt for the piece's shape (a matmul
//! piece is a matmul with fewer rows), so each piece lowers to a kernel with the right header.
//!
//! Pieces cut the output's outer dims; which inputs are cut with it depends on the op:
//! - unary, binary, cast: every input (core's canonical views have the output's shape, stride
//!   0 on broadcast dims);
//! - reduce: the input's kept dims (the output's dims); softmax: every dim but the last;
//! - matmul: `a` and the residual along the batch dims and m, `b` along the batch dims only,
//!   the bias never;
//! - convolution (forward and transposed): input, output and residual along N; weights and
//!   bias never.
//!
//! An op whose large operands' views fit a binding as they are runs as one piece. Otherwise
//! the split axis is the outermost output dim along which one index fits, and each piece takes
//! as many indices of it as fit (the dims outside it one index at a time). An operand that
//! cannot fit even in the smallest piece (one row of a matmul's `a`, a whole `b`, the input of
//! a reduction over every axis) is an `Error::InvalidArgument` naming the op, the operand, the
//! bytes of its smallest piece and the limit.

use accel_core::{DType, Error, Op, Result, View};
use accel_kernels::wgsl::MAX_RANK;
use std::borrow::Cow;

/// An operand's view inside its binding, in elements (inline: no allocation per launch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sub {
    pub(crate) offset: usize,
    rank: usize,
    shape: [usize; MAX_RANK],
    strides: [usize; MAX_RANK],
}

impl Sub {
    fn new(op: &'static str, view: &View) -> Result<Sub> {
        let rank = view.rank();
        if rank > MAX_RANK {
            return Err(Error::invalid(op, "operand", format!("rank <= {MAX_RANK} on wgpu"), rank.to_string()));
        }
        let mut s = Sub { offset: view.offset(), rank, shape: [0; MAX_RANK], strides: [0; MAX_RANK] };
        s.shape[..rank].copy_from_slice(view.shape());
        s.strides[..rank].copy_from_slice(view.strides());
        Ok(s)
    }

    pub(crate) fn shape(&self) -> &[usize] {
        &self.shape[..self.rank]
    }

    pub(crate) fn strides(&self) -> &[usize] {
        &self.strides[..self.rank]
    }

    pub(crate) fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// Elements from the first touched to one past the last (0 when empty).
    fn extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        1 + self.shape().iter().zip(self.strides()).map(|(&d, &s)| (d - 1) * s).sum::<usize>()
    }

    /// The part of this view under output indices `idx[..axis]` (one each) and `start..start +
    /// rows` along `axis`, for an operand sharing its first `shared` dims with the output.
    fn cut(mut self, shared: usize, axis: usize, idx: &[usize], start: usize, rows: usize) -> Sub {
        for (d, &i) in idx.iter().enumerate().take(axis.min(shared).min(self.rank)) {
            self.offset += i * self.strides[d];
            self.shape[d] = 1;
        }
        if axis < shared.min(self.rank) {
            self.offset += start * self.strides[axis];
            self.shape[axis] = rows;
        }
        self
    }
}

/// One operand as the planner sees it: its view, dtype and the size of its buffer in bytes.
pub(crate) struct Arg<'a> {
    pub(crate) view: &'a View,
    pub(crate) dtype: DType,
    pub(crate) buffer_bytes: u64,
}

/// One launch: the op for this piece, each operand's view (inputs, then the output) and the
/// byte range `(offset, size)` bound for it (`None`: the whole buffer, views unchanged).
pub(crate) struct Piece<'o> {
    pub(crate) op: Cow<'o, Op>,
    pub(crate) views: Vec<Sub>,
    pub(crate) ranges: Vec<Option<(u64, u64)>>,
}

/// What a binding may span on this device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Largest binding in bytes (the adapter's, or lower for tests).
    pub(crate) binding: u64,
    /// `min_storage_buffer_offset_alignment` (a power of two, at least 4).
    pub(crate) align: u64,
}

/// How the operands follow a split: per input, the leading output dims it is cut along with
/// the output; how many leading output dims a split may cut; and the rule, for errors.
fn roles(op: &Op, inputs: usize, in_rank: usize, out_rank: usize) -> (Vec<usize>, usize, &'static str) {
    let all = usize::MAX;
    match op {
        Op::Unary(_) | Op::Binary(_) | Op::Cast(_) => {
            (vec![all; inputs], out_rank, "every operand is cut along the output's dims")
        }
        Op::Reduce(d) => {
            let kept = in_rank.saturating_sub(d.reduced_rank).min(out_rank);
            (vec![kept; inputs], kept, "the input is cut along the kept dims only")
        }
        Op::Softmax(_) => {
            (vec![all; inputs], out_rank.saturating_sub(1), "the input is cut along every dim but the last")
        }
        Op::Matmul(d) => {
            let batch = out_rank.saturating_sub(2);
            let mut shared = vec![all, batch];
            shared.extend((2..inputs).map(|i| if d.epilogue.bias && i == 2 { 0 } else { all }));
            (shared, batch + 1, "a is cut along batch dims and m, b along batch dims only, the bias not at all")
        }
        Op::Conv(d) | Op::ConvTranspose(d) => {
            let mut shared = vec![all, 0];
            shared.extend((2..inputs).map(|i| if d.epilogue.bias && i == 2 { 0 } else { all }));
            (shared, 1, "the input is cut along N only, the weights and bias not at all")
        }
        _ => (vec![0; inputs], 0, "this op is not split"),
    }
}

/// The operand's name in errors.
fn arg_name(op: &Op, slot: usize, inputs: usize) -> &'static str {
    if slot == inputs {
        return "out";
    }
    let epi = |bias: bool| if bias && slot == 2 { "bias" } else { "residual" };
    match (op, slot) {
        (Op::Matmul(_), 0) | (Op::Binary(_), 0) => "a",
        (Op::Matmul(_), 1) | (Op::Binary(_), 1) => "b",
        (Op::Matmul(d), _) => epi(d.epilogue.bias),
        (Op::Conv(_) | Op::ConvTranspose(_), 0) => "input",
        (Op::Conv(_) | Op::ConvTranspose(_), 1) => "weight",
        (Op::Conv(d) | Op::ConvTranspose(d), _) => epi(d.epilogue.bias),
        _ => "x",
    }
}

/// `op` with the shape of a piece whose output has dims `out`.
fn sub_op<'o>(op: &'o Op, out: &[usize]) -> Cow<'o, Op> {
    match op {
        Op::Matmul(d) if out.len() >= 2 => {
            let mut d = d.clone();
            d.batch = out[..out.len() - 2].to_vec();
            d.m = out[out.len() - 2];
            Cow::Owned(Op::Matmul(d))
        }
        Op::Conv(d) | Op::ConvTranspose(d) if !out.is_empty() => {
            let mut d = d.clone();
            d.batch = out[0];
            Cow::Owned(if matches!(op, Op::Conv(_)) { Op::Conv(d) } else { Op::ConvTranspose(d) })
        }
        _ => Cow::Borrowed(op),
    }
}

/// The pieces `op` runs as; `args` are its inputs, then its output.
pub(crate) fn plan<'o>(op: &'o Op, args: &[Arg<'_>], lim: Limits) -> Result<Vec<Piece<'o>>> {
    let name = op.kind().name();
    let views = args.iter().map(|a| Sub::new(name, a.view)).collect::<Result<Vec<_>>>()?;
    let large: Vec<bool> = args.iter().map(|a| a.buffer_bytes > lim.binding).collect();
    let Some(out) = views.last().copied() else { return Ok(Vec::new()) };
    if !large.contains(&true) || out.numel() == 0 {
        return Ok(vec![Piece { op: Cow::Borrowed(op), ranges: vec![None; views.len()], views }]);
    }
    let inputs = args.len() - 1;
    let in_rank = views.first().map_or(0, |v| v.rank);
    let (mut shared, axes, rule) = roles(op, inputs, in_rank, out.rank);
    shared.push(usize::MAX);
    // Bytes operand i needs for a piece of `rows` indices along `axis` (`None`: no cut), with
    // room for the worst alignment of where the piece starts.
    let need = |i: usize, cut: Option<(usize, usize)>| -> u64 {
        let v = match cut {
            Some((axis, rows)) => views[i].cut(shared[i], axis, &[0; MAX_RANK], 0, rows),
            None => views[i],
        };
        (v.extent() * args[i].dtype.size()) as u64
    };
    let slack = lim.align + 4;
    let fits = |cut| (0..args.len()).all(|i| !large[i] || need(i, cut) + slack <= lim.binding);
    if fits(None) {
        return pieces(op, args, &views, &shared, None, lim);
    }
    for axis in 0..axes.min(out.rank) {
        if !fits(Some((axis, 1))) {
            continue;
        }
        let (mut lo, mut hi) = (1, out.shape[axis]);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(Some((axis, mid))) { lo = mid } else { hi = mid - 1 }
        }
        return pieces(op, args, &views, &shared, Some((axis, lo)), lim);
    }
    // Nothing fits: name the operand whose smallest piece is too large.
    let smallest = axes.min(out.rank).checked_sub(1).map(|axis| (axis, 1));
    let i = (0..args.len()).find(|&i| large[i] && need(i, smallest) + slack > lim.binding).unwrap_or(inputs);
    Err(Error::invalid(
        name,
        arg_name(op, i, inputs),
        format!(
            "at most {} bytes per storage binding (max_storage_buffer_binding_size) less {slack} bytes of \
             alignment room; {name} runs in pieces where {rule}",
            lim.binding
        ),
        format!("{} bytes in its smallest piece", need(i, smallest)),
    ))
}

/// Builds the pieces of a split along `cut = (axis, rows)` (`None`: one piece).
fn pieces<'o>(
    op: &'o Op,
    args: &[Arg<'_>],
    views: &[Sub],
    shared: &[usize],
    cut: Option<(usize, usize)>,
    lim: Limits,
) -> Result<Vec<Piece<'o>>> {
    let name = op.kind().name();
    let out = views[views.len() - 1];
    let (axis, rows) = cut.unwrap_or((0, out.shape().first().copied().unwrap_or(1)));
    let dims = out.shape();
    let outer: usize = if cut.is_some() { dims[..axis].iter().product() } else { 1 };
    let along = if cut.is_some() { dims[axis] } else { rows };
    let mut out_pieces = Vec::new();
    for o in 0..outer {
        let mut idx = [0usize; MAX_RANK];
        let mut rest = o;
        for d in (0..axis).rev() {
            idx[d] = rest % dims[d];
            rest /= dims[d];
        }
        let mut start = 0;
        while start < along {
            let n = rows.min(along - start);
            let mut pviews = Vec::with_capacity(views.len());
            let mut ranges = Vec::with_capacity(views.len());
            for (i, v) in views.iter().enumerate() {
                let mut v = if cut.is_some() { v.cut(shared[i], axis, &idx[..axis], start, n) } else { *v };
                let range = if args[i].buffer_bytes > lim.binding {
                    Some(rebase(&mut v, &args[i], lim, name, arg_name(op, i, views.len() - 1))?)
                } else {
                    None
                };
                pviews.push(v);
                ranges.push(range);
            }
            let pop = sub_op(op, pviews[pviews.len() - 1].shape());
            out_pieces.push(Piece { op: pop, views: pviews, ranges });
            start += n;
        }
    }
    Ok(out_pieces)
}

/// The byte range `(offset, size)` to bind for `v`, with `v`'s offset made relative to it.
fn rebase(v: &mut Sub, arg: &Arg<'_>, lim: Limits, op: &'static str, name: &str) -> Result<(u64, u64)> {
    let es = arg.dtype.size() as u64;
    if v.numel() == 0 {
        // Nothing is read or written: any one word will do.
        v.offset = 0;
        return Ok((0, 4));
    }
    let first = v.offset as u64 * es;
    let lo = first / lim.align * lim.align;
    let hi = ((v.offset + v.extent()) as u64 * es).div_ceil(4) * 4;
    if hi - lo > lim.binding || hi > arg.buffer_bytes {
        // The planner sized pieces to fit: reaching this is a planner bug, reported, not bound.
        return Err(Error::invalid(
            op,
            name,
            format!("a piece inside both the binding limit ({} bytes) and its buffer", lim.binding),
            format!("bytes {lo}..{hi} of a {}-byte buffer", arg.buffer_bytes),
        ));
    }
    v.offset = ((first - lo) / es) as usize;
    Ok((lo, hi - lo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_core::op::{BinaryDesc, BinaryOp, EpilogueDesc, MatmulDesc, ReduceDesc, ReduceOp, UnaryDesc, UnaryOp};

    fn view(shape: &[usize], strides: &[usize], offset: usize) -> View {
        View::from_parts("test", shape.to_vec(), strides.to_vec(), offset, usize::MAX / 8).unwrap()
    }

    const LIM: Limits = Limits { binding: 1024, align: 32 };

    #[test]
    fn small_operands_run_whole() {
        let op = Op::Binary(BinaryDesc { op: BinaryOp::Add, dtype: DType::F32 });
        let v = view(&[4, 4], &[4, 1], 0);
        let args: Vec<Arg> = (0..3).map(|_| Arg { view: &v, dtype: DType::F32, buffer_bytes: 64 }).collect();
        let p = plan(&op, &args, LIM).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].ranges, vec![None; 3]);
    }

    #[test]
    fn elementwise_cuts_rows_and_rebases_offsets() {
        // [100, 10] f32 = 4000 bytes; a piece holds (1024 - 36) / 40 = 24 rows.
        let op = Op::Binary(BinaryDesc { op: BinaryOp::Add, dtype: DType::F32 });
        let a = view(&[100, 10], &[10, 1], 0);
        let b = view(&[100, 10], &[0, 1], 0);
        let args = [
            Arg { view: &a, dtype: DType::F32, buffer_bytes: 4000 },
            Arg { view: &b, dtype: DType::F32, buffer_bytes: 40 },
            Arg { view: &a, dtype: DType::F32, buffer_bytes: 4000 },
        ];
        let p = plan(&op, &args, LIM).unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(p[0].views[2].shape(), &[24, 10]);
        assert_eq!(p[4].views[2].shape(), &[4, 10]);
        // Piece 1 starts at element 240 (byte 960, aligned: 960): offset 0 in its range.
        assert_eq!(p[1].ranges[0], Some((960, 960)));
        assert_eq!((p[1].views[0].offset, p[1].views[1].offset, p[1].ranges[1]), (0, 0, None));
        // Sub-word output: u8 rows of 10 bytes start mid-word; the range starts aligned below.
        let args = [
            Arg { view: &a, dtype: DType::U8, buffer_bytes: 2000 },
            Arg { view: &b, dtype: DType::U8, buffer_bytes: 12 },
            Arg { view: &a, dtype: DType::U8, buffer_bytes: 1000 },
        ];
        let p = plan(&op, &args, Limits { binding: 190, align: 32 }).unwrap();
        let rows = p[0].views[2].shape()[0];
        assert_eq!(rows, (190 - 36) / 10);
        let (lo, size) = p[1].ranges[2].unwrap();
        assert_eq!((lo, p[1].views[2].offset), ((rows as u64 * 10) / 32 * 32, rows * 10 % 32));
        assert!(size % 4 == 0 && size <= 190 && lo % 32 == 0);
    }

    #[test]
    fn matmul_cuts_a_along_m_and_b_only_along_batch() {
        let d = MatmulDesc {
            batch: vec![3],
            m: 50,
            n: 4,
            k: 2,
            dtype: DType::F32,
            b_dtype: DType::F32,
            out_dtype: DType::F32,
            alpha: 1.0,
            beta: 0.0,
            zero_points: (0, 0),
            epilogue: EpilogueDesc::default(),
        };
        let op = Op::Matmul(d);
        let a = view(&[3, 50, 2], &[100, 2, 1], 0);
        let b = view(&[3, 2, 4], &[8, 4, 1], 0);
        let c = view(&[3, 50, 4], &[200, 4, 1], 0);
        let args = [
            Arg { view: &a, dtype: DType::F32, buffer_bytes: 1200 },
            Arg { view: &b, dtype: DType::F32, buffer_bytes: 96 },
            Arg { view: &c, dtype: DType::F32, buffer_bytes: 2400 },
        ];
        // One batch's output is 800 bytes: the split is along batch, one matrix per piece.
        let p = plan(&op, &args, LIM).unwrap();
        assert_eq!(p.len(), 3);
        let Op::Matmul(d1) = &*p[1].op else { panic!() };
        assert_eq!((d1.batch.clone(), d1.m), (vec![1], 50));
        assert_eq!((p[1].views[1].shape(), p[1].views[1].offset), (&[1, 2, 4][..], 8));
        // Smaller: along m, b whole per batch.
        let p = plan(&op, &args, Limits { binding: 200, align: 32 }).unwrap();
        let Op::Matmul(d0) = &*p[0].op else { panic!() };
        assert_eq!(d0.m, (200 - 36) / 16);
        assert_eq!(p[0].views[1].shape(), &[1, 2, 4]);
        // A limit below one batch of b (b cannot be cut along k): an error naming b.
        let err = plan(&op, &args, Limits { binding: 60, align: 32 }).err().unwrap();
        assert!(err.to_string().starts_with("matmul: b is 32 bytes in its smallest piece"), "{err}");
    }

    #[test]
    fn a_small_view_of_a_large_buffer_binds_its_range_only() {
        // Bytes 4004..4044 of an 8000-byte buffer: one piece, bound from the aligned 4000.
        let op = Op::Unary(UnaryDesc { op: UnaryOp::Neg, dtype: DType::F32 });
        let (x, o) = (view(&[10], &[1], 1001), view(&[10], &[1], 0));
        let args = [
            Arg { view: &x, dtype: DType::F32, buffer_bytes: 8000 },
            Arg { view: &o, dtype: DType::F32, buffer_bytes: 40 },
        ];
        let p = plan(&op, &args, LIM).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].ranges, vec![Some((4000, 44)), None]);
        assert_eq!((p[0].views[0].offset, p[0].views[1].offset), (1, 0));
    }

    #[test]
    fn reduce_cuts_kept_dims_only() {
        let desc =
            |reduced_rank| ReduceDesc { op: ReduceOp::Sum, dtype: DType::F32, out_dtype: DType::F32, reduced_rank };
        let op = Op::Reduce(desc(1));
        let x = view(&[30, 20], &[20, 1], 0);
        let o = view(&[30], &[1], 0);
        let args = [
            Arg { view: &x, dtype: DType::F32, buffer_bytes: 2400 },
            Arg { view: &o, dtype: DType::F32, buffer_bytes: 120 },
        ];
        // Rows of 80 bytes: (1024 - 36) / 80 = 12 a piece, each reading whole rows.
        let p = plan(&op, &args, LIM).unwrap();
        let shapes: Vec<_> = p.iter().map(|p| (p.views[0].shape().to_vec(), p.views[1].shape().to_vec())).collect();
        assert_eq!(shapes, [(vec![12, 20], vec![12]), (vec![12, 20], vec![12]), (vec![6, 20], vec![6])]);
        // A reduction over every axis has no kept dim: an error naming the input and the limit.
        let s = view(&[], &[], 0);
        let args = [
            Arg { view: &x, dtype: DType::F32, buffer_bytes: 2400 },
            Arg { view: &s, dtype: DType::F32, buffer_bytes: 4 },
        ];
        let err = plan(&Op::Reduce(desc(2)), &args, LIM).err().unwrap().to_string();
        assert!(err.starts_with("reduce: x is 2400 bytes in its smallest piece") && err.contains("1024"), "{err}");
    }
}
