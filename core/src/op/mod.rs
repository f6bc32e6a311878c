//! Op descriptors: what a backend receives, validated once in core.
//!
//! Each op has a user-facing options type and entry functions (`matmul`, `matmul_into`, ...)
//! that check every argument, broadcast and permute the operand views into the canonical form
//! the descriptor documents, and pass one [`Op`] to the device. Backends match on [`Op`]; an
//! op they do not know falls through to [`crate::Error::Unsupported`].

pub mod conv;
pub mod elementwise;
pub mod epilogue;
pub mod matmul;
pub mod reduce;

use crate::dtype::DType;
pub use conv::{ConvDesc, DataLayout};
pub use elementwise::{BinaryDesc, BinaryOp, CastDesc, UnaryDesc, UnaryOp};
pub use epilogue::{Activation, Epilogue, EpilogueDesc, Requant, Requantize};
pub use matmul::MatmulDesc;
pub use reduce::{ReduceDesc, ReduceOp, SoftmaxDesc};

/// The family an op belongs to, for capability queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// Matrix multiply (float and int8).
    Matmul,
    /// Convolution, 1-D and 2-D.
    Conv,
    /// Transposed 2-D convolution.
    ConvTranspose,
    /// Elementwise unary.
    Unary,
    /// Elementwise binary with broadcasting.
    Binary,
    /// Dtype conversion (and strided copy when the dtypes agree).
    Cast,
    /// Sum / max / min / mean over axes.
    Reduce,
    /// Softmax and log-softmax over one axis.
    Softmax,
}

impl OpKind {
    /// Every kind, in a fixed order.
    pub const ALL: [OpKind; 8] = [
        OpKind::Matmul,
        OpKind::Conv,
        OpKind::ConvTranspose,
        OpKind::Unary,
        OpKind::Binary,
        OpKind::Cast,
        OpKind::Reduce,
        OpKind::Softmax,
    ];

    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            OpKind::Matmul => "matmul",
            OpKind::Conv => "conv",
            OpKind::ConvTranspose => "conv_transpose2d",
            OpKind::Unary => "unary",
            OpKind::Binary => "binary",
            OpKind::Cast => "cast",
            OpKind::Reduce => "reduce",
            OpKind::Softmax => "softmax",
        }
    }
}

/// One validated op. The operand order of each variant is documented on its descriptor.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// See [`MatmulDesc`].
    Matmul(MatmulDesc),
    /// See [`ConvDesc`].
    Conv(ConvDesc),
    /// Transposed convolution; see [`ConvDesc`].
    ConvTranspose(ConvDesc),
    /// See [`UnaryDesc`].
    Unary(UnaryDesc),
    /// See [`BinaryDesc`].
    Binary(BinaryDesc),
    /// See [`CastDesc`].
    Cast(CastDesc),
    /// See [`ReduceDesc`].
    Reduce(ReduceDesc),
    /// See [`SoftmaxDesc`].
    Softmax(SoftmaxDesc),
}

impl Op {
    /// The op's family.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Matmul(_) => OpKind::Matmul,
            Op::Conv(_) => OpKind::Conv,
            Op::ConvTranspose(_) => OpKind::ConvTranspose,
            Op::Unary(_) => OpKind::Unary,
            Op::Binary(_) => OpKind::Binary,
            Op::Cast(_) => OpKind::Cast,
            Op::Reduce(_) => OpKind::Reduce,
            Op::Softmax(_) => OpKind::Softmax,
        }
    }

    /// The name used in errors and records (`conv1d`, `unary.exp`, ...).
    pub fn name(&self) -> String {
        match self {
            Op::Conv(d) => format!("conv{}d", d.spatial_rank),
            Op::Unary(d) => format!("unary.{}", d.op.name()),
            Op::Binary(d) => format!("binary.{}", d.op.name()),
            Op::Reduce(d) => format!("reduce.{}", d.op.name()),
            Op::Softmax(d) if d.log => "log_softmax".into(),
            op => op.kind().name().into(),
        }
    }

    /// The dtype of the main input (the one capabilities are keyed on).
    pub fn dtype(&self) -> DType {
        match self {
            Op::Matmul(d) => d.dtype,
            Op::Conv(d) | Op::ConvTranspose(d) => d.dtype,
            Op::Unary(d) => d.dtype,
            Op::Binary(d) => d.dtype,
            Op::Cast(d) => d.from,
            Op::Reduce(d) => d.dtype,
            Op::Softmax(d) => d.dtype,
        }
    }
}
