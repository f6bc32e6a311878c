//! The one error type of accel.
//!
//! Every message names the op, the argument, what was expected and what was given, so a caller
//! can fix the call from the message alone: `conv2d: weight has 3 input channels per group,
//! input has 4 channels with groups=2 (expected 2)`.

use crate::dtype::DType;

/// `Result` with accel's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in accel. Variants that describe bad input carry the op name,
/// the argument and the expected and given values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shape (or the length of data) does not fit what the op needs.
    #[error("{op}: {arg} has shape {got}, expected {expected}")]
    ShapeMismatch {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// What the op needed.
        expected: String,
        /// What it was given.
        got: String,
    },
    /// A tensor has the wrong element type for the op.
    #[error("{op}: {arg} has dtype {got}, expected {expected}")]
    DTypeMismatch {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// Accepted dtypes.
        expected: String,
        /// Given dtype.
        got: DType,
    },
    /// Tensors passed to one op live on different devices.
    #[error("{op}: {arg} is on device {got}, expected device {expected} (move it with to_device)")]
    DeviceMismatch {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// Device of the first operand.
        expected: String,
        /// Device of the offending operand.
        got: String,
    },
    /// A convolution window does not fit the padded input.
    #[error(
        "{op}: kernel extent {kernel_extent} along {dim} exceeds the padded input size {padded_input} (expected at most the padded input)"
    )]
    KernelTooLarge {
        /// Op that rejected the call.
        op: &'static str,
        /// Spatial dimension (`H`, `W`, `L`).
        dim: &'static str,
        /// Dilated kernel extent `dilation * (k - 1) + 1`.
        kernel_extent: usize,
        /// Input size plus both paddings.
        padded_input: usize,
    },
    /// A group count that does not divide the channels, or weights that do not match it.
    #[error("{op}: {arg}: {detail}")]
    InvalidGroups {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// What is wrong and what was expected.
        detail: String,
    },
    /// A stride or dilation of zero.
    #[error("{op}: {arg} must be at least 1, got 0")]
    ZeroStep {
        /// Op that rejected the call.
        op: &'static str,
        /// `stride[i]` or `dilation[i]`.
        arg: String,
    },
    /// An axis that the tensor does not have.
    #[error("{op}: {arg} is {axis}, expected an axis in 0..{rank} for a rank-{rank} tensor")]
    AxisOutOfRange {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// Given axis.
        axis: usize,
        /// Rank of the tensor.
        rank: usize,
    },
    /// A shape whose element or byte count does not fit in `usize`.
    #[error("{op}: {arg} has shape {shape:?} whose size overflows usize")]
    ShapeOverflow {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// The dims.
        shape: Vec<usize>,
    },
    /// A requantization scale that is zero, negative, infinite or NaN.
    #[error("{op}: {arg}[{index}] is {got}, expected a finite scale > 0")]
    InvalidScale {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// Index of the bad scale.
        index: usize,
        /// The bad value.
        got: f32,
    },
    /// Any other argument outside its domain.
    #[error("{op}: {arg} is {got}, expected {expected}")]
    InvalidArgument {
        /// Op that rejected the call.
        op: &'static str,
        /// Offending argument.
        arg: String,
        /// What the op needed.
        expected: String,
        /// What it was given.
        got: String,
    },
    /// The device cannot run this op for this dtype.
    #[error("{op}: dtype {dtype} is not supported by backend {backend}")]
    Unsupported {
        /// Op that was asked for.
        op: &'static str,
        /// Its dtype.
        dtype: DType,
        /// Backend name.
        backend: String,
    },
    /// The device could not allocate.
    #[error("{op}: cannot allocate {requested} bytes on {device} (limit {limit} bytes)")]
    OutOfMemory {
        /// Op that allocated.
        op: &'static str,
        /// Bytes requested.
        requested: usize,
        /// Largest allocation the device allows.
        limit: usize,
        /// Device name.
        device: String,
    },
    /// The device stopped working (GPU reset, driver crash).
    #[error("device {device} was lost: {reason}")]
    DeviceLost {
        /// Device name.
        device: String,
        /// What the driver said.
        reason: String,
    },
    /// A collective or point-to-point call did not complete before its deadline because some
    /// ranks never arrived.
    #[error(
        "{op} (seq {seq}) on rank {rank} of {size}: timed out after {waited_ms} ms waiting for rank(s) {missing:?} (expected all {size} ranks to arrive)"
    )]
    CommTimeout {
        /// The call that timed out (`all_reduce`, `recv`, ...).
        op: &'static str,
        /// Its sequence number on this communicator.
        seq: u64,
        /// The rank that reports the timeout.
        rank: usize,
        /// Ranks in the group.
        size: usize,
        /// The ranks that did not arrive.
        missing: Vec<usize>,
        /// How long this rank waited, in milliseconds.
        waited_ms: u64,
    },
    /// Ranks called different collectives, or the same one with different arguments.
    #[error("{op} (seq {seq}) on rank {rank}: rank {other_rank} called {got}, expected {expected}")]
    CommMismatch {
        /// The call on the reporting rank.
        op: &'static str,
        /// Its sequence number.
        seq: u64,
        /// The rank that reports the mismatch.
        rank: usize,
        /// The rank whose call differs.
        other_rank: usize,
        /// The call as the reporting rank made it (op, dtype, shape, root, seq).
        expected: String,
        /// The call as `other_rank` made it.
        got: String,
    },
    /// The communicator failed earlier (a timeout, a mismatch or a rank that panicked) and
    /// refuses further calls, so no rank waits on a group that can no longer complete.
    #[error("{op} on rank {rank}: the communicator was aborted earlier: {reason}")]
    CommAborted {
        /// The refused call.
        op: &'static str,
        /// The calling rank.
        rank: usize,
        /// What aborted the communicator.
        reason: String,
    },
    /// A backend failure the caller could not have foreseen.
    #[error("{backend}: {message}")]
    Backend {
        /// Backend name.
        backend: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// [`Error::ShapeMismatch`] from displayable parts.
    pub fn shape(
        op: &'static str,
        arg: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Error::ShapeMismatch { op, arg: arg.into(), expected: expected.into(), got: got.into() }
    }

    /// [`Error::DTypeMismatch`] from displayable parts.
    pub fn dtype(op: &'static str, arg: impl Into<String>, expected: impl Into<String>, got: DType) -> Self {
        Error::DTypeMismatch { op, arg: arg.into(), expected: expected.into(), got }
    }

    /// [`Error::InvalidArgument`] from displayable parts.
    pub fn invalid(
        op: &'static str,
        arg: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument { op, arg: arg.into(), expected: expected.into(), got: got.into() }
    }

    /// True for [`Error::Unsupported`]: the combination is valid but this device cannot run it.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}

/// Formats dims as `[2, 3, 4]`.
pub(crate) fn dims(d: &[usize]) -> String {
    format!("{d:?}")
}
