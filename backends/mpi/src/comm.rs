//! [`MpiComm`]: core's [`Communicator`] over `MPI_COMM_WORLD`.
//!
//! Every call: validate locally (core's [`Call::validate`]); exchange a small fingerprint
//! with every rank (one 64-byte all-gather), so a rank whose call differs in collective,
//! dtype, element count, root or sequence number is named in a [`Error::CommMismatch`] on
//! every rank instead of corrupting a peer's buffer or hanging; stage the tensor through
//! host memory (reusable buffers, widened for reductions); one blocking MPI collective
//! under the watchdog's deadline; write the result back.

use crate::env::Watchdog;
use crate::reduce::{Wide, combine, finish, finish_narrow, widen};
use accel_core::comm::host::{read_bytes, with_buffer, write_bytes};
use accel_core::comm::{Call, Collective, Communicator, DEFAULT_TIMEOUT, ReduceOp, Work};
use accel_core::{DType, Device, Error, Result, Tensor};
use accel_cpu::CpuBuffer;
use mpi::collective::{SystemOperation, UserOperation};
use mpi::datatype::{DynBuffer, DynBufferMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Destination, Root, Source};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tag of point-to-point tensor messages.
const TAG: i32 = 0x0acc;

/// Options of an [`MpiComm`].
#[derive(Debug, Clone)]
pub struct MpiOptions {
    /// Reduce every element as `((x₀ ⊕ x₁) ⊕ x₂) ⊕ …` in rank order (all-gather, then a
    /// local fold): bit-identical to `LocalGroup`'s deterministic mode, at n× the traffic.
    /// Without it the MPI library picks the order (every rank still gets the same bits on
    /// the MPI implementations tested, OpenMPI 4.1).
    pub deterministic: bool,
    /// Compare the reduce op too (the fingerprint always covers collective, dtype, element
    /// count, root and sequence number).
    pub debug: bool,
    /// Deadline of each blocking call (default [`DEFAULT_TIMEOUT`]); past it, the job is
    /// aborted (see the crate docs).
    pub timeout: Duration,
}

impl Default for MpiOptions {
    fn default() -> Self {
        MpiOptions { deterministic: false, debug: false, timeout: DEFAULT_TIMEOUT }
    }
}

/// Reusable staging buffers (u64 words, so f32/i64 views are aligned).
#[derive(Debug, Default)]
struct Stage {
    raw: Vec<u64>,
    send: Vec<u64>,
    recv: Vec<u64>,
}

fn bytes(v: &mut Vec<u64>, n: usize) -> &mut [u8] {
    let words = n.div_ceil(8);
    if v.len() < words {
        v.resize(words, 0);
    }
    &mut bytemuck::cast_slice_mut(v.as_mut_slice())[..n]
}

/// One rank of `MPI_COMM_WORLD` (see the crate docs). Calls on one communicator are
/// serialized; non-blocking forms run eagerly and return a completed [`Work`].
#[derive(Debug)]
pub struct MpiComm<'mpi> {
    rank: usize,
    size: usize,
    device: Device,
    options: MpiOptions,
    timeout: Mutex<Duration>,
    seq: AtomicU64,
    aborted: Mutex<Option<String>>,
    stage: Mutex<Stage>,
    watchdog: Arc<Watchdog>,
    _mpi: PhantomData<&'mpi ()>,
}

impl<'mpi> MpiComm<'mpi> {
    pub(crate) fn new(
        rank: usize,
        size: usize,
        device: Device,
        options: MpiOptions,
        watchdog: Arc<Watchdog>,
    ) -> MpiComm<'mpi> {
        MpiComm {
            rank,
            size,
            device,
            timeout: Mutex::new(options.timeout),
            options,
            seq: AtomicU64::new(1),
            aborted: Mutex::new(None),
            stage: Mutex::new(Stage::default()),
            watchdog,
            _mpi: PhantomData,
        }
    }

    /// The device this rank's tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The options.
    pub fn options(&self) -> &MpiOptions {
        &self.options
    }

    fn check_aborted(&self, op: &'static str) -> Result<()> {
        match &*self.aborted.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(reason) => Err(Error::CommAborted { op, rank: self.rank, reason: reason.clone() }),
            None => Ok(()),
        }
    }

    fn abort_comm(&self, reason: String) {
        *self.aborted.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    /// MPI counts are C ints: larger messages are refused (not truncated).
    fn check_count(&self, op: &'static str, elems: usize) -> Result<()> {
        if elems > i32::MAX as usize {
            return Err(Error::invalid(
                op,
                "tensor",
                format!("at most {} elements per MPI message", i32::MAX),
                format!("{elems} elements"),
            ));
        }
        Ok(())
    }

    /// Exchanges fingerprints; every rank sees the same table, so every rank reports the
    /// same mismatch (or none) and no data moves after one.
    fn agree(&self, world: &SimpleCommunicator, call: &Call, seq: u64) -> Result<()> {
        let op = call.name();
        let mine = words(call, seq, self.size, self.options.debug);
        let mut all = vec![0u64; 8 * self.size];
        {
            let _armed = self.watchdog.arm(op, seq, self.size, self.timeout());
            world.all_gather_into(&mine[..], &mut all[..]);
        }
        for (r, theirs) in all.chunks_exact(8).enumerate() {
            if theirs != mine {
                let err = Error::CommMismatch {
                    op,
                    seq,
                    rank: self.rank,
                    other_rank: r,
                    expected: describe(&mine),
                    got: describe(theirs),
                };
                self.abort_comm(format!("{err}"));
                return Err(err);
            }
        }
        Ok(())
    }

    fn execute(&self, world: &SimpleCommunicator, call: &Call, seq: u64) -> Result<()> {
        let op = call.name();
        let n = self.size;
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        let Stage { raw, send, recv } = &mut *stage;
        let Some(out) = &call.output else {
            let _armed = self.watchdog.arm(op, seq, n, self.timeout());
            world.barrier();
            return Ok(());
        };
        let src = call.input.as_ref().unwrap_or(out);
        let dtype = out.dtype();
        let es = dtype.size();
        let unit = call.unit(n);
        let rank = self.rank;
        match call.collective {
            Collective::Barrier => unreachable!("a barrier has no tensors (validated)"),
            Collective::AllGather => {
                self.check_count(op, unit * n * es)?;
                let s = bytes(send, unit * es);
                let from = if call.is_in_place() { rank * unit } else { 0 };
                read_bytes(src, from, s)?;
                let r = bytes(recv, unit * n * es);
                {
                    let _armed = self.watchdog.arm(op, seq, n, self.timeout());
                    world.all_gather_into(&s[..], &mut r[..]);
                }
                write_bytes(out, 0, r)
            }
            Collective::AllToAll => {
                self.check_count(op, unit * n * es)?;
                let s = bytes(send, unit * n * es);
                read_bytes(src, 0, s)?;
                let r = bytes(recv, unit * n * es);
                {
                    let _armed = self.watchdog.arm(op, seq, n, self.timeout());
                    world.all_to_all_into(&s[..], &mut r[..]);
                }
                write_bytes(out, 0, r)
            }
            Collective::Broadcast { root } => {
                self.check_count(op, unit * es)?;
                let b = bytes(send, unit * es);
                if rank == root {
                    read_bytes(src, 0, b)?;
                }
                {
                    let _armed = self.watchdog.arm(op, seq, n, self.timeout());
                    world.process_at_rank(root as i32).broadcast_into(&mut b[..]);
                }
                if rank != root || !call.is_in_place() { write_bytes(out, 0, b) } else { Ok(()) }
            }
            Collective::AllReduce { op: rop }
            | Collective::ReduceScatter { op: rop }
            | Collective::Reduce { op: rop, .. } => {
                let wide = Wide::of(dtype);
                let total = match call.collective {
                    Collective::ReduceScatter { .. } => unit * n,
                    _ => unit,
                };
                let keep = match call.collective {
                    Collective::ReduceScatter { .. } => unit,
                    _ => total,
                };
                self.check_count(op, total * if self.options.deterministic { n } else { 1 })?;
                if dtype == DType::F32
                    && !self.options.deterministic
                    && let Some(done) = self.reduce_direct(world, call, rop, seq, send)
                {
                    return done;
                }
                // Input, widened, in `send` (f32 data is read straight into it).
                let s = bytes(send, total * wide.size());
                if dtype == DType::F32 {
                    read_bytes(src, 0, s)?;
                } else {
                    let r = bytes(raw, total * es);
                    read_bytes(src, 0, r)?;
                    widen(dtype, r, s);
                }
                let result: &mut [u8] = if self.options.deterministic {
                    let all = bytes(recv, total * wide.size() * n);
                    {
                        let _armed = self.watchdog.arm(op, seq, n, self.timeout());
                        world.all_gather_into(&s[..], &mut all[..]);
                    }
                    let (acc, rest) = all.split_at_mut(total * wide.size());
                    for theirs in rest.chunks_exact(total * wide.size()) {
                        combine(wide, rop, acc, theirs);
                    }
                    match call.collective {
                        Collective::ReduceScatter { .. } => {
                            &mut acc[rank * keep * wide.size()..(rank + 1) * keep * wide.size()]
                        }
                        _ => acc,
                    }
                } else {
                    let r = bytes(recv, keep * wide.size());
                    let _armed = self.watchdog.arm(op, seq, n, self.timeout());
                    reduce_mpi(world, call.collective, rop, wide, rank, s, r);
                    r
                };
                if let Collective::Reduce { root, .. } = call.collective
                    && root != rank
                {
                    return Ok(());
                }
                let dst_at = match call.collective {
                    Collective::ReduceScatter { .. } if call.is_in_place() => rank * unit,
                    _ => 0,
                };
                if dtype == DType::F32 {
                    finish(dtype, rop, n, result);
                    write_bytes(out, dst_at, result)
                } else {
                    let r = bytes(raw, keep * es);
                    finish_narrow(dtype, rop, n, result, r);
                    write_bytes(out, dst_at, r)
                }
            }
        }
    }
}

impl MpiComm<'_> {
    /// f32 reductions on CPU tensors, handing the tensors' host memory to MPI instead of
    /// staging it: out of place there is no copy at all (MPI reads the input and writes the
    /// output, exactly as a raw `MPI_Allreduce` would); in place one copy of the input into
    /// `send` (rsmpi has no `MPI_IN_PLACE`). The tensors' buffer locks are held for the call
    /// (read on the input, write on the output, taken in the CPU backend's address order), so
    /// an op on another thread waits instead of racing with MPI. `None` (nothing communicated) when a tensor is not CPU memory, a
    /// slice is misaligned for f32, or input and output share a buffer (one buffer cannot be
    /// locked for reading and writing at once): the staged path handles those.
    fn reduce_direct(
        &self,
        world: &SimpleCommunicator,
        call: &Call,
        rop: ReduceOp,
        seq: u64,
        send: &mut Vec<u64>,
    ) -> Option<Result<()>> {
        let out = call.output.as_ref()?;
        if call.input.as_ref().is_some_and(|i| i.shares_buffer(out)) {
            return None;
        }
        let (n, rank, op) = (self.size, self.rank, call.name());
        let unit = call.unit(n);
        let (total, keep) = match call.collective {
            Collective::ReduceScatter { .. } => (unit * n, unit),
            _ => (unit, unit),
        };
        let dst = match call.collective {
            Collective::ReduceScatter { .. } if call.is_in_place() => rank * unit * 4..(rank * unit + keep) * 4,
            _ => 0..keep * 4,
        };
        let writes = !matches!(call.collective, Collective::Reduce { root, .. } if root != rank);
        // Checks before anything moves, then one MPI call; `None` only before the call.
        let reduce = |s: &[u8], r: &mut [u8]| -> Option<()> {
            let s = s.get(..total * 4)?;
            let r = r.get_mut(dst.clone())?;
            bytemuck::try_cast_slice::<u8, f32>(s).ok()?;
            bytemuck::try_cast_slice::<u8, f32>(r).ok()?;
            {
                let _armed = self.watchdog.arm(op, seq, n, self.timeout());
                reduce_mpi(world, call.collective, rop, Wide::F32, rank, s, r);
            }
            if writes {
                finish(DType::F32, rop, n, r);
            }
            Some(())
        };
        let outcome = with_buffer(out, |ob, orange| -> Option<()> {
            let ob = ob.downcast_ref::<CpuBuffer>()?;
            match &call.input {
                Some(input) => with_buffer(input, |ib, irange| {
                    let ib = ib.downcast_ref::<CpuBuffer>()?;
                    ib.with_bytes_and(ob, |i, o| reduce(i.get(irange)?, o.get_mut(orange)?))?
                })
                .ok()
                .flatten(),
                None => ob.with_bytes_mut(|o| {
                    let o = o.get_mut(orange)?;
                    let s = bytes(send, total * 4);
                    s.copy_from_slice(o.get(..total * 4)?);
                    reduce(s, o)
                }),
            }
        });
        match outcome {
            Ok(Some(())) => Some(Ok(())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// One MPI reduction of widened values `s` into `r`.
fn reduce_mpi(
    world: &SimpleCommunicator,
    collective: Collective,
    rop: ReduceOp,
    wide: Wide,
    rank: usize,
    s: &[u8],
    r: &mut [u8],
) {
    macro_rules! go {
        ($t:ty, $op:expr) => {{
            let s: &[$t] = bytemuck::cast_slice(s);
            let r: &mut [$t] = bytemuck::cast_slice_mut(r);
            match collective {
                Collective::AllReduce { .. } => world.all_reduce_into(s, r, $op),
                Collective::ReduceScatter { .. } => world.reduce_scatter_block_into(s, r, $op),
                Collective::Reduce { root, .. } if root == rank => {
                    world.process_at_rank(root as i32).reduce_into_root(s, r, $op)
                }
                Collective::Reduce { root, .. } => world.process_at_rank(root as i32).reduce_into(s, $op),
                _ => unreachable!("only reductions come here"),
            }
        }};
    }
    match (wide, rop) {
        (Wide::F32, ReduceOp::Sum | ReduceOp::Avg) => go!(f32, SystemOperation::sum()),
        (Wide::F32, ReduceOp::Prod) => go!(f32, SystemOperation::product()),
        (Wide::F32, _) => {
            // Max/Min with the contract's NaN and signed-zero rules (C's `>` is not them).
            let user = UserOperation::commutative(move |x: DynBuffer, y: DynBufferMut| {
                // OpenMPI may call the op on empty segments with null pointers, which
                // `downcast` would turn into an invalid slice.
                if x.is_empty() || x.as_ptr().is_null() || y.as_ptr().is_null() {
                    return;
                }
                if let (Some(x), Some(y)) = (x.downcast::<f32>(), y.downcast::<f32>()) {
                    accel_core::comm::host::combine_f32(rop, y, x);
                }
            });
            go!(f32, &user)
        }
        (Wide::I64, ReduceOp::Sum | ReduceOp::Avg) => go!(i64, SystemOperation::sum()),
        (Wide::I64, ReduceOp::Prod) => go!(i64, SystemOperation::product()),
        (Wide::I64, ReduceOp::Max) => go!(i64, SystemOperation::max()),
        (Wide::I64, ReduceOp::Min) => go!(i64, SystemOperation::min()),
    }
}

const COLLECTIVES: [&str; 7] =
    ["all_reduce", "all_gather", "reduce_scatter", "broadcast", "reduce", "all_to_all", "barrier"];

/// The fingerprint as 8 words: collective, reduce op (debug only), dtype, unit, root + 1,
/// seq, size, 0.
fn words(call: &Call, seq: u64, size: usize, debug: bool) -> [u64; 8] {
    let c = COLLECTIVES.iter().position(|&c| c == call.collective.name()).unwrap_or(0) as u64;
    let rop = match call.collective.reduce_op() {
        Some(op) if debug => ReduceOp::ALL.iter().position(|&o| o == op).map_or(0, |i| i as u64 + 1),
        _ => 0,
    };
    let dt = DType::ALL.iter().position(|&d| d == call.dtype()).unwrap_or(0) as u64;
    let root = call.collective.root().map_or(0, |r| r as u64 + 1);
    [c, rop, dt, call.unit(size) as u64, root, seq, size as u64, 0]
}

fn describe(w: &[u64]) -> String {
    let name = COLLECTIVES.get(w[0] as usize).copied().unwrap_or("?");
    let mut s = format!("{name}(");
    if w[1] > 0 {
        s += &format!("op {}, ", ReduceOp::ALL.get(w[1] as usize - 1).map_or("?", |o| o.name()));
    }
    s += &format!("dtype {}, {} elements per rank", DType::ALL.get(w[2] as usize).map_or("?", |d| d.name()), w[3]);
    if w[4] > 0 {
        s += &format!(", root {}", w[4] - 1);
    }
    s + &format!(", seq {})", w[5])
}

impl Communicator for MpiComm<'_> {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn transport(&self) -> &str {
        "mpi"
    }

    fn timeout(&self) -> Duration {
        *self.timeout.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_timeout(&self, timeout: Duration) {
        *self.timeout.lock().unwrap_or_else(|e| e.into_inner()) = timeout;
    }

    fn next_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    fn start(&self, call: Call) -> Result<Work> {
        let op = call.name();
        self.check_aborted(op)?;
        call.validate(self.rank, self.size, &self.device)?;
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let world = SimpleCommunicator::world();
        self.agree(&world, &call, seq)?;
        let result = self.execute(&world, &call, seq);
        Ok(Work::done(op, seq, result))
    }

    fn send(&self, tensor: &Tensor, dst: usize) -> Result<()> {
        self.check_aborted("send")?;
        self.check_peer("send", "dst", tensor, dst)?;
        let n = tensor.numel() * tensor.dtype().size();
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        let b = bytes(&mut stage.send, n);
        read_bytes(tensor, 0, b)?;
        let _armed = self.watchdog.arm("send", 0, self.size, self.timeout());
        SimpleCommunicator::world().process_at_rank(dst as i32).send_with_tag(&b[..], TAG);
        Ok(())
    }

    fn recv(&self, tensor: &Tensor, src: usize) -> Result<()> {
        self.check_aborted("recv")?;
        self.check_peer("recv", "src", tensor, src)?;
        let n = tensor.numel() * tensor.dtype().size();
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        let world = SimpleCommunicator::world();
        let (msg, status) = {
            let _armed = self.watchdog.arm("recv", 0, self.size, self.timeout());
            world.process_at_rank(src as i32).matched_probe_with_tag(TAG)
        };
        let got = status.count(<u8 as mpi::datatype::Equivalence>::equivalent_datatype()) as usize;
        let b = bytes(&mut stage.recv, got.max(n));
        msg.matched_receive_into(&mut b[..got]);
        if got != n {
            return Err(Error::shape(
                "recv",
                "tensor",
                format!("{got} bytes (the message rank {src} sent)"),
                format!("{n} bytes ({} × {})", tensor.numel(), tensor.dtype()),
            ));
        }
        write_bytes(tensor, 0, &b[..n])
    }
}

impl MpiComm<'_> {
    fn check_peer(&self, op: &'static str, arg: &str, tensor: &Tensor, peer: usize) -> Result<()> {
        if peer >= self.size || peer == self.rank {
            return Err(Error::invalid(
                op,
                arg,
                format!("another rank in 0..{} (not {})", self.size, self.rank),
                peer.to_string(),
            ));
        }
        if !tensor.device().same(&self.device) || !tensor.is_contiguous() {
            return Err(Error::invalid(op, "tensor", "a contiguous tensor on the communicator's device", "another"));
        }
        self.check_count(op, tensor.numel() * tensor.dtype().size())
    }
}
