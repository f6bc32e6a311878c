//! Shapes and strided views.
//!
//! A [`View`] is shape + strides + offset, all in elements, over some storage. Every view
//! operation (transpose, permute, slice, broadcast, reshape of contiguous data) only rewrites
//! this metadata; nothing is copied. Strides are non-negative; a stride of 0 repeats data
//! (broadcast). Products of dims are checked: overflow is an error, never a wrap.

use crate::error::{Error, Result, dims};
use smallvec::SmallVec;

/// Dims or strides of a [`View`]: inline up to rank 6 (every op's operands in practice), so
/// making and cloning views on an op's path allocates nothing.
type Dims = SmallVec<[usize; 6]>;

/// Number of elements of `shape`, or [`Error::ShapeOverflow`] when its non-zero dims multiply
/// past `usize`, even if another dim is 0: then every product of any subset of a view's dims
/// fits, in any order, and no size arithmetic on a valid view can overflow.
pub fn checked_numel(op: &'static str, arg: &str, shape: &[usize]) -> Result<usize> {
    let nonzero = shape.iter().filter(|&&d| d != 0).try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let nonzero = nonzero.ok_or_else(|| Error::ShapeOverflow { op, arg: arg.to_string(), shape: shape.to_vec() })?;
    Ok(if shape.contains(&0) { 0 } else { nonzero })
}

/// Row-major (C order) strides for `shape`. Callers have checked the element count.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    strides_of(shape).into_vec()
}

fn strides_of(shape: &[usize]) -> Dims {
    let mut strides: Dims = smallvec::smallvec![0; shape.len()];
    let mut acc = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d.max(1));
    }
    strides
}

/// Numpy broadcasting of two shapes: dims are aligned from the right and must be equal or 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(op, "b", format!("a shape broadcastable with {}", dims(a)), dims(b)));
            }
        };
    }
    Ok(out)
}

/// Shape, strides and offset of a tensor over its storage, in elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct View {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

impl View {
    /// The contiguous row-major view of `shape` at offset 0.
    pub fn contiguous(op: &'static str, shape: &[usize]) -> Result<View> {
        let n = checked_numel(op, "shape", shape)?;
        // Byte sizes must fit as well: the largest element is 4 bytes.
        n.checked_mul(4).ok_or_else(|| Error::ShapeOverflow { op, arg: "shape".into(), shape: shape.to_vec() })?;
        Ok(View { shape: shape.into(), strides: strides_of(shape), offset: 0 })
    }

    /// A view from raw parts. `storage_len` is the number of elements in the storage; the view
    /// must stay inside it.
    pub fn from_parts(
        op: &'static str,
        shape: Vec<usize>,
        strides: Vec<usize>,
        offset: usize,
        storage_len: usize,
    ) -> Result<View> {
        if shape.len() != strides.len() {
            return Err(Error::shape(op, "strides", format!("{} strides (one per dim)", shape.len()), dims(&strides)));
        }
        checked_numel(op, "shape", &shape)?;
        let v = View { shape: shape.into(), strides: strides.into(), offset };
        match v.span() {
            Some(end) if end <= storage_len => Ok(v),
            _ => Err(Error::invalid(
                op,
                "view",
                format!("elements inside storage of {storage_len} elements"),
                format!("shape {:?} strides {:?} offset {}", v.shape, v.strides, v.offset),
            )),
        }
    }

    /// Dims.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    /// Offset of element `[0, 0, ...]` in the storage, in elements.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Rank.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// Element count (checked when the view was built).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// One past the largest storage index the view touches; `Some(offset)` for an empty view;
    /// `None` on overflow.
    pub fn span(&self) -> Option<usize> {
        if self.shape.contains(&0) {
            return Some(self.offset);
        }
        let mut last = self.offset;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            last = last.checked_add((d - 1).checked_mul(s)?)?;
        }
        last.checked_add(1)
    }

    /// True when the elements are laid out row-major without gaps (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected = expected.saturating_mul(d);
        }
        true
    }

    /// True when no two indices map to the same storage element (required of outputs).
    pub fn is_non_overlapping(&self) -> bool {
        if self.numel() <= 1 {
            return true;
        }
        let mut dims: SmallVec<[(usize, usize); 6]> =
            self.shape.iter().zip(&self.strides).filter(|(d, _)| **d > 1).map(|(&d, &s)| (s, d)).collect();
        dims.sort_unstable();
        let mut extent = 1usize; // elements covered by the dims seen so far
        for (s, d) in dims {
            if s < extent {
                return false;
            }
            extent = s.saturating_mul(d - 1).saturating_add(extent);
        }
        true
    }

    /// Swaps two axes.
    pub fn transpose(&self, op: &'static str, a: usize, b: usize) -> Result<View> {
        self.check_axis(op, "axis0", a)?;
        self.check_axis(op, "axis1", b)?;
        let mut v = self.clone();
        v.shape.swap(a, b);
        v.strides.swap(a, b);
        Ok(v)
    }

    /// Reorders axes: new axis `i` is old axis `perm[i]`.
    pub fn permute(&self, op: &'static str, perm: &[usize]) -> Result<View> {
        let mut seen = vec![false; self.rank()];
        if perm.len() != self.rank() {
            return Err(Error::shape(op, "perm", format!("a permutation of 0..{}", self.rank()), dims(perm)));
        }
        for &p in perm {
            self.check_axis(op, "perm", p)?;
            if std::mem::replace(&mut seen[p], true) {
                return Err(Error::invalid(op, "perm", format!("a permutation of 0..{}", self.rank()), dims(perm)));
            }
        }
        Ok(View {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    /// Elements `start..end` (step `step`) along `axis`.
    pub fn slice(&self, op: &'static str, axis: usize, start: usize, end: usize, step: usize) -> Result<View> {
        self.check_axis(op, "axis", axis)?;
        let d = self.shape[axis];
        if start > end || end > d {
            return Err(Error::invalid(
                op,
                "range",
                format!("start <= end <= {d} (size of axis {axis})"),
                format!("{start}..{end}"),
            ));
        }
        if step == 0 {
            return Err(Error::ZeroStep { op, arg: "step".into() });
        }
        let mut v = self.clone();
        v.shape[axis] = (end - start).div_ceil(step);
        // Inside a non-empty view these products stay inside the buffer; an empty view keeps
        // its offset, and a dim of size <= 1 its stride (a huge step would overflow it).
        if v.numel() > 0 {
            v.offset += start * self.strides[axis];
        }
        v.strides[axis] = if v.shape[axis] > 1 { self.strides[axis].saturating_mul(step) } else { self.strides[axis] };
        Ok(v)
    }

    /// Broadcasts to `shape` (numpy rules, new dims in front) with stride 0 on repeated dims.
    pub fn broadcast_to(&self, op: &'static str, arg: &str, shape: &[usize]) -> Result<View> {
        let bad = || Error::shape(op, arg, format!("a shape broadcastable to {}", dims(shape)), dims(&self.shape));
        if shape.len() < self.rank() {
            return Err(bad());
        }
        checked_numel(op, arg, shape)?;
        let lead = shape.len() - self.rank();
        let mut strides: Dims = smallvec::smallvec![0; shape.len()];
        for i in 0..self.rank() {
            let (from, to) = (self.shape[i], shape[lead + i]);
            strides[lead + i] = if from == to {
                self.strides[i]
            } else if from == 1 {
                0
            } else {
                return Err(bad());
            };
        }
        Ok(View { shape: shape.into(), strides, offset: self.offset })
    }

    /// Reinterprets contiguous data with another shape of the same element count.
    pub fn reshape(&self, op: &'static str, shape: &[usize]) -> Result<View> {
        let n = checked_numel(op, "shape", shape)?;
        if n != self.numel() {
            return Err(Error::shape(
                op,
                "shape",
                format!("{} elements like {}", self.numel(), dims(&self.shape)),
                dims(shape),
            ));
        }
        if !self.is_contiguous() {
            return Err(Error::invalid(
                op,
                "self",
                "a contiguous tensor (call .contiguous() first)",
                format!("strides {:?} for shape {}", self.strides, dims(&self.shape)),
            ));
        }
        Ok(View { shape: shape.into(), strides: strides_of(shape), offset: self.offset })
    }

    /// Inserts a dim of size 1 at `axis` (used to lift 1-D convolutions to 2-D).
    pub fn unsqueeze(&self, axis: usize) -> View {
        let mut v = self.clone();
        let axis = axis.min(v.rank());
        v.shape.insert(axis, 1);
        v.strides.insert(axis, 0);
        v
    }

    /// Drops the listed axes, each of which must have size 1 (keepdim outputs of reductions).
    pub fn squeeze_axes(&self, axes: &[usize]) -> View {
        let keep = |i: &usize| !(axes.contains(i) && self.shape[*i] == 1);
        View {
            shape: (0..self.rank()).filter(keep).map(|i| self.shape[i]).collect(),
            strides: (0..self.rank()).filter(keep).map(|i| self.strides[i]).collect(),
            offset: self.offset,
        }
    }

    /// Storage index of a multi-index. The index must be in range.
    pub fn index(&self, idx: &[usize]) -> usize {
        self.offset + idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum::<usize>()
    }

    /// Storage indices of every element in row-major order of the view.
    pub fn offsets(&self) -> ViewOffsets<'_> {
        ViewOffsets { view: self, idx: vec![0; self.rank()], next: self.offset, left: self.numel() }
    }

    fn check_axis(&self, op: &'static str, arg: &str, axis: usize) -> Result<()> {
        if axis < self.rank() {
            Ok(())
        } else {
            Err(Error::AxisOutOfRange { op, arg: arg.into(), axis, rank: self.rank() })
        }
    }
}

/// Iterator over the storage indices of a [`View`], row-major.
#[derive(Debug)]
pub struct ViewOffsets<'a> {
    view: &'a View,
    idx: Vec<usize>,
    next: usize,
    left: usize,
}

impl Iterator for ViewOffsets<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        let cur = self.next;
        self.left -= 1;
        if self.left > 0 {
            for ax in (0..self.idx.len()).rev() {
                self.idx[ax] += 1;
                self.next += self.view.strides[ax];
                if self.idx[ax] < self.view.shape[ax] {
                    break;
                }
                self.next -= self.view.strides[ax] * self.idx[ax];
                self.idx[ax] = 0;
            }
        }
        Some(cur)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
impl ExactSizeIterator for ViewOffsets<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_strides() {
        let v = View::contiguous("t", &[2, 3]).unwrap().transpose("t", 0, 1).unwrap();
        assert_eq!(v.offsets().collect::<Vec<_>>(), vec![0, 3, 1, 4, 2, 5]);
        assert!(!v.is_contiguous());
        assert!(v.is_non_overlapping());
    }

    #[test]
    fn broadcast_overlaps() {
        let v = View::contiguous("t", &[3]).unwrap().broadcast_to("t", "x", &[2, 3]).unwrap();
        assert_eq!(v.offsets().collect::<Vec<_>>(), vec![0, 1, 2, 0, 1, 2]);
        assert!(!v.is_non_overlapping());
    }

    #[test]
    fn slice_with_step() {
        let v = View::contiguous("t", &[10]).unwrap().slice("t", 0, 1, 8, 3).unwrap();
        assert_eq!(v.offsets().collect::<Vec<_>>(), vec![1, 4, 7]);
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(matches!(View::contiguous("t", &[usize::MAX, 2]), Err(Error::ShapeOverflow { .. })));
    }
}
