//! [`CpuBuffer`]: host memory with interior mutability, 8-byte aligned so kernels can view it
//! as any element type without copying.

use accel_core::{Error, Result};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A zero-initialised host allocation of `len` bytes.
///
/// Storage is a `Vec<u64>` (hence 8-byte aligned) behind a [`RwLock`]: ops take read locks on
/// their inputs and the write lock on their output; reads and writes from the host take the
/// matching lock for the length of the copy.
#[derive(Debug)]
pub struct CpuBuffer {
    words: RwLock<Vec<u64>>,
    len: usize,
}

impl CpuBuffer {
    /// Allocates `len` zero bytes; allocation failure is [`Error::OutOfMemory`].
    pub(crate) fn new(len: usize, device: &str) -> Result<CpuBuffer> {
        let n = len.div_ceil(8);
        let mut words = Vec::new();
        words.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
            op: "alloc",
            requested: len,
            limit: isize::MAX as usize,
            device: device.into(),
        })?;
        words.resize(n, 0);
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

    /// Shared access. A poisoned lock (a panic elsewhere while writing) still holds plain
    /// bytes, so it is recovered rather than propagated.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<u64>> {
        self.words.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Vec<u64>> {
        self.words.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes of a locked storage.
    pub(crate) fn bytes<'g>(&self, words: &'g [u64]) -> &'g [u8] {
        &bytemuck::cast_slice(words)[..self.len]
    }

    /// The bytes of a write-locked storage.
    pub(crate) fn bytes_mut<'g>(&self, words: &'g mut [u64]) -> &'g mut [u8] {
        &mut bytemuck::cast_slice_mut(words)[..self.len]
    }
}

/// A lock held on one buffer during an op.
pub(crate) enum Guard<'a> {
    Read(RwLockReadGuard<'a, Vec<u64>>),
    Write(RwLockWriteGuard<'a, Vec<u64>>),
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
