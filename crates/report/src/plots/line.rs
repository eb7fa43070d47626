//! Line charts: metrics against generation (with shaded bands and a dashed
//! reference line) and histograms overlaid as density curves.

use std::ops::Range;
use std::path::Path;

use plotters::element::ComposedElement;
use plotters::prelude::*;

use super::{
    Axes, Chart, DrawingError, REFERENCE_COLOR, REFERENCE_LABEL, Scale, Series, extent, finite,
    frame, legend, ramp, render,
};
use crate::error::ReportError;
use crate::stats::Histogram;

/// Lines with at most this many points also get a marker per point.
const MAX_MARKED_POINTS: usize = 40;

/// Draws `series` on common axes, each with its band if any, and `reference`
/// (the real test set's value) as a dashed horizontal line. Bands go under
/// every line; the legend is drawn where there is a band or more than one
/// line to name.
pub fn line_plot(
    path: &Path,
    axes: &Axes<'_>,
    series: &[Series],
    reference: Option<f64>,
) -> Result<(), ReportError> {
    lines(path, axes, Scale::LINEAR, series, reference)
}

/// [`line_plot`] on the axes `scale` makes logarithmic, without a reference line.
pub fn scaled_line_plot(
    path: &Path,
    axes: &Axes<'_>,
    scale: Scale,
    series: &[Series],
) -> Result<(), ReportError> {
    lines(path, axes, scale, &scale.apply(series), None)
}

/// Draws `series`, already in the coordinates of `scale`, and `reference`.
fn lines(
    path: &Path,
    axes: &Axes<'_>,
    scale: Scale,
    series: &[Series],
    reference: Option<f64>,
) -> Result<(), ReportError> {
    let reference = reference.filter(|r| r.is_finite());
    let points = || series.iter().flat_map(|s| finite(&s.points));
    let bands = || {
        series
            .iter()
            .flat_map(|s| &s.band)
            .flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)])
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let x = extent(points().chain(bands()).map(|p| p.0), 0.0);
    let y = extent(points().chain(bands()).map(|p| p.1).chain(reference), 0.08);
    render(path, |root| {
        let mut chart = frame(root, axes, scale, x.clone(), y)?;
        for s in series {
            draw_band(&mut chart, s)?;
        }
        for s in series {
            draw_line(&mut chart, s)?;
        }
        if let Some(r) = reference {
            draw_reference(&mut chart, &x, r)?;
        }
        let banded = series.iter().any(|s| !s.band.is_empty());
        if banded || series.len() + usize::from(reference.is_some()) > 1 {
            legend(&mut chart)?;
        }
        Ok(())
    })
}

/// Shades the finite part of the band of `s` in a light shade of its colour.
fn draw_band(chart: &mut Chart<'_, '_>, s: &Series) -> Result<(), DrawingError> {
    let band: Vec<(f64, f64, f64)> = s
        .band
        .iter()
        .copied()
        .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
        .collect();
    if band.is_empty() {
        return Ok(());
    }
    let outline = band
        .iter()
        .map(|&(x, _, hi)| (x, hi))
        .chain(band.iter().rev().map(|&(x, lo, _)| (x, lo)));
    chart.draw_series(std::iter::once(Polygon::new(
        outline.collect::<Vec<_>>(),
        s.color.mix(0.2).filled(),
    )))?;
    Ok(())
}

/// Draws the line of `s` (dashed where it says so) with its legend entry, and
/// a marker per point of a solid line with few enough points for markers to
/// stay apart.
fn draw_line<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, s: &Series) -> Result<(), DrawingError> {
    let color = s.color;
    let style = color.stroke_width(2);
    let drawn = if s.dashed {
        chart.draw_series(DashedLineSeries::new(finite(&s.points), 10, 6, style))?
    } else {
        chart.draw_series(LineSeries::new(finite(&s.points), style))?
    };
    let dashed = s.dashed;
    drawn
        .label(s.label.as_str())
        .legend(move |at| legend_line(at, style, dashed));
    if !s.dashed && s.points.len() <= MAX_MARKED_POINTS {
        chart.draw_series(finite(&s.points).map(|p| Circle::new(p, 3, color.filled())))?;
    }
    Ok(())
}

/// Draws the real test set's value `r` as a dashed line across `x`.
fn draw_reference<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    x: &Range<f64>,
    r: f64,
) -> Result<(), DrawingError> {
    let style = REFERENCE_COLOR.stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            [(x.start, r), (x.end, r)],
            10,
            6,
            style,
        ))?
        .label(REFERENCE_LABEL)
        .legend(move |at| legend_line(at, style, true));
    Ok(())
}

/// A segment of a legend entry, in pixels from its anchor.
type Segment = PathElement<(i32, i32)>;

/// A legend entry's line at `at`, 20 pixels long, with a gap in the middle
/// where its series is dashed.
fn legend_line<DB: DrawingBackend>(
    at: (i32, i32),
    style: ShapeStyle,
    dashed: bool,
) -> ComposedElement<(i32, i32), DB, Segment, Segment> {
    let (end, start) = if dashed { (8, 12) } else { (20, 20) };
    EmptyElement::at(at)
        + PathElement::new([(0, 0), (end, 0)], style)
        + PathElement::new([(start, 0), (20, 0)], style)
}

/// Overlays histograms as density curves, one per item coloured along the
/// ramp, and the real test set's in black if given.
pub fn histogram_overlay(
    path: &Path,
    axes: &Axes<'_>,
    items: &[(String, &Histogram)],
    reference: Option<&Histogram>,
) -> Result<(), ReportError> {
    let curve = |h: &Histogram| h.centres().into_iter().zip(h.density()).collect();
    let mut series: Vec<Series> = items
        .iter()
        .enumerate()
        .map(|(i, (label, h))| Series::new(label.as_str(), ramp(i, items.len()), curve(h)))
        .collect();
    series.extend(reference.map(|h| Series::new(REFERENCE_LABEL, REFERENCE_COLOR, curve(h))));
    line_plot(path, axes, &series, None)
}
