//! Stage 2 as a package: an NPU whose memory is a PIM stack, routing each op to the unit
//! that serves it best (emulation.md §6.1, "Heterogeneous").
//!
//! The NPU's DRAM *is* the PIM device in normal mode: the NPU preset's DRAM bandwidth and
//! capacity become the PIM stack's external bandwidth and capacity, and its DRAM energy the
//! PIM's off-chip energy. For every op the composite plans and costs it on both units (when
//! both run its dtype) and takes the faster: batch-1 GEMVs, whose weights the NPU would
//! stream once for two ops per byte, go to the banks; GEMMs with reuse stay on the array.
//! The record reports both parts of the package: its `unit` is the unit that ran the op,
//! and its energy lines are prefixed `npu.` and `pim.`, including the NPU-side scratchpad
//! traffic that feeds a PIM kernel and collects its results. Numerics are the chosen unit's.

use crate::model::{DeviceModel, energy};
use crate::pim::{Pim, PimConfig, PimPlan};
use crate::systolic::{Systolic, SystolicConfig, SystolicPlan};
use crate::workload::Workload;
use crate::{EmuBackend, Preset};
use accel_core::{Capabilities, Cost, Device, DeviceInfo, DeviceKind, Error, Op, OpKind, Result, Support};
use accel_kernels::{HostIn, HostOut};

/// The registry name of the default composite.
pub const NAME: &str = "npu+pim";

/// An NPU with a PIM memory stack.
#[derive(Debug, Clone)]
pub struct Composite {
    npu: Systolic,
    pim: Pim,
    npu_sram_pj_per_byte: f64,
}

/// Which unit runs an op, with its plan.
#[derive(Debug, Clone, PartialEq)]
pub enum CompositePlan {
    /// The systolic array (or its vector unit).
    Npu(SystolicPlan),
    /// The PIM banks.
    Pim(PimPlan),
}

impl Composite {
    /// An NPU `npu` attached to the PIM stack `pim` (the NPU's DRAM figures are replaced by
    /// the stack's external interface).
    pub fn new(mut npu: SystolicConfig, pim: PimConfig) -> Composite {
        npu.dram_bytes_per_s = pim.external_bytes_per_s();
        npu.dram_bytes = pim.capacity_bytes();
        npu.energy.dram_pj_per_byte = 8.0 * pim.energy.external_pj_per_bit;
        npu.name = format!("{}+{}", npu.name, pim.name);
        let npu_sram_pj_per_byte = npu.energy.sram_pj_per_byte;
        Composite { npu: Systolic::new(npu), pim: Pim::new(pim), npu_sram_pj_per_byte }
    }

    /// The default package: SCALE-Sim's 32×32 array on an HBM2-PIM stack.
    pub fn default_package() -> Result<Composite> {
        match (Preset::builtin("scalesim-32x32")?, Preset::builtin("hbm2-pim")?) {
            (Preset::Systolic(n), Preset::Pim(p)) => Ok(Composite::new(n, p)),
            _ => Err(Error::Backend { backend: "emu".into(), message: "npu+pim: preset kinds changed".into() }),
        }
    }

    fn prefixed(mut cost: Cost, unit: &str) -> Cost {
        for e in &mut cost.energy {
            e.component = format!("{unit}.{}", e.component);
        }
        for (level, _) in &mut cost.bytes_by_level {
            *level = format!("{unit}.{level}");
        }
        for r in &mut cost.roofline {
            r.level = format!("{unit}.{}", r.level);
        }
        cost
    }
}

/// The default composite device.
pub fn device() -> Result<Device> {
    Ok(Device::new(EmuBackend::new(Composite::default_package()?)))
}

impl DeviceModel for Composite {
    type Plan = CompositePlan;

    fn info(&self) -> DeviceInfo {
        let (n, p) = (self.npu.info(), self.pim.info());
        DeviceInfo {
            name: NAME.into(),
            kind: DeviceKind::Npu,
            backend: "emu".into(),
            emulated: true,
            peak_gflops: Some(n.peak_gflops.unwrap_or(0.0) + p.peak_gflops.unwrap_or(0.0)),
            peak_bandwidth_gbs: p.peak_bandwidth_gbs,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let (n, p) = (self.npu.capabilities(), self.pim.capabilities());
        let mut caps = n.clone();
        for kind in OpKind::ALL {
            for d in accel_core::DType::ALL {
                if n.support(kind, d) == Support::Unsupported && p.support(kind, d) != Support::Unsupported {
                    caps.set(kind, d, p.support(kind, d));
                    if let Some(b) = p.error_bound(kind, d) {
                        caps.set_error_bound(kind, d, b);
                    }
                } else if let (Some(b), true) = (p.error_bound(kind, d), p.support(kind, d) != Support::Unsupported) {
                    // Either unit may run it: promise the looser of the two.
                    caps.set_error_bound(kind, d, b);
                }
            }
        }
        caps
    }

    fn plan(&self, work: &Workload) -> Result<CompositePlan> {
        let npu = self.npu.plan(work);
        let pim = self.pim.plan(work);
        match (npu, pim) {
            (Ok(n), Ok(p)) => {
                let faster_pim = self.pim.cost(&p).seconds < self.npu.cost(&n).seconds;
                Ok(if faster_pim { CompositePlan::Pim(p) } else { CompositePlan::Npu(n) })
            }
            (Ok(n), Err(_)) => Ok(CompositePlan::Npu(n)),
            (Err(_), Ok(p)) => Ok(CompositePlan::Pim(p)),
            (Err(e), Err(_)) => Err(e),
        }
    }

    fn cost(&self, plan: &CompositePlan) -> Cost {
        match plan {
            CompositePlan::Npu(p) => Self::prefixed(self.npu.cost(p), "npu"),
            CompositePlan::Pim(p) => {
                let mut cost = Self::prefixed(self.pim.cost(p), "pim");
                // The NPU's side of a PIM kernel: inputs leave and results return through
                // its scratchpads.
                let io = cost.bytes_at("pim.external").unwrap_or(0);
                cost.energy.push(energy("npu.sram", "stage_pim_io", io, self.npu_sram_pj_per_byte));
                cost.bytes_by_level.push(("npu.sram".into(), io));
                cost
            }
        }
    }

    fn execute(&self, op: &Op, plan: &CompositePlan, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
        match plan {
            CompositePlan::Npu(p) => self.npu.execute(op, p, inputs, out),
            CompositePlan::Pim(p) => self.pim.execute(op, p, inputs, out),
        }
    }
}
