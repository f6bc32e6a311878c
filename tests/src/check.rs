//! Running one case on the device under test and on the reference device, and comparing.
//!
//! A case is a closure `Fn(&Device) -> accel::Result<Tensor>` that uploads its (pre-generated)
//! host data to the given device, applies its views and calls the public op. The harness calls
//! it once per device, reads both results with `to_f64_vec` and compares them with a
//! [`Tolerance`]. For `*_into` cases the closure returns the output's whole storage, so
//! elements a strided output skips are checked too (they must keep their previous contents).

use crate::reference_device::reference_device;
use crate::tolerance::{Tolerance, compare};
use accel::{Device, Error, Tensor};
use std::fmt;

/// How many mismatching elements a failure report lists.
pub const MAX_REPORTED: usize = 8;

/// Why a case failed.
#[derive(Debug, Clone)]
pub enum CheckError {
    /// The device under test returned [`Error::Unsupported`] (a failure when the device's
    /// capabilities claim support).
    Unsupported(Error),
    /// The device under test returned another error for a valid call.
    Device(Error),
    /// The reference device (the oracle) failed.
    Oracle(Error),
    /// The outputs differ: shape, dtype or values (the report lists the first mismatches).
    Mismatch(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Unsupported(e) => write!(f, "device returned Unsupported: {e}"),
            CheckError::Device(e) => write!(f, "device returned an error for a valid call: {e}"),
            CheckError::Oracle(e) => write!(f, "the reference oracle failed: {e}"),
            CheckError::Mismatch(m) => write!(f, "output differs from the reference: {m}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Runs `case` on `device` and on a fresh reference device and compares the outputs.
pub fn check_against_reference<F>(device: &Device, tol: Tolerance, case: F) -> Result<(), CheckError>
where
    F: Fn(&Device) -> accel::Result<Tensor>,
{
    let got = case(device)
        .map_err(|e| if e.is_unsupported() { CheckError::Unsupported(e) } else { CheckError::Device(e) })?;
    let reference = reference_device();
    let expected = case(&reference).map_err(CheckError::Oracle)?;
    compare_tensors(&got, &expected, tol)
}

/// Compares a device's output tensor with the reference's: shape, dtype, then values.
pub fn compare_tensors(got: &Tensor, expected: &Tensor, tol: Tolerance) -> Result<(), CheckError> {
    if got.shape() != expected.shape() || got.dtype() != expected.dtype() {
        return Err(CheckError::Mismatch(format!(
            "got {} {:?}, expected {} {:?}",
            got.dtype(),
            got.shape(),
            expected.dtype(),
            expected.shape()
        )));
    }
    let g = got.to_f64_vec().map_err(CheckError::Device)?;
    let e = expected.to_f64_vec().map_err(CheckError::Oracle)?;
    match compare(&g, &e, expected.shape(), tol, MAX_REPORTED) {
        None => Ok(()),
        Some(report) => Err(CheckError::Mismatch(report)),
    }
}
