//! Input specs as data: a storage shape plus a list of view steps (transpose, permute,
//! slice with step, broadcast, reshape) that turn it into the operand the op sees.
//!
//! Case tables describe non-contiguous operands with these, and the harness applies the same
//! steps on the device under test and on the reference device, so both see the same view.

use crate::data::{Domain, HostTensor};
use crate::rng::Rng;
use accel::{DType, Device, Result, Tensor};

/// One view transform, applied with the `Tensor` view method of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewStep {
    /// [`Tensor::transpose`].
    Transpose(usize, usize),
    /// [`Tensor::permute`].
    Permute(&'static [usize]),
    /// [`Tensor::slice_step`] over `start..end` of `axis` with `step`.
    Slice {
        /// Axis.
        axis: usize,
        /// First index.
        start: usize,
        /// One past the last index.
        end: usize,
        /// Step (at least 1).
        step: usize,
    },
    /// [`Tensor::broadcast_to`].
    Broadcast(&'static [usize]),
    /// [`Tensor::reshape`].
    Reshape(&'static [usize]),
}

/// Shorthand for [`ViewStep::Slice`].
pub const fn slice(axis: usize, start: usize, end: usize, step: usize) -> ViewStep {
    ViewStep::Slice { axis, start, end, step }
}

/// Applies `steps` in order to `t` (no copies: every step is a view).
pub fn apply_views(t: &Tensor, steps: &[ViewStep]) -> Result<Tensor> {
    let mut t = t.clone();
    for step in steps {
        t = match *step {
            ViewStep::Transpose(a, b) => t.transpose(a, b)?,
            ViewStep::Permute(p) => t.permute(p)?,
            ViewStep::Slice { axis, start, end, step } => t.slice_step(axis, start..end, step)?,
            ViewStep::Broadcast(s) => t.broadcast_to(s)?,
            ViewStep::Reshape(s) => t.reshape(s)?,
        };
    }
    Ok(t)
}

/// An operand in a case table: storage of `shape` seen through `views`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct In {
    /// Shape of the contiguous storage that is generated and uploaded.
    pub shape: &'static [usize],
    /// Steps from the storage to the operand.
    pub views: &'static [ViewStep],
}

impl In {
    /// A contiguous operand of `shape`.
    pub const fn c(shape: &'static [usize]) -> In {
        In { shape, views: &[] }
    }

    /// Storage of `shape` seen through `views`.
    pub const fn v(shape: &'static [usize], views: &'static [ViewStep]) -> In {
        In { shape, views }
    }

    /// Random storage data for this operand.
    pub fn generate(&self, rng: &mut Rng, dtype: DType, domain: Domain) -> HostTensor {
        HostTensor::random(rng, self.shape, dtype, domain)
    }

    /// Uploads `data` (this operand's storage) to `device` and applies the views.
    /// Returns `(storage, operand)`: compare the storage to see gaps a strided output must keep.
    pub fn realize(&self, device: &Device, data: &HostTensor) -> Result<(Tensor, Tensor)> {
        let base = data.upload(device)?;
        let view = apply_views(&base, self.views)?;
        Ok((base, view))
    }

    /// The operand's shape after the views, computed on a throwaway host-free description.
    /// Panics on a malformed table entry (a bug in the table, found on the first run).
    pub fn logical_shape(&self) -> Vec<usize> {
        let mut shape = self.shape.to_vec();
        for step in self.views {
            match *step {
                ViewStep::Transpose(a, b) => shape.swap(a, b),
                ViewStep::Permute(p) => shape = p.iter().map(|&i| shape[i]).collect(),
                ViewStep::Slice { axis, start, end, step } => shape[axis] = (end - start).div_ceil(step),
                ViewStep::Broadcast(s) | ViewStep::Reshape(s) => shape = s.to_vec(),
            }
        }
        shape
    }
}
