//! Markdown tables from JSON records (`accel-bench table`): one row per shape and thread
//! count, one GFLOP/s column per implementation, the subject's fraction of peak, and the
//! subject divided by its baseline, with the geometric mean and the minimum of that ratio
//! per thread count underneath.

use crate::record::Record;
use crate::shape::ConvShape;
use crate::suites::{Axis, Suite, layer_name};
use std::collections::HashMap;
use std::fmt::Write;

/// Parses JSON lines; lines that are not JSON objects are skipped, malformed objects are
/// reported (line number and error) next to the records that parsed.
pub fn parse_records(text: &str) -> (Vec<Record>, Vec<String>) {
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(e) => errors.push(format!("line {}: {e}", i + 1)),
        }
    }
    (records, errors)
}

fn has(suite: &Suite, axis: Axis) -> bool {
    suite.columns.contains(&axis)
}

/// The column a record belongs to.
pub fn column_label(suite: &Suite, r: &Record) -> String {
    let mut label = match &r.variant {
        Some(v) => format!("{}/{v}", r.peer),
        None => r.peer.clone(),
    };
    if has(suite, Axis::Dtype) {
        label = format!("{label} {}", r.dtype);
    }
    if has(suite, Axis::Epilogue) && r.epilogue != "none" {
        label = format!("{label} +{}", r.epilogue);
    }
    label
}

/// The row a record belongs to: (op, shape, layout, threads[, dtype][, epilogue]).
fn row_key(suite: &Suite, r: &Record) -> Vec<String> {
    let mut key = vec![r.op.clone(), r.shape.clone(), r.layout.clone(), r.threads.to_string()];
    if !has(suite, Axis::Dtype) {
        key.push(r.dtype.clone());
    }
    if !has(suite, Axis::Epilogue) {
        key.push(r.epilogue.clone());
    }
    key
}

fn first_seen<T: PartialEq + Clone>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Renders `suite`'s table from `records` (records of other suites are simply other rows).
pub fn render(suite: &Suite, records: &[Record]) -> String {
    let labels: Vec<String> = records.iter().map(|r| column_label(suite, r)).collect();
    let mut columns = first_seen(labels.iter().cloned());
    columns.sort_by_key(|c| c != suite.subject);
    let rows = first_seen(records.iter().map(|r| row_key(suite, r)));
    // Best GFLOP/s per (row, column) in case a run was repeated.
    let mut cells: HashMap<(Vec<String>, String), &Record> = HashMap::new();
    for (r, label) in records.iter().zip(labels) {
        let slot = cells.entry((row_key(suite, r), label)).or_insert(r);
        if r.gflops > slot.gflops {
            *slot = r;
        }
    }
    let baseline_name = suite.baseline.map_or_else(|| "best other".to_string(), str::to_string);
    let mut extra_keys = Vec::new();
    if !has(suite, Axis::Dtype) {
        extra_keys.push("dtype");
    }
    if !has(suite, Axis::Epilogue) {
        extra_keys.push("epilogue");
    }
    let mut head = vec!["op", "shape", "layer", "layout", "threads"];
    head.extend(&extra_keys);
    let mut head: Vec<String> = head.into_iter().map(str::to_string).collect();
    head.extend(columns.iter().map(|c| format!("{c} G/s")));
    head.push(format!("{} % peak", suite.subject));
    if suite.show_gbs {
        head.push(format!("{} GB/s", suite.subject));
    }
    head.push(format!("{} / {baseline_name}", suite.subject));

    let mut out = format!("### {}\n\n{}\n\n", suite.name, suite.about);
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    // (threads, ratio, row label) for the summary.
    let mut ratios: Vec<(String, f64, String)> = Vec::new();
    for key in &rows {
        let layer = ConvShape::parse(&key[1]).ok().and_then(|s| layer_name(&s)).unwrap_or("");
        let mut line: Vec<String> =
            vec![key[0].clone(), key[1].clone(), layer.to_string(), key[2].clone(), key[3].clone()];
        line.extend(key[4..].iter().cloned());
        let get = |c: &str| cells.get(&(key.clone(), c.to_string())).copied();
        line.extend(columns.iter().map(|c| get(c).map_or("–".into(), |r| format!("{:.1}", r.gflops))));
        let subject = get(suite.subject);
        let pct = subject.and_then(|r| r.peak_fraction).map_or("–".into(), |f| format!("{:.0}%", f * 100.0));
        line.push(pct);
        if suite.show_gbs {
            line.push(subject.and_then(|r| r.gbs).map_or("–".into(), |g| format!("{g:.1}")));
        }
        let base = match suite.baseline {
            Some(b) => get(b).map(|r| r.gflops),
            None => {
                columns.iter().filter(|c| *c != suite.subject).filter_map(|c| get(c)).map(|r| r.gflops).reduce(f64::max)
            }
        };
        match (subject, base) {
            (Some(s), Some(b)) if b > 0.0 => {
                let ratio = s.gflops / b;
                ratios.push((key[3].clone(), ratio, format!("{} {}", key[1], layer)));
                line.push(format!("{ratio:.2}×"));
            }
            _ => line.push("–".into()),
        }
        let _ = writeln!(out, "| {} |", line.join(" | "));
    }
    out.push('\n');
    for threads in first_seen(ratios.iter().map(|r| r.0.clone())) {
        let mine: Vec<&(String, f64, String)> = ratios.iter().filter(|r| r.0 == threads).collect();
        let geo = (mine.iter().map(|r| r.1.ln()).sum::<f64>() / mine.len() as f64).exp();
        let worst = mine.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map_or((0.0, ""), |r| (r.1, r.2.trim()));
        let _ = writeln!(
            out,
            "- {threads} thread(s): {} / {baseline_name} geometric mean {geo:.2}× over {} rows; lowest {:.2}× ({})",
            suite.subject,
            mine.len(),
            worst.0,
            worst.1
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suites::suite;

    fn rec(peer: &str, variant: Option<&str>, shape: &str, threads: usize, gflops: f64) -> Record {
        Record {
            peer: peer.into(),
            variant: variant.map(str::to_string),
            op: "conv2d".into(),
            shape: shape.into(),
            dtype: "f32".into(),
            threads,
            layout: "nchw".into(),
            epilogue: "none".into(),
            gflops,
            gbs: None,
            best_ms: 1.0,
            median_ms: 1.0,
            reps: 1,
            peak_gflops: Some(200.0),
            peak_fraction: Some(gflops / 200.0),
            peak_probe: None,
            device: "cpu".into(),
            cpu: None,
            isa: None,
            checked: true,
        }
    }

    #[test]
    fn ratios_use_the_best_other_column_and_summarise_per_thread_count() {
        let stem = "1,3,224,224,64,7,7,2,3,1";
        let res = "1,64,56,56,64,3,3,1,1,1";
        let records = vec![
            rec("onnxruntime", Some("all"), stem, 1, 200.0),
            rec("onnxruntime", Some("basic"), stem, 1, 100.0),
            rec("accel", None, stem, 1, 100.0),
            rec("accel", None, res, 1, 400.0),
            rec("onnxruntime", Some("all"), res, 1, 200.0),
        ];
        let t = render(&suite("resnet50").unwrap(), &records);
        assert!(t.contains("| conv2d | 1,3,224,224,64,7,7,2,3,1 | conv1.7x7s2 | nchw | 1 | f32 | none | 100.0 | 200.0 | 100.0 | 50% | 0.50× |"), "{t}");
        assert!(t.contains("| 400.0 | 200.0 | – | 200% | 2.00× |"), "{t}");
        assert!(
            t.contains("geometric mean 1.00× over 2 rows; lowest 0.50× (1,3,224,224,64,7,7,2,3,1 conv1.7x7s2)"),
            "{t}"
        );
    }

    #[test]
    fn malformed_lines_are_reported_and_other_text_skipped() {
        let line = rec("accel", None, "8,8,8", 1, 1.0);
        let text = format!("warming up\n{}\n{{\"peer\": 3}}\n", serde_json::to_string(&line).unwrap());
        let (records, errors) = parse_records(&text);
        assert_eq!(records, vec![line]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("line 3"), "{errors:?}");
    }
}
