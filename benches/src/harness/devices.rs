//! Which devices a run uses: every device of `accel::devices()` by default, or those the
//! `--device` filters name.
//!
//! A filter matches a device by its full name (`npu:tpu-v1`), the part after the colon
//! (`tpu-v1`), its kind (`cpu`, `gpu`, `npu`, `pim`, `analog`), or a class: `emulated`
//! (modeled figures) or `measured` (timed on real hardware); `all` keeps every device.
//! Matching ignores case; each device appears once, in registry order.

use accel::{Device, DeviceKind};

/// Name of a device kind as filters and reports spell it.
pub fn kind_name(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Cpu => "cpu",
        DeviceKind::Gpu => "gpu",
        DeviceKind::Npu => "npu",
        DeviceKind::Pim => "pim",
        DeviceKind::Analog => "analog",
    }
}

fn matches(device: &Device, filter: &str) -> bool {
    let info = device.info();
    let name = info.name.to_ascii_lowercase();
    let short = name.split_once(':').map_or(name.as_str(), |(_, s)| s);
    match filter {
        "all" => true,
        "emulated" | "emu" | "modeled" => info.emulated,
        "measured" => !info.emulated,
        f => f == name || f == short || f == kind_name(info.kind),
    }
}

/// The devices of `all` the filters select (every device when `filters` is empty). A filter
/// that matches nothing is an error listing what would match.
pub fn select(all: &[Device], filters: &[String]) -> Result<Vec<Device>, String> {
    if filters.is_empty() {
        return Ok(all.to_vec());
    }
    let mut keep = vec![false; all.len()];
    for raw in filters {
        let filter = raw.trim().to_ascii_lowercase();
        let mut hit = false;
        for (slot, d) in keep.iter_mut().zip(all) {
            if matches(d, &filter) {
                *slot = true;
                hit = true;
            }
        }
        if !hit {
            let names: Vec<&str> = all.iter().map(|d| d.name()).collect();
            return Err(format!(
                "unknown device `{raw}` (devices: {}; kinds: cpu, gpu, npu, pim, analog; classes: emulated, measured, all)",
                names.join(", ")
            ));
        }
    }
    Ok(all.iter().zip(keep).filter(|(_, k)| *k).map(|(d, _)| d.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Device]) -> Vec<String> {
        v.iter().map(|d| d.name().to_string()).collect()
    }

    #[test]
    fn filters_match_names_short_names_kinds_and_classes() {
        let all = accel::devices();
        assert_eq!(names(&select(&all, &[]).unwrap()), names(&all));
        assert_eq!(names(&select(&all, &["cpu".into()]).unwrap()), ["cpu"]);
        assert_eq!(names(&select(&all, &["TPU-V1".into()]).unwrap()), ["npu:tpu-v1"]);
        assert_eq!(names(&select(&all, &["npu:tpu-v1".into(), "cpu".into()]).unwrap()), ["cpu", "npu:tpu-v1"]);
        let pim = select(&all, &["pim".into()]).unwrap();
        assert!(!pim.is_empty() && pim.iter().all(|d| d.info().kind == DeviceKind::Pim));
        let emulated = select(&all, &["emulated".into()]).unwrap();
        assert_eq!(emulated.len(), all.iter().filter(|d| d.info().emulated).count());
        assert!(select(&all, &["measured".into()]).unwrap().iter().all(|d| !d.info().emulated));
        assert_eq!(select(&all, &["all".into(), "cpu".into()]).unwrap().len(), all.len());
    }

    #[test]
    fn an_unknown_device_is_an_error_naming_the_known_ones() {
        let all = accel::devices();
        let e = select(&all, &["cpu".into(), "tpu-v9".into()]).unwrap_err();
        assert!(e.starts_with("unknown device `tpu-v9`") && e.contains("npu:tpu-v1"), "{e}");
        assert!(!e.contains('\n'));
    }
}
