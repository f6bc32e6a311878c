//! The text tables `accel-bench run` and `cost` print (and write to `table.txt`): one line
//! per item × device, whole-network totals per group, and each device's speedup over the CPU.

use super::{Figure, Report, Row, Status};
use std::fmt::Write;

/// Aligns `rows` (the first is the header) into columns; columns in `right` are
/// right-aligned.
pub fn columns(rows: &[Vec<String>], right: &[usize]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> =
        (0..n).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> =
            r.iter()
                .enumerate()
                .map(|(c, s)| {
                    if right.contains(&c) { format!("{s:>w$}", w = width[c]) } else { format!("{s:<w$}", w = width[c]) }
                })
                .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A time in ms as `12.3 ms`, `45.6 µs` or `7.8 ns`.
pub fn time(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else if ms >= 1e-3 {
        format!("{:.1} µs", ms * 1e3)
    } else {
        format!("{:.1} ns", ms * 1e6)
    }
}

/// An energy in mJ as `1.23 mJ` or `4.5 µJ`.
pub fn energy(mj: f64) -> String {
    if mj >= 1.0 {
        format!("{mj:.2} mJ")
    } else if mj >= 1e-3 {
        format!("{:.1} µJ", mj * 1e3)
    } else {
        format!("{:.1} nJ", mj * 1e6)
    }
}

fn dash() -> String {
    "–".into()
}

fn status(r: &Row) -> String {
    match (r.status, &r.message) {
        (Status::Ok, _) => match (r.algbw_gbs, r.busbw_gbs) {
            (Some(a), Some(b)) => format!("ok ({}); algbw {a:.2} GB/s, busbw {b:.2} GB/s", r.checked_against),
            _ => format!("ok ({})", r.checked_against),
        },
        (Status::Unsupported, _) => "unsupported".into(),
        (Status::Skipped, Some(m)) => format!("skipped: {}", shorten(m, 60)),
        (Status::Failed, Some(m)) => format!("FAILED: {}", shorten(m, 160)),
        (s, None) => format!("{s:?}").to_lowercase(),
    }
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.lines().next().unwrap_or("");
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

/// One line per item × device; rows of ops a device does not run on the dtype are left out
/// here and summarised by [`unsupported`].
pub fn rows(report: &Report) -> String {
    let mut t = vec![
        ["item", "dtype", "device", "time", "GFLOP/s", "% peak", "energy", "figure", "result"]
            .map(String::from)
            .to_vec(),
    ];
    let mut last_item = String::new();
    for r in report.rows.iter().filter(|r| r.status != Status::Unsupported) {
        let item = format!("{}/{} {}", r.group, r.label, r.dtype);
        let shown = if item == last_item { String::new() } else { format!("{}/{}", r.group, r.label) };
        last_item = item;
        t.push(vec![
            shown,
            r.dtype.clone(),
            r.device.clone(),
            r.time_ms.map_or_else(dash, time),
            r.gflops.map_or_else(dash, |g| format!("{g:.1}")),
            r.peak_fraction.map_or_else(dash, |f| format!("{:.1}%", f * 100.0)),
            r.energy_mj.map_or_else(dash, energy),
            r.figure.name().to_string(),
            status(r),
        ]);
    }
    columns(&t, &[3, 4, 5, 6])
}

/// Per device, the (op, dtype) pairs it does not run, one line each (empty when none).
pub fn unsupported(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.devices {
        let pairs = first_seen(
            report
                .rows
                .iter()
                .filter(|r| r.device == d.name && r.status == Status::Unsupported)
                .map(|r| format!("{} {}", r.op, r.dtype)),
        );
        if !pairs.is_empty() {
            let _ = writeln!(out, "  {}: {}", d.name, pairs.join(", "));
        }
    }
    out
}

/// Whole-network figures: per network group, dtype and device, `Σ count × time` and energy
/// over the group's items that ran (sweeps, whose items are not layers of one model, have
/// none).
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    /// Group.
    pub group: String,
    /// Dtype.
    pub dtype: String,
    /// Device.
    pub device: String,
    /// Measured or modeled.
    pub figure: Figure,
    /// Σ count × time, ms.
    pub time_ms: f64,
    /// Σ count × energy, mJ, when every item has one.
    pub energy_mj: Option<f64>,
    /// Σ planning or emulation host time, ms.
    pub host_ms: Option<f64>,
    /// Items that ran, of the group's items.
    pub ran: usize,
    /// The group's items.
    pub items: usize,
}

fn first_seen(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// The [`Total`]s of every network group (see [`crate::harness::suites::is_network`]).
pub fn totals(report: &Report) -> Vec<Total> {
    let mut out = Vec::new();
    let keys = first_seen(report.rows.iter().map(|r| format!("{}\u{0}{}", r.group, r.dtype)));
    for key in keys {
        let (group, dtype) = key.split_once('\u{0}').unwrap_or((&key, ""));
        if !crate::harness::suites::is_network(group) {
            continue;
        }
        let in_group: Vec<&Row> = report.rows.iter().filter(|r| r.group == group && r.dtype == dtype).collect();
        let items = first_seen(in_group.iter().map(|r| r.label.clone())).len();
        // One layer run once is its own row already; rows that compute nothing (collectives)
        // are a sweep of sizes, not layers.
        if (items < 2 && in_group.iter().all(|r| r.count <= 1)) || in_group.iter().all(|r| r.flops == 0) {
            continue;
        }
        for device in first_seen(in_group.iter().map(|r| r.device.clone())) {
            let mine: Vec<&&Row> = in_group.iter().filter(|r| r.device == device).collect();
            if mine.iter().all(|r| r.status == Status::Unsupported) {
                continue;
            }
            let ok: Vec<&&Row> =
                mine.iter().copied().filter(|r| r.status == Status::Ok && r.time_ms.is_some()).collect();
            let sum = |f: &dyn Fn(&Row) -> Option<f64>| -> Option<f64> {
                ok.iter().map(|r| f(r).map(|v| v * r.count as f64)).sum()
            };
            out.push(Total {
                group: group.to_string(),
                dtype: dtype.to_string(),
                device,
                figure: mine[0].figure,
                time_ms: sum(&|r| r.time_ms).unwrap_or(0.0),
                energy_mj: sum(&|r| r.energy_mj),
                host_ms: ok.iter().map(|r| r.host_ms).sum(),
                ran: ok.len(),
                items,
            });
        }
    }
    out
}

/// The totals as a table.
pub fn totals_table(totals: &[Total]) -> String {
    let mut t = vec![
        ["network", "dtype", "device", "time", "energy", "figure", "layers run", "host time"]
            .map(String::from)
            .to_vec(),
    ];
    for x in totals {
        t.push(vec![
            x.group.clone(),
            x.dtype.clone(),
            x.device.clone(),
            if x.ran == 0 { dash() } else { time(x.time_ms) },
            x.energy_mj.filter(|_| x.ran > 0).map_or_else(dash, energy),
            x.figure.name().to_string(),
            format!("{}/{}", x.ran, x.items),
            x.host_ms.filter(|_| x.ran > 0).map_or_else(dash, time),
        ]);
    }
    columns(&t, &[3, 4, 7])
}

/// Per device: geometric mean over the items both it and `base` ran of `base time / its
/// time`, with the number of items (devices with none in common are left out).
pub fn speedups(report: &Report, base: &str) -> Vec<(String, f64, usize)> {
    let time = |device: &str, r: &Row| {
        report
            .rows
            .iter()
            .find(|o| o.device == device && o.group == r.group && o.label == r.label && o.dtype == r.dtype)
            .filter(|o| o.status == Status::Ok)
            .and_then(|o| o.time_ms)
    };
    let mut out = Vec::new();
    for d in &report.devices {
        let logs: Vec<f64> = report
            .rows
            .iter()
            .filter(|r| r.device == d.name && r.status == Status::Ok)
            .filter_map(|r| Some((time(base, r)? / r.time_ms?).ln()))
            .collect();
        if !logs.is_empty() {
            out.push((d.name.clone(), (logs.iter().sum::<f64>() / logs.len() as f64).exp(), logs.len()));
        }
    }
    out
}

/// The full text of a report: rows, totals, speedups and a legend.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "accel-bench {} — suite `{}`{} — {} devices, {} results in {:.1} s\n\n",
        report.command,
        report.suite,
        report.dtype.as_ref().map_or(String::new(), |d| format!(" ({d})")),
        report.devices.len(),
        report.rows.len(),
        report.wall_s
    );
    out += &rows(report);
    let totals = totals(report);
    if !totals.is_empty() {
        out += "\nper network (Σ occurrences × time over the layers listed above):\n";
        out += &totals_table(&totals);
    }
    let missing = unsupported(report);
    if !missing.is_empty() {
        out += "\nnot run (the device does not run the op on that dtype):\n";
        out += &missing;
    }
    let base = report.devices.iter().find(|d| d.kind == "cpu" && d.figure == Figure::Measured).map(|d| d.name.clone());
    if let Some(base) = base {
        let s = speedups(report, &base);
        if s.len() > 1 {
            let _ = writeln!(out, "\nspeedup over {base} (geometric mean over the items both ran):");
            let mut t = vec![vec!["device".to_string(), "speedup".into(), "items".into()]];
            t.extend(s.iter().map(|(d, x, n)| vec![d.clone(), format!("{x:.2}×"), n.to_string()]));
            out += &columns(&t, &[1, 2]);
        }
    }
    out += "\nmeasured = best of repeated wall-clock runs on this machine; modeled = the emulated device's \
            cost model (cycles, energy), not a measurement. % peak: of the probed CPU peak for the dtype, or \
            the model's stated peak.\n";
    let failed = report.failures();
    if failed > 0 {
        let _ = writeln!(out, "{failed} result(s) FAILED their check (see the result column).");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn the_table_labels_measured_and_modeled_rows() {
        let r = sample();
        let text = render(&r);
        assert!(text.contains("measured") && text.contains("modeled"), "{text}");
        assert!(text.contains("2.00 ms") && text.contains("100.0 µs"), "{text}");
        assert!(text.contains("skipped: conv2d"), "{text}");
        assert!(text.contains("conv2d f32"), "{text}");
        assert!(text.contains("250.0 µJ"), "{text}");
        // cpu 2 ms vs tpu 0.1 ms: 20×.
        assert!(text.contains("20.00×"), "{text}");
    }

    #[test]
    fn totals_multiply_by_occurrences_and_count_what_ran() {
        let mut r = sample();
        let mut other = r.rows[0].clone();
        other.label = "res4.3x3".into();
        other.count = 5;
        r.rows.push(other);
        let t = totals(&r);
        let cpu = t.iter().find(|x| x.device == "cpu").unwrap();
        assert_eq!((cpu.ran, cpu.items), (2, 2));
        assert!((cpu.time_ms - (3.0 * 2.0 + 5.0 * 2.0)).abs() < 1e-9);
        let upmem = t.iter().find(|x| x.device == "pim:upmem").unwrap();
        assert_eq!(upmem.ran, 0);
    }
}
