//! The three pictures of a report.

use super::{Chart, FONT, draw_err};
use crate::report::{DeviceEntry, Figure, Report, Row, Status, table};
use plotters::coord::Shift;
use plotters::prelude::*;

fn color(i: usize) -> RGBColor {
    // Palette99 without its near-white entries, in a fixed order.
    const COLORS: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(90, 90, 90),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

/// Log-axis bounds around `values`: whole decades with some room at both ends, at least two
/// decades wide (a one-decade log axis gets a label at every minor tick).
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || hi <= 0.0 {
        return (0.1, 10.0);
    }
    let (a, mut b) = ((lo * 0.8).log10().floor(), (hi * 1.25).log10().ceil());
    let a = if b - a < 2.0 { a - 1.0 } else { a };
    b = b.max(a + 2.0);
    (10f64.powf(a), 10f64.powf(b))
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

fn ok(r: &Row) -> bool {
    r.status == Status::Ok && r.gflops.is_some()
}

fn sci(v: f64) -> String {
    if !(0.01..1000.0).contains(&v) {
        format!("{v:.0e}")
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// One roofline panel per device: `min(peak, bandwidth × intensity)` and every item the
/// device ran at (flops / compulsory bytes, achieved GFLOP/s), colored by group.
#[derive(Debug, Clone)]
pub struct Roofline {
    devices: Vec<DeviceEntry>,
    rows: Vec<Row>,
    groups: Vec<String>,
}

impl Roofline {
    /// `None` when no device ran anything.
    pub fn new(report: &Report) -> Option<Roofline> {
        let rows: Vec<Row> = report.rows.iter().filter(|r| ok(r)).cloned().collect();
        let devices: Vec<DeviceEntry> =
            report.devices.iter().filter(|d| rows.iter().any(|r| r.device == d.name)).cloned().collect();
        let groups = first_seen(rows.iter().map(|r| r.group.clone()));
        (!devices.is_empty()).then_some(Roofline { devices, rows, groups })
    }

    fn cols(&self) -> usize {
        self.devices.len().clamp(1, 3)
    }

    fn panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, d: &DeviceEntry) -> Result<(), String> {
        let mine: Vec<&Row> = self.rows.iter().filter(|r| r.device == d.name).collect();
        let mut peaks: Vec<(String, f64)> = Vec::new();
        for p in &d.peaks {
            if mine.iter().any(|r| r.dtype == p.dtype) && !peaks.iter().any(|(_, g)| (g - p.gflops).abs() < 1e-9 * g) {
                peaks.push((p.dtype.clone(), p.gflops));
            }
        }
        let bw = d.bandwidth_gbs.filter(|b| *b > 0.0);
        let ridges = peaks.iter().filter_map(|(_, g)| bw.map(|b| g / b));
        let (x0, x1) = log_bounds(mine.iter().map(|r| r.intensity()).chain(ridges));
        let (y0, y1) = log_bounds(mine.iter().filter_map(|r| r.gflops).chain(peaks.iter().map(|p| p.1)));
        let title = format!("{} ({})", d.name, d.figure.name());
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 18))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("FLOP / byte (compulsory traffic)")
            .y_desc("GFLOP/s")
            .x_label_formatter(&|v| sci(*v))
            .y_label_formatter(&|v| sci(*v))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        for (i, (dtype, peak)) in peaks.iter().enumerate() {
            let line: Vec<(f64, f64)> = match bw {
                Some(b) => {
                    let ridge = (peak / b).clamp(x0, x1);
                    vec![(x0, (b * x0).min(*peak)), (ridge, (b * ridge).min(*peak)), (x1, (b * x1).min(*peak))]
                }
                None => vec![(x0, *peak), (x1, *peak)],
            };
            let style = RGBColor(60, 60, 60).stroke_width(if i == 0 { 2 } else { 1 });
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(draw_err)?
                .label(format!("{dtype} roof {peak:.0}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RGBColor(60, 60, 60)));
        }
        for (g, group) in self.groups.iter().enumerate() {
            let pts: Vec<(f64, f64)> =
                mine.iter().filter(|r| &r.group == group).filter_map(|r| Some((r.intensity(), r.gflops?))).collect();
            if pts.is_empty() {
                continue;
            }
            let c = color(g);
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, c.filled())))
                .map_err(draw_err)?
                .label(group.clone())
                .legend(move |(x, y)| Circle::new((x + 7, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 11))
            .background_style(WHITE.mix(0.8))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(draw_err)
    }
}

impl Chart for Roofline {
    fn name(&self) -> &'static str {
        "roofline"
    }
    fn size(&self) -> (u32, u32) {
        let cols = self.cols() as u32;
        let rows = self.devices.len().div_ceil(self.cols()) as u32;
        (cols * 480, rows * 360)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let rows = self.devices.len().div_ceil(self.cols());
        let panels = area.split_evenly((rows, self.cols()));
        for (panel, d) in panels.iter().zip(&self.devices) {
            self.panel(panel, d)?;
        }
        Ok(())
    }
}

/// What a [`Layers`] chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Time per item (measured or modeled).
    Time,
    /// Modeled energy per item.
    Energy,
}

/// One device's marks: its name, whether measured or modeled, and (item index, value).
type Series = (String, Figure, Vec<(usize, f64)>);

/// Time or energy of every item (layer) on every device, one row of marks per item.
#[derive(Debug, Clone)]
pub struct Layers {
    metric: Metric,
    items: Vec<(String, String, String)>,
    series: Vec<Series>,
}

impl Layers {
    /// `None` when no device has a value of `metric`.
    pub fn new(report: &Report, metric: Metric) -> Option<Layers> {
        let value = |r: &Row| match metric {
            Metric::Time => r.time_ms,
            Metric::Energy => r.energy_mj,
        };
        let items: Vec<(String, String, String)> = {
            let mut v: Vec<(String, String, String)> = Vec::new();
            for r in &report.rows {
                let key = (r.group.clone(), r.label.clone(), r.dtype.clone());
                if !v.contains(&key) {
                    v.push(key);
                }
            }
            v
        };
        let mut series = Vec::new();
        for d in &report.devices {
            let pts: Vec<(usize, f64)> = items
                .iter()
                .enumerate()
                .filter_map(|(i, (g, l, t))| {
                    let r = report
                        .rows
                        .iter()
                        .find(|r| r.device == d.name && &r.group == g && &r.label == l && &r.dtype == t)?;
                    Some((i, value(r).filter(|_| r.status == Status::Ok)?))
                })
                .collect();
            if !pts.is_empty() {
                series.push((d.name.clone(), d.figure, pts));
            }
        }
        (!series.is_empty()).then_some(Layers { metric, items, series })
    }
}

/// Legend drawn beside a chart (plotters' own legend sits inside the plot, over the marks).
fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, ShapeStyle)],
) -> Result<(), String> {
    for (i, (label, style)) in entries.iter().enumerate() {
        let y = 60 + 22 * i as i32;
        area.draw(&Circle::new((14, y), 5, *style)).map_err(draw_err)?;
        area.draw(&Text::new(label.clone(), (26, y - 7), (FONT, 13))).map_err(draw_err)?;
    }
    Ok(())
}

impl Chart for Layers {
    fn name(&self) -> &'static str {
        match self.metric {
            Metric::Time => "layers-time",
            Metric::Energy => "layers-energy",
        }
    }
    fn size(&self) -> (u32, u32) {
        (1200, (self.items.len() as u32 * 24 + 130).max(360))
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (x0, x1) = log_bounds(self.series.iter().flat_map(|s| s.2.iter().map(|p| p.1)));
        let (caption, unit) = match self.metric {
            Metric::Time => ("time per layer per device (filled: measured, hollow: modeled)", "ms per run"),
            Metric::Energy => ("modeled energy per layer per device", "mJ per run"),
        };
        let n = self.items.len();
        let labels: Vec<String> = self.items.iter().map(|(g, l, t)| format!("{g}/{l} {t}")).collect();
        let label_len = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
        let (plot, legend) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(230));
        let mut chart = ChartBuilder::on(&plot)
            .caption(caption, (FONT, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size((label_len * 7 + 10).clamp(60, 360))
            .build_cartesian_2d((x0..x1).log_scale(), (0..n.saturating_sub(1)).into_segmented())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    labels.get(n - 1 - (*i).min(n - 1)).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .x_desc(unit)
            .x_label_formatter(&|v| sci(*v))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(draw_err)?;
        let mut entries = Vec::new();
        for (s, (device, figure, pts)) in self.series.iter().enumerate() {
            let c = color(s);
            let style = if *figure == Figure::Measured { c.filled() } else { c.stroke_width(2) };
            // Items run top to bottom in suite order.
            let marks = pts.iter().map(move |&(i, v)| Circle::new((v, SegmentValue::CenterOf(n - 1 - i)), 5, style));
            chart.draw_series(marks).map_err(draw_err)?;
            entries.push((format!("{device} ({})", figure.name()), style));
        }
        side_legend(&legend, &entries)
    }
}

/// Each device's speedup over the CPU: geometric mean over the items both ran, as bars on
/// a log axis from 1×.
#[derive(Debug, Clone)]
pub struct Speedup {
    base: String,
    bars: Vec<(String, Figure, f64, usize)>,
}

impl Speedup {
    /// `None` without a measured CPU or another device to compare with it.
    pub fn new(report: &Report) -> Option<Speedup> {
        let base = report.devices.iter().find(|d| d.kind == "cpu" && d.figure == Figure::Measured)?.name.clone();
        let bars: Vec<(String, Figure, f64, usize)> = table::speedups(report, &base)
            .into_iter()
            .map(|(d, x, n)| {
                let figure = report.device(&d).map_or(Figure::Measured, |e| e.figure);
                (d, figure, x, n)
            })
            .collect();
        (bars.len() > 1).then_some(Speedup { base, bars })
    }
}

impl Chart for Speedup {
    fn name(&self) -> &'static str {
        "speedup"
    }
    fn size(&self) -> (u32, u32) {
        (900, (self.bars.len() as u32 * 44 + 120).max(300))
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (x0, x1) = log_bounds(self.bars.iter().map(|b| b.2).chain([1.0]));
        // A decade of room on the right for the value labels.
        let x1 = x1 * 10.0;
        let n = self.bars.len();
        let names: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(format!("speedup over {} (geometric mean over shared items)", self.base), (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(150)
            .build_cartesian_2d((x0..x1).log_scale(), (0..n.saturating_sub(1)).into_segmented())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i).cloned().unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .x_desc("× the CPU's speed (measured and modeled bars differ in color)")
            .x_label_formatter(&|v| format!("{}×", sci(*v)))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        for (i, (_, figure, x, items)) in self.bars.iter().enumerate() {
            let c = if *figure == Figure::Measured { color(0) } else { color(1) };
            let a = SegmentValue::Exact(i);
            let b = if i + 1 == n { SegmentValue::Last } else { SegmentValue::Exact(i + 1) };
            chart.draw_series([Rectangle::new([(1.0, a), (*x, b)], c.mix(0.8).filled())]).map_err(draw_err)?;
            let label = format!("{x:.2}× ({}, {items} items)", figure.name());
            chart
                .draw_series([Text::new(label, (x.max(1.0) * 1.1, SegmentValue::CenterOf(i)), (FONT, 12))])
                .map_err(draw_err)?;
        }
        Ok(())
    }
}
