//! [`Tensor`]: a device buffer seen through a strided [`View`].
//!
//! Clones and views share the buffer; an op writing into a tensor (`*_into`) is seen by every
//! view of the same buffer.

use crate::device::Device;
use crate::dtype::{DType, Element, read_f64};
use crate::error::{Error, Result, dims};
use crate::shape::View;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

pub(crate) struct Storage {
    pub(crate) device: Device,
    pub(crate) buffer: Box<dyn Any + Send + Sync>,
    /// Capacity in elements of `dtype`.
    pub(crate) elems: usize,
}

/// An n-dimensional array of one [`DType`] on one [`Device`].
#[derive(Clone)]
pub struct Tensor {
    pub(crate) storage: Arc<Storage>,
    pub(crate) view: View,
    pub(crate) dtype: DType,
}

impl Tensor {
    /// A zero-filled contiguous tensor.
    pub fn zeros(device: &Device, shape: &[usize], dtype: DType) -> Result<Tensor> {
        Self::alloc("zeros", device, shape, dtype)
    }

    pub(crate) fn alloc(op: &'static str, device: &Device, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let view = View::contiguous(op, shape)?;
        let elems = view.numel();
        let bytes = elems * dtype.size();
        device.check_alloc(op, bytes)?;
        let buffer = device.backend().alloc(bytes).map_err(|e| match e {
            // Name the op the caller called, not the backend's internal step.
            Error::OutOfMemory { requested, limit, device, .. } => Error::OutOfMemory { op, requested, limit, device },
            e => e,
        })?;
        Ok(Tensor { storage: Arc::new(Storage { device: device.clone(), buffer, elems }), view, dtype })
    }

    /// A contiguous tensor holding `data` (row-major) with the given shape.
    pub fn from_slice<T: Element>(device: &Device, shape: &[usize], data: &[T]) -> Result<Tensor> {
        Self::from_bytes(device, shape, T::DTYPE, bytemuck::cast_slice(data))
    }

    /// A contiguous tensor from little-endian element bytes.
    pub fn from_bytes(device: &Device, shape: &[usize], dtype: DType, bytes: &[u8]) -> Result<Tensor> {
        let numel = View::contiguous("from_slice", shape)?.numel();
        if bytes.len() != numel * dtype.size() {
            return Err(Error::shape(
                "from_slice",
                "data",
                format!("{numel} elements for shape {}", dims(shape)),
                format!("{} elements", bytes.len() / dtype.size()),
            ));
        }
        let t = Self::alloc("from_slice", device, shape, dtype)?;
        if !bytes.is_empty() {
            device.backend().write(&*t.storage.buffer, 0, bytes)?;
        }
        Ok(t)
    }

    /// A tensor with every element equal to `value`, converted as a cast does (round to
    /// nearest even for floats; round toward zero and saturate for integers).
    pub fn full(device: &Device, shape: &[usize], dtype: DType, value: f64) -> Result<Tensor> {
        let t = Self::alloc("full", device, shape, dtype)?;
        let mut one = vec![0u8; dtype.size()];
        crate::dtype::write_f64(&mut one, dtype, 0, value);
        if t.numel() > 0 {
            let bytes = one.repeat(t.numel());
            device.backend().write(&*t.storage.buffer, 0, &bytes)?;
        }
        Ok(t)
    }

    /// A tensor from an `ndarray` array (any layout; the data is copied row-major).
    pub fn from_ndarray<T, S, D>(device: &Device, array: &ndarray::ArrayBase<S, D>) -> Result<Tensor>
    where
        T: Element,
        S: ndarray::Data<Elem = T>,
        D: ndarray::Dimension,
    {
        let data: Vec<T> = array.iter().copied().collect();
        Self::from_slice(device, array.shape(), &data)
    }

    /// Dims.
    pub fn shape(&self) -> &[usize] {
        self.view.shape()
    }
    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        self.view.strides()
    }
    /// The view over the buffer.
    pub fn view(&self) -> &View {
        &self.view
    }
    /// Rank.
    pub fn rank(&self) -> usize {
        self.view.rank()
    }
    /// Element count.
    pub fn numel(&self) -> usize {
        self.view.numel()
    }
    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    /// The device holding the buffer.
    pub fn device(&self) -> &Device {
        &self.storage.device
    }
    /// True when the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.view.is_contiguous()
    }
    /// True when `self` and `other` share a buffer.
    pub fn shares_buffer(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Element bytes in row-major order of the view (a gather on the host when strided).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let es = self.dtype.size();
        let n = self.numel();
        if n == 0 {
            return Ok(Vec::new());
        }
        let start = self.view.offset();
        let end = self.view.span().unwrap_or(start);
        let mut raw = vec![0u8; (end - start) * es];
        self.device().backend().read(&*self.storage.buffer, start * es, &mut raw)?;
        if self.view.is_contiguous() {
            return Ok(raw);
        }
        let mut out = Vec::with_capacity(n * es);
        for off in self.view.offsets() {
            let i = (off - start) * es;
            out.extend_from_slice(&raw[i..i + es]);
        }
        Ok(out)
    }

    /// The elements, row-major. `T` must match the dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(Error::dtype("to_vec", "T", self.dtype.name(), T::DTYPE));
        }
        let bytes = self.to_bytes()?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The elements widened to f64, row-major (exact for every dtype).
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        let bytes = self.to_bytes()?;
        Ok((0..self.numel()).map(|i| read_f64(&bytes, self.dtype, i)).collect())
    }

    /// The elements as an `ndarray` array. `T` must match the dtype.
    pub fn to_ndarray<T: Element>(&self) -> Result<ndarray::ArrayD<T>> {
        let data = self.to_vec::<T>()?;
        ndarray::ArrayD::from_shape_vec(self.shape().to_vec(), data)
            .map_err(|e| Error::invalid("to_ndarray", "shape", "a shape ndarray accepts", e.to_string()))
    }

    /// A contiguous copy on `device` (a clone of the handle when already there).
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        if self.device().same(device) {
            return Ok(self.clone());
        }
        Tensor::from_bytes(device, self.shape(), self.dtype, &self.to_bytes()?)
    }

    fn with_view(&self, view: View) -> Tensor {
        Tensor { storage: self.storage.clone(), view, dtype: self.dtype }
    }

    /// Swaps two axes (no copy).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        Ok(self.with_view(self.view.transpose("transpose", a, b)?))
    }

    /// Swaps the last two axes (no copy).
    pub fn t(&self) -> Result<Tensor> {
        let r = self.rank();
        if r < 2 {
            return Err(Error::shape("t", "self", "rank >= 2", dims(self.shape())));
        }
        self.transpose(r - 2, r - 1)
    }

    /// Reorders axes: new axis `i` is old axis `perm[i]` (no copy).
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        Ok(self.with_view(self.view.permute("permute", perm)?))
    }

    /// Elements `range` along `axis` (no copy).
    pub fn slice(&self, axis: usize, range: std::ops::Range<usize>) -> Result<Tensor> {
        self.slice_step(axis, range, 1)
    }

    /// Every `step`-th element of `range` along `axis` (no copy).
    pub fn slice_step(&self, axis: usize, range: std::ops::Range<usize>, step: usize) -> Result<Tensor> {
        Ok(self.with_view(self.view.slice("slice", axis, range.start, range.end, step)?))
    }

    /// Broadcasts to `shape` with numpy rules (no copy; repeated dims get stride 0).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(self.with_view(self.view.broadcast_to("broadcast_to", "self", shape)?))
    }

    /// Same elements, another shape; the tensor must be contiguous (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(self.with_view(self.view.reshape("reshape", shape)?))
    }

    /// A contiguous tensor with the same elements (a handle clone when already contiguous).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.cast(self.dtype)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor({} {:?} on {})", self.dtype, self.shape(), self.device().name())
    }
}
