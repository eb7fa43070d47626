//! Plots drawn with plotters into PNG files, one submodule per chart kind:
//! lines (with reference lines and bands), stacked areas and scatters.
//!
//! Every chart shares one size, font and colour scheme, so figures of
//! different runs can be set side by side. Non-finite values are skipped.

mod area;
mod line;
mod scatter;

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::{DrawingError, ReportError};

pub use area::stacked_area;
pub use line::{histogram_overlay, line_plot};
pub use scatter::scatter;

/// Width and height of every plot, pixels.
pub const SIZE: (u32, u32) = (900, 560);
/// Font family of every label.
const FONT: &str = "sans-serif";
/// The real test set's colour in every chart that shows it beside generations.
pub const REFERENCE_COLOR: RGBColor = BLACK;
/// Its legend label.
pub const REFERENCE_LABEL: &str = "real test set";
/// Colour of background points (the real test set in a scatter).
pub const BACKGROUND_COLOR: RGBColor = RGBColor(175, 175, 175);

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

/// Ten distinct colours for unordered items (classes, runs, metrics), repeating after ten.
pub fn palette(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

/// The title and axis labels of a chart.
#[derive(Clone, Copy, Debug)]
pub struct Axes<'a> {
    /// Caption above the chart.
    pub title: &'a str,
    /// Label of the x axis.
    pub x_label: &'a str,
    /// Label of the y axis.
    pub y_label: &'a str,
}

/// A named, coloured set of points: a line (optionally with a shaded band
/// around it) or a scatter group.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Line colour (the band is a light shade of it).
    pub color: RGBColor,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)` of a shaded band; empty for none.
    pub band: Vec<(f64, f64, f64)>,
}

impl Series {
    /// A series without a band.
    pub fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            band: Vec::new(),
        }
    }
}

/// The points of `points` whose coordinates are both finite.
fn finite(points: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + Clone + '_ {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// The finite values' extent, widened by `pad` times its width on each side;
/// a single value gets ±0.5, no value `0..1`.
fn extent(values: impl Iterator<Item = f64>, pad: f64) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        0.0..1.0
    } else if hi - lo < 1e-12 {
        lo - 0.5..hi + 0.5
    } else {
        let p = (hi - lo) * pad;
        lo - p..hi + p
    }
}

/// The drawing area a chart kind draws on.
type Root<'b> = DrawingArea<BitMapBackend<'b>, Shift>;
/// A chart with real-valued axes.
type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws into an RGB buffer with `draw`, then writes it as PNG atomically.
fn render(
    path: &Path,
    draw: impl FnOnce(&Root<'_>) -> Result<(), DrawingError>,
) -> Result<(), ReportError> {
    let (w, h) = SIZE;
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
        draw(&root)
            .and_then(|()| root.present())
            .map_err(|source| ReportError::Plot {
                path: path.to_path_buf(),
                source,
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

/// A white chart on `area` with caption, axis labels and a mesh over `x` × `y`.
fn frame<'a, 'b>(
    area: &'a Root<'b>,
    axes: &Axes<'_>,
    x: Range<f64>,
    y: Range<f64>,
) -> Result<Chart<'a, 'b>, DrawingError> {
    area.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(area)
        .caption(axes.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .label_style((FONT, 15))
        .draw()?;
    Ok(chart)
}

/// Draws the legend of the labelled series of `chart`.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), DrawingError> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_runs_blue_to_red() {
        assert_eq!(ramp(0, 5), RGBColor(30, 60, 200));
        assert_eq!(ramp(4, 5), RGBColor(220, 40, 40));
    }

    #[test]
    fn extent_skips_non_finite_values() {
        let values = [1.0, f64::NAN, 3.0, f64::INFINITY];
        assert_eq!(extent(values.into_iter(), 0.5), 0.0..4.0);
        assert_eq!(extent([2.0].into_iter(), 0.1), 1.5..2.5);
        assert_eq!(extent([f64::NAN].into_iter(), 0.1), 0.0..1.0);
    }
}
