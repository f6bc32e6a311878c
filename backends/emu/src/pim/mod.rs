//! Stub.
#![allow(missing_docs)]
use crate::model::DeviceModel;
use crate::workload::Workload;
use accel_core::{Capabilities, Cost, DeviceInfo, DeviceKind, Error, Op, Result};
use accel_kernels::{HostIn, HostOut};
#[derive(Debug, Clone, PartialEq)]
pub struct PimConfig {
    pub name: String,
}
impl PimConfig {
    pub(crate) fn from_table(name: &str, _t: toml::Table) -> Result<Self> {
        Ok(Self { name: name.into() })
    }
}
#[derive(Debug, Clone)]
pub struct Pim {
    cfg: PimConfig,
}
impl Pim {
    pub fn new(cfg: PimConfig) -> Self {
        Self { cfg }
    }
}
impl DeviceModel for Pim {
    type Plan = ();
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            name: self.cfg.name.clone(),
            kind: DeviceKind::Pim,
            backend: "emu".into(),
            emulated: true,
            peak_gflops: None,
            peak_bandwidth_gbs: None,
        }
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(1 << 30)
    }
    fn plan(&self, _w: &Workload) -> Result<()> {
        Err(Error::Backend { backend: "emu".into(), message: "stub".into() })
    }
    fn cost(&self, _p: &()) -> Cost {
        Cost::default()
    }
    fn execute(&self, _op: &Op, _p: &(), _i: &[HostIn<'_>], _o: HostOut<'_>) -> Result<()> {
        Ok(())
    }
}
