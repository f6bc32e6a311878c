//! Algorithms, the nccl-tests bandwidth conventions and the hook through which a modeled
//! interconnect (accel-emu's) prices a collective.

use super::call::Collective;
use crate::dtype::DType;
use crate::profile::Cost;
use std::fmt;

/// How a collective is scheduled. The algorithm fixes the reduction order (hence the bits in
/// the default mode) and the modeled interconnect time; see [`super::LocalGroup`] for how the
/// in-process transport moves the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Chosen by size: [`Algorithm::Tree`] up to [`Algorithm::TREE_MAX_BYTES`], else
    /// [`Algorithm::Ring`]. Barriers, broadcasts and tiny calls are latency-bound, so they use
    /// the tree.
    Auto,
    /// Ring (reduce-scatter then all-gather around the ring; 2(p−1) steps, bandwidth-optimal).
    /// Chunk `c` is reduced in ring order `x_c ⊕ x_{c+1} ⊕ … ⊕ x_{c−1}`.
    Ring,
    /// Recursive halving-doubling / binary tree (2 lg p steps): equal-weight partial sums
    /// combined pairwise, the same order for every chunk.
    Tree,
    /// Direct (one-shot): every rank exchanges with every other rank at once (p−1 messages
    /// per rank per phase); reduced in rank order.
    Direct,
}

impl Algorithm {
    /// Largest call (nccl-tests size `S`, bytes) that [`Algorithm::Auto`] runs as a tree.
    pub const TREE_MAX_BYTES: u64 = 64 * 1024;

    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::Ring => "ring",
            Algorithm::Tree => "tree",
            Algorithm::Direct => "direct",
        }
    }

    /// The concrete algorithm for a call of `bytes` (nccl-tests size) on `ranks` ranks.
    pub fn resolve(self, collective: Collective, bytes: u64, ranks: usize) -> Algorithm {
        match self {
            Algorithm::Auto if ranks <= 2 && bytes > Self::TREE_MAX_BYTES => Algorithm::Ring,
            Algorithm::Auto => match collective {
                Collective::Barrier | Collective::Broadcast { .. } => Algorithm::Tree,
                Collective::AllToAll => Algorithm::Direct,
                _ if bytes <= Self::TREE_MAX_BYTES => Algorithm::Tree,
                _ => Algorithm::Ring,
            },
            a => a,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// nccl-tests' bus-bandwidth factor: `busbw = algbw × factor`, where `algbw = S / t` with `S`
/// as [`super::Call::size_bytes`] defines it (GB = 1e9 B).
pub fn bus_factor(collective: Collective, ranks: usize) -> f64 {
    let n = ranks.max(1) as f64;
    match collective {
        Collective::AllReduce { .. } => 2.0 * (n - 1.0) / n,
        Collective::AllGather | Collective::ReduceScatter { .. } | Collective::AllToAll => (n - 1.0) / n,
        Collective::Broadcast { .. } | Collective::Reduce { .. } => 1.0,
        Collective::Barrier => 0.0,
    }
}

/// What a [`CostModel`] is asked to price: one collective as one rank ran it.
#[derive(Debug, Clone, PartialEq)]
pub struct CostQuery {
    /// The collective.
    pub collective: Collective,
    /// The algorithm actually used (never [`Algorithm::Auto`]).
    pub algorithm: Algorithm,
    /// Ranks in the group.
    pub ranks: usize,
    /// The rank asking.
    pub rank: usize,
    /// nccl-tests size `S` in bytes.
    pub bytes: u64,
    /// Element type.
    pub dtype: DType,
}

/// Prices collectives on a modeled interconnect (accel-emu's `interconnect` module). The
/// in-process transport adds the returned cost to the profiling record of every emulated
/// device taking part.
pub trait CostModel: Send + Sync + fmt::Debug {
    /// Modeled cost of the call, or `None` when the model has nothing to say.
    fn cost(&self, query: &CostQuery) -> Option<Cost>;
}
