//! Modeled interconnect for groups of emulated devices: a topology and a link preset price
//! every collective with the α-β model of the algorithm the transport actually used
//! (Thakur, Rabenseifner & Gropp 2005; see `../shared/reference/collectives.md` §b.2).
//!
//! Plug it into an in-process group and every emulated rank's profiling record of a
//! collective carries the modeled [`Cost`] (time, link energy, bytes on links):
//!
//! ```
//! use accel_core::comm::{LocalGroup, LocalOptions};
//! use accel_emu::interconnect::{Interconnect, Link, Topology};
//! use std::sync::Arc;
//! # fn main() -> accel_core::Result<()> {
//! let npus: Vec<_> = (0..8).map(|_| accel_emu::device("tpu-v1")).collect::<Result<_, _>>()?;
//! let ring = Interconnect::new(Topology::Ring, Link::NPU_RING);
//! let options = LocalOptions { cost_model: Some(Arc::new(ring)), ..LocalOptions::default() };
//! let comms = LocalGroup::with_options(&npus, options)?;
//! # assert_eq!(comms.len(), 8);
//! # Ok(()) }
//! ```
//!
//! The model is congestion-aware at the level of one step: in a step every rank sends the same
//! pattern (messages of `m` bytes to peers at fixed ring distances), so
//! - on a bidirectional **ring**, a message to distance `d` takes `h = min(d, p − d)` hops and
//!   each directed link carries `Σ h` of the step's messages: `t = h_max·α + load·m·β`;
//! - **fully connected**: one dedicated link per pair, messages in parallel: `t = α + m·β`;
//! - a **switch**: one port per rank, two hops: `t = 2α + k·m·β` for `k` messages per rank;
//!
//! plus `γ·m` per reduced byte when [`Interconnect::reduce_gbs`] is set. GB = 1e9 B
//! (nccl-tests' convention; ASTRA-sim uses 2³⁰).

mod schedule;

use accel_core::comm::{CostModel, CostQuery};
use accel_core::{Cost, EnergyEntry};
pub use schedule::{Step, schedule};

/// How the ranks are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    /// A bidirectional ring (an NPU ring, a torus dimension): neighbours only.
    Ring,
    /// A direct link between every pair (NVLink meshes, small PCIe/CXL islands).
    FullyConnected,
    /// Every rank has one port into a non-blocking switch (NVSwitch, an IB/Ethernet leaf).
    Switch,
}

impl Topology {
    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Topology::Ring => "ring",
            Topology::FullyConnected => "fully-connected",
            Topology::Switch => "switch",
        }
    }
}

/// One link (or switch port): bandwidth per direction, latency per hop and energy per byte.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Preset name.
    pub name: &'static str,
    /// Bandwidth per direction, GB/s (1e9 B/s).
    pub bandwidth_gbs: f64,
    /// Latency per hop (α), microseconds.
    pub latency_us: f64,
    /// Energy per byte moved over one hop, picojoules.
    pub pj_per_byte: f64,
}

impl Link {
    /// PCIe 4.0 x16: 32 GB/s per direction raw (collectives.md §b.6); α = 1 µs (NCCL's PCI
    /// hop latency, LL protocol); ~5 pJ/bit off-package SerDes (assumed).
    pub const PCIE4: Link = Link { name: "pcie4", bandwidth_gbs: 32.0, latency_us: 1.0, pj_per_byte: 40.0 };
    /// PCIe 5.0 x16: 64 GB/s per direction raw; α and energy as PCIe 4.
    pub const PCIE5: Link = Link { name: "pcie5", bandwidth_gbs: 64.0, latency_us: 1.0, pj_per_byte: 40.0 };
    /// NVLink 4 (H100/H200, 18 links): 450 GB/s per direction; α = 936 ns (ASTRA-sim's
    /// validated HGX-H100 preset); ~1.3 pJ/bit (assumed).
    pub const NVLINK4: Link = Link { name: "nvlink4", bandwidth_gbs: 450.0, latency_us: 0.936, pj_per_byte: 10.4 };
    /// A ring of NPUs: 50 GB/s, 500 ns (ASTRA-sim's `Ring_8npus.yml`); ~2 pJ/bit (assumed).
    pub const NPU_RING: Link = Link { name: "npu-ring", bandwidth_gbs: 50.0, latency_us: 0.5, pj_per_byte: 16.0 };
    /// 100 Gb Ethernet (RoCE): 12.5 GB/s; α = 10 µs (socket/RoCE stack) (assumed); ~15 pJ/bit (assumed).
    pub const ETHERNET_100G: Link =
        Link { name: "ethernet-100g", bandwidth_gbs: 12.5, latency_us: 10.0, pj_per_byte: 120.0 };
    /// InfiniBand NDR 400 Gb/s: 50 GB/s per port and direction; α = 2.7 µs (NCCL's NET hop
    /// latency, LL protocol); ~10 pJ/bit (assumed).
    pub const INFINIBAND_NDR: Link =
        Link { name: "infiniband-ndr", bandwidth_gbs: 50.0, latency_us: 2.7, pj_per_byte: 80.0 };

    /// Every preset.
    pub const ALL: [Link; 6] =
        [Link::PCIE4, Link::PCIE5, Link::NVLINK4, Link::NPU_RING, Link::ETHERNET_100G, Link::INFINIBAND_NDR];

    /// A preset by name (`pcie4`, `nvlink4`, `npu-ring`, ...).
    pub fn by_name(name: &str) -> Option<Link> {
        Link::ALL.into_iter().find(|l| l.name == name)
    }
}

/// A topology of identical links: the [`CostModel`] an in-process group of emulated devices
/// uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interconnect {
    /// Wiring.
    pub topology: Topology,
    /// Link (or port) parameters.
    pub link: Link,
    /// Local reduction rate in GB/s (the γ term); `None` leaves reduction time out.
    pub reduce_gbs: Option<f64>,
}

/// The modeled time of one collective and what it moved.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    /// Seconds.
    pub seconds: f64,
    /// Bytes this rank sent, counted once per hop.
    pub link_bytes: u64,
    /// Seconds the busiest link was transferring (for utilization).
    pub busy_seconds: f64,
}

impl Interconnect {
    /// A topology of `link`s, reduction time left out.
    pub fn new(topology: Topology, link: Link) -> Interconnect {
        Interconnect { topology, link, reduce_gbs: None }
    }

    /// Modeled time of one step of the schedule on `p` ranks.
    fn step(&self, step: &Step, p: usize) -> Estimate {
        let alpha = self.link.latency_us * 1e-6;
        let beta = 1.0 / (self.link.bandwidth_gbs * 1e9);
        let m = step.bytes as f64;
        if step.distances.is_empty() {
            return Estimate::default();
        }
        let (hops_max, load, per_message_hops) = match self.topology {
            Topology::Ring => {
                let hops = |d: usize| d.min(p - d) as f64;
                // Clockwise for d ≤ p/2, the other way otherwise.
                let cw: f64 = step.distances.iter().filter(|&&d| d * 2 <= p).map(|&d| hops(d)).sum();
                let ccw: f64 = step.distances.iter().filter(|&&d| d * 2 > p).map(|&d| hops(d)).sum();
                let max = step.distances.iter().map(|&d| hops(d)).fold(0.0, f64::max);
                (max, cw.max(ccw), step.distances.iter().map(|&d| hops(d)).sum::<f64>())
            }
            Topology::FullyConnected => (1.0, 1.0, step.distances.len() as f64),
            Topology::Switch => (2.0, step.distances.len() as f64, 2.0 * step.distances.len() as f64),
        };
        let busy = load * m * beta;
        let gamma = match self.reduce_gbs {
            Some(g) if step.reduces => step.distances.len() as f64 * m / (g * 1e9),
            _ => 0.0,
        };
        Estimate {
            seconds: hops_max * alpha + busy + gamma,
            link_bytes: (per_message_hops * m) as u64,
            busy_seconds: busy,
        }
    }

    /// Modeled time of the whole call.
    pub fn estimate(&self, query: &CostQuery) -> Estimate {
        schedule(query).iter().fold(Estimate::default(), |acc, s| {
            let e = self.step(s, query.ranks);
            Estimate {
                seconds: acc.seconds + e.seconds,
                link_bytes: acc.link_bytes + e.link_bytes,
                busy_seconds: acc.busy_seconds + e.busy_seconds,
            }
        })
    }
}

impl CostModel for Interconnect {
    fn cost(&self, query: &CostQuery) -> Option<Cost> {
        let e = self.estimate(query);
        Some(Cost {
            unit: format!("link:{}:{}:{}", self.topology.name(), self.link.name, query.algorithm),
            seconds: e.seconds,
            energy: vec![EnergyEntry {
                component: format!("link.{}", self.link.name),
                action: "byte_hop".into(),
                actions: e.link_bytes,
                pj_per_action: self.link.pj_per_byte,
            }],
            bytes_by_level: vec![("link".into(), e.link_bytes)],
            utilization: if e.seconds > 0.0 { e.busy_seconds / e.seconds } else { 0.0 },
            ..Cost::default()
        })
    }
}

#[cfg(test)]
mod tests;
