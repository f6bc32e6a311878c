//! # accel-core: the contract every accel device implements
//!
//! - [`DType`] and the sealed [`Element`] trait (f32, f16, bf16, i8, u8, i32);
//! - [`View`]: shapes of any rank and strided views (transpose, permute, slice, broadcast,
//!   reshape) that copy nothing, with checked size arithmetic;
//! - [`Device`] (a cheap clone over a dyn backend), the static [`Backend`] trait, its blanket
//!   [`DynBackend`] adapter, [`DeviceInfo`] and [`Capabilities`];
//! - [`Tensor`]: creation, host and `ndarray` transfer, views;
//! - [`ops`]: every op as `Result<Tensor>` plus an `*_into` form writing into a caller-owned
//!   tensor, validated here once and handed to the backend as an [`Op`] descriptor;
//! - one [`Error`] enum whose messages name the op, the argument, the expectation and the value;
//! - profiling: an [`OpRecord`] per executed op (see [`Device::set_profiling`]);
//! - [`comm`]: the [`comm::Communicator`] trait (collectives) and the in-process [`comm::LocalGroup`].
//!
//! Core validates, kernels compute, backends glue: a backend receives only validated,
//! canonicalised descriptors (see [`backend`]).

#![forbid(unsafe_code)]

pub mod backend;
pub mod comm;
pub mod device;
pub mod dtype;
pub mod error;
mod exec;
pub mod op;
pub mod profile;
pub mod round;
pub mod shape;
pub mod tensor;

pub use backend::{Backend, Capabilities, DeviceInfo, DeviceKind, DynBackend, ErrorBound, Operand, Operands, Support};
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use op::{Activation, DataLayout, Epilogue, Op, OpKind};
pub use profile::{Cost, EnergyEntry, ExecReport, OpRecord, RooflinePoint};
pub use shape::View;
pub use tensor::Tensor;

pub use half::{bf16, f16};

/// Every op entry point and its options, in one place.
pub mod ops {
    pub use crate::op::conv::{
        Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, conv_transpose2d, conv_transpose2d_into, conv1d,
        conv1d_into, conv2d, conv2d_into,
    };
    pub use crate::op::elementwise::{BinaryOp, UnaryOp, binary, binary_into, cast, cast_into, unary, unary_into};
    pub use crate::op::epilogue::{Activation, Epilogue, Requantize};
    pub use crate::op::matmul::{MatmulOptions, matmul, matmul_into, matmul_with};
    pub use crate::op::reduce::{ReduceOp, reduce, reduce_into, softmax, softmax_into};
}
