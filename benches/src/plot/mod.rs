//! Pictures of a [`Report`], each written as SVG and PNG with plotters: a roofline per
//! device with every item placed on it, time and energy per layer per device, and each
//! device's speedup over the CPU.
//!
//! PNGs are rasterised by plotters' bitmap backend with glyphs from `ab_glyph` (pure Rust)
//! and a font bundled at compile time (`epaint_default_fonts`), then encoded by `png`, so no
//! system font or image library is involved; SVGs name the `sans-serif` family.

mod charts;

use crate::report::Report;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

pub use charts::{Layers, Metric, Roofline, Speedup};

/// Font family every chart uses (registered once per process).
pub const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is a valid TrueType file; failing to parse it would only leave
        // labels unrendered in the PNGs, which the PNG test would catch.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
    });
}

/// Error text of a drawing failure.
pub(crate) fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    format!("drawing: {e}")
}

/// A picture that can be drawn on any plotters backend.
pub trait Chart {
    /// File stem (`roofline`, `layers-time`, ...).
    fn name(&self) -> &'static str;
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws onto `area`.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// The chart as SVG text.
pub fn svg<C: Chart>(chart: &C) -> Result<String, String> {
    register_font();
    let mut text = String::new();
    {
        let area = SVGBackend::with_string(&mut text, chart.size()).into_drawing_area();
        area.fill(&WHITE).map_err(draw_err)?;
        chart.draw(&area)?;
        area.present().map_err(draw_err)?;
    }
    Ok(text)
}

/// The chart as PNG bytes (8-bit RGB).
pub fn png<C: Chart>(chart: &C) -> Result<Vec<u8>, String> {
    register_font();
    let (w, h) = chart.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_err)?;
        chart.draw(&area)?;
        area.present().map_err(draw_err)?;
    }
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, w, h);
    enc.set_color(::png::ColorType::Rgb);
    enc.set_depth(::png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| format!("encoding PNG: {e}"))?;
    writer.write_image_data(&rgb).map_err(|e| format!("encoding PNG: {e}"))?;
    writer.finish().map_err(|e| format!("encoding PNG: {e}"))?;
    Ok(out)
}

/// Writes `NAME.svg` and `NAME.png` into `dir`.
pub fn save<C: Chart>(chart: &C, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let (svg_path, png_path) = (dir.join(format!("{}.svg", chart.name())), dir.join(format!("{}.png", chart.name())));
    let write = |p: &Path, bytes: &[u8]| std::fs::write(p, bytes).map_err(|e| format!("writing {}: {e}", p.display()));
    write(&svg_path, svg(chart)?.as_bytes())?;
    write(&png_path, &png(chart)?)?;
    Ok(vec![svg_path, png_path])
}

/// Draws every picture the report has data for into `dir`; returns the files written.
pub fn all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    if let Some(c) = Roofline::new(report) {
        files.extend(save(&c, dir)?);
    }
    for metric in [Metric::Time, Metric::Energy] {
        if let Some(c) = Layers::new(report, metric) {
            files.extend(save(&c, dir)?);
        }
    }
    if let Some(c) = Speedup::new(report) {
        files.extend(save(&c, dir)?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn every_picture_is_valid_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let files = all(&sample(), dir.path()).unwrap();
        let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        for want in
            ["roofline.svg", "roofline.png", "layers-time.svg", "layers-time.png", "layers-energy.svg", "speedup.png"]
        {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            if f.extension().unwrap() == "png" {
                let decoder = ::png::Decoder::new(std::io::Cursor::new(&bytes));
                let mut reader = decoder.read_info().unwrap();
                let mut buf = vec![0; reader.output_buffer_size()];
                let info = reader.next_frame(&mut buf).unwrap();
                assert!(info.width >= 400 && info.height >= 300);
                // Not a blank picture: some pixels are dark (axes, labels, marks).
                assert!(buf.chunks(3).any(|p| p.iter().all(|&c| c < 80)), "{} is blank", f.display());
            } else {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", f.display());
                assert!(text.contains("<text"), "{} has no labels", f.display());
            }
        }
    }
}
