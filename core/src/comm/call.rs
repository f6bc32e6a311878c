//! [`Call`]: one collective as a descriptor, its validation (done once, before any transport
//! sees it) and its [`Fingerprint`] (what ranks compare to find a diverging peer).

use crate::dtype::DType;
use crate::error::{Error, Result, dims};
use crate::tensor::Tensor;
use std::fmt;

/// How a reduction combines the ranks' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum.
    Sum,
    /// Product.
    Prod,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
    /// Sum divided by the rank count.
    Avg,
}

impl ReduceOp {
    /// Every reduce op, in a fixed order.
    pub const ALL: [ReduceOp; 5] = [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min, ReduceOp::Avg];

    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::Avg => "avg",
        }
    }
}

impl fmt::Display for ReduceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which collective, with its scalar arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collective {
    /// Every rank gets the reduction of all inputs.
    AllReduce {
        /// Reduction.
        op: ReduceOp,
    },
    /// Every rank gets all inputs concatenated in rank order.
    AllGather,
    /// Rank `r` gets block `r` of the reduction.
    ReduceScatter {
        /// Reduction.
        op: ReduceOp,
    },
    /// Every rank gets `root`'s input.
    Broadcast {
        /// The sending rank.
        root: usize,
    },
    /// `root` gets the reduction of all inputs.
    Reduce {
        /// Reduction.
        op: ReduceOp,
        /// The receiving rank.
        root: usize,
    },
    /// Rank `r`'s block `j` goes to rank `j`'s block `r`.
    AllToAll,
    /// Synchronization only.
    Barrier,
}

impl Collective {
    /// Name as in the API (`all_reduce`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Collective::AllReduce { .. } => "all_reduce",
            Collective::AllGather => "all_gather",
            Collective::ReduceScatter { .. } => "reduce_scatter",
            Collective::Broadcast { .. } => "broadcast",
            Collective::Reduce { .. } => "reduce",
            Collective::AllToAll => "all_to_all",
            Collective::Barrier => "barrier",
        }
    }

    /// The reduction, for the reducing collectives.
    pub const fn reduce_op(self) -> Option<ReduceOp> {
        match self {
            Collective::AllReduce { op } | Collective::ReduceScatter { op } | Collective::Reduce { op, .. } => Some(op),
            _ => None,
        }
    }

    /// The root, for rooted collectives.
    pub const fn root(self) -> Option<usize> {
        match self {
            Collective::Broadcast { root } | Collective::Reduce { root, .. } => Some(root),
            _ => None,
        }
    }
}

/// One collective call: what to do and on which tensors.
///
/// `input: None` means in place (the call reads and writes `output`); a barrier has neither.
#[derive(Debug, Clone)]
pub struct Call {
    /// The collective.
    pub collective: Collective,
    /// The input, or `None` for the in-place form.
    pub input: Option<Tensor>,
    /// The output (the buffer, in place); `None` only for a barrier.
    pub output: Option<Tensor>,
}

impl Call {
    /// An out-of-place call.
    pub fn out_of_place(collective: Collective, input: &Tensor, output: &Tensor) -> Call {
        Call { collective, input: Some(input.clone()), output: Some(output.clone()) }
    }

    /// An in-place call on `buffer`.
    pub fn in_place(collective: Collective, buffer: &Tensor) -> Call {
        Call { collective, input: None, output: Some(buffer.clone()) }
    }

    /// A barrier.
    pub fn barrier() -> Call {
        Call { collective: Collective::Barrier, input: None, output: None }
    }

    /// True for the in-place form.
    pub fn is_in_place(&self) -> bool {
        self.input.is_none()
    }

    /// API name of the call (`all_reduce`, `all_reduce_in_place`, ...).
    pub fn name(&self) -> &'static str {
        match (self.collective, self.is_in_place()) {
            (Collective::Barrier, _) => "barrier",
            (c, false) => c.name(),
            (Collective::AllReduce { .. }, true) => "all_reduce_in_place",
            (Collective::AllGather, true) => "all_gather_in_place",
            (Collective::ReduceScatter { .. }, true) => "reduce_scatter_in_place",
            (Collective::Broadcast { .. }, true) => "broadcast_in_place",
            (Collective::Reduce { .. }, true) => "reduce_in_place",
            (Collective::AllToAll, true) => "all_to_all_in_place",
        }
    }

    /// Element type (f32 for a barrier).
    pub fn dtype(&self) -> DType {
        self.output.as_ref().map_or(DType::F32, |t| t.dtype())
    }

    /// Elements of one rank's *unit*: the whole vector for all-reduce, broadcast and reduce,
    /// one block for all-gather, reduce-scatter and all-to-all (0 for a barrier).
    pub fn unit(&self, size: usize) -> usize {
        let Some(out) = &self.output else { return 0 };
        match self.collective {
            Collective::AllGather | Collective::AllToAll if self.is_in_place() => out.numel() / size.max(1),
            Collective::AllGather => self.input.as_ref().map_or(0, |t| t.numel()),
            Collective::ReduceScatter { .. } if self.is_in_place() => out.numel() / size.max(1),
            Collective::AllToAll => out.numel() / size.max(1),
            _ => out.numel(),
        }
    }

    /// Bytes nccl-tests calls the size `S` of this call (see [`super::bus_factor`]).
    pub fn size_bytes(&self, size: usize) -> u64 {
        let unit = (self.unit(size) * self.dtype().size()) as u64;
        match self.collective {
            Collective::AllGather | Collective::ReduceScatter { .. } | Collective::AllToAll => unit * size as u64,
            _ => unit,
        }
    }

    /// Checks the call for a rank `rank` of `size` ranks whose device is `device`: tensors
    /// present, contiguous, on the device, one dtype, sizes consistent, roots in range,
    /// out-of-place buffers not overlapping.
    pub fn validate(&self, rank: usize, size: usize, device: &crate::Device) -> Result<()> {
        let op = self.name();
        if let Some(root) = self.collective.root()
            && root >= size
        {
            return Err(Error::invalid(op, "root", format!("a rank in 0..{size}"), root.to_string()));
        }
        let Some(out) = &self.output else {
            if self.collective == Collective::Barrier {
                return Ok(());
            }
            return Err(Error::invalid(op, "output", "a tensor", "none"));
        };
        let out_name = if self.is_in_place() { "buffer" } else { "output" };
        let mut tensors = vec![(out_name, out)];
        if let Some(input) = &self.input {
            tensors.push(("input", input));
        }
        for (name, t) in &tensors {
            if !t.device().same(device) {
                return Err(Error::DeviceMismatch {
                    op,
                    arg: (*name).into(),
                    expected: format!("{} (rank {rank}'s device)", device.name()),
                    got: t.device().name().into(),
                });
            }
            if !t.is_contiguous() {
                return Err(Error::invalid(
                    op,
                    *name,
                    "a contiguous tensor (call .contiguous())",
                    format!("strides {:?} for shape {}", t.strides(), dims(t.shape())),
                ));
            }
        }
        if let Some(input) = &self.input {
            if input.dtype() != out.dtype() {
                return Err(Error::dtype(op, "output", input.dtype().name(), out.dtype()));
            }
            if input.shares_buffer(out) && overlaps(input, out) {
                return Err(Error::invalid(
                    op,
                    "output",
                    format!("a buffer that does not overlap the input (use {op}_in_place)"),
                    "a view overlapping the input",
                ));
            }
        }
        let n = size;
        let numel = out.numel();
        let need_multiple = |what: &str| -> Result<()> {
            if numel % n != 0 {
                return Err(Error::shape(
                    op,
                    out_name,
                    format!("a multiple of {n} elements ({what})"),
                    format!("{numel} elements ({})", dims(out.shape())),
                ));
            }
            Ok(())
        };
        let Some(input) = &self.input else {
            return match self.collective {
                Collective::AllGather => need_multiple("one block per rank"),
                Collective::ReduceScatter { .. } | Collective::AllToAll => need_multiple("one block per rank"),
                _ => Ok(()),
            };
        };
        let (expected, what) = match self.collective {
            Collective::AllGather => (input.numel().checked_mul(n), format!("{n} × the input's elements")),
            Collective::ReduceScatter { .. } => {
                if input.numel() != numel.saturating_mul(n) {
                    return Err(Error::shape(
                        op,
                        "input",
                        format!("{n} × the output's {numel} elements"),
                        format!("{} elements ({})", input.numel(), dims(input.shape())),
                    ));
                }
                return Ok(());
            }
            Collective::AllToAll => {
                need_multiple("one block per rank")?;
                (Some(input.numel()), "the input's element count".to_string())
            }
            _ => (Some(input.numel()), "the input's element count".to_string()),
        };
        if expected != Some(numel) {
            return Err(Error::shape(
                op,
                "output",
                format!("{} elements ({what})", expected.map_or("too many".to_string(), |e| e.to_string())),
                format!("{numel} elements ({})", dims(out.shape())),
            ));
        }
        Ok(())
    }

    /// The fingerprint ranks compare (debug mode compares all of it; transports always
    /// compare what memory safety needs: collective, dtype, unit size and root).
    pub fn fingerprint(&self, seq: u64, size: usize) -> Fingerprint {
        Fingerprint {
            call: self.name(),
            reduce: self.collective.reduce_op(),
            dtype: self.dtype(),
            shape: self.output.as_ref().map(|t| t.shape().to_vec()).unwrap_or_default(),
            unit: self.unit(size),
            root: self.collective.root(),
            seq,
        }
    }
}

/// Contiguous views of one buffer overlap when their element ranges intersect.
fn overlaps(a: &Tensor, b: &Tensor) -> bool {
    let range = |t: &Tensor| (t.view().offset(), t.view().offset() + t.numel());
    let ((a0, a1), (b0, b1)) = (range(a), range(b));
    a0 < b1 && b0 < a1 && a.numel() > 0 && b.numel() > 0
}

/// What one rank called: compared across ranks before data moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// API name (`all_reduce`, `broadcast_in_place`, ...).
    pub call: &'static str,
    /// Reduction, if any.
    pub reduce: Option<ReduceOp>,
    /// Element type.
    pub dtype: DType,
    /// Shape of the output (the buffer, in place).
    pub shape: Vec<usize>,
    /// Elements per rank unit (see [`Call::unit`]).
    pub unit: usize,
    /// Root, if any.
    pub root: Option<usize>,
    /// Sequence number.
    pub seq: u64,
}

impl Fingerprint {
    /// True when the two calls can run together without reading or writing out of bounds.
    pub fn compatible(&self, other: &Fingerprint) -> bool {
        base(self.call) == base(other.call)
            && self.dtype == other.dtype
            && self.unit == other.unit
            && self.root == other.root
            && self.seq == other.seq
    }
}

/// `all_reduce_in_place` and `all_reduce` run together (NCCL allows mixing the forms).
fn base(call: &str) -> &str {
    call.strip_suffix("_in_place").unwrap_or(call)
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.call)?;
        if let Some(op) = self.reduce {
            write!(f, "op {op}, ")?;
        }
        write!(f, "dtype {}, shape {}", self.dtype, dims(&self.shape))?;
        if let Some(root) = self.root {
            write!(f, ", root {root}")?;
        }
        write!(f, ", seq {})", self.seq)
    }
}
