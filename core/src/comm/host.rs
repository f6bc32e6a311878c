//! Host staging for transports outside this crate (accel-mpi): byte-range access to a
//! contiguous tensor, the backend buffer itself for zero-copy access where a transport knows
//! the buffer type ([`with_buffer`]), and the float reduction rules of the contract, so every
//! transport reduces with the same arithmetic.
//!
//! It is also where a backend whose buffers are plain host memory says so
//! ([`HostMemory`], [`register_host_memory`]): the in-process transport then reduces straight
//! from the ranks' buffers into theirs (one pass over the data, no staging through the
//! generic `read`/`write` copies) whenever every tensor of a call lives in such memory.

use super::call::ReduceOp;
use super::math::{fmax, fmin};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::any::{Any, TypeId};
use std::ops::{Deref, DerefMut};
use std::sync::RwLock;

/// A backend buffer that is host memory behind a lock, so a transport may borrow its bytes
/// for the length of a call instead of copying them in and out.
///
/// The guards hold the buffer's lock: while one lives, the backend's ops on the buffer wait
/// (a write guard excludes every other access, as the backend's own write lock does). A
/// transport holding several guards takes them in the buffers' address order, the order the
/// CPU backend's ops lock their operands in, so it cannot deadlock with them.
pub trait HostMemory: Any + Send + Sync {
    /// The buffer's bytes, shared (other readers may hold guards at the same time).
    fn host_bytes(&self) -> Box<dyn Deref<Target = [u8]> + '_>;
    /// The buffer's bytes, exclusive.
    fn host_bytes_mut(&self) -> Box<dyn DerefMut<Target = [u8]> + '_>;
    /// The last step of a large f32 reduction, for a result nothing will read soon:
    /// `out[j] = a[j] ⊕ b[j]` (for [`ReduceOp::Avg`] then divided by `ranks`, as the
    /// contract's average is the sum divided once) into every `out` of `outs`, with stores
    /// that bypass the cache, so no destination line is read from memory before it is
    /// written. The outputs are bytes of buffers of this type, disjoint from `a` and `b`;
    /// they are visible to other threads when this returns.
    ///
    /// Returns false, having written nothing, where the backend has no such kernel (the
    /// default), for Max and Min, or when an operand's length differs from the outputs'; the
    /// caller then computes and stores the result itself.
    fn combine_streaming(&self, op: ReduceOp, ranks: usize, a: &[f32], b: &[f32], outs: &mut [&mut [u8]]) -> bool {
        let _ = (op, ranks, a, b, outs);
        false
    }
}

type Cast = for<'a> fn(&'a (dyn Any + Send + Sync)) -> Option<&'a dyn HostMemory>;

/// Buffer types registered with [`register_host_memory`].
static HOST_TYPES: RwLock<Vec<(TypeId, Cast)>> = RwLock::new(Vec::new());

fn cast<T: HostMemory>(buffer: &(dyn Any + Send + Sync)) -> Option<&dyn HostMemory> {
    buffer.downcast_ref::<T>().map(|b| b as &dyn HostMemory)
}

/// Declares that buffers of type `T` (a backend's `Backend::Buffer`) are host memory the
/// in-process transport may borrow. Idempotent; a backend calls it before handing out its
/// first buffer (the CPU backend does so on its first allocation).
pub fn register_host_memory<T: HostMemory>() {
    let mut types = HOST_TYPES.write().unwrap_or_else(|e| e.into_inner());
    if !types.iter().any(|(id, _)| *id == TypeId::of::<T>()) {
        types.push((TypeId::of::<T>(), cast::<T>));
    }
}

/// The host memory behind a backend buffer, if its type was registered.
pub(crate) fn host_memory(buffer: &(dyn Any + Send + Sync)) -> Option<&dyn HostMemory> {
    let types = HOST_TYPES.read().unwrap_or_else(|e| e.into_inner());
    types.iter().find_map(|(_, cast)| cast(buffer))
}

fn range(op: &'static str, t: &Tensor, elem: usize, bytes: usize) -> Result<usize> {
    let es = t.dtype().size();
    if !t.is_contiguous() {
        return Err(Error::invalid(op, "tensor", "a contiguous tensor", "a strided view"));
    }
    let fits = bytes.is_multiple_of(es) && elem.checked_add(bytes / es).is_some_and(|end| end <= t.numel());
    if !fits {
        return Err(Error::invalid(
            op,
            "range",
            format!("whole elements within the tensor's {} elements", t.numel()),
            format!("{bytes} bytes from element {elem}"),
        ));
    }
    Ok((t.view().offset() + elem) * es)
}

/// Copies `out.len()` bytes of the contiguous tensor `t`, from element `elem` on, into `out`.
pub fn read_bytes(t: &Tensor, elem: usize, out: &mut [u8]) -> Result<()> {
    let at = range("read_bytes", t, elem, out.len())?;
    if out.is_empty() {
        return Ok(());
    }
    t.device().backend().read(&*t.storage.buffer, at, out)
}

/// Writes `data` into the contiguous tensor `t` from element `elem` on.
pub fn write_bytes(t: &Tensor, elem: usize, data: &[u8]) -> Result<()> {
    let at = range("write_bytes", t, elem, data.len())?;
    if data.is_empty() {
        return Ok(());
    }
    t.device().backend().write(&*t.storage.buffer, at, data)
}

/// Runs `f` on the backend buffer holding the contiguous tensor `t` and the byte range of
/// `t`'s elements in it. The buffer is the device backend's own type behind `dyn Any`: a
/// transport that knows it (accel-mpi downcasts to the CPU backend's buffer) can hand that
/// memory to its library directly instead of copying through [`read_bytes`]/[`write_bytes`];
/// any other type is the caller's cue to fall back to them.
pub fn with_buffer<R>(
    t: &Tensor,
    f: impl FnOnce(&(dyn std::any::Any + Send + Sync), std::ops::Range<usize>) -> R,
) -> Result<R> {
    let bytes = t.numel() * t.dtype().size();
    let at = range("with_buffer", t, 0, bytes)?;
    Ok(f(&*t.storage.buffer, at..at + bytes))
}

/// `acc = acc ⊕ other` in f32 with the contract's rules (Avg accumulates as Sum; Max/Min
/// ignore NaN and order +0 above −0, so they do not depend on the operand order).
pub fn combine_f32(op: ReduceOp, acc: &mut [f32], other: &[f32]) {
    let pairs = acc.iter_mut().zip(other);
    match op {
        ReduceOp::Sum | ReduceOp::Avg => pairs.for_each(|(a, b)| *a += *b),
        ReduceOp::Prod => pairs.for_each(|(a, b)| *a *= *b),
        ReduceOp::Max => pairs.for_each(|(a, &b)| *a = fmax(*a, b)),
        ReduceOp::Min => pairs.for_each(|(a, &b)| *a = fmin(*a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_ignores_nan_in_either_position() {
        let mut a = [f32::NAN, 1.0, -0.0];
        combine_f32(ReduceOp::Max, &mut a, &[2.0, f32::NAN, 0.0]);
        assert_eq!(a[0], 2.0);
        assert_eq!(a[1], 1.0);
        assert!(a[2].is_sign_positive());
    }
}
