//! Scatter charts: groups of 2-D points (latent projections).

use std::path::Path;

use plotters::prelude::*;

use super::{Axes, Scale, Series, extent, finite, frame, legend, render};
use crate::error::ReportError;

/// Radius of a point, pixels.
const RADIUS: i32 = 2;

/// Draws the points of each series in its colour, in order, so later series
/// lie on top; non-finite points are skipped and bands ignored.
pub fn scatter(path: &Path, axes: &Axes<'_>, groups: &[Series]) -> Result<(), ReportError> {
    let all = || groups.iter().flat_map(|g| finite(&g.points));
    let x = extent(all().map(|p| p.0), 0.05);
    let y = extent(all().map(|p| p.1), 0.05);
    render(path, |root| {
        let mut chart = frame(root, axes, Scale::LINEAR, x, y)?;
        for group in groups {
            let color = group.color;
            chart
                .draw_series(
                    finite(&group.points).map(|p| Circle::new(p, RADIUS, color.mix(0.7).filled())),
                )?
                .label(group.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
        legend(&mut chart)
    })
}
