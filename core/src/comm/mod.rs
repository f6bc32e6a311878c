//! # Collectives: one [`Communicator`] contract over every transport
//!
//! A communicator is one rank of a group. Every rank calls the same collectives in the same
//! order; each call gets the communicator's next sequence number, and a call whose peers do not
//! all arrive before the deadline ([`Communicator::timeout`]) fails with
//! [`Error::CommTimeout`](crate::Error::CommTimeout) naming the call, its sequence number and
//! the ranks that never arrived. After a timeout, a mismatch that could corrupt memory, or a
//! rank that panicked inside a call, the communicator is *aborted*: every later call on every
//! rank fails at once with [`Error::CommAborted`](crate::Error::CommAborted) instead of hanging.
//!
//! Semantics (the same on every transport):
//! - tensors are contiguous (any offset), on the communicator's device, and of one dtype;
//! - *out-of-place* forms read `input` and write `output`; the two must not overlap (use the
//!   `_in_place` form instead). *In-place* forms follow NCCL's layout: all-gather reads this
//!   rank's block `rank` of the buffer, reduce-scatter writes its result into block `rank`;
//! - reductions ([`ReduceOp`]) accumulate floats in f32 (f16/bf16 inputs are widened, reduced
//!   and rounded once, to nearest even) and integers in i64 (Sum and Prod then wrap to the
//!   dtype's width as two's complement, as NCCL and MPI do; Avg divides the exact sum by the
//!   rank count, rounding toward zero). Max/Min ignore NaN unless every value is NaN and
//!   order +0 above −0, so they never depend on the reduction order;
//! - every rank receives bit-identical results. With `deterministic` set (see
//!   [`LocalOptions`]) each element is reduced as `((x₀ ⊕ x₁) ⊕ x₂) ⊕ …` in rank order, so the
//!   bits depend only on the inputs, never on the size, the algorithm or the chunking;
//! - non-blocking forms (`*_async`, [`Communicator::start`]) return a [`Work`]: the call runs in
//!   the communicator's issue order, and its output holds the result once
//!   [`Work::wait`] returns `Ok`. Until then the output's contents are unspecified (reading it
//!   is a race on values, never undefined behaviour).
//!
//! Transports: [`LocalGroup`] (threads in one process, any mix of devices) here, and
//! `accel-mpi` (one rank per process over MPI). Performance is reported as nccl-tests does
//! ([`bus_factor`]).

mod call;
mod direct;
pub mod host;
mod local;
mod math;
mod model;
mod work;

pub use call::{Call, Collective, Fingerprint, ReduceOp};
pub use local::{LocalComm, LocalGroup, LocalOptions};
pub use model::{Algorithm, CostModel, CostQuery, bus_factor};
pub use work::{Completer, Work};

use crate::error::Result;
use crate::tensor::Tensor;
use std::fmt;
use std::time::Duration;

/// Default deadline of a blocking call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One rank of a communicating group. Object-safe: transports are used as
/// `&dyn Communicator` / `Box<dyn Communicator>`.
///
/// Required methods are the transport's; the named collectives (`all_reduce`, ...) are
/// provided on top of [`Communicator::start`] and [`Communicator::run`].
pub trait Communicator: Send + Sync + fmt::Debug {
    /// This rank, in `0..size()`.
    fn rank(&self) -> usize;
    /// Ranks in the group.
    fn size(&self) -> usize;
    /// Transport name (`local`, `mpi`).
    fn transport(&self) -> &str;
    /// The deadline every blocking call (and [`Work::wait`]) applies, from the call's start.
    fn timeout(&self) -> Duration;
    /// Sets the deadline for later calls.
    fn set_timeout(&self, timeout: Duration);
    /// Sequence number the next collective will get (the first is 1).
    fn next_seq(&self) -> u64;
    /// Validates and issues one collective without waiting for it.
    fn start(&self, call: Call) -> Result<Work>;
    /// Runs one collective to completion (the default starts it and waits).
    fn run(&self, call: Call) -> Result<()> {
        self.start(call)?.wait()
    }
    /// Sends `tensor` to rank `dst` (buffered: returns once the data is copied out).
    fn send(&self, tensor: &Tensor, dst: usize) -> Result<()>;
    /// Receives the next message from rank `src` into `tensor` (same dtype and shape as sent).
    fn recv(&self, tensor: &Tensor, src: usize) -> Result<()>;

    /// `output = input₀ ⊕ … ⊕ inputₙ₋₁` on every rank.
    fn all_reduce(&self, input: &Tensor, output: &Tensor, op: ReduceOp) -> Result<()> {
        self.run(Call::out_of_place(Collective::AllReduce { op }, input, output))
    }
    /// All-reduce in place.
    fn all_reduce_in_place(&self, tensor: &Tensor, op: ReduceOp) -> Result<()> {
        self.run(Call::in_place(Collective::AllReduce { op }, tensor))
    }
    /// Non-blocking all-reduce.
    fn all_reduce_async(&self, input: &Tensor, output: &Tensor, op: ReduceOp) -> Result<Work> {
        self.start(Call::out_of_place(Collective::AllReduce { op }, input, output))
    }
    /// Non-blocking in-place all-reduce.
    fn all_reduce_in_place_async(&self, tensor: &Tensor, op: ReduceOp) -> Result<Work> {
        self.start(Call::in_place(Collective::AllReduce { op }, tensor))
    }
    /// `output` (n × input elements) = the ranks' inputs concatenated in rank order.
    fn all_gather(&self, input: &Tensor, output: &Tensor) -> Result<()> {
        self.run(Call::out_of_place(Collective::AllGather, input, output))
    }
    /// All-gather in place: this rank's contribution is block `rank` of `buffer`.
    fn all_gather_in_place(&self, buffer: &Tensor) -> Result<()> {
        self.run(Call::in_place(Collective::AllGather, buffer))
    }
    /// Non-blocking all-gather.
    fn all_gather_async(&self, input: &Tensor, output: &Tensor) -> Result<Work> {
        self.start(Call::out_of_place(Collective::AllGather, input, output))
    }
    /// `output` = block `rank` of the reduction of the ranks' inputs (n × output elements).
    fn reduce_scatter(&self, input: &Tensor, output: &Tensor, op: ReduceOp) -> Result<()> {
        self.run(Call::out_of_place(Collective::ReduceScatter { op }, input, output))
    }
    /// Reduce-scatter in place: the result lands in block `rank` of `buffer`.
    fn reduce_scatter_in_place(&self, buffer: &Tensor, op: ReduceOp) -> Result<()> {
        self.run(Call::in_place(Collective::ReduceScatter { op }, buffer))
    }
    /// Non-blocking reduce-scatter.
    fn reduce_scatter_async(&self, input: &Tensor, output: &Tensor, op: ReduceOp) -> Result<Work> {
        self.start(Call::out_of_place(Collective::ReduceScatter { op }, input, output))
    }
    /// `output` = `root`'s `input` on every rank (`input` is read on `root` only).
    fn broadcast(&self, input: &Tensor, output: &Tensor, root: usize) -> Result<()> {
        self.run(Call::out_of_place(Collective::Broadcast { root }, input, output))
    }
    /// Broadcast in place: `root`'s `tensor` is copied into every other rank's.
    fn broadcast_in_place(&self, tensor: &Tensor, root: usize) -> Result<()> {
        self.run(Call::in_place(Collective::Broadcast { root }, tensor))
    }
    /// Non-blocking broadcast.
    fn broadcast_async(&self, input: &Tensor, output: &Tensor, root: usize) -> Result<Work> {
        self.start(Call::out_of_place(Collective::Broadcast { root }, input, output))
    }
    /// `output` on `root` = the reduction of every rank's `input` (other outputs untouched).
    fn reduce(&self, input: &Tensor, output: &Tensor, op: ReduceOp, root: usize) -> Result<()> {
        self.run(Call::out_of_place(Collective::Reduce { op, root }, input, output))
    }
    /// Reduce in place into `root`'s `tensor`.
    fn reduce_in_place(&self, tensor: &Tensor, op: ReduceOp, root: usize) -> Result<()> {
        self.run(Call::in_place(Collective::Reduce { op, root }, tensor))
    }
    /// Non-blocking reduce.
    fn reduce_async(&self, input: &Tensor, output: &Tensor, op: ReduceOp, root: usize) -> Result<Work> {
        self.start(Call::out_of_place(Collective::Reduce { op, root }, input, output))
    }
    /// Block `j` of this rank's `output` = block `rank` of rank `j`'s `input` (n equal blocks).
    fn all_to_all(&self, input: &Tensor, output: &Tensor) -> Result<()> {
        self.run(Call::out_of_place(Collective::AllToAll, input, output))
    }
    /// All-to-all in place.
    fn all_to_all_in_place(&self, buffer: &Tensor) -> Result<()> {
        self.run(Call::in_place(Collective::AllToAll, buffer))
    }
    /// Non-blocking all-to-all.
    fn all_to_all_async(&self, input: &Tensor, output: &Tensor) -> Result<Work> {
        self.start(Call::out_of_place(Collective::AllToAll, input, output))
    }
    /// Returns once every rank has called `barrier`.
    fn barrier(&self) -> Result<()> {
        self.run(Call::barrier())
    }
}
