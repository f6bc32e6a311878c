//! [`LineBuf`]: a growable buffer whose contents start on a 64-byte cache line.
//!
//! Packed GEMM panels are read with full-width vector loads; from a plain `Vec` (16-byte
//! aligned by the allocator) every other 32-byte load of a 64-byte panel row straddles two
//! lines, and a split load costs an extra cycle of load bandwidth on the x86 cores we tune for.

use std::ops::{Deref, DerefMut};

/// Bytes per cache line (every x86-64 and aarch64 core we target).
const LINE: usize = 64;

/// `len` elements of `T` at a 64-byte-aligned address (zero when first allocated; a resize
/// that reuses the allocation keeps whatever was there).
#[derive(Debug)]
pub(crate) struct LineBuf<T> {
    store: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: bytemuck::Pod + Default> LineBuf<T> {
    /// An empty buffer (no allocation).
    pub(crate) fn new() -> LineBuf<T> {
        LineBuf { store: Vec::new(), start: 0, len: 0 }
    }

    /// `len` default elements.
    pub(crate) fn zeroed(len: usize) -> LineBuf<T> {
        let mut b = Self::new();
        b.resize(len);
        b
    }

    /// Makes the buffer `len` elements long, keeping the line alignment (contents are
    /// unspecified after a resize: callers overwrite them).
    pub(crate) fn resize(&mut self, len: usize) {
        if len == 0 {
            (self.start, self.len) = (0, 0);
            return;
        }
        let slack = LINE.div_ceil(std::mem::size_of::<T>().max(1));
        if self.store.len() < len + slack {
            self.store = vec![T::default(); len + slack];
        }
        self.start = self.store.as_ptr().align_offset(LINE).min(slack);
        self.len = len;
    }
}

impl<T> Deref for LineBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.store[self.start..self.start + self.len]
    }
}

impl<T> DerefMut for LineBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.store[self.start..self.start + self.len]
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
            assert!(len == 0 || (b.as_ptr() as usize).is_multiple_of(LINE), "len {len}");
            b.fill(1.0);
        }
        let z = LineBuf::<u8>::zeroed(100);
        assert!(z.iter().all(|&x| x == 0) && (z.as_ptr() as usize).is_multiple_of(LINE));
    }
}
