//! The one path every op takes from validated descriptor to backend: device checks, output
//! checks, aliasing, capability lookup, execution and profiling.

use crate::backend::{Operand, Operands, Support};
use crate::dtype::DType;
use crate::error::{Error, Result, dims};
use crate::op::Op;
use crate::profile::OpRecord;
use crate::shape::View;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::any::Any;
use std::time::Instant;

/// An input as the backend will see it: the tensor and the canonical view over its buffer.
pub(crate) type Input<'a> = (&'a Tensor, View);

/// Checks that every named tensor lives on the device of the first one.
pub(crate) fn same_device(op: &'static str, tensors: &[(&str, &Tensor)]) -> Result<()> {
    let Some((_, first)) = tensors.first() else { return Ok(()) };
    for (name, t) in &tensors[1..] {
        if !t.device().same(first.device()) {
            return Err(Error::DeviceMismatch {
                op,
                arg: (*name).into(),
                expected: first.device().name().into(),
                got: t.device().name().into(),
            });
        }
    }
    Ok(())
}

/// Checks a caller-provided output: device, dtype, shape and that it does not overlap itself.
pub(crate) fn check_out(op: &'static str, out: &Tensor, like: &Tensor, shape: &[usize], dtype: DType) -> Result<()> {
    same_device(op, &[("input", like), ("out", out)])?;
    if out.dtype() != dtype {
        return Err(Error::dtype(op, "out", dtype.name(), out.dtype()));
    }
    if out.shape() != shape {
        return Err(Error::shape(op, "out", dims(shape), dims(out.shape())));
    }
    if !out.view().is_non_overlapping() {
        return Err(Error::invalid(
            op,
            "out",
            "a tensor whose elements do not overlap",
            format!("strides {:?} for shape {}", out.strides(), dims(out.shape())),
        ));
    }
    Ok(())
}

/// Runs `op` on the output's device. `out_view` is the canonical view of `out`'s buffer that
/// the descriptor documents. `flops` counts a multiply-add as two.
pub(crate) fn launch(op: Op, inputs: &[Input<'_>], out: &Tensor, out_view: View, flops: u64) -> Result<()> {
    let device = out.device().clone();
    let kind_name = op.kind().name();
    if device.supports(op.kind(), op.dtype()) == Support::Unsupported {
        return Err(Error::Unsupported { op: kind_name, dtype: op.dtype(), backend: device.info().backend.clone() });
    }
    if out_view.numel() == 0 {
        return Ok(());
    }
    // An input sharing the output's buffer is copied first, so backends never see aliasing.
    // Inline vectors (an op has a handful of operands): nothing allocated on the way.
    let mut owned: SmallVec<[Option<Tensor>; 4]> = SmallVec::new();
    for (t, v) in inputs {
        owned.push(if t.shares_buffer(out) {
            let view_of_input = Tensor { storage: t.storage.clone(), view: v.clone(), dtype: t.dtype() };
            Some(view_of_input.copy_contiguous()?)
        } else {
            None
        });
    }
    let resolved: SmallVec<[(&Tensor, &View); 4]> = inputs
        .iter()
        .zip(&owned)
        .map(|((t, v), copy)| match copy {
            Some(c) => (c, c.view()),
            None => (*t, v),
        })
        .collect();
    let check_inside = |t: &Tensor, v: &View| -> Result<()> {
        match v.span() {
            Some(end) if end <= t.storage.elems => Ok(()),
            _ => Err(Error::invalid(kind_name, "operand", "a view inside its buffer", format!("{v:?}"))),
        }
    };
    for (t, v) in &resolved {
        check_inside(t, v)?;
    }
    check_inside(out, &out_view)?;
    let operands = Operands {
        inputs: resolved
            .iter()
            .map(|(t, v)| Operand { buffer: &*t.storage.buffer as &(dyn Any + Send + Sync), view: v, dtype: t.dtype() })
            .collect(),
        output: Operand { buffer: &*out.storage.buffer, view: &out_view, dtype: out.dtype() },
    };
    let profiling = device.is_profiling();
    let start = Instant::now();
    let report = device.backend().execute(&op, operands)?;
    if profiling {
        device.synchronize()?;
        let measured = start.elapsed();
        let mut shapes: Vec<Vec<usize>> = resolved.iter().map(|(_, v)| v.shape().to_vec()).collect();
        shapes.push(out_view.shape().to_vec());
        // Broadcast views count at their broadcast size; saturate rather than overflow.
        let view_bytes = |v: &View, d: DType| (v.numel() as u64).saturating_mul(d.size() as u64);
        let bytes = resolved
            .iter()
            .fold(view_bytes(&out_view, out.dtype()), |acc, (t, v)| acc.saturating_add(view_bytes(v, t.dtype())));
        device.push_record(OpRecord {
            op: op.name(),
            device: device.name().into(),
            shapes,
            dtype: op.dtype(),
            flops,
            bytes,
            measured,
            device_time: report.device_time,
            modeled: report.modeled,
        });
    }
    Ok(())
}

impl Tensor {
    /// A contiguous copy through the device (the `cast` op with equal dtypes).
    pub(crate) fn copy_contiguous(&self) -> Result<Tensor> {
        self.cast(self.dtype())
    }
}
