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
pub use line::{histogram_overlay, line_plot, scaled_line_plot};
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

/// The axes of a chart of `metric` against generation.
pub fn metric_axes(metric: &collapse_records::table::Metric) -> Axes<'static> {
    Axes {
        title: metric.title,
        x_label: "generation",
        y_label: metric.axis,
    }
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
    /// Drawn dashed (a closed form beside measured lines).
    pub dashed: bool,
}

impl Series {
    /// A series without a band.
    pub fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            band: Vec::new(),
            dashed: false,
        }
    }

    /// The same series, drawn dashed.
    pub fn dashed(self) -> Self {
        Series {
            dashed: true,
            ..self
        }
    }
}

/// Which axes of a chart are logarithmic. A log axis plots log10 of the
/// values, leaves out points at or below zero and labels its ticks in the
/// values themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scale {
    /// The x axis is logarithmic.
    pub log_x: bool,
    /// The y axis is logarithmic.
    pub log_y: bool,
}

impl Scale {
    /// Both axes linear.
    pub const LINEAR: Scale = Scale {
        log_x: false,
        log_y: false,
    };

    /// A point in the chart's coordinates; `None` where a log axis cannot show it.
    fn place(self, (x, y): (f64, f64)) -> Option<(f64, f64)> {
        let axis = |log: bool, v: f64| match log {
            false => Some(v),
            true if v > 0.0 => Some(v.log10()),
            true => None,
        };
        Some((axis(self.log_x, x)?, axis(self.log_y, y)?))
    }

    /// `series` in the chart's coordinates, bands included.
    fn apply(self, series: &[Series]) -> Vec<Series> {
        series
            .iter()
            .map(|s| Series {
                points: s.points.iter().filter_map(|&p| self.place(p)).collect(),
                band: s
                    .band
                    .iter()
                    .filter_map(|&(x, lo, hi)| {
                        let (x, lo) = self.place((x, lo))?;
                        let (_, hi) = self.place((1.0, hi))?;
                        Some((x, lo, hi))
                    })
                    .collect(),
                ..s.clone()
            })
            .collect()
    }
}

/// A tick label of an axis: the value, or 10 to the value on a log axis, to
/// three significant digits.
fn tick(log: bool, v: f64) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
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

/// Registers the font every label is drawn in (DejaVu Sans, built into the
/// binary, so plots need no font installed), once per process.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_err()
        {
            unreachable!("DejaVu Sans is a valid font");
        }
    });
}

/// Draws into an RGB buffer with `draw`, then writes it as PNG atomically.
fn render(
    path: &Path,
    draw: impl FnOnce(&Root<'_>) -> Result<(), DrawingError>,
) -> Result<(), ReportError> {
    register_font();
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
    collapse_records::atomic::write(path, &bytes).map_err(|e| ReportError::io(path, e))
}

/// A white chart on `area` with caption, axis labels and a mesh over `x` × `y`
/// (in the coordinates of `scale`).
fn frame<'a, 'b>(
    area: &'a Root<'b>,
    axes: &Axes<'_>,
    scale: Scale,
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
        .x_label_formatter(&|v| tick(scale.log_x, *v))
        .y_label_formatter(&|v| tick(scale.log_y, *v))
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
    fn log_axes_leave_out_what_they_cannot_show_and_label_in_values() {
        let log_x = Scale {
            log_x: true,
            log_y: false,
        };
        let s = Series::new(
            "s",
            palette(0),
            vec![(0.0, 1.0), (10.0, -2.0), (100.0, 3.0)],
        );
        assert_eq!(log_x.apply(&[s])[0].points, [(1.0, -2.0), (2.0, 3.0)]);
        assert_eq!(tick(true, 2.0), "100");
        assert_eq!(tick(true, -2.0), "0.01");
        assert_eq!(tick(false, 0.25), "0.25");
        assert_eq!(tick(false, 1500.0), "1500");
    }

    #[test]
    fn extent_skips_non_finite_values() {
        let values = [1.0, f64::NAN, 3.0, f64::INFINITY];
        assert_eq!(extent(values.into_iter(), 0.5), 0.0..4.0);
        assert_eq!(extent([2.0].into_iter(), 0.1), 1.5..2.5);
        assert_eq!(extent([f64::NAN].into_iter(), 0.1), 0.0..1.0);
    }
}
