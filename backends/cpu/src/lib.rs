//! # accel-cpu: the host CPU as an accel device
//!
//! [`device()`] returns the process's CPU [`Device`] (created once, then cloned);
//! [`CpuBackend`] is the [`Backend`] behind it, for callers that want their own instance (a
//! different thread count, say).
//!
//! Internals, briefly:
//! - **Buffers** ([`CpuBuffer`]) are `Vec<u64>` storage behind an `RwLock`, so they are 8-byte
//!   aligned (kernels view them as `f32`/`i32`/`f16` slices without copying) and writable
//!   through `&self` as the [`Backend`] contract requires. Allocation failure is
//!   [`Error::OutOfMemory`], never an abort.
//! - **Execution** locks every distinct buffer of an op once, in address order (so concurrent
//!   ops on crossing buffers cannot deadlock): read locks on inputs, the write lock on the
//!   output. It then runs [`accel_kernels::cpu::execute`] on the calling thread, with the
//!   backend's own rayon pool helping in its parallel loops ([`par::with_pool`]: the caller
//!   works instead of sleeping while the pool works). All math lives in `accel-kernels`;
//!   this crate is glue.
//! - **Threads**: the calling thread and the pool's workers share each op; the pool has
//!   `ACCEL_NUM_THREADS` threads (default: every core the OS reports), and an op uses that
//!   many in all. If the pool cannot be built, ops run on rayon's global pool.
//! - **ISA**: kernels run on the widest instruction set the CPU has (AVX-512, AVX2, NEON,
//!   scalar), or the one `ACCEL_CPU_ISA` forces; [`CpuBackend::with_isa`] and
//!   [`isa_devices`] pin a path per device, so one test run can check every path.
//! - **Capabilities**: f32 native everywhere; f16/bf16 emulated (computed in f32) everywhere;
//!   i8/u8 native for matmul, convolution, elementwise, cast and reduce; i32 for elementwise,
//!   cast and reduce; softmax is float only.
//!
//! `peak_gflops` and `peak_bandwidth_gbs` in [`DeviceInfo`] are `None`: this machine's rates are
//! measured, not assumed (`accel_kernels::probe`, which benchmarks run in-process).

#![forbid(unsafe_code)]

mod buffer;

pub use buffer::CpuBuffer;

use accel_core::{Backend, Capabilities, Device, DeviceInfo, DeviceKind, Error, ExecReport, Op, Operands, Result};
use accel_kernels::cpu::isa::{self, Isa};
use accel_kernels::cpu::par;
use accel_kernels::{HostIn, HostOut};
use buffer::{Guard, check_range};
use smallvec::SmallVec;
use std::sync::OnceLock;

/// The name of the environment variable that sets the thread count.
pub const NUM_THREADS_ENV: &str = "ACCEL_NUM_THREADS";

/// The host CPU backend: rayon-parallel kernels from `accel-kernels` on host memory.
#[derive(Debug)]
pub struct CpuBackend {
    info: DeviceInfo,
    caps: Capabilities,
    pool: Option<rayon::ThreadPool>,
    isa: Isa,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// A backend with `ACCEL_NUM_THREADS` threads (a positive integer), else one per core.
    pub fn new() -> CpuBackend {
        let from_env = std::env::var(NUM_THREADS_ENV).ok().and_then(|v| v.trim().parse::<usize>().ok());
        let threads = match from_env {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Self::with_threads(threads)
    }

    /// A backend with its own pool of `threads` threads (at least one).
    pub fn with_threads(threads: usize) -> CpuBackend {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("accel-cpu-{i}"))
            .build()
            .ok();
        CpuBackend {
            info: info("cpu".into()),
            caps: Capabilities::full_contract(isize::MAX as usize),
            pool,
            isa: isa::active(),
        }
    }

    /// A backend with `threads` threads whose kernels always use `isa`, named `cpu[<isa>]`;
    /// `None` when this CPU lacks it.
    pub fn with_isa(threads: usize, isa: Isa) -> Option<CpuBackend> {
        isa::features().supports(isa).then(|| {
            let mut b = Self::with_threads(threads);
            b.info.name = format!("cpu[{isa}]");
            b.isa = isa;
            b
        })
    }

    /// The instruction set the backend's kernels use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Threads the backend's ops run on.
    pub fn num_threads(&self) -> usize {
        self.pool.as_ref().map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
    }
}

fn info(name: String) -> DeviceInfo {
    DeviceInfo {
        name,
        kind: DeviceKind::Cpu,
        backend: "cpu".into(),
        emulated: false,
        peak_gflops: None,
        peak_bandwidth_gbs: None,
    }
}

/// The host CPU as an accel device. The first call creates it; later calls return clones of
/// the same device (cheap).
pub fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| Device::new(CpuBackend::new())).clone()
}

/// One device per ISA path this CPU runs other than the default one (`cpu[avx2]`,
/// `cpu[scalar]`, ...), for tests and benchmarks that compare the paths. Thread count as
/// [`CpuBackend::new`].
pub fn isa_devices() -> Vec<Device> {
    let threads = CpuBackend::new().num_threads();
    Isa::ALL
        .into_iter()
        .filter(|&i| i != isa::active())
        .filter_map(|i| CpuBackend::with_isa(threads, i))
        .map(Device::new)
        .collect()
}

/// Multiply-adds below which a matmul runs on the calling thread (the GEMM runs such products
/// serially anyway).
const TINY_MACS: usize = 1 << 20;

fn is_tiny(op: &Op) -> bool {
    match op {
        Op::Matmul(d) => {
            let batch = d.batch.iter().try_fold(1usize, |acc, &b| acc.checked_mul(b));
            let macs = batch.and_then(|b| b.checked_mul(d.m)?.checked_mul(d.n)?.checked_mul(d.k.max(1)));
            macs.is_some_and(|w| w < TINY_MACS)
        }
        _ => false,
    }
}

fn addr(b: &CpuBuffer) -> usize {
    b as *const CpuBuffer as usize
}

impl Backend for CpuBackend {
    type Buffer = CpuBuffer;

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn alloc(&self, bytes: usize) -> Result<CpuBuffer> {
        CpuBuffer::new(bytes, &self.info.name)
    }

    fn write(&self, buffer: &CpuBuffer, offset: usize, data: &[u8]) -> Result<()> {
        let range = check_range(buffer, offset, data.len())?;
        let mut words = buffer.write();
        accel_kernels::cpu::copy::copy_bytes(&mut buffer.bytes_mut(&mut words)[range], data);
        Ok(())
    }

    fn read(&self, buffer: &CpuBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
        let range = check_range(buffer, offset, out.len())?;
        let words = buffer.read();
        accel_kernels::cpu::copy::copy_bytes(out, &buffer.bytes(&words)[range]);
        Ok(())
    }

    fn execute(&self, op: &Op, operands: Operands<'_, CpuBuffer>) -> Result<ExecReport> {
        let out_buf = operands.output.buffer;
        if operands.inputs.iter().any(|o| std::ptr::eq(o.buffer, out_buf)) {
            return Err(Error::Backend {
                backend: "cpu".into(),
                message: format!("{}: an input shares the output's buffer (core copies such inputs first)", op.name()),
            });
        }
        // Lock each distinct buffer once, in address order.
        // Inline vectors: an op has a handful of operands, and a small op's whole time is a
        // few microseconds, so these allocate nothing.
        let mut order: SmallVec<[&CpuBuffer; 4]> = operands.inputs.iter().map(|o| o.buffer).collect();
        order.push(out_buf);
        order.sort_by_key(|b| addr(b));
        order.dedup_by_key(|b| addr(b));
        let mut guards: SmallVec<[(usize, Guard<'_>); 4]> = SmallVec::new();
        for b in order {
            let g = if std::ptr::eq(b, out_buf) { Guard::Write(b.write()) } else { Guard::Read(b.read()) };
            guards.push((addr(b), g));
        }
        let (mut out_words, mut in_words) = (None, SmallVec::<[(usize, &[buffer::Line]); 4]>::new());
        for (a, g) in guards.iter_mut() {
            match g {
                Guard::Write(w) => out_words = Some(&mut **w),
                Guard::Read(r) => in_words.push((*a, r.as_slice())),
            }
        }
        let out_words = out_words.ok_or_else(|| Error::Backend {
            backend: "cpu".into(),
            message: format!("{}: the output buffer was not locked", op.name()),
        })?;
        let inputs = operands
            .inputs
            .iter()
            .map(|o| {
                let words = in_words.iter().find(|(a, _)| *a == addr(o.buffer)).map(|(_, w)| *w).unwrap_or(&[]);
                HostIn { bytes: o.buffer.bytes(words), view: o.view, dtype: o.dtype }
            })
            .collect::<SmallVec<[HostIn<'_>; 4]>>();
        let out =
            HostOut { bytes: out_buf.bytes_mut(out_words), view: operands.output.view, dtype: operands.output.dtype };
        let run = || accel_kernels::cpu::execute_on(self.isa, op, &inputs, out);
        match &self.pool {
            // A one-thread backend, and a tiny product on any, run on the caller's thread
            // alone: starting helpers for a tiny product costs more than they save.
            Some(pool) if pool.current_num_threads() == 1 || is_tiny(op) => par::serial(run)?,
            Some(pool) => par::with_pool(pool, run)?,
            None => run()?,
        }
        Ok(ExecReport::default())
    }
}
