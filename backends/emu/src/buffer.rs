//! [`EmuBuffer`]: host memory standing in for the emulated device's memory.

use accel_core::{Error, Result};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A zero-initialised host allocation of `len` bytes, 8-byte aligned (a `Vec<u64>`) so the
/// CPU kernels the models reuse can view it without copying, behind an [`RwLock`] so it can
/// be written through `&self` as the backend contract requires.
#[derive(Debug)]
pub struct EmuBuffer {
    words: RwLock<Vec<u64>>,
    len: usize,
}

impl EmuBuffer {
    /// Allocates `len` zero bytes; allocation failure is [`Error::OutOfMemory`].
    pub(crate) fn new(len: usize, limit: usize, device: &str) -> Result<EmuBuffer> {
        let oom = || Error::OutOfMemory { op: "alloc", requested: len, limit, device: device.into() };
        if len > limit {
            return Err(oom());
        }
        let n = len.div_ceil(8);
        let mut words = Vec::new();
        words.try_reserve_exact(n).map_err(|_| oom())?;
        words.resize(n, 0);
        Ok(EmuBuffer { words: RwLock::new(words), len })
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-byte buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shared access (a poisoned lock still holds plain bytes, so it is recovered).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Vec<u64>> {
        self.words.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Vec<u64>> {
        self.words.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes of a locked storage.
    pub(crate) fn bytes<'g>(&self, words: &'g [u64]) -> &'g [u8] {
        &bytemuck_bytes(words)[..self.len]
    }

    /// The bytes of a write-locked storage.
    pub(crate) fn bytes_mut<'g>(&self, words: &'g mut [u64]) -> &'g mut [u8] {
        &mut bytemuck_bytes_mut(words)[..self.len]
    }

    /// The byte range `offset..offset + len`, or an error naming the overrun.
    pub(crate) fn range(&self, backend: &str, offset: usize, len: usize) -> Result<std::ops::Range<usize>> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(offset..end),
            _ => Err(Error::Backend {
                backend: backend.into(),
                message: format!("copy of {len} bytes at offset {offset} overruns a buffer of {} bytes", self.len),
            }),
        }
    }
}

fn bytemuck_bytes(words: &[u64]) -> &[u8] {
    bytemuck::cast_slice(words)
}

fn bytemuck_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    bytemuck::cast_slice_mut(words)
}
