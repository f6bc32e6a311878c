//! [`LocalGroup`]: the in-process transport, one [`LocalComm`] per device, one thread per rank.
//!
//! How data moves: each call is posted (fingerprint plus tensor handles) into the group's
//! shared state; once every rank has arrived, rank `r` does its share directly on the peers'
//! tensors through the generic device API (`read`/`write` of byte ranges, so any backend
//! works, and devices can be mixed): for a reduction it folds chunk `r` of every rank's input
//! block by block (L2-sized blocks, in the order the algorithm defines) and writes the result
//! into every rank's output. Each rank thus reads and writes about `S` bytes per all-reduce,
//! all ranks in parallel, with no staging copy. A second barrier ends the call, since outputs
//! are written by peers. In shared memory every algorithm moves data this way; the algorithm
//! ([`Algorithm`]) decides the reduction order (so the bits, as a real ring or tree would
//! produce them) and the modeled interconnect time reported to emulated devices.
//!
//! All-reduce and reduce between tensors that are all host memory (CPU tensors) take a
//! shorter way (`direct.rs`): rank 0 borrows every rank's buffers at once and reduces block by
//! block straight from the inputs into the outputs, with helper threads above 1 MiB, so no
//! byte is staged or copied twice and no lock is taken per block; the result bits are the
//! same as the generic path's.

use super::call::{Call, Collective, Fingerprint, ReduceOp};
use super::direct::{self, Plan, chunk};
use super::math::{Order, Scratch};
use super::model::{Algorithm, CostModel, CostQuery, bus_factor};
use super::work::{Completer, POLL, Work, wait_step};
use super::{Communicator, DEFAULT_TIMEOUT};
use crate::device::Device;
use crate::error::{Error, Result, dims};
use crate::profile::OpRecord;
use crate::tensor::Tensor;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Options of a [`LocalGroup`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Algorithm (default [`Algorithm::Auto`]: chosen by size).
    pub algorithm: Algorithm,
    /// Reduce every element in rank order whatever the algorithm, size or chunking, so the
    /// bits depend only on the inputs (see the module docs of [`super`]).
    pub deterministic: bool,
    /// Compare the full fingerprint (op, reduce op, dtype, shape, root, seq) across ranks
    /// before each call. Without it, ranks still compare what memory safety needs
    /// (collective, dtype, element count, root, seq).
    pub debug: bool,
    /// Deadline of each blocking call (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Bytes per block of the fold (default 64 KiB: inputs and accumulator stay in L2).
    pub block_bytes: usize,
    /// Modeled interconnect: prices each call for the emulated devices of the group.
    pub cost_model: Option<Arc<dyn CostModel>>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            algorithm: Algorithm::Auto,
            deterministic: false,
            debug: false,
            timeout: DEFAULT_TIMEOUT,
            block_bytes: 64 * 1024,
            cost_model: None,
        }
    }
}

/// Builds in-process communicators: one per device, for one thread per rank.
///
/// ```
/// use accel_core::comm::{Communicator, LocalGroup, ReduceOp};
/// # fn demo(devices: &[accel_core::Device]) -> accel_core::Result<()> {
/// let comms = LocalGroup::new(devices)?;
/// let size = comms.len();
/// std::thread::scope(|s| -> accel_core::Result<()> {
///     let ranks: Vec<_> = comms
///         .into_iter()
///         .map(|comm| {
///             s.spawn(move || -> accel_core::Result<()> {
///                 let dev = &devices[comm.rank()];
///                 let t = accel_core::Tensor::full(dev, &[4], accel_core::DType::F32, 1.0)?;
///                 comm.all_reduce_in_place(&t, ReduceOp::Sum)?;
///                 assert_eq!(t.to_vec::<f32>()?, vec![size as f32; 4]);
///                 Ok(())
///             })
///         })
///         .collect();
///     for rank in ranks {
///         rank.join().expect("rank thread panicked")?;
///     }
///     Ok(())
/// })?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LocalGroup;

impl LocalGroup {
    /// One communicator per device (rank `i` uses `devices[i]`), default options.
    // `LocalGroup` is a namespace: building the group yields its members, not a `LocalGroup`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(devices: &[Device]) -> Result<Vec<LocalComm>> {
        Self::with_options(devices, LocalOptions::default())
    }

    /// One communicator per device with `options`.
    pub fn with_options(devices: &[Device], options: LocalOptions) -> Result<Vec<LocalComm>> {
        let n = devices.len();
        if n == 0 {
            return Err(Error::invalid("LocalGroup::new", "devices", "at least one device", "none"));
        }
        if options.block_bytes < 64 {
            return Err(Error::invalid(
                "LocalGroup::new",
                "options.block_bytes",
                "at least 64",
                options.block_bytes.to_string(),
            ));
        }
        let timeout_ms = options.timeout.as_millis().min(u64::MAX as u128) as u64;
        let group = Arc::new(Group {
            devices: devices.to_vec(),
            options,
            state: Mutex::new(State {
                arrived: vec![0; n],
                done: vec![0; n],
                posts: (0..n).map(|_| [None, None]).collect(),
                failed: None,
                aborted: None,
                mail: (0..n * n).map(|_| VecDeque::new()).collect(),
                sent: vec![0; n * n],
                received: vec![0; n * n],
            }),
            cv: Condvar::new(),
        });
        Ok((0..n)
            .map(|rank| LocalComm {
                rank,
                group: group.clone(),
                timeout_ms: AtomicU64::new(timeout_ms),
                seq: AtomicU64::new(0),
                pending: Arc::new((Mutex::new(0), Condvar::new())),
                worker: Mutex::new(None),
            })
            .collect())
    }
}

struct Group {
    devices: Vec<Device>,
    options: LocalOptions,
    state: Mutex<State>,
    cv: Condvar,
}

struct State {
    /// Highest sequence number each rank has posted / finished.
    arrived: Vec<u64>,
    done: Vec<u64>,
    /// Posts by sequence parity: a rank can be at most one call ahead of the slowest reader.
    posts: Vec<[Option<Post>; 2]>,
    /// A rank whose data phase failed: (seq, rank, message), reported by every rank.
    failed: Option<(u64, usize, String)>,
    aborted: Option<String>,
    /// Point-to-point mailboxes, index `src * n + dst`.
    mail: Vec<VecDeque<Message>>,
    sent: Vec<u64>,
    received: Vec<u64>,
}

#[derive(Clone)]
pub(super) struct Post {
    fp: Fingerprint,
    pub(super) input: Option<Tensor>,
    pub(super) output: Option<Tensor>,
    /// The input copied to the host before posting (in-place all-to-all, where peers would
    /// otherwise read blocks this rank overwrites).
    staged: Option<Arc<Vec<u8>>>,
}

struct Message {
    shape: Vec<usize>,
    dtype: crate::DType,
    bytes: Vec<u8>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("devices", &self.devices).field("options", &self.options).finish()
    }
}

/// One rank of a [`LocalGroup`]. Use it from one thread; non-blocking calls run on a
/// per-communicator worker thread in issue order.
pub struct LocalComm {
    rank: usize,
    group: Arc<Group>,
    timeout_ms: AtomicU64,
    seq: AtomicU64,
    pending: Arc<(Mutex<usize>, Condvar)>,
    worker: Mutex<Option<(mpsc::Sender<Job>, JoinHandle<()>)>>,
}

type Job = Box<dyn FnOnce() + Send>;

impl fmt::Debug for LocalComm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalComm(rank {} of {} on {})", self.rank, self.group.devices.len(), self.device().name())
    }
}

impl LocalComm {
    /// The device of this rank.
    pub fn device(&self) -> &Device {
        &self.group.devices[self.rank]
    }

    /// The group's options.
    pub fn options(&self) -> &LocalOptions {
        &self.group.options
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout()
    }

    fn validate(&self, call: &Call) -> Result<()> {
        call.validate(self.rank, self.size(), self.device())
    }

    /// Waits until every non-blocking call issued before has finished.
    fn drain(&self, op: &'static str, deadline: Instant) -> Result<()> {
        let (lock, cv) = &*self.pending;
        let since = Instant::now();
        let mut n = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::CommTimeout {
                    op,
                    seq: self.seq.load(Ordering::Relaxed) + 1,
                    rank: self.rank,
                    size: self.size(),
                    missing: Vec::new(),
                    waited_ms: self.timeout().as_millis() as u64,
                });
            }
            n = wait_step(lock, cv, n, since, deadline);
        }
        Ok(())
    }

    fn enqueue(&self, job: Job) -> Result<()> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if worker.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let handle = std::thread::Builder::new()
                .name(format!("accel-comm-{}", self.rank))
                .spawn(move || run_jobs(&rx))
                .map_err(|e| Error::Backend {
                    backend: "local".into(),
                    message: format!("cannot spawn worker: {e}"),
                })?;
            *worker = Some((tx, handle));
        }
        let (tx, _) = worker.as_ref().expect("worker just set");
        tx.send(job).map_err(|_| Error::Backend { backend: "local".into(), message: "worker thread is gone".into() })
    }
}

/// The worker thread: runs the jobs in order; after each it polls (yielding the CPU) for
/// [`POLL`] before it sleeps, so a call issued right after another does not wait for a
/// sleeping thread to wake (see [`wait_step`]).
fn run_jobs(rx: &mpsc::Receiver<Job>) {
    let mut idle_since = Instant::now();
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) if idle_since.elapsed() < POLL => {
                std::thread::yield_now();
                continue;
            }
            Err(mpsc::TryRecvError::Empty) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        job();
        idle_since = Instant::now();
    }
}

impl Drop for LocalComm {
    fn drop(&mut self) {
        if let Some((tx, handle)) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            drop(tx);
            // Queued calls finish (each bounded by its deadline) before the worker exits.
            let _ = handle.join();
        }
    }
}

impl Communicator for LocalComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.group.devices.len()
    }
    fn transport(&self) -> &str {
        "local"
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }
    fn set_timeout(&self, timeout: Duration) {
        self.timeout_ms.store(timeout.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
    fn next_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed) + 1
    }

    fn start(&self, call: Call) -> Result<Work> {
        self.validate(&call)?;
        let deadline = self.deadline();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let (work, completer) = Work::pending(call.name(), seq, self.rank, self.size(), deadline);
        *self.pending.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let (group, rank, pending) = (self.group.clone(), self.rank, self.pending.clone());
        let job: Job = Box::new(move || {
            let result = execute(&group, rank, &call, seq, deadline);
            finish_job(completer, result, &pending);
        });
        self.enqueue(job)?;
        Ok(work)
    }

    fn run(&self, call: Call) -> Result<()> {
        self.validate(&call)?;
        let deadline = self.deadline();
        self.drain(call.name(), deadline)?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        execute(&self.group, self.rank, &call, seq, deadline)
    }

    fn send(&self, tensor: &Tensor, dst: usize) -> Result<()> {
        let n = self.size();
        if dst >= n {
            return Err(Error::invalid("send", "dst", format!("a rank in 0..{n}"), dst.to_string()));
        }
        check_p2p("send", tensor, self.device())?;
        let bytes = tensor.to_bytes()?;
        let mut st = self.group.lock();
        if let Some(reason) = &st.aborted {
            return Err(Error::CommAborted { op: "send", rank: self.rank, reason: reason.clone() });
        }
        st.sent[self.rank * n + dst] += 1;
        st.mail[self.rank * n + dst].push_back(Message {
            shape: tensor.shape().to_vec(),
            dtype: tensor.dtype(),
            bytes,
        });
        self.group.cv.notify_all();
        Ok(())
    }

    fn recv(&self, tensor: &Tensor, src: usize) -> Result<()> {
        let n = self.size();
        if src >= n {
            return Err(Error::invalid("recv", "src", format!("a rank in 0..{n}"), src.to_string()));
        }
        check_p2p("recv", tensor, self.device())?;
        let start = Instant::now();
        let deadline = start + self.timeout();
        let box_ = src * n + self.rank;
        let mut st = self.group.lock();
        let seq = st.received[box_] + 1;
        let msg = loop {
            if let Some(m) = st.mail[box_].pop_front() {
                break m;
            }
            if let Some(reason) = &st.aborted {
                return Err(Error::CommAborted { op: "recv", rank: self.rank, reason: reason.clone() });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::CommTimeout {
                    op: "recv",
                    seq,
                    rank: self.rank,
                    size: n,
                    missing: vec![src],
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            st = wait_step(&self.group.state, &self.group.cv, st, start, deadline);
        };
        st.received[box_] = seq;
        drop(st);
        if msg.dtype != tensor.dtype() || msg.shape.iter().product::<usize>() != tensor.numel() {
            return Err(Error::CommMismatch {
                op: "recv",
                seq,
                rank: self.rank,
                other_rank: src,
                expected: format!("recv(dtype {}, shape {})", tensor.dtype(), dims(tensor.shape())),
                got: format!("send(dtype {}, shape {})", msg.dtype, dims(&msg.shape)),
            });
        }
        write_at(tensor, 0, &msg.bytes)
    }
}

fn finish_job(completer: Completer, result: Result<()>, pending: &(Mutex<usize>, Condvar)) {
    completer.complete(result);
    *pending.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
    pending.1.notify_all();
}

fn check_p2p(op: &'static str, t: &Tensor, device: &Device) -> Result<()> {
    if !t.device().same(device) {
        return Err(Error::DeviceMismatch {
            op,
            arg: "tensor".into(),
            expected: device.name().into(),
            got: t.device().name().into(),
        });
    }
    if !t.is_contiguous() {
        return Err(Error::invalid(op, "tensor", "a contiguous tensor", format!("strides {:?}", t.strides())));
    }
    Ok(())
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `missing(state)` is empty, the deadline passes (the group is then
    /// aborted, and the error names the missing ranks) or another rank aborts the group.
    fn wait_for<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        who: (&'static str, u64, usize),
        start: Instant,
        deadline: Instant,
        missing: impl Fn(&State) -> Vec<usize>,
    ) -> Result<MutexGuard<'a, State>> {
        let (op, seq, rank) = who;
        let n = self.devices.len();
        loop {
            let absent = missing(&st);
            if absent.is_empty() {
                return Ok(st);
            }
            let timeout = |absent: Vec<usize>| Error::CommTimeout {
                op,
                seq,
                rank,
                size: n,
                missing: absent,
                waited_ms: start.elapsed().as_millis() as u64,
            };
            if st.aborted.is_some() {
                return Err(timeout(absent));
            }
            let now = Instant::now();
            if now >= deadline {
                st.aborted = Some(format!("{op} (seq {seq}) timed out on rank {rank} waiting for rank(s) {absent:?}"));
                self.cv.notify_all();
                return Err(timeout(absent));
            }
            st = wait_step(&self.state, &self.cv, st, start, deadline);
        }
    }
}

/// Aborts the group if the rank panics while the guard lives (so peers fail fast).
struct PanicGuard<'a> {
    group: &'a Group,
    what: String,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut st = self.group.lock();
            st.aborted = Some(format!("{} panicked", self.what));
            self.group.cv.notify_all();
        }
    }
}

/// Runs one validated call as `rank` with sequence number `seq`.
fn execute(group: &Group, rank: usize, call: &Call, seq: u64, deadline: Instant) -> Result<()> {
    let start = Instant::now();
    let op = call.name();
    let n = group.devices.len();
    let who = (op, seq, rank);
    let fp = call.fingerprint(seq, n);
    let staged = match (call.collective, &call.output) {
        (Collective::AllToAll, Some(out)) if call.is_in_place() => Some(Arc::new(out.to_bytes()?)),
        _ => None,
    };
    let _guard = PanicGuard { group, what: format!("rank {rank} in {op} (seq {seq})") };
    let slot = (seq % 2) as usize;
    let posts: Vec<Post> = {
        let mut st = group.lock();
        if let Some(reason) = &st.aborted {
            return Err(Error::CommAborted { op, rank, reason: reason.clone() });
        }
        st.posts[rank][slot] =
            Some(Post { fp: fp.clone(), input: call.input.clone(), output: call.output.clone(), staged });
        st.arrived[rank] = seq;
        group.cv.notify_all();
        let st = group.wait_for(st, who, start, deadline, |st| (0..n).filter(|&k| st.arrived[k] < seq).collect())?;
        st.posts.iter().map(|p| p[slot].clone().expect("every rank posted")).collect()
    };
    let mismatch = posts.iter().enumerate().find_map(|(k, p)| {
        let differs = if group.options.debug { !same_call(&p.fp, &fp) } else { !p.fp.compatible(&fp) };
        differs.then(|| Error::CommMismatch {
            op,
            seq,
            rank,
            other_rank: k,
            expected: format!("{fp} as on rank {rank}"),
            got: p.fp.to_string(),
        })
    });
    let bytes = call.size_bytes(n);
    let algorithm = group.options.algorithm.resolve(call.collective, bytes, n);
    let data = match &mismatch {
        Some(_) => Ok(()),
        None => move_data(group, rank, call, &posts, algorithm),
    };
    let mut st = group.lock();
    if let Err(e) = &data
        && st.failed.is_none()
    {
        st.failed = Some((seq, rank, e.to_string()));
    }
    st.done[rank] = seq;
    group.cv.notify_all();
    let st = group.wait_for(st, who, start, deadline, |st| (0..n).filter(|&k| st.done[k] < seq).collect())?;
    let peer_failed = match &st.failed {
        Some((s, k, msg)) if *s == seq && *k != rank => Some(Error::Backend {
            backend: "local".into(),
            message: format!("{op} (seq {seq}): rank {k} failed, outputs are incomplete: {msg}"),
        }),
        _ => None,
    };
    drop(st);
    if let Some(e) = mismatch {
        return Err(e);
    }
    data?;
    if let Some(e) = peer_failed {
        return Err(e);
    }
    record(group, rank, call, algorithm, bytes, start.elapsed());
    Ok(())
}

/// Debug-mode equality: everything but the in-place/out-of-place form.
fn same_call(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.compatible(b) && a.reduce == b.reduce && a.shape == b.shape
}

fn record(group: &Group, rank: usize, call: &Call, algorithm: Algorithm, bytes: u64, measured: Duration) {
    let device = &group.devices[rank];
    if !device.is_profiling() {
        return;
    }
    let n = group.devices.len();
    let modeled = match (&group.options.cost_model, device.info().emulated) {
        (Some(model), true) => model.cost(&CostQuery {
            collective: call.collective,
            algorithm,
            ranks: n,
            rank,
            bytes,
            dtype: call.dtype(),
        }),
        _ => None,
    };
    let reductions = call.collective.reduce_op().map_or(0, |_| (n as u64 - 1) * call.unit(n) as u64);
    let mut shapes: Vec<Vec<usize>> = call.input.iter().map(|t| t.shape().to_vec()).collect();
    shapes.extend(call.output.iter().map(|t| t.shape().to_vec()));
    device.push_record(OpRecord {
        op: format!("{}.{}", call.name(), algorithm.name()),
        device: device.name().into(),
        shapes,
        dtype: call.dtype(),
        flops: reductions / n as u64,
        bytes: (bus_factor(call.collective, n) * bytes as f64) as u64,
        measured,
        device_time: None,
        modeled,
    });
}

fn read_at(t: &Tensor, elem: usize, out: &mut [u8]) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let es = t.dtype().size();
    t.device().backend().read(&*t.storage.buffer, (t.view().offset() + elem) * es, out)
}

fn write_at(t: &Tensor, elem: usize, data: &[u8]) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let es = t.dtype().size();
    t.device().backend().write(&*t.storage.buffer, (t.view().offset() + elem) * es, data)
}

/// Rank `rank`'s share of one call (see the module docs).
fn move_data(group: &Group, rank: usize, call: &Call, posts: &[Post], algorithm: Algorithm) -> Result<()> {
    let n = posts.len();
    let dtype = call.dtype();
    let es = dtype.size();
    let block = (group.options.block_bytes / es).max(1);
    let unit = call.unit(n);
    let out = |k: usize| posts[k].output.as_ref().expect("validated: output present");
    let src = |k: usize| posts[k].input.as_ref().unwrap_or_else(|| out(k));
    let order = |c: usize| match (group.options.deterministic, algorithm) {
        (false, Algorithm::Ring) => Order::Sequential { start: c },
        (false, Algorithm::Tree) => Order::Tree,
        _ => Order::Sequential { start: 0 },
    };
    if let Some(plan) = Plan::new(call, posts) {
        // Host memory on every rank: the leader reduces straight between the buffers.
        return match rank {
            direct::LEADER => plan.run(n, unit, dtype, group.options.block_bytes, order),
            _ => Ok(()),
        };
    }
    match call.collective {
        Collective::Barrier => Ok(()),
        Collective::AllReduce { op } | Collective::Reduce { op, .. } => {
            let (a, b) = chunk(unit, n, rank);
            let targets: Vec<usize> = match call.collective.root() {
                Some(root) => vec![root],
                None => (0..n).map(|j| (rank + j) % n).collect(),
            };
            fold_range(
                block,
                dtype,
                op,
                n,
                order(rank),
                (a, b),
                |k| (src(k), 0),
                |res, at| targets.iter().try_for_each(|&j| write_at(out(j), at, res)),
            )
        }
        Collective::ReduceScatter { op } => {
            let base = rank * unit;
            let dst = if call.is_in_place() { base } else { 0 };
            fold_range(
                block,
                dtype,
                op,
                n,
                order(rank),
                (base, base + unit),
                |k| (src(k), 0),
                |res, at| write_at(out(rank), at - base + dst, res),
            )
        }
        Collective::AllGather => {
            let (from, from_at) = if call.is_in_place() { (out(rank), rank * unit) } else { (src(rank), 0) };
            let targets: Vec<usize> =
                (0..n).map(|j| (rank + j) % n).filter(|&j| !(j == rank && call.is_in_place())).collect();
            copy_blocks(
                block * es,
                es,
                unit,
                |at, buf| read_at(from, from_at + at, buf),
                |at, data| targets.iter().try_for_each(|&j| write_at(out(j), rank * unit + at, data)),
            )
        }
        Collective::Broadcast { root } => {
            if rank == root && call.is_in_place() {
                return Ok(());
            }
            let from = src(root);
            copy_blocks(
                block * es,
                es,
                unit,
                |at, buf| read_at(from, at, buf),
                |at, data| write_at(out(rank), at, data),
            )
        }
        Collective::AllToAll => {
            for j in (0..n).map(|j| (rank + j) % n) {
                let at0 = rank * unit;
                let read = |at: usize, buf: &mut [u8]| match &posts[j].staged {
                    Some(bytes) => {
                        buf.copy_from_slice(&bytes[(at0 + at) * es..(at0 + at) * es + buf.len()]);
                        Ok(())
                    }
                    None => read_at(src(j), at0 + at, buf),
                };
                copy_blocks(block * es, es, unit, read, |at, data| write_at(out(rank), j * unit + at, data))?;
            }
            Ok(())
        }
    }
}

/// Folds elements `a..b` of every rank's source block by block and hands each encoded
/// result block to `store(bytes, element offset)`.
#[allow(clippy::too_many_arguments)]
fn fold_range<'t>(
    block: usize,
    dtype: crate::DType,
    op: ReduceOp,
    n: usize,
    order: Order,
    (a, b): (usize, usize),
    source: impl Fn(usize) -> (&'t Tensor, usize),
    mut store: impl FnMut(&[u8], usize) -> Result<()>,
) -> Result<()> {
    if a >= b {
        return Ok(());
    }
    let mut scratch = Scratch::new(dtype, block.min(b - a));
    let mut at = a;
    while at < b {
        let len = block.min(b - at);
        let mut load = |k: usize, buf: &mut [u8]| {
            let (t, base) = source(k);
            read_at(t, base + at, buf)
        };
        let res = scratch.fold(op, n, len, order, &mut load)?;
        store(res, at)?;
        at += len;
    }
    Ok(())
}

/// Copies `elems` elements in blocks of at most `block_bytes` through a host buffer.
fn copy_blocks(
    block_bytes: usize,
    es: usize,
    elems: usize,
    mut read: impl FnMut(usize, &mut [u8]) -> Result<()>,
    mut write: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<()> {
    let per = (block_bytes / es).max(1);
    let mut buf = vec![0u64; (per.min(elems) * es).div_ceil(8)];
    let mut at = 0;
    while at < elems {
        let len = per.min(elems - at);
        let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut buf)[..len * es];
        read(at, bytes)?;
        write(at, bytes)?;
        at += len;
    }
    Ok(())
}
