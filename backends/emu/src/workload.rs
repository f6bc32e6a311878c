//! Shape-only descriptions of what an op asks of the hardware: the input of `plan` and `cost`.
//!
//! MAC-heavy ops become a [`Gemm`] in SCALE-Sim's convention (emulation.md §0.2): an ifmap
//! operand `[m × k]` (`m` = output pixels `Npx`, batch folded in; `k` = window `Win`), a filter
//! operand `[k × n]` (`n` = filters `F`), an ofmap `[m × n]`, repeated `repeats` times
//! (matmul batch, convolution groups). Everything else is a [`Stream`]: bytes in, bytes out
//! and a few ops per element, the work of a vector unit.
//!
//! A harness can cost a network without data by building these directly
//! ([`Gemm::matmul`], [`Gemm::conv2d`]); [`Workload::from_op`] builds them from a validated op.

use accel_core::{DType, Error, Op, Result};

/// One MAC-array job in SCALE-Sim's operand convention (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Gemm {
    /// Op name, for errors and records.
    pub op: String,
    /// Independent GEMMs of this shape (batch × groups).
    pub repeats: u64,
    /// Rows of the ifmap and ofmap operands (`Npx`).
    pub m: u64,
    /// Reduction length (`Win`).
    pub k: u64,
    /// Columns of the filter and ofmap operands (`F`).
    pub n: u64,
    /// Dtype of the streamed (ifmap) operand.
    pub dtype: DType,
    /// Dtype of the filter operand.
    pub w_dtype: DType,
    /// Dtype of the output.
    pub out_dtype: DType,
    /// True when the filter operand is shared by every repeat (a weight broadcast over the batch).
    pub shared_weights: bool,
}

/// A convolution layer's shape, for [`Gemm::conv2d`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvShape {
    /// Images.
    pub batch: u64,
    /// Input channels.
    pub in_channels: u64,
    /// Input `[H, W]` (before padding).
    pub input: [u64; 2],
    /// Output channels (filters).
    pub out_channels: u64,
    /// `[kH, kW]`.
    pub kernel: [u64; 2],
    /// `[sH, sW]`.
    pub stride: [u64; 2],
    /// Total padding `[top + bottom, left + right]`.
    pub padding: [u64; 2],
    /// Groups.
    pub groups: u64,
}

impl Gemm {
    /// `[m, k] @ [k, n]`, `batch` times, all operands of `dtype` (the int8 path accumulates
    /// into i32).
    pub fn matmul(batch: u64, m: u64, n: u64, k: u64, dtype: DType) -> Gemm {
        let out_dtype = if dtype.is_int8() { DType::I32 } else { dtype };
        let w_dtype = if dtype.is_int8() { DType::I8 } else { dtype };
        Gemm { op: "matmul".into(), repeats: batch, m, k, n, dtype, w_dtype, out_dtype, shared_weights: false }
    }

    /// A 2-D convolution with the output size frameworks (and accel's ops) use,
    /// `Ho = ⌊(H + pad − kH) / s⌋ + 1`, lowered as SCALE-Sim lowers it: `m = N·Ho·Wo`,
    /// `k = C/g·kH·kW`, `n = O/g`, one GEMM per group. Zero strides or groups and kernels
    /// larger than the padded input are errors naming the field.
    pub fn conv2d(shape: &ConvShape, dtype: DType) -> Result<Gemm> {
        Self::conv2d_with(shape, dtype, false)
    }

    /// As [`Gemm::conv2d`] but with SCALE-Sim's own output size,
    /// `Ho = ⌈(H + pad − kH + s) / s⌉` (scale-sim-v2 `topology_utils.py`), which counts a
    /// last partial window when the stride does not divide the input: SCALE-Sim's AlexNet
    /// conv1 (224×224, 11×11, stride 4) has 55×55 outputs where a framework has 54×54. Use
    /// it to reproduce SCALE-Sim's figures from its topology files.
    pub fn conv2d_scalesim(shape: &ConvShape, dtype: DType) -> Result<Gemm> {
        Self::conv2d_with(shape, dtype, true)
    }

    fn conv2d_with(shape: &ConvShape, dtype: DType, scalesim: bool) -> Result<Gemm> {
        let bad = |arg: &str, expected: &str, got: String| Error::invalid("conv2d", arg, expected, got);
        if shape.groups == 0
            || !shape.in_channels.is_multiple_of(shape.groups)
            || !shape.out_channels.is_multiple_of(shape.groups)
        {
            return Err(bad(
                "groups",
                "a positive divisor of the input and output channels",
                format!("{} (C = {}, O = {})", shape.groups, shape.in_channels, shape.out_channels),
            ));
        }
        let mut out = [0u64; 2];
        for (i, slot) in out.iter_mut().enumerate() {
            let padded = shape.input[i].saturating_add(shape.padding[i]);
            if shape.stride[i] == 0 {
                return Err(bad("stride", "at least 1", "0".into()));
            }
            if shape.kernel[i] == 0 || shape.kernel[i] > padded {
                return Err(bad("kernel", &format!("1..={padded} (the padded input)"), shape.kernel[i].to_string()));
            }
            let span = padded - shape.kernel[i];
            *slot =
                if scalesim { (span + shape.stride[i]).div_ceil(shape.stride[i]) } else { span / shape.stride[i] + 1 };
        }
        let out_dtype = if dtype.is_int8() { DType::I32 } else { dtype };
        let w_dtype = if dtype.is_int8() { DType::I8 } else { dtype };
        Ok(Gemm {
            op: "conv2d".into(),
            repeats: shape.groups,
            m: shape.batch.saturating_mul(out[0]).saturating_mul(out[1]),
            k: (shape.in_channels / shape.groups).saturating_mul(shape.kernel[0]).saturating_mul(shape.kernel[1]),
            n: shape.out_channels / shape.groups,
            dtype,
            w_dtype,
            out_dtype,
            shared_weights: false,
        })
    }

    /// Multiply-accumulates over every repeat.
    pub fn macs(&self) -> u64 {
        self.repeats.saturating_mul(self.m).saturating_mul(self.k).saturating_mul(self.n)
    }

    /// Bytes of the ifmap, filter and ofmap operands of one repeat (compulsory traffic).
    pub fn operand_bytes(&self) -> [u64; 3] {
        let b = |d: DType| d.size() as u64;
        [
            self.m.saturating_mul(self.k).saturating_mul(b(self.dtype)),
            self.k.saturating_mul(self.n).saturating_mul(b(self.w_dtype)),
            self.m.saturating_mul(self.n).saturating_mul(b(self.out_dtype)),
        ]
    }
}

/// A bandwidth-bound job for a vector unit: elementwise, cast, reduce, softmax.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Op name.
    pub op: String,
    /// Output elements.
    pub elems: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Vector-lane operations (one per input element read).
    pub lane_ops: u64,
    /// Main dtype.
    pub dtype: DType,
}

/// What an op asks of the hardware.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// Matmul, convolution, transposed convolution.
    Gemm(Gemm),
    /// Everything else.
    Stream(Stream),
}

impl Workload {
    /// The workload of a validated op whose input views have `in_shapes` (with dtypes) and
    /// whose output has `out_shape`/`out_dtype`. The descriptor alone defines MAC ops; the
    /// shapes size the streaming ones.
    pub fn from_op(op: &Op, inputs: &[(&[usize], DType)], out: (&[usize], DType)) -> Workload {
        let numel = |s: &[usize]| s.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64));
        match op {
            Op::Matmul(d) => Workload::Gemm(Gemm {
                op: "matmul".into(),
                repeats: d.batch_count() as u64,
                m: d.m as u64,
                k: d.k as u64,
                n: d.n as u64,
                dtype: d.dtype,
                w_dtype: d.b_dtype,
                out_dtype: d.out_dtype,
                shared_weights: false,
            }),
            Op::Conv(d) | Op::ConvTranspose(d) => Workload::Gemm(Gemm {
                op: op.name(),
                repeats: d.groups as u64,
                m: (d.batch as u64).saturating_mul(d.output[0] as u64).saturating_mul(d.output[1] as u64),
                k: (d.in_per_group() as u64).saturating_mul(d.kernel[0] as u64).saturating_mul(d.kernel[1] as u64),
                n: d.out_per_group() as u64,
                dtype: d.dtype,
                w_dtype: d.w_dtype,
                out_dtype: d.out_dtype,
                shared_weights: false,
            }),
            _ => {
                let bytes_in = inputs.iter().map(|(s, d)| numel(s).saturating_mul(d.size() as u64)).sum();
                let lane_ops = inputs.iter().map(|(s, _)| numel(s)).sum::<u64>().max(numel(out.0));
                Workload::Stream(Stream {
                    op: op.name(),
                    elems: numel(out.0),
                    bytes_in,
                    bytes_out: numel(out.0).saturating_mul(out.1.size() as u64),
                    lane_ops,
                    dtype: op.dtype(),
                })
            }
        }
    }

    /// Op name.
    pub fn op(&self) -> &str {
        match self {
            Workload::Gemm(g) => &g.op,
            Workload::Stream(s) => &s.op,
        }
    }
}
