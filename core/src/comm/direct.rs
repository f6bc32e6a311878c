//! The in-process transport's direct path for reductions between tensors in host memory.
//!
//! When every tensor a reduction reads or writes lives in a buffer registered as
//! [`HostMemory`] (CPU tensors), one rank (the leader, rank 0) borrows every rank's buffers
//! at once, in address order, and the reduction runs block by block straight between them:
//! each block's result is computed into a per-thread accumulator (`acc = x₀ ⊕ x₁`, then
//! `acc ⊕= x₂`, … for f32; through the f32/i64 accumulator of [`Scratch`] otherwise) and
//! copied from there into every output while it is still in cache. For an all-reduce that is
//! the minimum traffic: every input byte read once, every output byte written once, no
//! staging copy and no lock taken per block. Large out-of-place f32 sums, averages and
//! products go one better: the last step writes every output with the memory's streaming
//! stores ([`HostMemory::combine_streaming`]), so no output line is read before it is
//! written (a plain store's read-for-ownership is a third of the traffic of a large write). Blocks go to the leader and up to `size − 1` helper
//! threads (scoped, so they borrow the buffers) from one queue, so a rank thread that the OS
//! does not run does not hold the others up; the other ranks wait at the call's closing
//! barrier as before.
//!
//! Every element is reduced in exactly the order the generic path uses ([`Order`]: chunk `c`
//! of `n` in the order the algorithm gives chunk `c`, rank order in deterministic mode), so
//! the bits do not depend on which path, thread or block size did the work.

use super::call::{Call, Collective, ReduceOp};
use super::host::{HostMemory, host_memory};
use super::local::Post;
use super::math::{Order, Scratch, fmax, fmin};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::ops::{Deref, DerefMut, Range};
use std::sync::Mutex;

/// The rank that does the work.
pub(super) const LEADER: usize = 0;

/// Below this many bytes per output the leader works alone (a helper thread costs more to
/// start than it saves).
const HELPER_MIN_BYTES: usize = 1 << 20;

/// From this many result bytes in all (every output together) on, the last step of an f32
/// fold writes with [`HostMemory::combine_streaming`]: well past what a last-level cache
/// holds, where a plain store's read-for-ownership of each destination line is pure extra
/// memory traffic, and where the caller could not find the result in cache anyway.
const STREAM_MIN_BYTES: usize = 32 << 20;

/// What a rank's tensor is in the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Read only (an input, or a non-root in-place buffer of a reduce).
    Src(usize),
    /// Written only (an out-of-place output).
    Dst(usize),
    /// Read and written (an in-place target).
    InOut(usize),
}

/// One distinct buffer of the call.
struct Buf<'t> {
    mem: &'t dyn HostMemory,
    addr: usize,
    write: bool,
    /// (role, byte range of the tensor in the buffer).
    roles: Vec<(Role, Range<usize>)>,
}

/// The buffers of a call the direct path can serve, or `None` (then every rank takes the
/// generic path). Every rank evaluates this on the same posts, so all agree.
pub(super) struct Plan<'t> {
    bufs: Vec<Buf<'t>>,
    /// Targets (ranks whose output receives the result), in write order.
    targets: Vec<usize>,
    op: ReduceOp,
}

fn byte_range(t: &Tensor) -> Range<usize> {
    let es = t.dtype().size();
    let at = t.view().offset() * es;
    at..at + t.numel() * es
}

fn addr(t: &Tensor) -> usize {
    (&*t.storage.buffer as *const (dyn std::any::Any + Send + Sync)).cast::<()>() as usize
}

impl<'t> Plan<'t> {
    /// The plan for `call` over `posts`, when it is an all-reduce or reduce over at least two
    /// ranks whose tensors are all host memory and no written buffer is shared between roles.
    pub(super) fn new(call: &Call, posts: &'t [Post]) -> Option<Plan<'t>> {
        let n = posts.len();
        let (op, targets) = match call.collective {
            Collective::AllReduce { op } => (op, (0..n).collect::<Vec<_>>()),
            Collective::Reduce { op, root } => (op, vec![root]),
            _ => return None,
        };
        if n < 2 {
            return None;
        }
        let mut roles: Vec<(Role, &'t Tensor)> = Vec::with_capacity(2 * n);
        for (k, p) in posts.iter().enumerate() {
            let out = p.output.as_ref()?;
            let target = targets.contains(&k);
            match (&p.input, target) {
                (None, true) => roles.push((Role::InOut(k), out)),
                (None, false) => roles.push((Role::Src(k), out)),
                (Some(input), true) => {
                    roles.push((Role::Src(k), input));
                    roles.push((Role::Dst(k), out));
                }
                (Some(input), false) => roles.push((Role::Src(k), input)),
            }
        }
        let mut bufs: Vec<Buf<'t>> = Vec::with_capacity(roles.len());
        for (role, t) in roles {
            if !t.is_contiguous() {
                return None;
            }
            let a = addr(t);
            let write = !matches!(role, Role::Src(_));
            match bufs.iter_mut().find(|b| b.addr == a) {
                // Several readers may share a buffer; a written one has exactly one role.
                Some(b) if !b.write && !write => b.roles.push((role, byte_range(t))),
                Some(_) => return None,
                None => bufs.push(Buf {
                    mem: host_memory(&*t.storage.buffer)?,
                    addr: a,
                    write,
                    roles: vec![(role, byte_range(t))],
                }),
            }
        }
        bufs.sort_by_key(|b| b.addr);
        Some(Plan { bufs, targets, op })
    }

    /// Runs the whole reduction (on the leader): locks every buffer, then folds block by block
    /// on this thread and its helpers.
    pub(super) fn run(
        self,
        n: usize,
        unit: usize,
        dtype: DType,
        block_bytes: usize,
        order: impl Fn(usize) -> Order,
    ) -> Result<()> {
        enum Held<'g> {
            R(Box<dyn Deref<Target = [u8]> + 'g>),
            W(Box<dyn DerefMut<Target = [u8]> + 'g>),
        }
        // Address order, as the CPU backend's ops lock their operands.
        let mut held: Vec<Held<'_>> = self
            .bufs
            .iter()
            .map(|b| if b.write { Held::W(b.mem.host_bytes_mut()) } else { Held::R(b.mem.host_bytes()) })
            .collect();
        let es = dtype.size();
        let mut srcs: Vec<Option<Src<'_>>> = (0..n).map(|_| None).collect();
        let mut outs: Vec<Option<(Out<'_>, bool)>> = (0..n).map(|_| None).collect();
        let oob = || Error::Backend {
            backend: "local".into(),
            message: "a tensor's byte range overruns its host buffer".into(),
        };
        for (b, h) in self.bufs.iter().zip(held.iter_mut()) {
            match h {
                Held::R(bytes) => {
                    let bytes: &[u8] = bytes;
                    for (role, range) in &b.roles {
                        let Role::Src(k) = *role else { unreachable!("read-locked buffers are sources") };
                        srcs[k] = Some(Src::Ref(bytes.get(range.clone()).ok_or_else(oob)?));
                    }
                }
                Held::W(bytes) => {
                    let (role, range) = b.roles[0].clone();
                    let out = Out { bytes: bytes.get_mut(range).ok_or_else(oob)?, mem: b.mem };
                    match role {
                        Role::Dst(k) => outs[k] = Some((out, false)),
                        Role::InOut(k) => outs[k] = Some((out, true)),
                        Role::Src(_) => unreachable!("written buffers are destinations"),
                    }
                }
            }
        }
        // Target positions: outs in write order; in-place targets are their rank's source too.
        let mut rest: Vec<Out<'_>> = Vec::with_capacity(self.targets.len());
        for (i, &k) in self.targets.iter().enumerate() {
            let (out, in_place) = outs[k].take().ok_or_else(oob)?;
            if in_place {
                srcs[k] = Some(Src::Out(i));
            }
            rest.push(out);
        }
        let srcs: Vec<Src<'_>> = srcs.into_iter().map(|s| s.ok_or_else(oob)).collect::<Result<_>>()?;
        if srcs.iter().any(|s| matches!(s, Src::Ref(b) if b.len() != unit * es))
            || rest.iter().any(|o| o.bytes.len() != unit * es)
        {
            return Err(oob());
        }
        // Cut every output into blocks, chunk by chunk (chunk c is reduced in order(c)).
        let block = (block_bytes / es).max(1);
        let mut jobs: Vec<Job<'_>> = Vec::with_capacity(unit.div_ceil(block) + n);
        for c in 0..n {
            let (a, b) = chunk(unit, n, c);
            let mut at = a;
            while at < b {
                let len = block.min(b - at);
                let outs = rest
                    .iter_mut()
                    .map(|r| {
                        let (head, tail) = std::mem::take(&mut r.bytes).split_at_mut(len * es);
                        r.bytes = tail;
                        Out { bytes: head, mem: r.mem }
                    })
                    .collect();
                let srcs = srcs
                    .iter()
                    .map(|s| match s {
                        Src::Ref(bytes) => Src::Ref(&bytes[at * es..(at + len) * es]),
                        Src::Out(i) => Src::Out(*i),
                    })
                    .collect();
                jobs.push(Job { order: order(c), len, srcs, outs });
                at += len;
            }
        }
        // Scratch buffers as large as the largest block, not the block size: a small call
        // would otherwise allocate (and fault in) several block-sized buffers each time.
        let block = jobs.iter().map(|j| j.len).max().unwrap_or(1);
        let bytes = unit * es;
        let workers = if bytes >= HELPER_MIN_BYTES {
            n.min(std::thread::available_parallelism().map_or(1, |p| p.get())).max(1)
        } else {
            1
        };
        // Results this large would only push the sources out of the cache on their way to
        // memory, and the caller reads them later: stream them past the cache.
        let stream = bytes * self.targets.len() >= STREAM_MIN_BYTES;
        let op = self.op;
        let queue = Mutex::new(jobs.into_iter());
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        let work = || {
            let mut scratch: Option<Scratch> = None;
            let mut acc: Vec<f32> = Vec::new();
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(mut job) = next else { break };
                if let Err(e) = job.run(op, dtype, n, block, stream, &mut scratch, &mut acc) {
                    failed.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    break;
                }
            }
        };
        std::thread::scope(|s| {
            for w in 1..workers {
                // A helper that cannot start leaves its share to the others.
                let _ = std::thread::Builder::new().name(format!("accel-comm-direct-{w}")).spawn_scoped(s, work);
            }
            work();
        });
        drop(held);
        match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Elements `[c·len/n, (c+1)·len/n)`: chunk `c` of `n` (as the generic path cuts them).
pub(super) fn chunk(len: usize, n: usize, c: usize) -> (usize, usize) {
    let at = |i: usize| ((len as u128 * i as u128) / n as u128) as usize;
    (at(c), at(c + 1))
}

/// Where a rank's values of a block come from.
#[derive(Clone, Copy)]
enum Src<'a> {
    /// A read-only block.
    Ref(&'a [u8]),
    /// Output block `i` of the job (an in-place target, read before it is written).
    Out(usize),
}

/// One output block and the host memory it lies in (which may stream results into it).
struct Out<'a> {
    bytes: &'a mut [u8],
    mem: &'a dyn HostMemory,
}

/// One block: `len` elements of every source, reduced in `order` into every output.
struct Job<'a> {
    order: Order,
    len: usize,
    srcs: Vec<Src<'a>>,
    outs: Vec<Out<'a>>,
}

impl<'a> Job<'a> {
    /// Reduces the block and stores the result into every output, each output byte written
    /// once: f32 in sequential order straight from the sources ([`Job::fold_f32`]), anything
    /// else through `scratch`.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        op: ReduceOp,
        dtype: DType,
        n: usize,
        block: usize,
        stream: bool,
        scratch: &mut Option<Scratch>,
        acc: &mut Vec<f32>,
    ) -> Result<()> {
        if dtype == DType::F32 && self.fold_f32(op, n, stream, acc) {
            return Ok(());
        }
        let scratch = scratch.get_or_insert_with(|| Scratch::new(dtype, block));
        let (srcs, outs) = (&self.srcs, &self.outs);
        let res = scratch.fold(op, n, self.len, self.order, &mut |k, buf: &mut [u8]| {
            buf.copy_from_slice(match srcs[k] {
                Src::Ref(b) => b,
                Src::Out(i) => &outs[i].bytes[..],
            });
            Ok(())
        })?;
        self.outs.iter_mut().for_each(|out| out.bytes.copy_from_slice(res));
        Ok(())
    }

    /// Source `s` as f32 values (`None` where misaligned).
    fn f32s(&self, s: Src<'a>) -> Option<&[f32]> {
        match s {
            Src::Ref(b) => bytemuck::try_cast_slice(b).ok(),
            Src::Out(i) => bytemuck::try_cast_slice(&self.outs[i].bytes[..]).ok(),
        }
    }

    /// The f32 fold in sequential order, with no staging copy. When the first source is an
    /// in-place output, into that output ([`Job::fold_f32_in_place`]). Otherwise every source
    /// but the last into the per-thread `acc` (the first source stands for it with two
    /// ranks), then the last step straight into the outputs with streaming stores when
    /// `stream`, no output is also a source, and the memory offers them
    /// ([`HostMemory::combine_streaming`]); else the last step into `acc` and `acc` copied
    /// into every output. False,
    /// with nothing written, where it does not apply: tree order, or a misaligned source.
    fn fold_f32(&mut self, op: ReduceOp, n: usize, stream: bool, acc: &mut Vec<f32>) -> bool {
        let Order::Sequential { start } = self.order else { return false };
        let len = self.len;
        let order: Vec<Src<'a>> = (0..n).map(|k| self.srcs[(start + k) % n]).collect();
        if order.iter().any(|&s| self.f32s(s).is_none()) {
            return false;
        }
        if let Src::Out(p) = order[0] {
            self.fold_f32_in_place(op, n, p, &order);
            return true;
        }
        if acc.len() < len {
            acc.resize(len, 0.0);
        }
        let acc = &mut acc[..len];
        if n > 2 {
            first(op, acc, self.f32s(order[0]).unwrap_or_default(), self.f32s(order[1]).unwrap_or_default());
            for &s in &order[2..n - 1] {
                then(op, acc, self.f32s(s).unwrap_or_default());
            }
        }
        // Not in place (a source that is an output): there the sources' lines are in cache
        // when the result is written, and streaming stores over them measured slower.
        let read_only = |s: Src<'a>| match s {
            Src::Ref(b) => bytemuck::try_cast_slice::<u8, f32>(b).ok(),
            Src::Out(_) => None,
        };
        let last = read_only(order[n - 1]);
        let head = if n > 2 { Some(&*acc) } else { read_only(order[0]) };
        if let (true, Some(a), Some(b), Some(mem)) = (stream, head, last, self.outs.first().map(|o| o.mem))
            && order.iter().all(|&s| read_only(s).is_some())
        {
            let mut outs: Vec<&mut [u8]> = self.outs.iter_mut().map(|o| &mut *o.bytes).collect();
            if mem.combine_streaming(op, n, a, b, &mut outs) {
                return true;
            }
        }
        if n > 2 {
            then(op, acc, self.f32s(order[n - 1]).unwrap_or_default());
        } else {
            first(op, acc, self.f32s(order[0]).unwrap_or_default(), self.f32s(order[1]).unwrap_or_default());
        }
        if op == ReduceOp::Avg {
            acc.iter_mut().for_each(|v| *v /= n as f32);
        }
        let result: &[u8] = bytemuck::cast_slice(acc);
        self.outs.iter_mut().for_each(|out| out.bytes.copy_from_slice(result));
        true
    }

    /// The sequential f32 fold into output `p`, the first source of `order` (an in-place
    /// rank's buffer, already in cache as the fold reads it), then copied into the others.
    /// The caller has checked every source is aligned for f32.
    fn fold_f32_in_place(&mut self, op: ReduceOp, n: usize, p: usize, order: &[Src<'a>]) {
        let prim = std::mem::take(&mut self.outs[p].bytes);
        let acc: &mut [f32] = bytemuck::cast_slice_mut(prim);
        for &s in &order[1..] {
            // No later source is output `p` (each rank appears once in `order`).
            then(op, acc, self.f32s(s).unwrap_or_default());
        }
        if op == ReduceOp::Avg {
            acc.iter_mut().for_each(|v| *v /= n as f32);
        }
        let result: &[u8] = bytemuck::cast_slice(acc);
        for (i, out) in self.outs.iter_mut().enumerate() {
            if i != p {
                out.bytes.copy_from_slice(result);
            }
        }
        self.outs[p].bytes = bytemuck::cast_slice_mut(acc);
    }
}

/// `out = a ⊕ b`.
fn first(op: ReduceOp, out: &mut [f32], a: &[f32], b: &[f32]) {
    let it = out.iter_mut().zip(a.iter().zip(b));
    match op {
        ReduceOp::Sum | ReduceOp::Avg => it.for_each(|(o, (a, b))| *o = *a + *b),
        ReduceOp::Prod => it.for_each(|(o, (a, b))| *o = *a * *b),
        ReduceOp::Max => it.for_each(|(o, (&a, &b))| *o = fmax(a, b)),
        ReduceOp::Min => it.for_each(|(o, (&a, &b))| *o = fmin(a, b)),
    }
}

/// `acc = acc ⊕ b`.
fn then(op: ReduceOp, acc: &mut [f32], b: &[f32]) {
    let it = acc.iter_mut().zip(b);
    match op {
        ReduceOp::Sum | ReduceOp::Avg => it.for_each(|(a, b)| *a += *b),
        ReduceOp::Prod => it.for_each(|(a, b)| *a *= *b),
        ReduceOp::Max => it.for_each(|(a, &b)| *a = fmax(*a, b)),
        ReduceOp::Min => it.for_each(|(a, &b)| *a = fmin(*a, b)),
    }
}
