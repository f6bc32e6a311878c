//! The backend contract.
//!
//! A backend implements the static [`Backend`] trait with its own buffer type; the blanket
//! [`DynBackend`] adapter makes it usable behind [`crate::Device`], so user code, tests and
//! benches are never generic over the backend.
//!
//! Contract (what `core` guarantees before calling [`Backend::execute`]):
//! - the descriptor was validated: shapes agree, dtypes are the ones the op accepts, sizes fit;
//! - every operand view lies inside its buffer; inputs are broadcast to the shapes the
//!   descriptor documents, so kernels never handle broadcasting;
//! - the output view does not overlap itself and shares no buffer with any input;
//! - all buffers were allocated by this backend.
//!
//! A backend returns errors only for what the caller could not foresee (out of memory, device
//! lost) and `Error::Unsupported` for ops or dtypes it does not run. It never panics on a
//! validated op.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{Op, OpKind};
use crate::profile::ExecReport;
use crate::shape::View;
use std::any::Any;
use std::fmt;

/// What kind of hardware a device is (or models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A host CPU.
    Cpu,
    /// A GPU.
    Gpu,
    /// A neural processing unit (emulated systolic array).
    Npu,
    /// DRAM processing-in-memory.
    Pim,
    /// An analog MAC crossbar.
    Analog,
}

/// What a device is: name, kind, and peak rates where known.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Short unique name (`cpu`, `wgpu:0:llvmpipe`, `npu:tpu-v1`).
    pub name: String,
    /// Kind of hardware.
    pub kind: DeviceKind,
    /// Backend that drives it.
    pub backend: String,
    /// True when figures are modeled rather than measured (emulated devices).
    pub emulated: bool,
    /// Peak f32 throughput in GFLOP/s, if known.
    pub peak_gflops: Option<f64>,
    /// Peak memory bandwidth in GB/s, if known.
    pub peak_bandwidth_gbs: Option<f64>,
}

/// How a device runs an (op kind, dtype) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Support {
    /// Hardware does it directly.
    Native,
    /// Correct, through conversion or a slower path (bf16 computed in f32, say).
    Emulated,
    /// Not available: the op returns [`Error::Unsupported`].
    Unsupported,
}

/// The error a device's own model states for an (op kind, dtype) whose datapath is less
/// accurate than the contract's (f32 or exact accumulation, one rounding): narrow
/// accumulators (fp16 PIM lanes), analog conversion (ADC quantization, device noise).
///
/// For a reduction of `K` products, each of magnitude at most `P`, the device promises
/// `|got − exact| ≤ abs + (per_term·K + per_sqrt_term·√K)·P + rel·|exact|`, on top of the
/// contract's rounding of the output. The model derives the numbers from its parameters (a
/// worst case, or a stated multiple of a noise standard deviation); the conformance suite
/// widens its tolerance by exactly this, so a device never passes by a tolerance it did not
/// state.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ErrorBound {
    /// Fixed absolute error.
    pub abs: f64,
    /// Relative error.
    pub rel: f64,
    /// Absolute error per reduction term, in units of the largest product magnitude.
    pub per_term: f64,
    /// Absolute error per square root of the term count, in the same units.
    pub per_sqrt_term: f64,
}

impl ErrorBound {
    /// The absolute part of the bound for `terms` products of magnitude at most `max_product`.
    pub fn abs_at(&self, terms: usize, max_product: f64) -> f64 {
        let k = terms as f64;
        self.abs + (self.per_term * k + self.per_sqrt_term * k.sqrt()) * max_product
    }
}

/// Per op kind × dtype support plus limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    table: Vec<(OpKind, DType, Support)>,
    bounds: Vec<(OpKind, DType, ErrorBound)>,
    /// Largest single buffer in bytes.
    pub max_buffer_bytes: usize,
}

impl Capabilities {
    /// Everything unsupported, with the given buffer limit.
    pub fn new(max_buffer_bytes: usize) -> Self {
        Capabilities { table: Vec::new(), bounds: Vec::new(), max_buffer_bytes }
    }

    /// The whole contract: f32 native on every op, f16/bf16 emulated (computed in f32) on
    /// every op, i8/u8 native on matmul, convolutions and elementwise ops, i32 native on
    /// elementwise ops — the table of a backend that runs every op the oracle defines.
    pub fn full_contract(max_buffer_bytes: usize) -> Self {
        let mut c = Self::new(max_buffer_bytes);
        for kind in OpKind::ALL {
            c.set(kind, DType::F32, Support::Native);
            c.set(kind, DType::F16, Support::Emulated);
            c.set(kind, DType::BF16, Support::Emulated);
        }
        let elementwise = [OpKind::Unary, OpKind::Binary, OpKind::Cast, OpKind::Reduce];
        for kind in [OpKind::Matmul, OpKind::Conv, OpKind::ConvTranspose].into_iter().chain(elementwise) {
            c.set(kind, DType::I8, Support::Native);
            c.set(kind, DType::U8, Support::Native);
        }
        for kind in elementwise {
            c.set(kind, DType::I32, Support::Native);
        }
        c
    }

    /// Sets the support of one pair (builder style).
    pub fn with(mut self, kind: OpKind, dtype: DType, support: Support) -> Self {
        self.set(kind, dtype, support);
        self
    }

    /// Sets the support of one pair.
    pub fn set(&mut self, kind: OpKind, dtype: DType, support: Support) {
        self.table.retain(|(k, d, _)| !(*k == kind && *d == dtype));
        if support != Support::Unsupported {
            self.table.push((kind, dtype, support));
        }
    }

    /// How this device runs `kind` on `dtype`.
    pub fn support(&self, kind: OpKind, dtype: DType) -> Support {
        self.table.iter().find(|(k, d, _)| *k == kind && *d == dtype).map_or(Support::Unsupported, |e| e.2)
    }

    /// States the model's error bound for one pair (see [`ErrorBound`]).
    pub fn set_error_bound(&mut self, kind: OpKind, dtype: DType, bound: ErrorBound) {
        self.bounds.retain(|(k, d, _)| !(*k == kind && *d == dtype));
        self.bounds.push((kind, dtype, bound));
    }

    /// The error bound the device states for `kind` on `dtype`; `None` means the contract's
    /// accuracy.
    pub fn error_bound(&self, kind: OpKind, dtype: DType) -> Option<ErrorBound> {
        self.bounds.iter().find(|(k, d, _)| *k == kind && *d == dtype).map(|e| e.2)
    }
}

/// One buffer argument of an op: the buffer, the view over it and its dtype.
#[derive(Debug)]
pub struct Operand<'a, B: ?Sized> {
    /// The backend buffer.
    pub buffer: &'a B,
    /// Shape/strides/offset in elements.
    pub view: &'a View,
    /// Element type.
    pub dtype: DType,
}

impl<B: ?Sized> Clone for Operand<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: ?Sized> Copy for Operand<'_, B> {}

/// The buffers of one op: inputs in the order the op's descriptor documents, and the output.
/// Buffers use interior mutability: the output is written through a shared reference.
#[derive(Debug)]
pub struct Operands<'a, B: ?Sized> {
    /// Inputs.
    pub inputs: Vec<Operand<'a, B>>,
    /// Output.
    pub output: Operand<'a, B>,
}

/// A compute backend (static form). See the module docs for the contract.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Device memory handle. Written through `&self` (interior mutability).
    type Buffer: Send + Sync + fmt::Debug + 'static;

    /// What the device is.
    fn info(&self) -> &DeviceInfo;
    /// What it supports.
    fn capabilities(&self) -> &Capabilities;
    /// A zero-filled buffer of `bytes` bytes.
    fn alloc(&self, bytes: usize) -> Result<Self::Buffer>;
    /// Copies `data` into `buffer` at byte `offset` (range checked by core).
    fn write(&self, buffer: &Self::Buffer, offset: usize, data: &[u8]) -> Result<()>;
    /// Copies bytes from `buffer` at byte `offset` into `out` (range checked by core).
    fn read(&self, buffer: &Self::Buffer, offset: usize, out: &mut [u8]) -> Result<()>;
    /// Runs one validated op.
    fn execute(&self, op: &Op, operands: Operands<'_, Self::Buffer>) -> Result<ExecReport>;
    /// Waits until all submitted work has finished.
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}

/// Object-safe form of [`Backend`]; implemented for every `Backend` by a blanket impl.
pub trait DynBackend: Send + Sync + fmt::Debug + 'static {
    /// See [`Backend::info`].
    fn info(&self) -> &DeviceInfo;
    /// See [`Backend::capabilities`].
    fn capabilities(&self) -> &Capabilities;
    /// See [`Backend::alloc`].
    fn alloc(&self, bytes: usize) -> Result<Box<dyn Any + Send + Sync>>;
    /// See [`Backend::write`].
    fn write(&self, buffer: &dyn Any, offset: usize, data: &[u8]) -> Result<()>;
    /// See [`Backend::read`].
    fn read(&self, buffer: &dyn Any, offset: usize, out: &mut [u8]) -> Result<()>;
    /// See [`Backend::execute`].
    fn execute(&self, op: &Op, operands: Operands<'_, dyn Any + Send + Sync>) -> Result<ExecReport>;
    /// See [`Backend::synchronize`].
    fn synchronize(&self) -> Result<()>;
}

fn downcast<'a, B: Backend>(backend: &B, buffer: &'a dyn Any) -> Result<&'a B::Buffer> {
    buffer.downcast_ref::<B::Buffer>().ok_or_else(|| Error::Backend {
        backend: backend.info().backend.clone(),
        message: "buffer belongs to another backend (a bug in accel-core)".into(),
    })
}

impl<B: Backend> DynBackend for B {
    fn info(&self) -> &DeviceInfo {
        Backend::info(self)
    }
    fn capabilities(&self) -> &Capabilities {
        Backend::capabilities(self)
    }
    fn alloc(&self, bytes: usize) -> Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(Backend::alloc(self, bytes)?))
    }
    fn write(&self, buffer: &dyn Any, offset: usize, data: &[u8]) -> Result<()> {
        Backend::write(self, downcast(self, buffer)?, offset, data)
    }
    fn read(&self, buffer: &dyn Any, offset: usize, out: &mut [u8]) -> Result<()> {
        Backend::read(self, downcast(self, buffer)?, offset, out)
    }
    fn execute(&self, op: &Op, operands: Operands<'_, dyn Any + Send + Sync>) -> Result<ExecReport> {
        fn cast<'a, B: Backend>(backend: &B, o: Operand<'a, dyn Any + Send + Sync>) -> Result<Operand<'a, B::Buffer>> {
            Ok(Operand { buffer: downcast(backend, o.buffer as &dyn Any)?, view: o.view, dtype: o.dtype })
        }
        let inputs = operands.inputs.into_iter().map(|o| cast(self, o)).collect::<Result<Vec<_>>>()?;
        let output = cast(self, operands.output)?;
        Backend::execute(self, op, Operands { inputs, output })
    }
    fn synchronize(&self) -> Result<()> {
        Backend::synchronize(self)
    }
}
