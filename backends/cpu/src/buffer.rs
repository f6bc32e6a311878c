//! [`CpuBuffer`]: host memory with interior mutability, aligned to a 64-byte cache line so
//! kernels can view it as any element type without copying, and their vector loads of a row
//! that starts the buffer never straddle two lines. It is registered as
//! [`HostMemory`](accel_core::comm::host::HostMemory), so the in-process collectives reduce
//! straight between CPU tensors.

use accel_core::comm::ReduceOp;
use accel_core::comm::host::{HostMemory, register_host_memory};
use accel_core::{Error, Result};
use std::ops::{Deref, DerefMut};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One 64-byte cache line of storage.
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
pub(crate) struct Line([u64; 8]);

/// A zero-initialised host allocation of `len` bytes.
///
/// Storage is a `Vec` of whole cache lines (hence 64-byte aligned) behind a [`RwLock`]: ops
/// take read locks on their inputs and the write lock on their output; reads and writes from
/// the host take the matching lock for the length of the copy.
#[derive(Debug)]
pub struct CpuBuffer {
    words: RwLock<Vec<Line>>,
    len: usize,
}

impl CpuBuffer {
    /// Allocates `len` zero bytes; allocation failure is [`Error::OutOfMemory`].
    pub(crate) fn new(len: usize, device: &str) -> Result<CpuBuffer> {
        let n = len.div_ceil(std::mem::size_of::<Line>());
        let mut words = Vec::new();
        words.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
            op: "alloc",
            requested: len,
            limit: isize::MAX as usize,
            device: device.into(),
        })?;
        words.resize(n, Line::default());
        // Before the first buffer exists, so core finds every CPU buffer it is handed.
        static REGISTER: Once = Once::new();
        REGISTER.call_once(register_host_memory::<CpuBuffer>);
        Ok(CpuBuffer { words: RwLock::new(words), len })
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-byte buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs `f` on the buffer's bytes under the read lock: zero-copy host access for
    /// transports that hand host memory to another library (accel-mpi passes it to MPI).
    /// Ops writing this buffer wait until `f` returns.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let words = self.read();
        f(self.bytes(&words))
    }

    /// Runs `f` on the buffer's bytes under the write lock (see [`CpuBuffer::with_bytes`]).
    pub fn with_bytes_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut words = self.write();
        f(self.bytes_mut(&mut words))
    }

    /// Runs `f` on this buffer's bytes (read lock) and `out`'s bytes (write lock), taking the
    /// two locks in address order as the backend's ops do, so a transport holding both
    /// across a library call cannot deadlock with an op on another thread. `None` (and `f`
    /// not run) when `out` is this buffer: one buffer cannot be read and written at once.
    pub fn with_bytes_and<R>(&self, out: &CpuBuffer, f: impl FnOnce(&[u8], &mut [u8]) -> R) -> Option<R> {
        if std::ptr::eq(self, out) {
            return None;
        }
        let (words, mut out_words) = if (self as *const CpuBuffer) < (out as *const CpuBuffer) {
            let r = self.read();
            (r, out.write())
        } else {
            let w = out.write();
            (self.read(), w)
        };
        Some(f(self.bytes(&words), out.bytes_mut(&mut out_words)))
    }

    /// Shared access. A poisoned lock (a panic elsewhere while writing) still holds plain
    /// bytes, so it is recovered rather than propagated.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<Line>> {
        self.words.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Vec<Line>> {
        self.words.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes of a locked storage.
    pub(crate) fn bytes<'g>(&self, words: &'g [Line]) -> &'g [u8] {
        &bytemuck::cast_slice(words)[..self.len]
    }

    /// The bytes of a write-locked storage.
    pub(crate) fn bytes_mut<'g>(&self, words: &'g mut [Line]) -> &'g mut [u8] {
        &mut bytemuck::cast_slice_mut(words)[..self.len]
    }
}

/// The bytes of a buffer under its read lock.
struct HostRead<'a> {
    words: RwLockReadGuard<'a, Vec<Line>>,
    len: usize,
}

impl Deref for HostRead<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}

/// The bytes of a buffer under its write lock.
struct HostWrite<'a> {
    words: RwLockWriteGuard<'a, Vec<Line>>,
    len: usize,
}

impl Deref for HostWrite<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}

impl DerefMut for HostWrite<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

impl HostMemory for CpuBuffer {
    fn host_bytes(&self) -> Box<dyn Deref<Target = [u8]> + '_> {
        Box::new(HostRead { words: self.read(), len: self.len })
    }
    fn host_bytes_mut(&self) -> Box<dyn DerefMut<Target = [u8]> + '_> {
        Box::new(HostWrite { words: self.write(), len: self.len })
    }
    fn combine_streaming(&self, op: ReduceOp, ranks: usize, a: &[f32], b: &[f32], outs: &mut [&mut [u8]]) -> bool {
        accel_kernels::cpu::stream::combine_streaming(op, ranks, a, b, outs)
    }
}

/// A lock held on one buffer during an op.
pub(crate) enum Guard<'a> {
    Read(RwLockReadGuard<'a, Vec<Line>>),
    Write(RwLockWriteGuard<'a, Vec<Line>>),
}

/// Range-checks a host copy (core checks too; this keeps the backend panic-free on its own).
pub(crate) fn check_range(buffer: &CpuBuffer, offset: usize, len: usize) -> Result<std::ops::Range<usize>> {
    match offset.checked_add(len) {
        Some(end) if end <= buffer.len => Ok(offset..end),
        _ => Err(Error::Backend {
            backend: "cpu".into(),
            message: format!("copy of {len} bytes at offset {offset} overruns a buffer of {} bytes", buffer.len),
        }),
    }
}
