//! [`Device`]: a cheap, clonable handle over one backend instance.

use crate::backend::{Backend, Capabilities, DeviceInfo, DynBackend, Support};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpKind;
use crate::profile::OpRecord;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A compute device: CPU, GPU or emulated accelerator. Clones share the device.
#[derive(Clone)]
pub struct Device {
    inner: Arc<DeviceInner>,
}

struct DeviceInner {
    backend: Box<dyn DynBackend>,
    id: u64,
    records: Mutex<Option<Vec<OpRecord>>>,
}

impl Device {
    /// Wraps a backend instance as a device.
    pub fn new<B: Backend>(backend: B) -> Device {
        Device {
            inner: Arc::new(DeviceInner {
                backend: Box::new(backend),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                records: Mutex::new(None),
            }),
        }
    }

    /// What the device is.
    pub fn info(&self) -> &DeviceInfo {
        self.inner.backend.info()
    }

    /// Short unique name, as in [`DeviceInfo::name`].
    pub fn name(&self) -> &str {
        &self.info().name
    }

    /// Per op × dtype support and limits.
    pub fn capabilities(&self) -> &Capabilities {
        self.inner.backend.capabilities()
    }

    /// How this device runs `kind` on `dtype`.
    pub fn supports(&self, kind: OpKind, dtype: DType) -> Support {
        self.capabilities().support(kind, dtype)
    }

    /// Waits for all submitted work.
    pub fn synchronize(&self) -> Result<()> {
        self.inner.backend.synchronize()
    }

    /// True when both handles refer to the same device instance.
    pub fn same(&self, other: &Device) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Process-unique id of this device instance.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Starts (or stops) collecting an [`OpRecord`] for every op executed on this device.
    /// Stopping discards records not yet taken.
    pub fn set_profiling(&self, on: bool) {
        let mut r = self.inner.records.lock().unwrap_or_else(|e| e.into_inner());
        *r = if on { Some(r.take().unwrap_or_default()) } else { None };
    }

    /// True while profiling is on.
    pub fn is_profiling(&self) -> bool {
        self.inner.records.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Takes the records collected since the last call (profiling stays on).
    pub fn take_records(&self) -> Vec<OpRecord> {
        let mut r = self.inner.records.lock().unwrap_or_else(|e| e.into_inner());
        r.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub(crate) fn push_record(&self, record: OpRecord) {
        if let Some(r) = self.inner.records.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            r.push(record);
        }
    }

    pub(crate) fn backend(&self) -> &dyn DynBackend {
        &*self.inner.backend
    }

    pub(crate) fn check_alloc(&self, op: &'static str, bytes: usize) -> Result<()> {
        let limit = self.capabilities().max_buffer_bytes;
        if bytes > limit {
            return Err(Error::OutOfMemory { op, requested: bytes, limit, device: self.name().into() });
        }
        Ok(())
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.name())
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        self.same(other)
    }
}
