//! [`LineBuf`]: a growable packing buffer whose contents start on a 64-byte cache line and
//! whose memory is recycled across products.
//!
//! Packed GEMM panels are read with full-width vector loads; from a plain `Vec` (16-byte
//! aligned by the allocator) every other 32-byte load of a 64-byte panel row straddles two
//! lines, and a split load costs an extra cycle of load bandwidth on the x86 cores we tune for.
//!
//! Packing buffers are large (a 512³ f32 product packs 1 MiB of B, and 1 MiB of A when A is
//! packed), so a fresh allocation per product is a fresh `mmap` whose pages fault in on first
//! touch and are unmapped again at the end: on Zen 3 that cost a product with packed A 16 % of
//! its time in the kernel. Released stores go to a small process-wide pool instead
//! ([`POOL_BYTES`] at most) and the next buffer takes one that is large enough.

use bytemuck::{Pod, Zeroable};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// One cache line of storage.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// Bytes of released stores the pool keeps at most; larger releases are freed.
const POOL_BYTES: usize = 64 << 20;
/// Stores the pool keeps at most.
const POOL_STORES: usize = 16;

/// Released stores, kept for reuse within the limits.
struct Pool {
    stores: Mutex<Vec<Vec<Line>>>,
    max_bytes: usize,
    max_stores: usize,
}

/// The pool every [`LineBuf`] draws from.
static POOL: Pool = Pool::new(POOL_BYTES, POOL_STORES);

impl Pool {
    const fn new(max_bytes: usize, max_stores: usize) -> Pool {
        Pool { stores: Mutex::new(Vec::new()), max_bytes, max_stores }
    }

    /// A store of at least `lines` lines: the smallest pooled one that is large enough, else
    /// a new zeroed one.
    fn take(&self, lines: usize) -> Vec<Line> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        let fit = stores.iter().enumerate().filter(|(_, s)| s.len() >= lines).min_by_key(|(_, s)| s.len());
        match fit.map(|(i, _)| i) {
            Some(i) => stores.swap_remove(i),
            None => {
                drop(stores);
                vec![Line::zeroed(); lines]
            }
        }
    }

    /// Keeps a released store, then frees the smallest stores beyond the limits.
    fn release(&self, store: Vec<Line>) {
        if store.is_empty() {
            return;
        }
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        stores.push(store);
        stores.sort_unstable_by_key(|s| std::cmp::Reverse(s.len()));
        let mut total = 0;
        let keep = stores
            .iter()
            .take(self.max_stores)
            .take_while(|s| {
                total += s.len() * std::mem::size_of::<Line>();
                total <= self.max_bytes
            })
            .count();
        let freed: Vec<Vec<Line>> = stores.drain(keep..).collect();
        drop(stores);
        drop(freed);
    }
}

/// `len` elements of `T` at a 64-byte-aligned address. Contents are unspecified (a recycled
/// store keeps what its last user wrote): callers overwrite what they read.
pub(crate) struct LineBuf<T> {
    store: Vec<Line>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Pod> LineBuf<T> {
    /// An empty buffer (no allocation).
    pub(crate) fn new() -> LineBuf<T> {
        LineBuf { store: Vec::new(), len: 0, _t: PhantomData }
    }

    /// A buffer of `len` elements.
    pub(crate) fn with_len(len: usize) -> LineBuf<T> {
        let mut b = Self::new();
        b.resize(len);
        b
    }

    /// Makes the buffer `len` elements long, keeping the line alignment; a store too small is
    /// swapped for a pooled or new one.
    pub(crate) fn resize(&mut self, len: usize) {
        let lines = (len * std::mem::size_of::<T>()).div_ceil(std::mem::size_of::<Line>());
        if self.store.len() < lines {
            POOL.release(std::mem::take(&mut self.store));
            self.store = POOL.take(lines);
        }
        self.len = len;
    }
}

impl<T> Drop for LineBuf<T> {
    fn drop(&mut self) {
        POOL.release(std::mem::take(&mut self.store));
    }
}

impl<T: Pod> Deref for LineBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &bytemuck::cast_slice(&self.store)[..self.len]
    }
}

impl<T: Pod> DerefMut for LineBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut bytemuck::cast_slice_mut(&mut self.store)[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_start_on_a_line_at_every_size() {
        let mut b = LineBuf::<f32>::new();
        assert!(b.is_empty());
        for len in [1, 7, 16, 1000, 0, 3, 70_000, 5] {
            b.resize(len);
            assert_eq!(b.len(), len);
            assert!(len == 0 || (b.as_ptr() as usize).is_multiple_of(64), "len {len}");
            b.fill(1.0);
        }
        let z = LineBuf::<u8>::with_len(100);
        assert!(z.len() == 100 && (z.as_ptr() as usize).is_multiple_of(64));
    }

    #[test]
    fn the_pool_reuses_the_smallest_fitting_store_and_stays_bounded() {
        let pool = Pool::new(10 * 64, 2);
        let (a, b) = (pool.take(4), pool.take(6));
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        pool.release(b);
        pool.release(a);
        // 3 lines: the 4-line store is the smallest that fits; then 5 lines: the 6-line one.
        let (c, d) = (pool.take(3), pool.take(5));
        assert_eq!((c.as_ptr(), d.as_ptr()), (pa, pb));
        // Nothing pooled fits 7 lines: a new store.
        let e = pool.take(7);
        assert!(e.len() >= 7 && e.as_ptr() != pa && e.as_ptr() != pb);
        // 4 + 6 + 7 lines exceed 10 lines: the largest that fit the byte limit are kept.
        pool.release(c);
        pool.release(d);
        pool.release(e);
        let kept: Vec<usize> = pool.stores.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(kept, vec![7]);
    }
}
