//! Adapter discovery: every adapter wgpu finds (Vulkan, Metal, DX12; Mesa lavapipe counts)
//! becomes one device, optionally filtered by `ACCEL_WGPU_ADAPTER` (a case-insensitive
//! substring of the adapter name). Each device is opened with the adapter's own limits (the
//! defaults are far smaller: 128 MiB bindings, 16 KiB workgroup memory) and the optional
//! features the backend uses when offered (timestamp queries).

use crate::backend::WgpuBackend;
use accel_core::Device;
use std::sync::OnceLock;

/// The environment variable that picks adapters by name substring.
pub const ADAPTER_ENV: &str = "ACCEL_WGPU_ADAPTER";

/// Adapters found and why any could not be opened (for the skip message).
#[derive(Debug, Default)]
pub struct Discovery {
    /// One device per opened adapter.
    pub devices: Vec<Device>,
    /// Adapters that were skipped or failed, with the reason.
    pub notes: Vec<String>,
}

/// Opens every adapter (after the `ACCEL_WGPU_ADAPTER` filter) as a fresh backend, with notes
/// on those skipped or failed. [`devices()`] caches one such list per process; tests that need
/// their own instance (fault injection) call this.
pub fn open_all() -> (Vec<WgpuBackend>, Vec<String>) {
    let (mut backends, mut notes) = (Vec::new(), Vec::new());
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let dot4 = instance.wgsl_language_features().contains(wgpu::WgslLanguageFeatures::Packed4x8IntegerDotProduct);
    let filter = std::env::var(ADAPTER_ENV).ok().map(|f| f.to_lowercase()).filter(|f| !f.is_empty());
    for (index, adapter) in adapters.into_iter().enumerate() {
        let info = adapter.get_info();
        if let Some(f) = &filter
            && !info.name.to_lowercase().contains(f.as_str())
        {
            notes.push(format!("adapter {:?} skipped: {ADAPTER_ENV}={f:?}", info.name));
            continue;
        }
        match WgpuBackend::open(index, &adapter, dot4) {
            Ok(b) => backends.push(b),
            Err(e) => notes.push(format!("adapter {:?} could not be opened: {e}", info.name)),
        }
    }
    (backends, notes)
}

fn discover() -> Discovery {
    let (backends, notes) = open_all();
    Discovery { devices: backends.into_iter().map(Device::new).collect(), notes }
}

/// The process's adapters, discovered once.
pub fn discovery() -> &'static Discovery {
    static FOUND: OnceLock<Discovery> = OnceLock::new();
    FOUND.get_or_init(discover)
}

/// One device per usable adapter (cheap clones after the first call).
pub fn devices() -> Vec<Device> {
    discovery().devices.clone()
}
