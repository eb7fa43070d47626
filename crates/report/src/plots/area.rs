//! Stacked area charts: shares (class frequencies) against generation.

use std::path::Path;

use plotters::prelude::*;

use super::{Axes, FONT, SIZE, Scale, extent, frame, palette, render};
use crate::error::ReportError;

/// Pixels on the right kept for the legend.
const LEGEND_WIDTH: u32 = 120;

/// Stacks `layers` (label, one value per x of `xs`) from the bottom up, each
/// in its own palette colour, with the legend beside the chart (top layer
/// first). Columns where any layer is not finite are skipped; a single column
/// is drawn as a bar of width 0.8.
pub fn stacked_area(
    path: &Path,
    axes: &Axes<'_>,
    xs: &[f64],
    layers: &[(String, Vec<f64>)],
) -> Result<(), ReportError> {
    let mut columns: Vec<(f64, Vec<f64>)> = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| (x, layers.iter().map(|(_, v)| v.get(i).copied()).collect()))
        .filter_map(|(x, v): (f64, Option<Vec<f64>>)| Some((x, v?)))
        .filter(|(x, v)| x.is_finite() && v.iter().all(|y| y.is_finite()))
        .collect();
    if let [(x, v)] = columns.as_slice() {
        columns = vec![(x - 0.4, v.clone()), (x + 0.4, v.clone())];
    }
    let tops = columns
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .chain([0.0, 1.0]);
    let y = extent(tops, 0.0);
    let x = extent(columns.iter().map(|c| c.0), 0.0);
    render(path, |root| {
        let (plot, side) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let mut chart = frame(&plot, axes, Scale::LINEAR, x, y)?;
        side.fill(&WHITE)?;
        let mut below = vec![0.0; columns.len()];
        for (layer, (label, _)) in layers.iter().enumerate() {
            let above: Vec<f64> = columns
                .iter()
                .zip(&below)
                .map(|((_, v), b)| b + v[layer])
                .collect();
            let outline = columns
                .iter()
                .zip(&above)
                .map(|((x, _), &y)| (*x, y))
                .chain(columns.iter().zip(&below).rev().map(|((x, _), &y)| (*x, y)));
            let color = palette(layer);
            chart.draw_series(std::iter::once(Polygon::new(
                outline.collect::<Vec<_>>(),
                color.filled(),
            )))?;
            let top = 60 + 24 * (layers.len() - 1 - layer) as i32;
            side.draw(&Rectangle::new([(8, top), (24, top + 16)], color.filled()))?;
            side.draw(&Text::new(label.as_str(), (32, top), (FONT, 15)))?;
            below = above;
        }
        Ok(())
    })
}
