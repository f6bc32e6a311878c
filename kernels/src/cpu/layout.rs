//! Strided iteration: a [`Layout`] is a view with its size-1 dims dropped and mergeable dims
//! merged, walked as runs of equally spaced elements so inner loops see a base offset, a
//! stride and a count instead of a multi-index per element.

use accel_core::View;
use smallvec::SmallVec;

/// Shape, strides and offset (in elements) after coalescing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    // Inline up to rank 6: a layout is built per operand per op, so a small op's path
    // allocates nothing for it.
    shape: SmallVec<[usize; 6]>,
    strides: SmallVec<[usize; 6]>,
    offset: usize,
}

impl Layout {
    /// The coalesced layout of a whole view.
    pub(crate) fn new(view: &View) -> Layout {
        Layout::from_parts(view.shape(), view.strides(), view.offset())
    }

    /// The coalesced layout of raw parts. Row-major element order is preserved: dims `i` and
    /// `i + 1` merge when stepping the outer one equals a full sweep of the inner one.
    pub(crate) fn from_parts(shape: &[usize], strides: &[usize], offset: usize) -> Layout {
        let mut out = Layout { shape: SmallVec::new(), strides: SmallVec::new(), offset };
        if shape.contains(&0) {
            out.shape.push(0);
            out.strides.push(1);
            return out;
        }
        for (&d, &s) in shape.iter().zip(strides) {
            if d == 1 {
                continue;
            }
            match (out.shape.last_mut(), out.strides.last_mut()) {
                (Some(pd), Some(ps)) if *ps == s * d => {
                    *pd *= d;
                    *ps = s;
                }
                _ => {
                    out.shape.push(d);
                    out.strides.push(s);
                }
            }
        }
        out
    }

    /// Storage offset of logical element 0.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// Coalesced dims.
    #[cfg(test)]
    pub(crate) fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Element count.
    pub(crate) fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are consecutive in storage, in order.
    pub(crate) fn is_contiguous(&self) -> bool {
        self.shape.is_empty() || (self.shape.len() == 1 && self.strides[0] == 1)
    }

    /// Size and stride of the innermost dim (`(1, 1)` for a scalar).
    pub(crate) fn inner(&self) -> (usize, usize) {
        match (self.shape.last(), self.strides.last()) {
            (Some(&d), Some(&s)) => (d, s),
            _ => (1, 1),
        }
    }

    /// Storage offset of logical (row-major) element `i`.
    pub(crate) fn offset_of(&self, mut i: usize) -> usize {
        let mut off = self.offset;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            off += (i % d) * s;
            i /= d;
        }
        off
    }

    /// Calls `f(offset, stride, count)` for consecutive runs covering logical elements
    /// `start..start + len` in order; each run is `count` elements `stride` apart.
    #[inline]
    pub(crate) fn runs(&self, start: usize, len: usize, mut f: impl FnMut(usize, usize, usize)) {
        if len == 0 {
            return;
        }
        let rank = self.shape.len();
        if rank == 0 {
            f(self.offset, 1, len);
            return;
        }
        let (inner, stride) = (self.shape[rank - 1], self.strides[rank - 1]);
        let mut outer = start / inner;
        let mut pos = start % inner;
        let mut left = len;
        while left > 0 {
            let count = (inner - pos).min(left);
            let base = self.outer_offset(outer) + pos * stride;
            f(base, stride, count);
            left -= count;
            pos = 0;
            outer += 1;
        }
    }

    /// Offset of row `outer` of the dims before the innermost one.
    fn outer_offset(&self, mut outer: usize) -> usize {
        let rank = self.shape.len();
        let mut off = self.offset;
        for (&d, &s) in self.shape[..rank - 1].iter().zip(&self.strides[..rank - 1]).rev() {
            off += (outer % d) * s;
            outer /= d;
        }
        off
    }
}

/// Reads logical elements `start..start + dst.len()` of `lay` over `src`, converting each.
#[inline]
pub(crate) fn gather<T: Copy, U: Copy>(src: &[T], lay: &Layout, start: usize, dst: &mut [U], f: impl Fn(T) -> U) {
    let mut pos = 0;
    lay.runs(start, dst.len(), |off, stride, count| {
        let d = &mut dst[pos..pos + count];
        if stride == 1 {
            for (d, s) in d.iter_mut().zip(&src[off..off + count]) {
                *d = f(*s);
            }
        } else if stride == 0 {
            d.fill(f(src[off]));
        } else {
            for (i, d) in d.iter_mut().enumerate() {
                *d = f(src[off + i * stride]);
            }
        }
        pos += count;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesces_contiguous_and_keeps_transposes() {
        let v = View::contiguous("t", &[2, 3, 4]).unwrap();
        assert!(Layout::new(&v).is_contiguous());
        let t = v.transpose("t", 1, 2).unwrap();
        let l = Layout::new(&t);
        assert_eq!(l.shape(), &[2, 4, 3]);
        let mut offs = Vec::new();
        l.runs(5, 7, |o, s, c| offs.extend((0..c).map(|i| o + i * s)));
        let want: Vec<usize> = t.offsets().skip(5).take(7).collect();
        assert_eq!(offs, want);
    }

    #[test]
    fn broadcast_and_offset_of() {
        let v = View::contiguous("t", &[3]).unwrap().broadcast_to("t", "x", &[4, 3]).unwrap();
        let l = Layout::new(&v);
        let all: Vec<usize> = v.offsets().collect();
        for (i, &o) in all.iter().enumerate() {
            assert_eq!(l.offset_of(i), o);
        }
        let mut dst = [0u32; 12];
        let src = [7u32, 8, 9];
        gather(&src, &l, 0, &mut dst, |x| x);
        assert_eq!(dst, [7, 8, 9, 7, 8, 9, 7, 8, 9, 7, 8, 9]);
    }
}
