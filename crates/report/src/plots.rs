//! Plots of a chain, drawn with plotters into PNG files.
//!
//! Every chart shares one size, font and colour ramp, so figures of different
//! runs can be set side by side.

use std::path::Path;

use plotters::prelude::*;

use crate::contract::Histogram;
use crate::error::ReportError;

/// Width and height of every plot, pixels.
pub const SIZE: (u32, u32) = (900, 560);
/// Font family of every label.
const FONT: &str = "sans-serif";
/// Lines with at most this many points also get a marker per point.
const MAX_MARKED_POINTS: usize = 40;

/// A named line of points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// The colour of item `i` of `n` on a ramp from deep blue (first generation) to red (last).
pub fn ramp(i: usize, n: usize) -> RGBColor {
    let t = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    };
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(30.0, 220.0), lerp(60.0, 40.0), lerp(200.0, 40.0))
}

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = ((y1 - y0) * 0.08).max(1e-6);
    let xpad = if x1 > x0 { 0.0 } else { 0.5 };
    ((x0 - xpad, x1 + xpad), (y0 - pad, y1 + pad))
}

/// Draws into an RGB buffer with `draw`, then writes it as PNG atomically.
fn render(
    path: &Path,
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<(), ReportError> {
    let (w, h) = SIZE;
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
        draw(root).map_err(|message| ReportError::Plot {
            path: path.to_path_buf(),
            message,
        })?;
    }
    let img = image::RgbImage::from_raw(w, h, buffer).expect("buffer has the plot's size");
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|source| ReportError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    collapse_data::atomic::write(path, &bytes).map_err(|e| ReportError::io(path, e))
}

/// Draws lines (one per series, coloured along the ramp) on common axes.
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<(), ReportError> {
    let ((x0, x1), (y0, y1)) = bounds(series.iter().flat_map(|s| s.points.iter().copied()));
    render(path, |root| {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 15))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let color = ramp(i, series.len());
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            if s.points.len() <= MAX_MARKED_POINTS {
                chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font((FONT, 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())
    })
}

/// Overlays histograms as density curves, one per item, coloured along the ramp.
pub fn histogram_overlay(
    path: &Path,
    title: &str,
    x_label: &str,
    items: &[(String, &Histogram)],
) -> Result<(), ReportError> {
    let series: Vec<Series<'_>> = items
        .iter()
        .map(|(label, h)| Series {
            label,
            points: h.centres().into_iter().zip(h.density()).collect(),
        })
        .collect();
    line_plot(path, title, x_label, "density", &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_runs_blue_to_red() {
        assert_eq!(ramp(0, 5), RGBColor(30, 60, 200));
        assert_eq!(ramp(4, 5), RGBColor(220, 40, 40));
    }
}
