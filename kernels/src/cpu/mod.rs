//! CPU kernels: every [`Op`] on host memory, parallel on the caller's thread plus a rayon pool.
//!
//! [`execute`] runs on the calling thread; its parallel loops ([`par`]) share work with the
//! pool [`par::with_pool`] names (what the `accel-cpu` backend does, sized by
//! `ACCEL_NUM_THREADS`), else with the current rayon pool, or stay on the calling thread
//! inside [`par::serial`] (what a one-thread backend does). Inputs are whole host buffers
//! plus the canonical views core documents, with any strides; see each module for its op:
//!
//! - `isa`: the instruction set, detected once (`ACCEL_CPU_ISA` forces one); `arch/`: the
//!   microkernel families per ISA (AVX-512 f32 FMA / bf16 `vdpbf16ps` / int8 `vpdpbusd`,
//!   AVX2 f32 / AVX-VNNI, NEON f32, portable f32 / i32), each an `MR × NR` register tile over
//!   its packed formats; `gemm` / `pack`: the BLIS-style driver (cache-sized k and column
//!   blocks, shared packed B, per-task packed A, parallel tasks over C) with the epilogue
//!   finished in the tile store (`epilogue`: alpha/beta, bias, residual, activation,
//!   requantization, rounding); small products read their operands in place.
//! - `matmul`: batched matmul over the GEMM, parallel over batch and tiles.
//! - `conv`: forward convolution as an implicit GEMM per (image, group) whose B operand is
//!   gathered from the input one packed block at a time (no im2col buffer); depthwise has a
//!   direct per-plane loop. `conv_transpose`: a direct loop per (image, output channel).
//! - `elementwise`: unary, binary and cast in chunks converted to f32 / i32 buffers.
//! - `reduce`: sum/max/min/mean over trailing dims, and softmax / log-softmax.
//! - [`stream`]: the streaming-store last step of large in-process f32 reductions; [`copy`]:
//!   host byte copies that avoid a slow `rep movsb` case.
//!
//! Outputs are written through a dense row-major slice of the output dtype: directly into the
//! buffer when the output view is contiguous, otherwise into a temporary that is scattered
//! back (gathered first when the op reads the previous contents, i.e. matmul with beta ≠ 0).
//!
//! [`execute`] uses [`isa::active`]; [`execute_on`] pins an ISA (the `accel-cpu` backend
//! offers one device per ISA path so the conformance suite covers each).

pub(crate) mod arch;
mod conv;
mod conv_transpose;
pub mod copy;
mod depthwise;
mod depthwise_lanes;
pub(crate) mod dtype;
mod elementwise;
mod epilogue;
mod gemm;
pub mod isa;
mod kernel;
mod layout;
mod linebuf;
mod matmul;
mod pack;
pub mod par;
mod patches;
mod reduce;
pub mod stream;
mod team;
mod transpose;

use crate::{HostIn, HostOut};
use accel_core::{DType, Error, Op, Result};
use dtype::Elem;
use layout::Layout;

/// Runs `op` on host memory (threads: see the module docs).
///
/// `inputs` follow the operand order of the op's descriptor; `out` is the output operand.
/// Returns [`Error::Unsupported`] for op variants or dtype combinations it does not know
/// (none today); never panics on an op validated by `accel-core`.
pub fn execute(op: &Op, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    execute_on(isa::active(), op, inputs, out)
}

/// [`execute`] on the kernels of `isa`, which the CPU must support ([`isa::Features::supports`]);
/// an unsupported request runs the widest path at or below it instead. Backends use it to
/// offer one device per ISA path, so one test run covers them all.
pub fn execute_on(isa: isa::Isa, op: &Op, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    if out.view.numel() == 0 {
        return Ok(());
    }
    let isa = isa::features().best_at_most(isa);
    match op {
        Op::Matmul(d) => matmul::matmul(isa, d, inputs, out),
        Op::Conv(d) => conv::conv(isa, d, inputs, out),
        Op::ConvTranspose(d) => conv_transpose::conv_transpose(isa, d, inputs, out),
        Op::Unary(d) => elementwise::unary(d, inputs, out),
        Op::Binary(d) => elementwise::binary(d, inputs, out),
        Op::Cast(d) => elementwise::cast(d, inputs, out),
        Op::Reduce(d) => reduce::reduce(d, inputs, out),
        Op::Softmax(d) => reduce::softmax(d, inputs, out),
        _ => Err(unsupported(op)),
    }
}

/// The error for an op (or dtype combination) these kernels do not run.
pub(crate) fn unsupported(op: &Op) -> Error {
    Error::Unsupported { op: op.kind().name(), dtype: op.dtype(), backend: "cpu".into() }
}

/// Input `i`, or an error naming the op when the caller passed too few.
pub(crate) fn input<'a>(op: &'static str, inputs: &[HostIn<'a>], i: usize) -> Result<HostIn<'a>> {
    inputs.get(i).copied().ok_or_else(|| Error::Backend {
        backend: "cpu".into(),
        message: format!("{op}: operand {i} is missing ({} given)", inputs.len()),
    })
}

fn out_of_range(what: &str) -> Error {
    Error::Backend { backend: "cpu".into(), message: format!("{what} lies outside its buffer") }
}

/// A computation that fills a dense row-major output slice of any element type.
pub(crate) trait DenseFn {
    /// Fills `dst` (the output, logical row-major order). `dst` holds the previous contents
    /// when they were asked for.
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()>;
}

/// Hands `f` a dense slice for `out` in its dtype; see the module docs.
pub(crate) fn with_dense_out(out: HostOut<'_>, read_prev: bool, f: impl DenseFn) -> Result<()> {
    match out.dtype {
        DType::F32 => dense::<f32>(out, read_prev, f),
        DType::F16 => dense::<half::f16>(out, read_prev, f),
        DType::BF16 => dense::<half::bf16>(out, read_prev, f),
        DType::I8 => dense::<i8>(out, read_prev, f),
        DType::U8 => dense::<u8>(out, read_prev, f),
        DType::I32 => dense::<i32>(out, read_prev, f),
    }
}

fn dense<T: Elem>(out: HostOut<'_>, read_prev: bool, f: impl DenseFn) -> Result<()> {
    let es = std::mem::size_of::<T>();
    let lay = Layout::new(out.view);
    let n = lay.numel();
    if lay.is_contiguous() {
        let start = lay.offset() * es;
        let bytes = out.bytes.get_mut(start..start + n * es).ok_or_else(|| out_of_range("output view"))?;
        return match bytemuck::try_cast_slice_mut::<u8, T>(bytes) {
            Ok(s) => f.call(s),
            Err(_) => {
                let mut tmp: Vec<T> = bytemuck::pod_collect_to_vec(bytes);
                f.call(&mut tmp)?;
                bytes.copy_from_slice(bytemuck::cast_slice(&tmp));
                Ok(())
            }
        };
    }
    let end = out.view.span().unwrap_or(0);
    if end * es > out.bytes.len() {
        return Err(out_of_range("output view"));
    }
    let mut tmp = vec![T::default(); n];
    if read_prev {
        let mut i = 0;
        lay.runs(0, n, |off, stride, count| {
            for (c, d) in tmp[i..i + count].iter_mut().enumerate() {
                let at = (off + c * stride) * es;
                *d = bytemuck::pod_read_unaligned(&out.bytes[at..at + es]);
            }
            i += count;
        });
    }
    f.call(&mut tmp)?;
    let mut i = 0;
    lay.runs(0, n, |off, stride, count| {
        for (c, v) in tmp[i..i + count].iter().enumerate() {
            let at = (off + c * stride) * es;
            out.bytes[at..at + es].copy_from_slice(bytemuck::bytes_of(v));
        }
        i += count;
    });
    Ok(())
}
