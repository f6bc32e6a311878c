//! Unit tests of the oracle with hand-computed expectations, and the helpers they share:
//! [`Buf`] holds a whole host buffer with a view over it.

mod conv;
mod elementwise;
mod matmul;
mod reduce;

use super::execute;
use crate::{HostIn, HostOut};
use accel_core::dtype::read_f64;
use accel_core::{DType, Op, Result, View};

/// A host buffer, its dtype and a view over it.
pub(super) struct Buf {
    pub(super) bytes: Vec<u8>,
    pub(super) view: View,
    pub(super) dtype: DType,
}

impl Buf {
    /// A contiguous buffer of `shape` holding `vals` (rounded once into `dtype`).
    pub(super) fn new(dtype: DType, shape: &[usize], vals: &[f64]) -> Buf {
        let view = View::contiguous("test", shape).unwrap();
        assert_eq!(view.numel(), vals.len(), "test data does not match its shape");
        let mut bytes = vec![0u8; vals.len() * dtype.size()];
        let flat = View::contiguous("test", &[vals.len()]).unwrap();
        let mut out = HostOut { bytes: &mut bytes, view: &flat, dtype };
        for (i, &v) in vals.iter().enumerate() {
            super::write(&mut out, &[i], v);
        }
        Buf { bytes, view, dtype }
    }

    /// A buffer of `len` elements all holding `fill`, viewed through `view`.
    pub(super) fn filled(dtype: DType, len: usize, fill: f64, view: View) -> Buf {
        let mut b = Buf::new(dtype, &[len], &vec![fill; len]);
        b.view = view;
        b
    }

    /// The same storage seen through another view.
    pub(super) fn with_view(mut self, f: impl FnOnce(&View) -> View) -> Buf {
        self.view = f(&self.view);
        self
    }

    pub(super) fn input(&self) -> HostIn<'_> {
        HostIn { bytes: &self.bytes, view: &self.view, dtype: self.dtype }
    }

    /// The elements through the view, row-major.
    pub(super) fn values(&self) -> Vec<f64> {
        self.view.offsets().map(|i| read_f64(&self.bytes, self.dtype, i)).collect()
    }

    /// Every element of the storage, ignoring the view.
    pub(super) fn storage(&self) -> Vec<f64> {
        (0..self.bytes.len() / self.dtype.size()).map(|i| read_f64(&self.bytes, self.dtype, i)).collect()
    }
}

/// Runs `op` on `inputs` into `out`.
pub(super) fn run(op: &Op, inputs: &[&Buf], out: &mut Buf) -> Result<()> {
    let ins: Vec<HostIn<'_>> = inputs.iter().map(|b| b.input()).collect();
    execute(op, &ins, HostOut { bytes: &mut out.bytes, view: &out.view, dtype: out.dtype })
}

/// A zero-filled contiguous output.
pub(super) fn out(dtype: DType, shape: &[usize]) -> Buf {
    let n = shape.iter().product();
    Buf::new(dtype, shape, &vec![0.0; n])
}

/// Asserts `got` is within `tol` of `want` elementwise (NaN matches NaN).
pub(super) fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol;
        assert!(ok, "element {i}: got {g}, want {w} (got {got:?}, want {want:?})");
    }
}
