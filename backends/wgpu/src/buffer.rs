//! Device buffers and their pool.
//!
//! A [`WgpuBuffer`] is a `STORAGE | COPY_SRC | COPY_DST` buffer holding the host byte image of
//! a tensor (f16/bf16/i8/u8 elements are sub-word fields of the `u32` words kernels see). Its
//! size is the requested byte count rounded up to a whole word. Dropped buffers go back to a
//! small pool keyed by exact size (bounded in count and bytes) so repeated ops of the same
//! shapes stop creating buffers; a reused buffer is cleared before it is handed out, as
//! [`accel_core::Backend::alloc`] promises zeroed memory.

use std::fmt;
use std::sync::{Arc, Mutex};

/// Most buffers the pool keeps.
const POOL_MAX_BUFFERS: usize = 64;
/// Most bytes the pool keeps.
const POOL_MAX_BYTES: u64 = 256 << 20;

/// Free buffers waiting for reuse.
#[derive(Default)]
pub(crate) struct Pool {
    free: Mutex<Vec<wgpu::Buffer>>,
}

impl Pool {
    /// A free buffer of exactly `size` bytes, if the pool has one.
    pub(crate) fn take(&self, size: u64) -> Option<wgpu::Buffer> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let at = free.iter().position(|b| b.size() == size)?;
        Some(free.swap_remove(at))
    }

    fn give(&self, buffer: wgpu::Buffer) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let held: u64 = free.iter().map(|b| b.size()).sum();
        if free.len() < POOL_MAX_BUFFERS && held + buffer.size() <= POOL_MAX_BYTES {
            free.push(buffer);
        }
    }
}

/// Memory of one wgpu device (see the module docs).
pub struct WgpuBuffer {
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) bytes: usize,
    pub(crate) pool: Arc<Pool>,
}

impl WgpuBuffer {
    /// The wgpu buffer.
    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Bytes the tensor asked for.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// True for a zero-byte buffer.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }
}

impl fmt::Debug for WgpuBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WgpuBuffer").field("bytes", &self.bytes).finish()
    }
}

impl Drop for WgpuBuffer {
    fn drop(&mut self) {
        // wgpu buffers are reference-counted handles: the pool keeps the allocation alive.
        self.pool.give(self.buffer.clone());
    }
}
